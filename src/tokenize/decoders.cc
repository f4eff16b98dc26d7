// Normalizers, pre-tokenizers, post-processors and decoders of tokenizer.json, each with the semantics of
// the Rust crate (tokenizers 0.20: src/normalizers, src/pre_tokenizers, src/processors, src/decoders).
#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <map>
#include <type_traits>
#include <utility>

#include "hfx/error.h"
#include "tokenize/internal.h"

namespace hfx::tok {

const json& need(const json& j, const char* key, const char* what) {
  if (!j.is_object() || !j.contains(key))
    throw_error(ErrorKind::Format, std::string(what) + ": missing '" + key + "'");
  return j[key];
}

int64_t integer(const json& v, const char* what) {
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    throw_error(ErrorKind::Format, std::string(what) + ": integer out of range");
  if (!v.is_number_integer()) throw_error(ErrorKind::Format, std::string(what) + ": wrong type (expected an integer)");
  return v.get<int64_t>();
}

int64_t integer_or(const json& obj, const char* key, int64_t dflt, const char* what) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return dflt;
  return integer(obj[key], what);
}

int64_t token_id(const json& v, const char* what) {
  const int64_t id = integer(v, what);
  if (id < 0 || id > int64_t{UINT32_MAX})
    throw_error(ErrorKind::Format, std::string(what) + ": " + std::to_string(id) +
                                       " is not a token id (tokenizers reads ids as u32: 0..4294967295)");
  return id;
}


template <class F>
void NormalizedString::filter(F keep) {
  int removed = 0;
  std::size_t removed_start = 0;
  bool have_last = false;
  char32_t last = 0;
  std::vector<std::pair<char32_t, int>> t;
  bool any_removed = false;
  for (char32_t c : to_chars(s)) {
    if (keep(c)) {
      if (have_last) {
        t.emplace_back(last, -removed);
      } else {
        removed_start = static_cast<std::size_t>(removed);
      }
      last = c;
      have_last = true;
      removed = 0;
    } else {
      ++removed;
      any_removed = true;
    }
  }
  if (!any_removed) return;
  if (have_last) t.emplace_back(last, -removed);
  transform(t, removed_start);
}

template <class F>
void NormalizedString::map(F fn) {
  std::vector<std::pair<char32_t, int>> t;
  bool changed = false;
  for (char32_t c : to_chars(s)) {
    char32_t d = fn(c);
    changed = changed || d != c;
    t.emplace_back(d, 0);
  }
  if (changed) transform(t, 0);
}

namespace {

template <class T>
T get_or(const json& j, const char* key, T dflt) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return dflt;
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // Through the checked reader: nlohmann's get<integer>() converts a float such
    // as 7.8e118 with a cast whose result is undefined.
    const int64_t v = integer(j[key], key);
    if (!std::in_range<T>(v)) throw_error(ErrorKind::Format, std::string("'") + key + "': integer out of range");
    return static_cast<T>(v);
  }
  try {
    return j[key].get<T>();
  } catch (const json::exception&) {
    throw_error(ErrorKind::Format, std::string("'") + key + "' has the wrong type");
  }
}

std::string type_of(const json& j, const char* what) {
  const json& t = need(j, "type", what);
  if (!t.is_string()) throw_error(ErrorKind::Format, std::string(what) + ": 'type' must be a string");
  return t.get<std::string>();
}

const json& need_array(const json& j, const char* key, const char* what) {
  const json& a = need(j, key, what);
  if (!a.is_array()) throw_error(ErrorKind::Format, std::string(what) + ": '" + key + "' must be an array");
  return a;
}

// ---------------- Normalizers ----------------

bool bert_is_whitespace(char32_t c) { return c == '\t' || c == '\n' || c == '\r' || is_whitespace(c); }
bool bert_is_control(char32_t c) { return c != '\t' && c != '\n' && c != '\r' && is_other(c); }

struct BertNormalizer : Normalizer {
  bool clean_text, chinese, strip_accents, lowercase;
  void normalize(NormalizedString& n) const override {
    if (clean_text) {
      n.filter([](char32_t c) { return !(c == 0 || c == 0xFFFD || bert_is_control(c)); });
      n.map([](char32_t c) { return bert_is_whitespace(c) ? U' ' : c; });
    }
    if (chinese) {
      std::vector<std::pair<char32_t, int>> t;
      bool any = false;
      for (char32_t c : to_chars(n.s)) {
        if (is_chinese_char(c)) {
          t.emplace_back(' ', 0);
          t.emplace_back(c, 1);
          t.emplace_back(' ', 1);
          any = true;
        } else {
          t.emplace_back(c, 0);
        }
      }
      if (any) n.transform(t, 0);
    }
    if (strip_accents) {
      n.nfd(false);
      n.filter([](char32_t c) { return !is_mark_nonspacing(c); });
    }
    if (lowercase) n.lowercase();
  }
};

struct UnicodeNorm : Normalizer {
  bool compose, compat;
  void normalize(NormalizedString& n) const override {
    if (compose) {
      n.nfc_(compat);
    } else {
      n.nfd(compat);
    }
  }
};

struct Lowercase : Normalizer {
  void normalize(NormalizedString& n) const override { n.lowercase(); }
};

struct StripAccents : Normalizer {  // all combining marks (M*), unlike BERT's strip_accents (Mn only)
  void normalize(NormalizedString& n) const override {
    n.filter([](char32_t c) { return !is_mark(c); });
  }
};

struct Strip : Normalizer {
  bool left, right;
  void normalize(NormalizedString& n) const override { n.strip(left, right); }
};

struct ReplaceN : Normalizer {
  Pattern pattern;
  std::string content;
  void normalize(NormalizedString& n) const override { replace(n, pattern.find(n.s), content); }
};

