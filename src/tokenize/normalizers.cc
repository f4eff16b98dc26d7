// Normalizers of tokenizer.json with the semantics of the Rust crate (tokenizers 0.20:
// src/normalizers): BERT, Unicode forms, Lowercase, StripAccents, Strip, Replace, Prepend, Precompiled
// (sentencepiece's charsmap), Nmt, ByteLevel and Sequence.
#include <algorithm>
#include <cstring>

#include "core/base64.h"
#include "hfx/error.h"
#include "tokenize/internal.h"

namespace hfx::tok {

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

}  // namespace

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
    std::optional<std::string> decoded = base64_decode(cm.get<std::string>());  // the crate serializes it so
    if (!decoded) throw_error(ErrorKind::Format, "Precompiled: precompiled_charsmap is not base64");
    std::string blob = std::move(*decoded);
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

}  // namespace hfx::tok
