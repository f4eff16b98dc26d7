// Legacy tokenizer files, converted as transformers 4.46 does (convert_slow_tokenizer.py) when a folder has
// no tokenizer.json: vocab.txt (BertConverter), vocab.json + merges.txt (GPT2Converter / RobertaConverter);
// sentencepiece models (spiece.model, sentencepiece.bpe.model, tokenizer.model) in sentencepiece.cc.
// tokenizer_config.json and special_tokens_map.json give the options and special tokens.
#include <filesystem>
#include <map>

#include "core/json.h"
#include "hfx/error.h"
#include "core/safe_open.h"
#include "tokenize/internal.h"

namespace hfx::tok {
namespace fs = std::filesystem;

json piece_special(const std::string& t, int64_t type_id) { return {{"SpecialToken", {{"id", t}, {"type_id", type_id}}}}; }
json piece_seq(const char* s, int64_t type_id) { return {{"Sequence", {{"id", s}, {"type_id", type_id}}}}; }

namespace {

std::string read_text(const fs::path& p) { return read_limited(p.string()); }

json read_json_file(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return json::object();
  try {
    json j = parse_json(read_text(p), p.string());
    return j.is_object() ? j : json::object();
  } catch (const json::exception& e) {
    throw_error(ErrorKind::Format, std::string("not valid JSON: ") + e.what(), p.string());
  }
}

TokenizerConfig read_config(const fs::path& dir) {
  TokenizerConfig c;
  c.j = read_json_file(dir / "tokenizer_config.json");
  json m = read_json_file(dir / "special_tokens_map.json");
  for (auto it = m.begin(); it != m.end(); ++it) c.j[it.key()] = it.value();
  return c;
}

json added(int64_t id, const std::string& content, bool normalized, bool lstrip = false) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", lstrip}, {"rstrip", false},
          {"normalized", normalized}, {"special", true}};
}


Tokenizer from_vocab_txt(const fs::path& dir, const TokenizerConfig& cfg) {
  std::string text = read_text(dir / "vocab.txt");
  validate_utf8(text, (dir / "vocab.txt").c_str());
  json vocab = json::object();
  std::size_t start = 0;
  int64_t id = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    std::string tok = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!vocab.contains(tok)) vocab[tok] = id;  // transformers' load_vocab keeps the last; ids follow lines
    vocab[tok] = id++;
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  if (vocab.empty()) throw_error(ErrorKind::Format, "vocab.txt is empty", (dir / "vocab.txt").string());
  const std::string vfile = (dir / "vocab.txt").string();
  // MPNetTokenizer (MPNetConverter): <s> A </s> [</s> B </s>], <mask> lstrip (AutoTokenizer over vocab.txt alone).
  const bool mpnet = cfg.str("tokenizer_class").find("MPNet") != std::string::npos;
  std::string unk = cfg.required("unk_token", "[UNK]", vfile), cls = cfg.required("cls_token", mpnet ? "<s>" : "[CLS]", vfile),
              sep = cfg.required("sep_token", mpnet ? "</s>" : "[SEP]", vfile);
  for (const auto& t : {cls, sep})
    if (!vocab.contains(t)) throw_error(ErrorKind::Format, "special token '" + t + "' is not in vocab.txt", (dir / "vocab.txt").string());
  bool lower = cfg.flag("do_lower_case", true);
  json j;
  j["model"] = {{"type", "WordPiece"}, {"vocab", vocab}, {"unk_token", unk}, {"continuing_subword_prefix", "##"},
                {"max_input_chars_per_word", 100}};
  j["normalizer"] = {{"type", "BertNormalizer"}, {"clean_text", true},
                     {"handle_chinese_chars", cfg.flag("tokenize_chinese_chars", true)},
                     {"strip_accents", cfg.j.contains("strip_accents") ? cfg.j["strip_accents"] : json()},
                     {"lowercase", lower}};
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {piece_special(cls, 0), piece_seq("A", 0), piece_special(sep, 0)}},
      {"pair", mpnet ? json{piece_special(cls, 0), piece_seq("A", 0), piece_special(sep, 0), piece_special(sep, 0), piece_seq("B", 1),
                            piece_special(sep, 1)}
                     : json{piece_special(cls, 0), piece_seq("A", 0), piece_special(sep, 0), piece_seq("B", 1), piece_special(sep, 1)}},
      {"special_tokens",
       {{cls, {{"id", cls}, {"ids", {vocab[cls]}}, {"tokens", {cls}}}}, {sep, {{"id", sep}, {"ids", {vocab[sep]}}, {"tokens", {sep}}}}}}};
  j["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
  j["added_tokens"] = json::array();
  if (mpnet) {
    std::map<int64_t, json> by_id;  // MPNetTokenizerFast lists them by id
    for (const auto& [k, d] : {std::pair{"bos_token", "<s>"}, {"pad_token", "<pad>"}, {"eos_token", "</s>"}, {"unk_token", "[UNK]"},
                                {"mask_token", "<mask>"}, {"cls_token", "<s>"}, {"sep_token", "</s>"}}) {
      auto t = cfg.special(k, d);
      if (!t || !vocab.contains(*t)) continue;
      const int64_t tid = tok::integer(vocab[*t], "special token id");
      if (!by_id.count(tid)) by_id[tid] = added(tid, *t, false, std::string(k) == "mask_token");
    }
    for (auto& [tid, a] : by_id) j["added_tokens"].push_back(a);
    return Tokenizer::from_json(j.dump(), (dir / "vocab.txt").string());
  }
  for (const auto& [k, d] : {std::pair{"pad_token", "[PAD]"}, {"unk_token", "[UNK]"}, {"cls_token", "[CLS]"},
                              {"sep_token", "[SEP]"}, {"mask_token", "[MASK]"}}) {
    auto t = cfg.special(k, d);
    if (t && vocab.contains(*t)) j["added_tokens"].push_back(added(tok::integer(vocab[*t], "special token id"), *t, false));
  }
  return Tokenizer::from_json(j.dump(), (dir / "vocab.txt").string());
}