struct PrependN : Normalizer {
  std::string prepend;
  void normalize(NormalizedString& n) const override { n.prepend(prepend); }
};

// sentencepiece's precompiled normalization rules (spm_precompiled in the crate): a darts-clone double array
// over UTF-8 bytes whose values index NUL-terminated replacements. Applied per grapheme (graphemes under 6 bytes
// whole, else char by char); the first (shortest) prefix match decides, as the crate does.
struct Precompiled : Normalizer {
  std::vector<uint32_t> trie;
  std::string normalized;

  std::optional<std::string_view> transform(std::string_view chunk) const {
    auto offset = [](uint32_t u) -> std::size_t { return (u >> 10) << ((u & (1u << 9)) >> 6); };
    std::size_t node = 0;
    if (trie.empty()) return std::nullopt;
    node ^= offset(trie[0]);
    for (unsigned char c : chunk) {
      if (c == 0) break;
      node ^= c;
      if (node >= trie.size()) return std::nullopt;
      uint32_t unit = trie[node];
      if ((unit & ((1u << 31) | 0xFF)) != c) return std::nullopt;
      node ^= offset(unit);
      if (node >= trie.size()) return std::nullopt;
      if ((unit >> 8) & 1) {
        std::size_t v = trie[node] & ((1u << 31) - 1);
        if (v >= normalized.size()) return std::nullopt;
        std::size_t e = normalized.find('\0', v);
        return std::string_view(normalized).substr(v, (e == std::string::npos ? normalized.size() : e) - v);
      }
    }
    return std::nullopt;
  }

  static void replace_part(std::vector<std::pair<char32_t, int>>& t, std::string_view old_part, std::string_view new_part) {
    int old_count = static_cast<int>(to_chars(old_part).size());
    auto nc = to_chars(new_part);
    int diff = static_cast<int>(nc.size()) - old_count;
    for (char32_t c : nc) t.emplace_back(c, 0);
    if (diff > 0) {
      for (int k = 0; k < diff; ++k) t[t.size() - 1 - static_cast<std::size_t>(k)].second = 1;
    } else if (diff < 0 && !t.empty()) {
      t.back().second += diff;
    }
  }

  void normalize(NormalizedString& n) const override {
    std::vector<std::pair<char32_t, int>> t;
    bool modified = false;
    const std::string& s = n.s;
    std::size_t g0 = 0;
    int32_t state = 0;
    char32_t prev = 0;
    auto flush = [&](std::size_t g1) {
      std::string_view g(s.data() + g0, g1 - g0);
      if (g.size() < 6) {
        if (auto norm = transform(g)) {
          modified = true;
          replace_part(t, g, *norm);
          return;
        }
      }
      for (std::size_t i = 0, len = 0; i < g.size(); i += len) {
        char32_t c = decode_at(g, i, &len);
        if (auto norm = transform(g.substr(i, len))) {
          modified = true;
          replace_part(t, g.substr(i, len), *norm);
        } else {
          t.emplace_back(c, 0);
        }
      }
    };
    for (std::size_t i = 0, len = 0; i < s.size(); i += len) {
      char32_t c = decode_at(s, i, &len);
      if (i > 0 && grapheme_break(prev, c, &state)) {
        flush(i);
        g0 = i;
      }
      prev = c;
    }
    if (!s.empty()) flush(s.size());
    if (modified) n.transform(t, 0);
  }
};

// base64 (the crate serializes precompiled_charsmap so); hand-written: a dozen lines, no library needed.
std::string base64_decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = val(c);
    if (v < 0) throw_error(ErrorKind::Format, "Precompiled: precompiled_charsmap is not base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

// sentencepiece's nmt rules (normalizers/unicode.rs, do_nmt): drop ASCII controls, map other spaces to ' '.
struct NmtN : Normalizer {
  void normalize(NormalizedString& n) const override {
    n.filter([](char32_t c) {
      return !((c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || c == 0x8F ||
               c == 0x9F);
    });
    n.map([](char32_t c) -> char32_t {
      switch (c) {
        case 0x09: case 0x0A: case 0x0C: case 0x0D: case 0x1680: case 0x2028: case 0x2029: case 0x2581:
        case 0xFEFF: case 0xFFFD:
          return U' ';
        default:
          return c >= 0x200B && c <= 0x200F ? U' ' : c;
      }
    });
  }
};

// normalizers::ByteLevel: every byte becomes its ByteLevel character (as the ByteLevel pre-tokenizer does).
struct ByteLevelN : Normalizer {
  void normalize(NormalizedString& n) const override {
    if (!n.empty()) byte_level_transform(n);
  }
};

struct SequenceN : Normalizer {
  std::vector<std::unique_ptr<Normalizer>> items;
  void normalize(NormalizedString& n) const override {
    for (const auto& x : items) x->normalize(n);
  }
};

// ---------------- Pre-tokenizers ----------------

template <class F>
void split_each(std::vector<NormalizedString>& pieces, F fn) {
  std::vector<NormalizedString> out;
  for (auto& p : pieces)
    for (auto& q : fn(p))
      if (!q.empty()) out.push_back(std::move(q));
  pieces = std::move(out);
}

bool is_ws(char32_t c) { return is_whitespace(c); }

struct BertPre : PreTokenizer {
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    split_each(pieces, [](NormalizedString& n) { return split(n, find_char_matches(n.s, is_ws), SplitBehavior::Removed); });
    split_each(pieces, [](NormalizedString& n) {
      return split(n, find_char_matches(n.s, is_bert_punctuation), SplitBehavior::Isolated);
    });
  }
};

const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct ByteLevelPre : PreTokenizer {
  bool add_prefix_space = true, use_regex = true;
  std::shared_ptr<const Regex> re = onig_regex(kGpt2Pattern);
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    split_each(pieces, [&](NormalizedString& n) {
      if (add_prefix_space && n.s.rfind(' ', 0) != 0) n.prepend(" ");
      if (!use_regex) return std::vector<NormalizedString>{n};
      return split(n, find_regex_matches(n.s, *re), SplitBehavior::Isolated);
    });
    for (auto& n : pieces) byte_level_transform(n);
  }
};

