// hfx tokenize | embed | generate, and run --text.
//   hfx tokenize PATH "text" [--pair "text"] [--no-special] [--json]
//   hfx embed PATH "sentence" ... [--pooling M] [--prompt-name N] [--json]   sentence-transformers' encode (hfx/sentence.h)
//   hfx generate PATH (--prompt "text" | --input-ids "1,2;3,4") [--max-new-tokens N] [--do-sample
//                --temperature T --top-k K --top-p P --seed S] [--num-beams N] [--stop S]...
//                generation_config.json gives the defaults; text streams to stdout as it is generated.
#include "cli/text.h"
#include "cli/command.h"
#include "cli/hub.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/error.h"
#include "hfx/generate.h"
#include "hfx/generate_stream.h"
#include "hfx/io.h"
#include "hfx/seq2seq.h"
#include "hfx/sentence.h"
#include "hfx/tokenizer.h"

namespace hfx::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The tokenizer as transformers' tokenizer(text) uses it: no truncation or padding unless asked.
Tokenizer load_tokenizer(const std::string& path) {
  fs::path p(path);
  std::error_code ec;
  if (fs::is_regular_file(p, ec) && p.filename() != "tokenizer.json") p = p.parent_path();  // a weight file
  Tokenizer tok = AutoTokenizer::from_pretrained(p.string());
  tok.set_truncation(std::nullopt);
  tok.set_padding(std::nullopt);
  return tok;
}

int64_t pad_id(const Tokenizer& tok) {
  for (const char* t : {"[PAD]", "<pad>", "<|endoftext|>", "</s>"})
    if (auto id = tok.token_to_id(t)) return *id;
  return 0;
}

Tensor matrix(const std::vector<Encoding>& encs, std::vector<int64_t> Encoding::*field) {
  const int64_t rows = static_cast<int64_t>(encs.size()), cols = static_cast<int64_t>(encs[0].ids.size());
  std::vector<int64_t> flat;
  for (const auto& e : encs) flat.insert(flat.end(), (e.*field).begin(), (e.*field).end());
  return Tensor::from_vector(DType::I64, {rows, cols}, flat);
}

std::vector<Encoding> encode_padded(Tokenizer tok, const std::vector<std::string>& texts, int64_t max_length) {
  if (texts.empty()) throw_error(ErrorKind::InvalidArgument, "no text given");
  PaddingParams p;
  p.pad_id = pad_id(tok);
  if (auto t = tok.id_to_token(p.pad_id)) p.pad_token = *t;
  tok.set_padding(p);
  if (max_length > 0) {
    TruncationParams tp;
    tp.max_length = max_length;
    tok.set_truncation(tp);
  }
  auto encs = tok.encode_batch(texts);
  if (encs[0].ids.empty()) throw_error(ErrorKind::InvalidArgument, "the text gives no tokens");
  return encs;
}

bool uses_token_types(const Model& m) {
  std::string t = m.config().model_type();
  return t == "bert" || t == "albert" || t == "electra";
}

