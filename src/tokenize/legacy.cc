// Legacy tokenizer files, converted as transformers 4.46 does (convert_slow_tokenizer.py) when a folder has
// no tokenizer.json: vocab.txt (BertConverter), vocab.json + merges.txt (GPT2Converter / RobertaConverter);
// sentencepiece models (spiece.model, tokenizer.model) run through libsentencepiece itself, as the slow
// T5/Llama/ALBERT/XLNet tokenizers do. tokenizer_config.json and special_tokens_map.json give the options
// and special tokens.
#include <sentencepiece_processor.h>
#include <utf8proc.h>

#include <filesystem>

#include "hfx/error.h"
#include "tokenize/internal.h"

namespace hfx::tok {
namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t kMaxVocabFile = std::uintmax_t{1} << 30;

std::string read_text(const fs::path& p) { return read_limited(p.string()); }

json read_json_file(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return json::object();
  try {
    json j = json::parse(read_text(p));
    return j.is_object() ? j : json::object();
  } catch (const json::exception& e) {
    throw_error(ErrorKind::Format, std::string("not valid JSON: ") + e.what(), p.string());
  }
}

// tokenizer_config.json overlaid with special_tokens_map.json; special tokens may be strings or
// {"content": ...} objects.
struct Config {
  json j;
  std::optional<std::string> special(const char* key, const char* dflt) const {
    if (j.contains(key)) {
      const auto& v = j[key];
      if (v.is_string()) return v.get<std::string>();
      if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
      if (v.is_null()) return std::nullopt;
    }
    if (!dflt) return std::nullopt;
    return std::string(dflt);
  }
  bool flag(const char* key, bool dflt) const { return j.contains(key) && j[key].is_boolean() ? j[key].get<bool>() : dflt; }
  std::string str(const char* key) const { return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : ""; }
};

Config read_config(const fs::path& dir) {
  Config c;
  c.j = read_json_file(dir / "tokenizer_config.json");
  json m = read_json_file(dir / "special_tokens_map.json");
  for (auto it = m.begin(); it != m.end(); ++it) c.j[it.key()] = it.value();
  return c;
}

json added(int64_t id, const std::string& content, bool normalized, bool lstrip = false) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", lstrip}, {"rstrip", false},
          {"normalized", normalized}, {"special", true}};
}

json piece_special(const std::string& t, int64_t type_id) { return {{"SpecialToken", {{"id", t}, {"type_id", type_id}}}}; }
json piece_seq(const char* s, int64_t type_id) { return {{"Sequence", {{"id", s}, {"type_id", type_id}}}}; }

Tokenizer from_vocab_txt(const fs::path& dir, const Config& cfg) {
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
  std::string unk = *cfg.special("unk_token", "[UNK]"), cls = *cfg.special("cls_token", "[CLS]"),
              sep = *cfg.special("sep_token", "[SEP]");
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
      {"pair", {piece_special(cls, 0), piece_seq("A", 0), piece_special(sep, 0), piece_seq("B", 1), piece_special(sep, 1)}},
      {"special_tokens",
       {{cls, {{"id", cls}, {"ids", {vocab[cls]}}, {"tokens", {cls}}}}, {sep, {{"id", sep}, {"ids", {vocab[sep]}}, {"tokens", {sep}}}}}}};
  j["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
  j["added_tokens"] = json::array();
  for (const auto& [k, d] : {std::pair{"pad_token", "[PAD]"}, {"unk_token", "[UNK]"}, {"cls_token", "[CLS]"},
                              {"sep_token", "[SEP]"}, {"mask_token", "[MASK]"}}) {
    auto t = cfg.special(k, d);
    if (t && vocab.contains(*t)) j["added_tokens"].push_back(added(tok::integer(vocab[*t], "special token id"), *t, false));
  }
  return Tokenizer::from_json(j.dump(), (dir / "vocab.txt").string());
}