// UnicodeScripts (pre_tokenizers/unicode_scripts): a cut wherever the script class changes, the space and
// unassigned code points ("Any") joining the piece before them. As in the crate, text before the first non-Any
// character is dropped (" abc" gives only "abc").
struct ScriptRange {
  char32_t first, last;
  int cls;
};
constexpr ScriptRange kScriptRanges[] = {
#include "tokenize/unicode_scripts.inc"
};

int script_class(char32_t c) {
  const ScriptRange* end = kScriptRanges + sizeof(kScriptRanges) / sizeof(kScriptRanges[0]);
  const ScriptRange* it = std::upper_bound(kScriptRanges, end, c, [](char32_t v, const ScriptRange& r) { return v < r.first; });
  if (it == kScriptRanges) return 0;
  --it;
  return c <= it->last ? it->cls : 0;
}

struct UnicodeScriptsPre : PreTokenizer {
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    split_each(pieces, [](NormalizedString& n) {
      std::vector<std::size_t> cuts;
      int last = -1;  // none yet
      for (std::size_t i = 0, len = 0; i < n.s.size(); i += len) {
        int sc = script_class(decode_at(n.s, i, &len));
        if (sc == 0) continue;
        if (sc != last) cuts.push_back(i);
        last = sc;
      }
      cuts.push_back(n.s.size());
      std::vector<NormalizedString> out;
      for (std::size_t k = 0; k + 1 < cuts.size(); ++k) out.push_back(n.slice(cuts[k], cuts[k + 1]));
      return out;
    });
  }
};

}  // namespace

void byte_level_transform(NormalizedString& n) {
  const auto& table = bytes_to_chars();
  std::vector<std::pair<char32_t, int>> t;
  t.reserve(n.s.size());
  for (std::size_t i = 0, len = 0; i < n.s.size(); i += len) {
    decode_at(n.s, i, &len);
    for (std::size_t k = 0; k < len; ++k) t.emplace_back(table[static_cast<unsigned char>(n.s[i + k])], k > 0 ? 1 : 0);
  }
  n.transform(t, 0);
}

namespace {

enum class Prepend { Always, First, Never };

struct MetaspacePre : PreTokenizer {
  char32_t replacement = 0x2581;
  std::string rep = "\xe2\x96\x81";
  Prepend scheme = Prepend::Always;
  bool do_split = true;
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    split_each(pieces, [&](NormalizedString& n) {
      replace(n, find_string_matches(n.s, " "), rep);
      bool starts = n.s.rfind(rep, 0) == 0;
      if (scheme == Prepend::Always && !starts) n.prepend(rep);
      if (scheme == Prepend::First && !starts && n.orig_shift == 0) n.prepend(rep);
      if (!do_split) return std::vector<NormalizedString>{n};
      return split(n, find_string_matches(n.s, rep), SplitBehavior::MergedWithNext);
    });
  }
};

struct WhitespacePre : PreTokenizer {
  std::shared_ptr<const Regex> re = onig_regex(R"(\w+|[^\w\s]+)");
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    split_each(pieces, [&](NormalizedString& n) {
      auto m = find_regex_matches(n.s, *re);
      for (auto& x : m) x.second = !x.second;  // Invert: keep the matches, remove the rest
      return split(n, m, SplitBehavior::Removed);
    });
  }
};

struct WhitespaceSplitPre : PreTokenizer {
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    split_each(pieces, [](NormalizedString& n) { return split(n, find_char_matches(n.s, is_ws), SplitBehavior::Removed); });
  }
};

struct SplitPre : PreTokenizer {
  Pattern pattern;
  SplitBehavior behavior;
  bool invert = false;
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    split_each(pieces, [&](NormalizedString& n) {
      auto m = pattern.find(n.s);
      if (invert)
        for (auto& x : m) x.second = !x.second;
      return split(n, m, behavior);
    });
  }
};

struct CharPre : PreTokenizer {
  bool (*pred)(char32_t);
  SplitBehavior behavior;
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    split_each(pieces, [&](NormalizedString& n) { return split(n, find_char_matches(n.s, pred), behavior); });
  }
};

struct DelimiterPre : PreTokenizer {
  std::string delim;
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    split_each(pieces, [&](NormalizedString& n) { return split(n, find_string_matches(n.s, delim), SplitBehavior::Removed); });
  }
};

struct SequencePre : PreTokenizer {
  std::vector<std::unique_ptr<PreTokenizer>> items;
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    for (const auto& x : items) x->pre_tokenize(pieces);
  }
};

Prepend parse_prepend(const json& j) {
  if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
    auto s = j["prepend_scheme"].get<std::string>();
    if (s == "always") return Prepend::Always;
    if (s == "first") return Prepend::First;
    if (s == "never") return Prepend::Never;
    throw_error(ErrorKind::Format, "Metaspace: unknown prepend_scheme '" + s + "'");
  }
  return get_or<bool>(j, "add_prefix_space", true) ? Prepend::Always : Prepend::Never;
}

char32_t single_char(const std::string& s, const char* what) {
  validate_utf8(s, what);
  auto cs = to_chars(s);
  if (cs.size() != 1) throw_error(ErrorKind::Format, std::string(what) + " must be one character");
  return cs[0];
}

// ---------------- Post-processors ----------------

