// hfx tokenize | embed | generate, and run --text.
//   hfx tokenize PATH "text" [--pair "text"] [--no-special] [--json]
//   hfx embed PATH "sentence" ... [--json]          mean pooling over the attention mask, L2-normalised
//                                                  (sentence-transformers all-MiniLM-L6-v2)
//   hfx generate PATH (--prompt "text" | --input-ids "1,2;3,4") --max-new-tokens N [--do-sample
//                --temperature T --top-k K --top-p P --seed S] [--num-beams N]
#include "cli/text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/json.h"
#include "hfx/auto.h"
#include "hfx/error.h"
#include "hfx/generate.h"
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
  if (o.json) {
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

// sentence_bert_config.json's max_seq_length (sentence-transformers truncates there), else none.
int64_t st_max_length(const std::string& path) {
  fs::path p = fs::path(path) / "sentence_bert_config.json";
  std::error_code ec;
  if (!fs::exists(p, ec)) return 0;
  try {
    return read_json_file(p.string()).value("max_seq_length", int64_t{0});  // bounded, refuses a FIFO
  } catch (const json::exception&) {
    throw_error(ErrorKind::Format, "max_seq_length is not an integer", p.string());
  }
}

int cmd_embed(const TextCommands& o) {
  LoadedModel lm = load_pretrained(o.path, o.cls);
  Tokenizer tok = load_tokenizer(o.path);
  int64_t max_len = o.max_length > 0 ? o.max_length : st_max_length(o.path);
  auto encs = encode_padded(tok, o.texts, max_len);
  ModelInputs in;
  in.input_ids = matrix(encs, &Encoding::ids);
  in.attention_mask = matrix(encs, &Encoding::attention_mask);
  if (uses_token_types(*lm.model)) in.token_type_ids = matrix(encs, &Encoding::type_ids);
  Outputs out = lm.model->forward(in);
  const Tensor& h = out.get("last_hidden_state");
  if (h.shape().size() != 3) throw_error(ErrorKind::Mismatch, "last_hidden_state is not [batch, seq, hidden]");
  const int64_t B = h.shape()[0], S = h.shape()[1], H = h.shape()[2];
  std::vector<std::vector<double>> emb(static_cast<std::size_t>(B), std::vector<double>(static_cast<std::size_t>(H)));
  for (int64_t b = 0; b < B; ++b) {
    // sentence-transformers Pooling(mean): sum(h * mask) / clamp(sum(mask), 1e-9); then Normalize (L2).
    double count = 0;
    auto& v = emb[static_cast<std::size_t>(b)];
    for (int64_t s = 0; s < S; ++s) {
      double m = static_cast<double>(encs[static_cast<std::size_t>(b)].attention_mask[static_cast<std::size_t>(s)]);
      count += m;
      for (int64_t k = 0; k < H; ++k) v[static_cast<std::size_t>(k)] += m * h.item((b * S + s) * H + k);
    }
    double norm = 0;
    for (auto& x : v) {
      x /= std::max(count, 1e-9);
      norm += x * x;
    }
    norm = std::max(std::sqrt(norm), 1e-12);
    for (auto& x : v) x /= norm;
  }
  if (o.json) {
    json j = {{"embeddings", emb}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  for (int64_t b = 0; b < B; ++b) {
    const auto& v = emb[static_cast<std::size_t>(b)];
    std::string head;
    for (int64_t k = 0; k < std::min<int64_t>(H, 6); ++k) head += fmt::format("{}{:.6f}", k ? ", " : "", v[static_cast<std::size_t>(k)]);
    const auto& am = encs[static_cast<std::size_t>(b)].attention_mask;
    fmt::print("embedding {} [{}] ({} tokens): [{}, ...]  \"{}\"\n", b, H, std::count(am.begin(), am.end(), 1), head,
               o.texts[static_cast<std::size_t>(b)]);
  }
  if (B > 1) {
    fmt::print("cosine similarity:\n");
    for (int64_t a = 0; a < B; ++a) {
      std::string row;
      for (int64_t b = 0; b < B; ++b) {
        double dot = 0;
        for (int64_t k = 0; k < H; ++k) dot += emb[static_cast<std::size_t>(a)][static_cast<std::size_t>(k)] * emb[static_cast<std::size_t>(b)][static_cast<std::size_t>(k)];
        row += fmt::format("{:8.4f}", dot);
      }
      fmt::print("  {}\n", row);
    }
  }
  return 0;
}

int cmd_generate(const TextCommands& o) {
  LoadedModel lm = load_pretrained(o.path, o.cls);
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
  GenerationConfig cfg = GenerationConfig::from_model(*lm.model);
  cfg.max_new_tokens = o.max_new_tokens;
  cfg.do_sample = o.do_sample;
  cfg.temperature = static_cast<float>(o.temperature);
  cfg.top_k = o.top_k;
  cfg.top_p = static_cast<float>(o.top_p);
  cfg.seed = o.seed;
  cfg.num_beams = o.num_beams;
  Tensor out = generate(*lm.model, ids, mask, cfg);
  const int64_t rows = out.shape()[0], cols = out.shape()[1];
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> row;
    for (int64_t c = 0; c < cols; ++c) row.push_back(static_cast<int64_t>(out.item(r * cols + c)));
    std::string s;
    for (std::size_t i = 0; i < row.size(); ++i) s += (i ? "," : "") + std::to_string(row[i]);
    if (o.json) {
      json j = {{"ids", row}};
      if (tok) j["text"] = tok->decode(row, true);
      std::cout << j.dump() << "\n";
      continue;
    }
    fmt::print("ids:  {}\n", s);
    if (tok) fmt::print("text: {}\n", tok->decode(row, true));
  }
  return 0;
}

}  // namespace

void add_text_commands(CLI::App& app, TextCommands& t) {
  t.tokenize = app.add_subcommand("tokenize", "Tokenize a text: ids, type ids, offsets, tokens (Hugging Face tokenizers)");
  t.tokenize->add_option("path", t.path, "model or tokenizer directory, or a tokenizer.json")->required();
  t.tokenize->add_option("text", t.texts, "the text")->required();
  t.tokenize->add_option("--pair", t.pair, "second text of a pair");
  t.tokenize->add_flag("--no-special", t.no_special, "do not add special tokens");
  t.tokenize->add_flag("--json", t.json, "print JSON");

  t.embed = app.add_subcommand("embed", "Sentence embeddings: mean pooling over the attention mask, L2-normalised");
  t.embed->add_option("path", t.path, "model directory (weights + tokenizer)")->required();
  t.embed->add_option("sentences", t.texts, "one or more sentences")->required();
  t.embed->add_option("--max-length", t.max_length, "truncate to this many tokens (default: sentence_bert_config.json)");
  t.embed->add_option("--class", t.cls, "model class (default: config.json architectures[0])");
  t.embed->add_flag("--json", t.json, "print JSON");

  t.generate = app.add_subcommand("generate", "Generate text with a causal or encoder-decoder LM");
  t.generate->add_option("path", t.path, "model directory")->required();
  t.generate->add_option("--prompt", t.prompt, "prompt text (tokenized with the model's tokenizer)");
  t.generate->add_option("--input-ids", t.input_ids, "prompt token ids: rows separated by ';', ids by ','");
  t.generate->add_option("--max-new-tokens", t.max_new_tokens, "tokens to generate (default 20)");
  t.generate->add_flag("--do-sample", t.do_sample, "sample instead of greedy/beam search");
  t.generate->add_option("--temperature", t.temperature, "sampling temperature");
  t.generate->add_option("--top-k", t.top_k, "top-k filtering");
  t.generate->add_option("--top-p", t.top_p, "nucleus filtering");
  t.generate->add_option("--seed", t.seed, "sampling seed");
  t.generate->add_option("--num-beams", t.num_beams, "beam search width");
  t.generate->add_option("--class", t.cls, "model class (default: config.json architectures[0])");
  t.generate->add_flag("--json", t.json, "print JSON");
}

std::optional<int> run_text_command(const TextCommands& t) {
  if (t.tokenize && *t.tokenize) return cmd_tokenize(t);
  if (t.embed && *t.embed) return cmd_embed(t);
  if (t.generate && *t.generate) return cmd_generate(t);
  return std::nullopt;
}

void text_inputs(const std::string& model_path, const Model& model, const std::vector<std::string>& texts,
                 ModelInputs& in) {
  auto encs = encode_padded(load_tokenizer(model_path), texts, 0);
  in.input_ids = matrix(encs, &Encoding::ids);
  in.attention_mask = matrix(encs, &Encoding::attention_mask);
  if (uses_token_types(model)) in.token_type_ids = matrix(encs, &Encoding::type_ids);
}

}  // namespace hfx::cli