int cmd_tokenize(const TextCommands& o) {
  Tokenizer tok = load_tokenizer(o.path);
  if (o.texts.size() != 1) throw_error(ErrorKind::InvalidArgument, "tokenize takes one text (use --pair for a second)");
  std::optional<std::string_view> pair;
  if (!o.pair.empty()) pair = o.pair;
  Encoding e = tok.encode(o.texts[0], pair, !o.no_special);
  if (globals().json) {
    json j;
    j["input_ids"] = e.ids;
    j["token_type_ids"] = e.type_ids;
    j["attention_mask"] = e.attention_mask;
    j["special_tokens_mask"] = e.special_tokens_mask;
    j["tokens"] = e.tokens;
    j["offsets"] = json::array();
    for (const auto& [a, b] : e.offsets) j["offsets"].push_back({a, b});
    j["decoded"] = tok.decode(e.ids, true);
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::string ids;
  for (std::size_t i = 0; i < e.ids.size(); ++i) ids += (i ? "," : "") + std::to_string(e.ids[i]);
  fmt::print("input_ids: {}\n", ids);
  fmt::print("{:>4}  {:>8}  {:>4}  {:<12}  {}\n", "#", "id", "type", "offsets", "token");
  for (std::size_t i = 0; i < e.ids.size(); ++i)
    fmt::print("{:>4}  {:>8}  {:>4}  {:<12}  {}\n", i, e.ids[i], e.type_ids[i],
               fmt::format("({}, {})", e.offsets[i].first, e.offsets[i].second), e.tokens[i]);
  fmt::print("decoded: {}\n", tok.decode(e.ids, true));
  return 0;
}

int cmd_embed(const TextCommands& o) {
  // sentence-transformers' encode: the model's modules.json (pooling, Dense, Normalize), max_seq_length, prompts.
  std::vector<std::string> texts = o.texts;
  if (!o.texts_file.empty()) {  // one sentence per line (a trailing newline ends the last one; empty lines kept)
    const std::string all = read_text_file(o.texts_file);
    std::size_t at = 0;
    while (at < all.size()) {
      std::size_t nl = all.find('\n', at);
      if (nl == std::string::npos) nl = all.size();
      std::string line = all.substr(at, nl - at);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      texts.push_back(std::move(line));
      at = nl + 1;
    }
  }
  if (texts.empty()) throw_error(ErrorKind::InvalidArgument, "embed needs at least one sentence (arguments or --file)");
  const SentenceTransformer st = SentenceTransformer::from_pretrained(o.path, load_options());  // --dtype, --quantize
  EncodeOptions eo;
  eo.batch_size = o.batch_size;
  eo.show_progress_bar = !globals().no_progress;  // drawn on a terminal only
  eo.prompt_name = o.prompt_name;
  if (!o.embed_prompt.empty()) eo.prompt = o.embed_prompt;
  if (!o.pooling.empty()) {
    std::stringstream ss(o.pooling);
    for (std::string m; std::getline(ss, m, ',');) eo.pooling.push_back(m);
  }
  if (o.normalize && o.no_normalize) throw_error(ErrorKind::InvalidArgument, "--normalize and --no-normalize exclude each other");
  if (o.normalize) eo.normalize = true;
  if (o.no_normalize) eo.normalize = false;
  eo.max_seq_length = o.max_length;
  const Tensor emb = st.encode(texts, eo);
  const int64_t B = emb.shape()[0], H = emb.shape()[1];
  // The similarity matrix is for a handful of sentences; a corpus (--file) gets its embeddings only.
  constexpr int64_t kMaxSimilarityRows = 64;
  const auto sim = B <= kMaxSimilarityRows ? sentence_similarity(emb, emb, st.similarity_fn_name()) : std::vector<std::vector<double>>{};
  if (globals().json) {
    json rows = json::array();
    for (int64_t b = 0; b < B; ++b) {
      json r = json::array();
      for (int64_t k = 0; k < H; ++k) r.push_back(static_cast<float>(emb.item(b * H + k)));  // float: shortest round-trip form
      rows.push_back(r);
    }
    json j = {{"embeddings", rows}, {"similarity_fn_name", st.similarity_fn_name()}};
    if (B <= kMaxSimilarityRows) j["similarity"] = sim;
    std::cout << j.dump() << "\n";
    return 0;
  }
  const auto counts = st.token_counts(texts, eo);
  for (int64_t b = 0; b < B; ++b) {
    std::string head;
    for (int64_t k = 0; k < std::min<int64_t>(H, 6); ++k) head += fmt::format("{}{:.6f}", k ? ", " : "", emb.item(b * H + k));
    fmt::print("embedding {} [{}] ({} tokens): [{}, ...]  \"{}\"\n", b, H, counts[static_cast<std::size_t>(b)], head,
               texts[static_cast<std::size_t>(b)]);
  }
  if (B > 1 && B <= kMaxSimilarityRows) {
    fmt::print("{} similarity:\n", st.similarity_fn_name());
    for (const auto& r : sim) {
      std::string row;
      for (double v : r) row += fmt::format("{:8.4f}", v);
      fmt::print("  {}\n", row);
    }
  }
  return 0;
}

int cmd_generate(const TextCommands& o) {
  LoadedModel lm = load_pretrained(o.path, o.cls, load_options());
  std::optional<Tokenizer> tok;
  std::error_code ec;
  fs::path dir = fs::is_directory(o.path, ec) ? fs::path(o.path) : fs::path(o.path).parent_path();
  bool has_tok = false;
  for (const char* f : {"tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "tokenizer.model", "sentencepiece.bpe.model"})
    has_tok = has_tok || fs::exists(dir / f, ec);
  if (has_tok) tok = load_tokenizer(dir.string());
  Tensor ids, mask;
  if (!o.prompt.empty() == !o.input_ids.empty()) throw_error(ErrorKind::InvalidArgument, "give exactly one of --prompt and --input-ids");
  if (!o.prompt.empty()) {
    if (!tok) throw_error(ErrorKind::NotFound, "--prompt needs tokenizer files beside the model", dir.string());
    auto encs = encode_padded(*tok, {o.prompt}, 0);
    ids = matrix(encs, &Encoding::ids);
    mask = matrix(encs, &Encoding::attention_mask);
  } else {
    std::vector<std::vector<int64_t>> rows;
    std::stringstream rs(o.input_ids);
    std::string row, cell;
    while (std::getline(rs, row, ';')) {
      rows.emplace_back();
      std::stringstream cs(row);
      while (std::getline(cs, cell, ',')) {
        try {
          rows.back().push_back(std::stoll(cell));
        } catch (const std::exception&) {
          throw_error(ErrorKind::InvalidArgument, "--input-ids: '" + cell + "' is not an integer");
        }
      }
      if (rows.back().size() != rows[0].size() || rows.back().empty())
        throw_error(ErrorKind::InvalidArgument, "--input-ids: rows must be non-empty and of equal length");
    }
    if (rows.empty()) throw_error(ErrorKind::InvalidArgument, "--input-ids is empty");
    std::vector<int64_t> flat;
    for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
    ids = Tensor::from_vector(DType::I64, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())}, flat);
  }
  // generation_config.json (and config.json) first, as transformers' generate; only what was given overrides it.
  GenerationConfig cfg = GenerationConfig::from_model(*lm.model);
  if (o.max_new_opt && o.max_new_opt->count()) cfg.max_new_tokens = o.max_new_tokens;
  if (o.do_sample) cfg.do_sample = true;
  if (o.temperature_opt && o.temperature_opt->count()) cfg.temperature = static_cast<float>(o.temperature);
  if (o.top_k_opt && o.top_k_opt->count()) cfg.top_k = o.top_k;
  if (o.top_p_opt && o.top_p_opt->count()) {
    // TopPLogitsWarper's range check; transformers applies it only below 1, a value above 1 is a typo here.
    if (!(o.top_p >= 0 && o.top_p <= 1))
      throw_error(ErrorKind::InvalidArgument, fmt::format("`top_p` has to be a float > 0 and < 1, but is {}{}", o.top_p,
                                                          o.top_p == std::floor(o.top_p) && std::isfinite(o.top_p) ? ".0" : ""));
    cfg.top_p = static_cast<float>(o.top_p);
  }
  if (o.seed_opt && o.seed_opt->count()) cfg.seed = o.seed;
  if (o.beams_opt && o.beams_opt->count()) cfg.num_beams = o.num_beams;
  validate_generation_config(cfg);
  const bool seq2seq = dynamic_cast<const Seq2SeqLM*>(lm.model.get()) != nullptr;  // printed at the end (no streaming there)
  const bool stream = tok && !seq2seq && !globals().json && ids.shape()[0] == 1 && cfg.num_beams == 1 && (!cfg.do_sample || cfg.num_return_sequences == 1);
  if (!o.stop.empty() && !tok) throw_error(ErrorKind::InvalidArgument, "--stop needs the model's tokenizer (stop strings are matched on text)");
  if (!o.stop.empty() && (ids.shape()[0] != 1 || cfg.num_beams != 1))
    throw_error(ErrorKind::InvalidArgument, "--stop works with one prompt and without beam search");
  // Streaming (TextStreamer): the text of the new tokens is printed as it grows; a piece that ends inside a
  // multi-byte character (U+FFFD at the end) waits for the next token. --stop ends the run once the new text
  // holds a stop string (transformers' StopStringCriteria), the text printed up to and including it.
  // As TextStreamer, prompt and new tokens are decoded together (a sentencepiece piece decoded alone loses its space).
  std::vector<int64_t> seq;
  std::size_t printed = 0, prompt_chars = 0;
  bool stopped = false;
  std::string full_text;
  auto emit = [&](bool final) {
    const std::string t = tok->decode(seq, true);
    std::size_t upto = t.size();
    if (!final && t.size() >= 3 && t.compare(t.size() - 3, 3, "\xEF\xBF\xBD") == 0) upto = t.size() - 3;
    std::size_t stop_end = std::string::npos;
    for (const auto& s : o.stop) {
      const auto at = s.empty() ? std::string::npos : t.find(s, std::min(prompt_chars, t.size()));
      if (at != std::string::npos) stop_end = std::min(stop_end, at + s.size());
    }
    if (stop_end != std::string::npos) {
      upto = stop_end;
      stopped = true;
    }
    if (stream && upto > printed) {
      std::fwrite(t.data() + printed, 1, upto - printed, stdout);
      std::fflush(stdout);
      printed = upto;
    }
    full_text = t.substr(0, std::max(upto, printed));
  };
  if (tok && (stream || !o.stop.empty())) {
    seq.assign(ids.data<int64_t>(), ids.data<int64_t>() + ids.numel());
    const std::string p = tok->decode(seq, true);
    prompt_chars = p.size();
    if (stream) {
      fmt::print("text: {}", p);
      std::fflush(stdout);
    }
    printed = p.size();
  }
  const std::function<bool(int64_t)> on_token = [&](int64_t t) {
    seq.push_back(t);
    emit(false);
    return !stopped;
  };
  Tensor out = (tok && (stream || !o.stop.empty())) ? generate_streaming(*lm.model, ids, mask, cfg, on_token) : generate(*lm.model, ids, mask, cfg);
  if (stream) {
    if (!stopped) emit(true);
    fmt::print("\n");
  }
  const int64_t rows = out.shape()[0], cols = out.shape()[1];
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> row;
    for (int64_t c = 0; c < cols; ++c) row.push_back(static_cast<int64_t>(out.item(r * cols + c)));
    std::string s;
    for (std::size_t i = 0; i < row.size(); ++i) s += (i ? "," : "") + std::to_string(row[i]);
    std::string text;
    if (tok) {
      text = tok->decode(row, true);
      if (stopped) text = full_text;
    }
    if (globals().json) {
      json j = {{"ids", row}};
      if (tok) j["text"] = text;
      if (!o.stop.empty()) j["stopped"] = stopped;
      std::cout << j.dump() << "\n";
      continue;
    }
    fmt::print("ids:  {}\n", s);
    if (tok && !stream) fmt::print("text: {}\n", text);
  }
  return 0;
}

}  // namespace