Encoding special_encoding(const std::vector<int64_t>& ids, const std::vector<std::string>& tokens, int64_t type_id) {
  Encoding e;
  e.ids = ids;
  e.tokens = tokens;
  e.type_ids.assign(ids.size(), type_id);
  e.attention_mask.assign(ids.size(), 1);
  e.special_tokens_mask.assign(ids.size(), 1);
  e.offsets.assign(ids.size(), {0, 0});
  e.sequence_ids.assign(ids.size(), -1);
  return e;
}

struct Template : PostProcessor {
  struct Piece {
    bool special;
    std::string id;  // "A"/"B" or the special token name
    int64_t type_id;
  };
  std::vector<Piece> single, pair;
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<std::string>>> specials;
  int64_t count(const std::vector<Piece>& t) const {
    int64_t n = 0;
    for (const auto& p : t)
      if (p.special) n += static_cast<int64_t>(specials.at(p.id).first.size());
    return n;
  }
  int64_t added_tokens(bool is_pair) const override { return count(is_pair ? pair : single); }
  std::vector<Encoding> process(std::vector<Encoding> encs, bool add_special) const override {
    const auto& t = encs.size() > 1 ? pair : single;
    std::vector<Encoding> out;
    for (const auto& p : t) {
      if (!p.special) {
        std::size_t i = p.id == "A" ? 0 : 1;
        if (i >= encs.size()) continue;
        Encoding e = encs[i];
        e.type_ids.assign(e.ids.size(), p.type_id);
        out.push_back(std::move(e));
      } else if (add_special) {
        const auto& sp = specials.at(p.id);
        out.push_back(special_encoding(sp.first, sp.second, p.type_id));
      }
    }
    return out;
  }
};

std::vector<Template::Piece> parse_template(const json& a, const Template& t) {
  if (!a.is_array()) throw_error(ErrorKind::Format, "TemplateProcessing: template must be a list");
  std::vector<Template::Piece> out;
  for (const auto& p : a) {
    if (p.contains("SpecialToken")) {
      const auto& s = p["SpecialToken"];
      std::string id = need(s, "id", "TemplateProcessing").get<std::string>();
      if (!t.specials.count(id)) throw_error(ErrorKind::Format, "TemplateProcessing: missing special token '" + id + "'");
      out.push_back({true, id, get_or<uint32_t>(s, "type_id", 0)});
    } else if (p.contains("Sequence")) {
      const auto& s = p["Sequence"];
      std::string id = need(s, "id", "TemplateProcessing").get<std::string>();
      if (id != "A" && id != "B") throw_error(ErrorKind::Format, "TemplateProcessing: sequence id must be A or B");
      out.push_back({false, id, get_or<uint32_t>(s, "type_id", 0)});
    } else {
      throw_error(ErrorKind::Format, "TemplateProcessing: unknown piece");
    }
  }
  return out;
}

// `pre` + e + `post` (special tokens with the given type ids); e keeps its type ids unless `type_id` is set.
// The crate builds each overflowing piece the same way.
struct Special {
  std::pair<std::string, int64_t> token;
  int64_t type_id;
};
Encoding wrap(const Encoding& e, const std::optional<Special>& pre, const Special& post, std::optional<int64_t> type_id) {
  std::vector<Encoding> parts;
  if (pre) parts.push_back(special_encoding({pre->token.second}, {pre->token.first}, pre->type_id));
  parts.push_back(e);
  parts.back().overflowing.clear();
  if (type_id) parts.back().type_ids.assign(e.ids.size(), *type_id);
  parts.push_back(special_encoding({post.token.second}, {post.token.first}, post.type_id));
  Encoding out = merge_encodings(std::move(parts));
  for (const auto& o : e.overflowing) out.overflowing.push_back(wrap(o, pre, post, type_id));
  return out;
}

struct BertProc : PostProcessor {
  std::pair<std::string, int64_t> sep, cls;
  int64_t added_tokens(bool is_pair) const override { return is_pair ? 3 : 2; }
  std::vector<Encoding> process(std::vector<Encoding> encs, bool add_special) const override {
    if (!add_special) return encs;
    std::vector<Encoding> out;
    out.push_back(wrap(encs[0], Special{cls, 0}, Special{sep, 0}, std::nullopt));
    if (encs.size() > 1) out.push_back(wrap(encs[1], std::nullopt, Special{sep, 1}, std::nullopt));
    return out;
  }
};

struct RobertaProc : PostProcessor {
  std::pair<std::string, int64_t> sep, cls;
  bool trim_offsets = true, add_prefix_space = true;
  int64_t added_tokens(bool is_pair) const override { return is_pair ? 4 : 2; }
  std::vector<Encoding> process(std::vector<Encoding> encs, bool add_special) const override {
    for (auto& e : encs) {
      if (trim_offsets) {
        process_offsets_byte_level(e, add_prefix_space);
        for (auto& o : e.overflowing) process_offsets_byte_level(o, add_prefix_space);
      }
      e.type_ids.assign(e.ids.size(), 0);  // the crate resets the main encoding only, not its overflowing pieces
    }
    if (!add_special) return encs;
    std::vector<Encoding> out;
    out.push_back(wrap(encs[0], Special{cls, 0}, Special{sep, 0}, 0));
    if (encs.size() > 1) out.push_back(wrap(encs[1], Special{sep, 0}, Special{sep, 0}, 0));
    return out;
  }
};

struct ByteLevelProc : PostProcessor {
  bool trim_offsets = true, add_prefix_space = true;
  int64_t added_tokens(bool) const override { return 0; }
  std::vector<Encoding> process(std::vector<Encoding> encs, bool) const override {
    if (trim_offsets)
      for (auto& e : encs) {
        process_offsets_byte_level(e, add_prefix_space);
        for (auto& o : e.overflowing) process_offsets_byte_level(o, add_prefix_space);
      }
    return encs;
  }
};

