// Pre-tokenizers of tokenizer.json with the semantics of the Rust crate (tokenizers 0.20:
// src/pre_tokenizers): BERT, ByteLevel, UnicodeScripts, Metaspace, Whitespace, WhitespaceSplit,
// Split, Punctuation/CharDelimiterSplit, Digits and Sequence; the ByteLevel byte table.
#include <algorithm>
#include <cstring>

#include "hfx/error.h"
#include "tokenize/internal.h"

namespace hfx::tok {

namespace {

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

}  // namespace hfx::tok