Tokenizer from_bpe_files(const fs::path& dir, const TokenizerConfig& cfg) {
  json vocab;
  try {
    vocab = parse_json(read_text(dir / "vocab.json"), (dir / "vocab.json").string(), {.max_bytes = kMaxVocabFile});
  } catch (const json::exception& e) {
    throw_error(ErrorKind::Format, std::string("not valid JSON: ") + e.what(), (dir / "vocab.json").string());
  }
  std::string mtext = read_text(dir / "merges.txt");
  validate_utf8(mtext, (dir / "merges.txt").c_str());
  // transformers: merges_handle.read().split("\n")[1:-1]
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    std::size_t nl = mtext.find('\n', start);
    lines.push_back(mtext.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  json merges = json::array();
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    merges.push_back(lines[i]);
  }
  std::string cls_name = cfg.str("tokenizer_class");
  bool roberta = cls_name.find("Roberta") != std::string::npos || cls_name.find("Bart") != std::string::npos ||
                 cls_name.find("Longformer") != std::string::npos;
  bool prefix = cfg.flag("add_prefix_space", false);
  json j;
  j["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"continuing_subword_prefix", ""},
                {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}};
  if (vocab.is_object()) {
    auto unk = cfg.special("unk_token", roberta ? "<unk>" : "<|endoftext|>");
    if (unk && vocab.contains(*unk)) j["model"]["unk_token"] = *unk;
  }
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", prefix}, {"trim_offsets", true}, {"use_regex", true}};
  j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  j["added_tokens"] = json::array();
  auto id_of = [&](const std::string& t) -> std::optional<int64_t> {
    if (vocab.is_object() && vocab.contains(t) && vocab[t].is_number_integer()) return vocab[t].get<int64_t>();
    return std::nullopt;
  };
  if (roberta) {
    const std::string vfile = (dir / "vocab.json").string();
    std::string cls = cfg.required("cls_token", "<s>", vfile), sep = cfg.required("sep_token", "</s>", vfile);
    if (!id_of(cls) || !id_of(sep)) throw_error(ErrorKind::Format, "cls/sep token missing from vocab.json", (dir / "vocab.json").string());
    j["post_processor"] = {{"type", "RobertaProcessing"}, {"sep", {sep, *id_of(sep)}}, {"cls", {cls, *id_of(cls)}},
                           {"trim_offsets", cfg.flag("trim_offsets", true)}, {"add_prefix_space", prefix}};
    for (const char* k : {"bos_token", "pad_token", "eos_token", "unk_token", "mask_token"}) {
      auto t = cfg.special(k, nullptr);
      bool mask = std::string(k) == "mask_token";
      if (!t) t = std::string(k == std::string("bos_token") ? "<s>" : k == std::string("pad_token") ? "<pad>"
                              : k == std::string("eos_token") ? "</s>" : k == std::string("unk_token") ? "<unk>" : "<mask>");
      if (auto id = id_of(*t)) j["added_tokens"].push_back(added(*id, *t, !mask, mask));
    }
  } else {
    j["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
    for (const char* k : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
      auto t = cfg.special(k, "<|endoftext|>");
      if (t)
        if (auto id = id_of(*t)) j["added_tokens"].push_back(added(*id, *t, true));
    }
  }
  return Tokenizer::from_json(j.dump(), (dir / "vocab.json").string());
}

}  // namespace