struct SequenceProc : PostProcessor {
  std::vector<std::unique_ptr<PostProcessor>> items;
  int64_t added_tokens(bool is_pair) const override {
    int64_t n = 0;
    for (const auto& x : items) n += x->added_tokens(is_pair);
    return n;
  }
  std::vector<Encoding> process(std::vector<Encoding> encs, bool add_special) const override {
    for (const auto& x : items) encs = x->process(std::move(encs), add_special);
    return encs;
  }
};

std::pair<std::string, int64_t> token_pair(const json& j, const char* key, const char* what) {
  const json& a = need(j, key, what);
  if (!a.is_array() || a.size() != 2 || !a[0].is_string() || !a[1].is_number_integer())
    throw_error(ErrorKind::Format, std::string(what) + ": '" + key + "' must be [token, id]");
  return {a[0].get<std::string>(), token_id(a[1], "special token id")};
}

// ---------------- Decoders ----------------

struct ByteLevelDec : Decoder {
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    static const std::unordered_map<char32_t, unsigned char> rev = [] {
      std::unordered_map<char32_t, unsigned char> m;
      const auto& t = bytes_to_chars();
      for (int b = 0; b < 256; ++b) m[t[static_cast<std::size_t>(b)]] = static_cast<unsigned char>(b);
      return m;
    }();
    std::string bytes;
    for (const auto& t : tokens) {
      std::string mine;
      bool ok = true;
      for (char32_t c : to_chars(t)) {
        auto it = rev.find(c);
        if (it == rev.end()) {
          ok = false;
          break;
        }
        mine += static_cast<char>(it->second);
      }
      bytes += ok ? mine : t;
    }
    return {utf8_lossy(bytes)};
  }

 public:
  // String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD.
  static std::string utf8_lossy(const std::string& b) {
    std::string out;
    std::size_t i = 0, n = b.size();
    auto u = [&](std::size_t k) { return static_cast<unsigned char>(b[k]); };
    while (i < n) {
      unsigned char c = u(i);
      if (c < 0x80) {
        out += static_cast<char>(c);
        ++i;
        continue;
      }
      std::size_t need_n = 0;
      unsigned char lo = 0x80, hi = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        need_n = 1;
      } else if (c >= 0xE0 && c <= 0xEF) {
        need_n = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
      } else if (c >= 0xF0 && c <= 0xF4) {
        need_n = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
      } else {
        out += "\xef\xbf\xbd";
        ++i;
        continue;
      }
      std::size_t k = 1;
      bool bad = false;
      for (; k <= need_n; ++k) {
        if (i + k >= n) {
          bad = true;
          break;
        }
        unsigned char d = u(i + k);
        unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (d < l || d > h) {
          bad = true;
          break;
        }
      }
      if (bad) {
        out += "\xef\xbf\xbd";
        i += k;
      } else {
        out.append(b, i, need_n + 1);
        i += need_n + 1;
      }
    }
    return out;
  }
};

std::string wordpiece_cleanup(std::string s) {
  static const std::pair<const char*, const char*> rules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"}, {" 'm", "'m"},
      {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : rules) {
    std::string out;
    std::string_view f(from);
    std::size_t pos = 0;
    for (std::size_t p = s.find(f); p != std::string::npos; p = s.find(f, pos)) {
      out.append(s, pos, p - pos);
      out += to;
      pos = p + f.size();
    }
    out.append(s, pos, std::string::npos);
    s = std::move(out);
  }
  return s;
}

struct WordPieceDec : Decoder {
  std::string prefix = "##";
  bool cleanup = true;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      auto& t = tokens[i];
      if (i != 0) {
        if (t.rfind(prefix, 0) == 0) {
          t = t.substr(prefix.size());
        } else {
          t = " " + t;
        }
      }
      if (cleanup) t = wordpiece_cleanup(t);
    }
    return tokens;
  }
};

struct MetaspaceDec : Decoder {
  char32_t replacement = 0x2581;
  Prepend scheme = Prepend::Always;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      for (char32_t c : to_chars(tokens[i])) {
        if (c == replacement) {
          if (i == 0 && scheme != Prepend::Never) continue;
          out += ' ';
        } else {
          append_utf8(out, c);
        }
      }
      tokens[i] = std::move(out);
    }
    return tokens;
  }
};

struct BPEDec : Decoder {
  std::string suffix = "</w>";
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::string rep = i + 1 == tokens.size() ? "" : " ";
      auto& t = tokens[i];
      std::string out;
      std::size_t pos = 0;
      for (std::size_t p = suffix.empty() ? std::string::npos : t.find(suffix); p != std::string::npos;
           p = t.find(suffix, pos)) {
        out.append(t, pos, p - pos);
        out += rep;
        pos = p + suffix.size();
      }
      out.append(t, pos, std::string::npos);
      t = std::move(out);
    }
    return tokens;
  }
};

struct ByteFallbackDec : Decoder {
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    auto flush = [&] {
      if (bytes.empty()) return;
      try {
        validate_utf8(bytes, "bytes");
        out.push_back(bytes);
      } catch (const Error&) {
        for (std::size_t i = 0; i < bytes.size(); ++i) out.emplace_back("\xef\xbf\xbd");
      }
      bytes.clear();
    };
    for (auto& t : tokens) {
      if (t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
          std::isxdigit(static_cast<unsigned char>(t[4]))) {
        bytes += static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    return out;
  }
};

struct FuseDec : Decoder {
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string s;
    for (const auto& t : tokens) s += t;
    return {s};
  }
};