namespace {

// What the verb reads beside config.json and the weights, when PATH is a repo id.
std::string resolve_for(const std::string& path, bool weights, bool sentence, bool generation) {
  RepoFiles want;
  want.weights = weights;
  want.tokenizer = true;
  want.sentence_transformers = sentence;
  want.generation_config = generation;
  return resolve_path_arg(path, want);
}

}  // namespace

void add_text_commands(CommandTable& table) {
  auto tp = std::make_shared<TextCommands>();
  TextCommands& t = *tp;
  auto* tokenize = table.add("tokenize", "Tokenize a text: ids, type ids, offsets, tokens (Hugging Face tokenizers)", [tp] {
    TextCommands r = *tp;
    r.path = resolve_for(tp->path, false, false, false);
    return cmd_tokenize(r);
  });
  tokenize->add_option("path", t.path, "model or tokenizer directory, a tokenizer.json, or a repo id")->required();
  literal(tokenize->add_option("text", t.texts, "the text, taken literally")->required()->expected(1)->allow_extra_args(false));
  literal(tokenize->add_option("--pair", t.pair, "second text of a pair"));
  tokenize->add_flag("--no-special", t.no_special, "do not add special tokens");

  auto* embed = table.add("embed", "Sentence embeddings as sentence-transformers' encode: the model's pooling "
                                   "(1_Pooling/config.json), Dense and Normalize modules, max_seq_length, prompts", [tp] {
    TextCommands r = *tp;
    r.path = resolve_for(tp->path, true, true, false);
    return cmd_embed(r);
  });
  embed->add_option("path", t.path, "model directory (weights + tokenizer) or repo id")->required();
  literal(embed->add_option("sentences", t.texts, "one or more sentences, each taken literally"));
  embed->add_option("--file", t.texts_file, "more sentences, one per line");
  embed->add_option("--batch-size", t.batch_size, "sentences per forward, longest first (sentence-transformers' batch_size, 32); "
                                                  "a progress bar shows the batches on a terminal");
  embed->add_option("--max-length", t.max_length, "truncate to this many tokens (default: sentence_bert_config.json's max_seq_length)");
  embed->add_option("--pooling", t.pooling, "replace the model's pooling: cls, max, mean, mean_sqrt_len_tokens, weightedmean, "
                                            "lasttoken (several, comma-separated, are concatenated)");
  embed->add_option("--prompt-name", t.prompt_name, "a prompt of config_sentence_transformers.json (e.g. query)");
  literal(embed->add_option("--prompt", t.embed_prompt, "prompt text put before every sentence"));
  embed->add_flag("--normalize", t.normalize, "L2-normalise even without a Normalize module");
  embed->add_flag("--no-normalize", t.no_normalize, "skip the model's Normalize module");

  auto* generate = table.add("generate", "Generate text with a causal or encoder-decoder LM (generation_config.json gives "
                                         "the defaults; text streams to stdout as it is generated)", [tp] {
    TextCommands r = *tp;
    r.path = resolve_for(tp->path, true, false, true);
    return cmd_generate(r);
  });
  generate->add_option("path", t.path, "model directory or repo id")->required();
  literal(generate->add_option("--prompt", t.prompt, "prompt text (tokenized with the model's tokenizer)"));
  generate->add_option("--input-ids", t.input_ids, "prompt token ids: rows separated by ';', ids by ','");
  t.max_new_opt = generate->add_option("--max-new-tokens", t.max_new_tokens, "tokens to generate (default: generation_config.json, else 20)");
  generate->add_flag("--do-sample", t.do_sample, "sample instead of greedy/beam search");
  t.temperature_opt = generate->add_option("--temperature", t.temperature, "sampling temperature (> 0)");
  t.top_k_opt = generate->add_option("--top-k", t.top_k, "top-k filtering (0: off)");
  t.top_p_opt = generate->add_option("--top-p", t.top_p, "nucleus filtering, in [0, 1]");
  t.seed_opt = generate->add_option("--seed", t.seed, "sampling seed");
  t.beams_opt = generate->add_option("--num-beams", t.num_beams, "beam search width");
  literal(generate->add_option("--stop", t.stop, "stop once the generated text contains this string (repeatable)")->allow_extra_args(false));
  generate->add_option("--class", t.cls, "model class (default: config.json architectures[0])");
}

void text_inputs(const std::string& model_path, const Model& model, const std::vector<std::string>& texts,
                 ModelInputs& in) {
  auto encs = encode_padded(load_tokenizer(model_path), texts, 0);
  in.input_ids = matrix(encs, &Encoding::ids);
  in.attention_mask = matrix(encs, &Encoding::attention_mask);
  if (uses_token_types(model)) in.token_type_ids = matrix(encs, &Encoding::type_ids);
}

}  // namespace hfx::cli