// tokenizer.json under a tokenizer_class whose fast class rewrites the post-processor when it is built:
// LlamaTokenizerFast, CodeLlamaTokenizerFast and GemmaTokenizerFast call update_post_processor() in
// __init__ (transformers 4.46), a TemplateProcessing of add_bos_token (default true) and add_eos_token
// (default false) around each sequence, whatever tokenizer.json holds. Other classes: tokenizer.json as is.
Tokenizer load_fast(const fs::path& dir) {
  const fs::path file = dir / "tokenizer.json";
  const TokenizerConfig cfg = read_config(dir);
  std::string cls = cfg.str("tokenizer_class");
  if (cls.size() > 4 && cls.compare(cls.size() - 4, 4, "Fast") == 0) cls.resize(cls.size() - 4);
  if (cls != "LlamaTokenizer" && cls != "CodeLlamaTokenizer" && cls != "GemmaTokenizer") return Tokenizer::from_file(file.string());
  const std::string text = read_text(file);
  json j;
  try {
    j = parse_json(text, file.string(), {.max_bytes = text.size() + 1});
  } catch (const Error&) {
    return Tokenizer::from_json(text, file.string());  // its own error, as for any tokenizer.json
  }
  if (!j.is_object()) return Tokenizer::from_json(text, file.string());
  const bool bos = cfg.flag("add_bos_token", true), eos = cfg.flag("add_eos_token", false);
  // The id transformers' bos_token_id / eos_token_id give: the added token of that content, else the vocabulary's.
  auto id_of = [&](const char* flag, const std::string& t) -> int64_t {
    if (j.contains("added_tokens") && j["added_tokens"].is_array())
      for (const auto& a : j["added_tokens"])
        if (a.is_object() && a.value("content", json()) == t && a.contains("id") && a["id"].is_number_integer()) return a["id"].get<int64_t>();
    if (j.contains("model") && j["model"].is_object() && j["model"].contains("vocab") && j["model"]["vocab"].is_object()) {
      const json& v = j["model"]["vocab"];
      if (auto it = v.find(t); it != v.end() && it->is_number_integer()) return it->get<int64_t>();
    }
    throw_error(ErrorKind::Format, std::string(flag) + " is set but '" + t + "' is not a token of tokenizer.json", file.string());
  };
  json single = json::array(), pair = json::array(), specials = json::object();
  std::string bos_t, eos_t;
  if (bos) {
    bos_t = cfg.required("bos_token", "<s>", (dir / "tokenizer_config.json").string());
    specials[bos_t] = {{"id", bos_t}, {"ids", {id_of("add_bos_token", bos_t)}}, {"tokens", {bos_t}}};
    single.push_back(piece_special(bos_t, 0));
  }
  single.push_back(piece_seq("A", 0));
  if (eos) {
    eos_t = cfg.required("eos_token", "</s>", (dir / "tokenizer_config.json").string());
    specials[eos_t] = {{"id", eos_t}, {"ids", {id_of("add_eos_token", eos_t)}}, {"tokens", {eos_t}}};
    single.push_back(piece_special(eos_t, 0));
  }
  pair = single;
  if (bos) pair.push_back(piece_special(bos_t, 1));
  pair.push_back(piece_seq("B", 1));
  if (eos) pair.push_back(piece_special(eos_t, 1));
  j["post_processor"] = {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}};
  return Tokenizer::from_json(j.dump(), file.string());
}

std::optional<Tokenizer> load_legacy(const fs::path& dir) {
  std::error_code ec;
  TokenizerConfig cfg = read_config(dir);
  if (fs::is_regular_file(dir / "vocab.txt", ec)) return from_vocab_txt(dir, cfg);
  bool vj = fs::is_regular_file(dir / "vocab.json", ec), mt = fs::is_regular_file(dir / "merges.txt", ec);
  if (vj && mt) return from_bpe_files(dir, cfg);
  if (vj != mt) throw_error(ErrorKind::NotFound, vj ? "vocab.json without merges.txt" : "merges.txt without vocab.json", dir.string());
  for (const char* f : {"spiece.model", "sentencepiece.bpe.model", "tokenizer.model"})
    if (fs::is_regular_file(dir / f, ec)) return from_sentencepiece(dir / f, cfg);
  return std::nullopt;
}

}  // namespace hfx::tok