struct StripDec : Decoder {
  char32_t content = ' ';
  std::size_t start = 0, stop = 0;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) {
      auto cs = to_chars(t);
      std::size_t a = 0, b = cs.size();
      for (std::size_t i = 0; i < std::min(start, cs.size()) && cs[i] == content; ++i) a = i + 1;
      for (std::size_t i = 0; i < std::min(stop, cs.size()) && cs[cs.size() - 1 - i] == content; ++i) b = cs.size() - i - 1;
      std::string out;
      for (std::size_t i = a; i < b; ++i) append_utf8(out, cs[i]);
      t = std::move(out);
    }
    return tokens;
  }
};

struct ReplaceDec : Decoder {
  Pattern pattern;
  std::string content;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) {
      auto n = NormalizedString::from(t);
      replace(n, pattern.find(n.s), content);
      t = n.s;
    }
    return tokens;
  }
};

// Rust's str::replace (an empty pattern matches at every char boundary).
std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  if (from.empty()) {
    for (std::size_t i = 0, len = 0; i < s.size(); i += len) {
      out += to;
      decode_at(s, i, &len);
      out.append(s.substr(i, len));
    }
    out += to;
    return out;
  }
  std::size_t pos = 0;
  for (std::size_t p = s.find(from); p != std::string_view::npos; p = s.find(from, pos)) {
    out.append(s.substr(pos, p - pos));
    out += to;
    pos = p + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

// decoders::CTC: repeated tokens collapse to one, the pad token disappears, then (cleanup) the WordPiece
// cleanup rules and the word delimiter becomes a space; empty results are dropped.
struct CTCDec : Decoder {
  std::string pad_token = "<pad>", word_delimiter = "|";
  bool cleanup = true;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0 && tokens[i] == tokens[i - 1]) continue;
      std::string t = replace_all(tokens[i], pad_token, "");
      if (cleanup) t = replace_all(wordpiece_cleanup(t), word_delimiter, " ");
      if (!t.empty()) out.push_back(std::move(t));
    }
    return out;
  }
};

struct SequenceDec : Decoder {
  std::vector<std::unique_ptr<Decoder>> items;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (const auto& x : items) tokens = x->decode_chain(std::move(tokens));
    return tokens;
  }
};

}  // namespace

const std::vector<char32_t>& bytes_to_chars() {
  static const std::vector<char32_t> table = [] {
    std::vector<char32_t> t(256);
    std::vector<bool> direct(256, false);
    for (int b = '!'; b <= '~'; ++b) direct[static_cast<std::size_t>(b)] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[static_cast<std::size_t>(b)] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[static_cast<std::size_t>(b)] = true;
    char32_t n = 0;
    for (std::size_t b = 0; b < 256; ++b) t[b] = direct[b] ? static_cast<char32_t>(b) : 256 + n++;
    return t;
  }();
  return table;
}

void process_offsets_byte_level(Encoding& e, bool add_prefix_space) {
  const char32_t space = bytes_to_chars()[' '];
  for (std::size_t i = 0; i < e.ids.size(); ++i) {
    auto cs = to_chars(e.tokens[i]);
    auto sp = [&](char32_t c) { return c == space || is_whitespace(c); };
    std::size_t lead = 0, trail = 0;
    while (lead < cs.size() && sp(cs[lead])) ++lead;
    while (trail < cs.size() && sp(cs[cs.size() - 1 - trail])) ++trail;
    auto& off = e.offsets[i];
    if (lead > 0) {
      bool first = i == 0 || off.first == 0;
      if (first && add_prefix_space && lead == 1) lead = 0;
      off.first = std::min<int64_t>(off.first + static_cast<int64_t>(lead), off.second);
    }
    if (trail > 0 && off.second >= static_cast<int64_t>(trail))
      off.second = std::max<int64_t>(off.second - static_cast<int64_t>(trail), off.first);
  }
}

namespace {

void append_fields(Encoding& a, const Encoding& b) {
  auto app = [](auto& x, const auto& y) { x.insert(x.end(), y.begin(), y.end()); };
  app(a.ids, b.ids);
  app(a.type_ids, b.type_ids);
  app(a.attention_mask, b.attention_mask);
  app(a.special_tokens_mask, b.special_tokens_mask);
  app(a.tokens, b.tokens);
  app(a.offsets, b.offsets);
  app(a.sequence_ids, b.sequence_ids);
}

Encoding fields_of(const Encoding& e) {
  Encoding c;
  append_fields(c, e);
  return c;
}

// Encoding::merge_with of the crate (growing_offsets false): the overflowing pieces of the result are, in this
// order, each of ours followed by `pair` and by each of its pieces, then we followed by each of its pieces. (The
// crate also keeps pieces of pieces, which nothing reads; they are dropped here.)
void merge_with(Encoding& self, const Encoding& pair) {
  // A pair cut with a large stride multiplies its pieces (n1 * n2): refuse what would not fit in memory.
  constexpr std::size_t kMaxPieces = std::size_t{1} << 20;
  std::size_t pieces = self.overflowing.size() * (1 + pair.overflowing.size()) + pair.overflowing.size();
  if (pieces > kMaxPieces)
    throw_error(ErrorKind::InvalidArgument, "truncation would produce " + std::to_string(pieces) +
                                                " overflowing pieces (more than 2^20); use a smaller stride");
  std::vector<Encoding> ovs;
  for (const auto& so : self.overflowing) {
    ovs.push_back(fields_of(so));
    append_fields(ovs.back(), pair);
    for (const auto& po : pair.overflowing) {
      ovs.push_back(fields_of(so));
      append_fields(ovs.back(), po);
    }
  }
  for (const auto& po : pair.overflowing) {
    ovs.push_back(fields_of(self));
    append_fields(ovs.back(), po);
  }
  append_fields(self, pair);
  self.overflowing = std::move(ovs);
}

}  // namespace

Encoding merge_encodings(std::vector<Encoding> encs) {
  Encoding out;
  for (auto& e : encs) merge_with(out, e);
  return out;
}