Tokenizer from_bpe_files(const fs::path& dir, const Config& cfg) {
  json vocab;
  try {
    vocab = json::parse(read_text(dir / "vocab.json"));
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
    std::string cls = *cfg.special("cls_token", "<s>"), sep = *cfg.special("sep_token", "</s>");
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

// ---- sentencepiece (the slow tokenizers of transformers) ----

enum class Spm { T5, Llama, Albert, XLNet };

bool py_isspace(char32_t c) { return is_whitespace(c) || (c >= 0x1C && c <= 0x1F); }

struct SpmModel : Model {
  std::shared_ptr<sentencepiece::SentencePieceProcessor> sp;
  Spm flavor = Spm::T5;
  bool lower = false, keep_accents = false;

  // AlbertTokenizer/XLNetTokenizer.preprocess_text: collapse whitespace, `` and '' -> ", NFKD without
  // combining marks, lowercase.
  std::string preprocess(std::string_view in) const {
    std::string s;
    std::vector<char32_t> cs = to_chars(in);
    bool pending = false;
    for (char32_t c : cs) {
      if (py_isspace(c)) {
        pending = !s.empty();
        continue;
      }
      if (pending) s += ' ';
      pending = false;
      append_utf8(s, c);
    }
    for (const char* q : {"``", "''"}) {
      for (std::size_t p = s.find(q); p != std::string::npos; p = s.find(q, p + 1)) s.replace(p, 2, "\"");
    }
    std::string out;
    std::vector<char32_t> d;
    for (char32_t c : to_chars(s)) {
      d.clear();
      if (!keep_accents) {
        decompose(c, true, d);
      } else {
        d.push_back(c);
      }
      for (char32_t x : d) {
        if (!keep_accents && combining_class(x) != 0) continue;
        if (lower) {
          std::vector<char32_t> l;
          to_lower(x, l);
          for (char32_t y : l) append_utf8(out, y);
        } else {
          append_utf8(out, x);
        }
      }
    }
    return out;
  }

  std::vector<Token> encode_pieces(const std::string& text) const {
    auto spt = sp->EncodeAsImmutableProto(text);
    std::vector<Token> out;
    for (const auto& p : spt.pieces())
      out.push_back({static_cast<int64_t>(p.id()), p.piece(), {p.begin(), p.end()}});
    return out;
  }

  std::vector<Token> tokenize(std::string_view s) const override {
    if (flavor == Spm::T5 || flavor == Spm::Llama) return encode_pieces(std::string(s));
    std::string text = preprocess(s);
    std::vector<Token> out;
    const std::string u = "\xe2\x96\x81";
    for (auto& t : encode_pieces(text)) {
      t.offsets = {std::min(t.offsets.first, s.size()), std::min(t.offsets.second, s.size())};
      auto cs = to_chars(t.value);
      if (cs.size() > 1 && cs.back() == ',' && cs[cs.size() - 2] < 0x80 && std::isdigit(static_cast<int>(cs[cs.size() - 2]))) {
        std::string body = t.value.substr(0, t.value.size() - 1);
        for (std::size_t p = body.find(u); p != std::string::npos; p = body.find(u)) body.erase(p, u.size());
        auto cur = encode_pieces(body);
        if (t.value.rfind(u, 0) != 0 && !cur.empty() && cur[0].value.rfind(u, 0) == 0) {
          if (cur[0].value == u) {
            cur.erase(cur.begin());
          } else {
            cur[0].value = cur[0].value.substr(u.size());
            cur[0].id = sp->PieceToId(cur[0].value);
          }
        }
        for (auto& c : cur) c.offsets = t.offsets;
        out.insert(out.end(), cur.begin(), cur.end());
        out.push_back({sp->PieceToId(","), ",", t.offsets});
        continue;
      }
      out.push_back(std::move(t));
    }
    return out;
  }
  std::optional<int64_t> token_to_id(std::string_view t) const override {
    int id = sp->PieceToId(std::string(t));
    if (id == sp->unk_id() && sp->IdToPiece(id) != t) return std::nullopt;
    return id;
  }
  std::optional<std::string> id_to_token(int64_t id) const override {
    if (id < 0 || id >= sp->GetPieceSize()) return std::nullopt;
    return sp->IdToPiece(static_cast<int>(id));
  }
  int64_t vocab_size() const override { return sp->GetPieceSize(); }
};

// T5Tokenizer._add_eos_if_not_present: no second </s> when the text already ends with one.
struct T5Proc : PostProcessor {
  std::unique_ptr<PostProcessor> inner;
  int64_t eos = 1;
  int64_t added_tokens(bool is_pair) const override { return inner->added_tokens(is_pair); }
  std::vector<Encoding> process(std::vector<Encoding> encs, bool add_special) const override {
    std::vector<bool> ends(encs.size());
    for (std::size_t i = 0; i < encs.size(); ++i) ends[i] = !encs[i].ids.empty() && encs[i].ids.back() == eos;
    auto out = inner->process(std::move(encs), add_special);
    // pieces are [A, eos] or [A, eos, B, eos]: drop the eos after a sequence that ends with one
    std::vector<Encoding> kept;
    std::size_t seq = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      bool special = !out[i].sequence_ids.empty() && out[i].sequence_ids[0] == -1;
      if (special && i > 0 && seq > 0 && ends[seq - 1] && add_special) continue;
      if (!special) ++seq;
      kept.push_back(std::move(out[i]));
    }
    return kept;
  }
};

// Slow sentencepiece decoding: sp.decode over runs of ordinary pieces, special tokens kept as text.
struct SpmDecoder : Decoder {
  std::shared_ptr<sentencepiece::SentencePieceProcessor> sp;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> run, out;
    auto flush = [&] {
      if (run.empty()) return;
      std::string s;
      sp->Decode(run, &s);
      out.push_back(s);
      run.clear();
    };
    for (auto& t : tokens) {
      int id = sp->PieceToId(t);
      if (sp->IsControl(id)) {
        flush();
        out.push_back(t);
      } else {
        run.push_back(t);
      }
    }
    flush();
    return out;
  }
};