std::unique_ptr<Normalizer> make_normalizer(const json& j) {
  if (j.is_null()) return nullptr;
  std::string t = type_of(j, "normalizer");
  if (t == "BertNormalizer") {
    auto n = std::make_unique<BertNormalizer>();
    n->clean_text = get_or<bool>(j, "clean_text", true);
    n->chinese = get_or<bool>(j, "handle_chinese_chars", true);
    n->lowercase = get_or<bool>(j, "lowercase", true);
    n->strip_accents = get_or<bool>(j, "strip_accents", n->lowercase);
    return n;
  }
  if (t == "NFC" || t == "NFD" || t == "NFKC" || t == "NFKD") {
    auto n = std::make_unique<UnicodeNorm>();
    n->compose = t == "NFC" || t == "NFKC";
    n->compat = t == "NFKC" || t == "NFKD";
    return n;
  }
  if (t == "Lowercase") return std::make_unique<Lowercase>();
  if (t == "StripAccents") return std::make_unique<StripAccents>();
  if (t == "Strip") {
    auto n = std::make_unique<Strip>();
    n->left = get_or<bool>(j, "strip_left", true);
    n->right = get_or<bool>(j, "strip_right", true);
    return n;
  }
  if (t == "Replace") {
    auto n = std::make_unique<ReplaceN>();
    n->pattern = Pattern::parse(need(j, "pattern", "Replace"));
    n->content = get_or<std::string>(j, "content", "");
    return n;
  }
  if (t == "Nmt") return std::make_unique<NmtN>();
  if (t == "ByteLevel") return std::make_unique<ByteLevelN>();
  if (t == "Prepend") {
    auto n = std::make_unique<PrependN>();
    n->prepend = get_or<std::string>(j, "prepend", "");
    return n;
  }
  if (t == "Sequence") {
    auto n = std::make_unique<SequenceN>();
    for (const auto& x : need_array(j, "normalizers", "normalizer Sequence"))
      if (auto p = make_normalizer(x)) n->items.push_back(std::move(p));
    return n;
  }
  if (t == "Precompiled") {
    const auto& cm = j.contains("precompiled_charsmap") ? j["precompiled_charsmap"] : json();
    if (cm.is_null() || (cm.is_string() && cm.get<std::string>().empty())) return nullptr;
    if (!cm.is_string()) throw_error(ErrorKind::Format, "Precompiled: precompiled_charsmap must be a base64 string");
    std::string blob = base64_decode(cm.get<std::string>());
    if (blob.size() < 4) throw_error(ErrorKind::Format, "Precompiled: charsmap too short");
    uint32_t trie_size = static_cast<uint32_t>(static_cast<unsigned char>(blob[0])) |
                         static_cast<uint32_t>(static_cast<unsigned char>(blob[1])) << 8 |
                         static_cast<uint32_t>(static_cast<unsigned char>(blob[2])) << 16 |
                         static_cast<uint32_t>(static_cast<unsigned char>(blob[3])) << 24;
    if (trie_size % 4 != 0 || trie_size > blob.size() - 4)
      throw_error(ErrorKind::Format, "Precompiled: trie size " + std::to_string(trie_size) + " does not fit the charsmap");
    auto n = std::make_unique<Precompiled>();
    n->trie.resize(trie_size / 4);
    std::memcpy(n->trie.data(), blob.data() + 4, trie_size);  // little-endian, as x86-64
    n->normalized = blob.substr(4 + trie_size);
    validate_utf8(n->normalized, "Precompiled replacements");
    return n;
  }
  throw_error(ErrorKind::Unsupported, "normalizer '" + t + "' is not supported");
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j) {
  if (j.is_null()) return nullptr;
  std::string t = type_of(j, "pre_tokenizer");
  if (t == "BertPreTokenizer") return std::make_unique<BertPre>();
  if (t == "ByteLevel") {
    auto p = std::make_unique<ByteLevelPre>();
    p->add_prefix_space = get_or<bool>(j, "add_prefix_space", true);
    p->use_regex = get_or<bool>(j, "use_regex", true);
    return p;
  }
  if (t == "Metaspace") {
    auto p = std::make_unique<MetaspacePre>();
    p->rep = get_or<std::string>(j, "replacement", "\xe2\x96\x81");
    p->replacement = single_char(p->rep, "Metaspace replacement");
    p->scheme = parse_prepend(j);
    p->do_split = get_or<bool>(j, "split", true);
    return p;
  }
  if (t == "Whitespace") return std::make_unique<WhitespacePre>();
  if (t == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPre>();
  if (t == "Split") {
    auto p = std::make_unique<SplitPre>();
    p->pattern = Pattern::parse(need(j, "pattern", "Split"));
    p->behavior = parse_behavior(get_or<std::string>(j, "behavior", "Isolated"));
    p->invert = get_or<bool>(j, "invert", false);
    return p;
  }
  if (t == "Punctuation") {
    auto p = std::make_unique<CharPre>();
    p->pred = is_bert_punctuation;
    p->behavior = parse_behavior(get_or<std::string>(j, "behavior", "Isolated"));
    return p;
  }
  if (t == "Digits") {
    auto p = std::make_unique<CharPre>();
    p->pred = is_numeric;
    p->behavior = get_or<bool>(j, "individual_digits", false) ? SplitBehavior::Isolated : SplitBehavior::Contiguous;
    return p;
  }
  if (t == "UnicodeScripts") return std::make_unique<UnicodeScriptsPre>();
  if (t == "CharDelimiterSplit") {
    auto p = std::make_unique<DelimiterPre>();
    p->delim = get_or<std::string>(j, "delimiter", " ");
    single_char(p->delim, "CharDelimiterSplit delimiter");
    return p;
  }
  if (t == "Sequence") {
    auto p = std::make_unique<SequencePre>();
    for (const auto& x : need_array(j, "pretokenizers", "pre_tokenizer Sequence"))
      if (auto q = make_pre_tokenizer(x)) p->items.push_back(std::move(q));
    return p;
  }
  throw_error(ErrorKind::Unsupported, "pre_tokenizer '" + t + "' is not supported");
}

std::unique_ptr<PostProcessor> make_post_processor(const json& j) {
  if (j.is_null()) return nullptr;
  std::string t = type_of(j, "post_processor");
  if (t == "TemplateProcessing") {
    auto p = std::make_unique<Template>();
    const json& sp = need(j, "special_tokens", "TemplateProcessing");
    if (!sp.is_object()) throw_error(ErrorKind::Format, "TemplateProcessing: special_tokens must be an object");
    for (auto it = sp.begin(); it != sp.end(); ++it) {
      std::vector<int64_t> ids;
      std::vector<std::string> toks;
      const json& jids = need(it.value(), "ids", "TemplateProcessing");
      if (!jids.is_array()) throw_error(ErrorKind::Format, "TemplateProcessing: bad special token '" + it.key() + "'");
      for (const json& id : jids) ids.push_back(token_id(id, "TemplateProcessing: special token id"));
      try {
        toks = need(it.value(), "tokens", "TemplateProcessing").get<std::vector<std::string>>();
      } catch (const json::exception&) {
        throw_error(ErrorKind::Format, "TemplateProcessing: bad special token '" + it.key() + "'");
      }
      if (ids.size() != toks.size())
        throw_error(ErrorKind::Format, "TemplateProcessing: ids and tokens differ in length for '" + it.key() + "'");
      p->specials[it.key()] = {ids, toks};
    }
    p->single = parse_template(need(j, "single", "TemplateProcessing"), *p);
    p->pair = parse_template(need(j, "pair", "TemplateProcessing"), *p);
    return p;
  }
  if (t == "BertProcessing") {
    auto p = std::make_unique<BertProc>();
    p->sep = token_pair(j, "sep", "BertProcessing");
    p->cls = token_pair(j, "cls", "BertProcessing");
    return p;
  }
  if (t == "RobertaProcessing") {
    auto p = std::make_unique<RobertaProc>();
    p->sep = token_pair(j, "sep", "RobertaProcessing");
    p->cls = token_pair(j, "cls", "RobertaProcessing");
    p->trim_offsets = get_or<bool>(j, "trim_offsets", true);
    p->add_prefix_space = get_or<bool>(j, "add_prefix_space", true);
    return p;
  }
  if (t == "ByteLevel") {
    auto p = std::make_unique<ByteLevelProc>();
    p->trim_offsets = get_or<bool>(j, "trim_offsets", true);
    p->add_prefix_space = get_or<bool>(j, "add_prefix_space", true);
    return p;
  }
  if (t == "Sequence") {
    auto p = std::make_unique<SequenceProc>();
    for (const auto& x : need_array(j, "processors", "post_processor Sequence"))
      if (auto q = make_post_processor(x)) p->items.push_back(std::move(q));
    return p;
  }
  throw_error(ErrorKind::Unsupported, "post_processor '" + t + "' is not supported");
}

std::unique_ptr<Decoder> make_decoder(const json& j) {
  if (j.is_null()) return nullptr;
  std::string t = type_of(j, "decoder");
  if (t == "ByteLevel") return std::make_unique<ByteLevelDec>();
  if (t == "WordPiece") {
    auto d = std::make_unique<WordPieceDec>();
    d->prefix = get_or<std::string>(j, "prefix", "##");
    d->cleanup = get_or<bool>(j, "cleanup", true);
    return d;
  }
  if (t == "Metaspace") {
    auto d = std::make_unique<MetaspaceDec>();
    d->replacement = single_char(get_or<std::string>(j, "replacement", "\xe2\x96\x81"), "Metaspace replacement");
    d->scheme = parse_prepend(j);
    return d;
  }
  if (t == "BPEDecoder") {
    auto d = std::make_unique<BPEDec>();
    d->suffix = get_or<std::string>(j, "suffix", "</w>");
    return d;
  }
  if (t == "ByteFallback") return std::make_unique<ByteFallbackDec>();
  if (t == "Fuse") return std::make_unique<FuseDec>();
  if (t == "CTC") {
    auto d = std::make_unique<CTCDec>();
    d->pad_token = get_or<std::string>(j, "pad_token", "<pad>");
    d->word_delimiter = get_or<std::string>(j, "word_delimiter_token", "|");
    d->cleanup = get_or<bool>(j, "cleanup", true);
    validate_utf8(d->pad_token, "CTC pad_token");
    validate_utf8(d->word_delimiter, "CTC word_delimiter_token");
    return d;
  }
  if (t == "Strip") {
    auto d = std::make_unique<StripDec>();
    d->content = single_char(get_or<std::string>(j, "content", " "), "Strip content");
    d->start = get_or<std::size_t>(j, "start", 0);
    d->stop = get_or<std::size_t>(j, "stop", 0);
    return d;
  }
  if (t == "Replace") {
    auto d = std::make_unique<ReplaceDec>();
    d->pattern = Pattern::parse(need(j, "pattern", "Replace"));
    d->content = get_or<std::string>(j, "content", "");
    return d;
  }
  if (t == "Sequence") {
    auto d = std::make_unique<SequenceDec>();
    for (const auto& x : need_array(j, "decoders", "decoder Sequence"))
      if (auto q = make_decoder(x)) d->items.push_back(std::move(q));
    return d;
  }
  throw_error(ErrorKind::Unsupported, "decoder '" + t + "' is not supported");
}

}  // namespace hfx::tok