Tokenizer from_sentencepiece(const fs::path& file, const Config& cfg) {
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec) throw_error(ErrorKind::NotFound, "cannot read file", file.string());
  if (size > kMaxVocabFile) throw_error(ErrorKind::Format, "sentencepiece model is larger than 1 GiB", file.string());
  auto sp = std::make_shared<sentencepiece::SentencePieceProcessor>();
  auto st = sp->Load(file.string());
  if (!st.ok()) throw_error(ErrorKind::Format, "not a sentencepiece model: " + st.ToString(), file.string());
  std::string cls_name = cfg.str("tokenizer_class");
  auto impl = std::make_shared<Tokenizer::Impl>();
  auto model = std::make_unique<SpmModel>();
  model->sp = sp;
  if (cls_name.find("T5") != std::string::npos) {
    model->flavor = Spm::T5;
  } else if (cls_name.find("Albert") != std::string::npos) {
    model->flavor = Spm::Albert;
    model->lower = cfg.flag("do_lower_case", true);
    model->keep_accents = cfg.flag("keep_accents", false);
  } else if (cls_name.find("XLNet") != std::string::npos) {
    model->flavor = Spm::XLNet;
    model->lower = cfg.flag("do_lower_case", false);
    model->keep_accents = cfg.flag("keep_accents", false);
  } else if (cls_name.empty() || cls_name.find("Llama") != std::string::npos) {
    model->flavor = Spm::Llama;
  } else {
    throw_error(ErrorKind::Unsupported, "sentencepiece tokenizer class '" + cls_name + "' is not supported", file.string());
  }
  Spm flavor = model->flavor;
  auto id_of = [&](const std::string& t) -> int64_t {
    auto id = model->token_to_id(t);
    if (!id) throw_error(ErrorKind::Format, "special token '" + t + "' is not in the sentencepiece model", file.string());
    return *id;
  };
  // Special tokens: the slow tokenizer splits the text on them first (mask tokens strip spaces on the left).
  std::vector<AddedToken> specials;
  auto add = [&](const char* key, const char* dflt, bool lstrip) {
    auto t = cfg.special(key, dflt);
    if (!t) return;
    auto id = model->token_to_id(*t);
    if (!id) return;
    AddedToken a;
    a.content = *t;
    a.id = *id;
    a.special = true;
    a.normalized = false;
    a.lstrip = lstrip;
    specials.push_back(a);
  };
  json post;
  auto tmpl = [&](json single, json pair, std::vector<std::string> names) {
    json sp_tokens = json::object();
    for (const auto& n : names) sp_tokens[n] = {{"id", n}, {"ids", {id_of(n)}}, {"tokens", {n}}};
    post = {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", sp_tokens}};
  };
  switch (flavor) {
    case Spm::T5: {
      add("eos_token", "</s>", false);
      add("unk_token", "<unk>", false);
      add("pad_token", "<pad>", false);
      std::string eos = *cfg.special("eos_token", "</s>");
      tmpl({piece_seq("A", 0), piece_special(eos, 0)},
           {piece_seq("A", 0), piece_special(eos, 0), piece_seq("B", 0), piece_special(eos, 0)}, {eos});
      break;
    }
    case Spm::Llama: {
      add("bos_token", "<s>", false);
      add("eos_token", "</s>", false);
      add("unk_token", "<unk>", false);
      std::string bos = *cfg.special("bos_token", "<s>"), eos = *cfg.special("eos_token", "</s>");
      bool add_bos = cfg.flag("add_bos_token", true), add_eos = cfg.flag("add_eos_token", false);
      json single = json::array(), pair = json::array();
      std::vector<std::string> names;
      if (add_bos) single.push_back(piece_special(bos, 0)), names.push_back(bos);
      single.push_back(piece_seq("A", 0));
      if (add_eos) single.push_back(piece_special(eos, 0)), names.push_back(eos);
      pair = single;
      if (add_bos) pair.push_back(piece_special(bos, 1));
      pair.push_back(piece_seq("B", 1));
      if (add_eos) pair.push_back(piece_special(eos, 1));
      tmpl(single, pair, names);
      break;
    }
    case Spm::Albert: {
      for (const char* k : {"cls_token", "sep_token", "unk_token", "pad_token"})
        add(k, k == std::string("cls_token") ? "[CLS]" : k == std::string("sep_token") ? "[SEP]" : k == std::string("unk_token") ? "<unk>" : "<pad>", false);
      add("mask_token", "[MASK]", true);
      std::string cls = *cfg.special("cls_token", "[CLS]"), sep = *cfg.special("sep_token", "[SEP]");
      tmpl({piece_special(cls, 0), piece_seq("A", 0), piece_special(sep, 0)},
           {piece_special(cls, 0), piece_seq("A", 0), piece_special(sep, 0), piece_seq("B", 1), piece_special(sep, 1)},
           {cls, sep});
      break;
    }
    case Spm::XLNet: {
      for (const char* k : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token"}) {
        std::string key(k);
        const char* d = key == "bos_token" ? "<s>" : key == "eos_token" ? "</s>" : key == "unk_token" ? "<unk>"
                        : key == "sep_token" ? "<sep>" : key == "pad_token" ? "<pad>" : "<cls>";
        add(k, d, false);
      }
      add("mask_token", "<mask>", true);
      std::string cls = *cfg.special("cls_token", "<cls>"), sep = *cfg.special("sep_token", "<sep>");
      tmpl({piece_seq("A", 0), piece_special(sep, 0), piece_special(cls, 2)},
           {piece_seq("A", 0), piece_special(sep, 0), piece_seq("B", 1), piece_special(sep, 1), piece_special(cls, 2)},
           {cls, sep});
      break;
    }
  }
  impl->name = file.string();
  impl->post_processor = make_post_processor(post);
  if (flavor == Spm::T5) {
    auto t5 = std::make_unique<T5Proc>();
    t5->eos = id_of(*cfg.special("eos_token", "</s>"));
    t5->inner = std::move(impl->post_processor);
    impl->post_processor = std::move(t5);
  }
  auto dec = std::make_unique<SpmDecoder>();
  dec->sp = sp;
  impl->decoder = std::move(dec);
  impl->model = std::move(model);
  impl->add_tokens(std::move(specials));
  return Tokenizer(impl);
}

}  // namespace

std::optional<Tokenizer> load_legacy(const fs::path& dir) {
  std::error_code ec;
  Config cfg = read_config(dir);
  if (fs::is_regular_file(dir / "vocab.txt", ec)) return from_vocab_txt(dir, cfg);
  bool vj = fs::is_regular_file(dir / "vocab.json", ec), mt = fs::is_regular_file(dir / "merges.txt", ec);
  if (vj && mt) return from_bpe_files(dir, cfg);
  if (vj != mt) throw_error(ErrorKind::NotFound, vj ? "vocab.json without merges.txt" : "merges.txt without vocab.json", dir.string());
  for (const char* f : {"spiece.model", "sentencepiece.bpe.model", "tokenizer.model"})
    if (fs::is_regular_file(dir / f, ec)) return from_sentencepiece(dir / f, cfg);
  return std::nullopt;
}

}  // namespace hfx::tok
