// Unicode helpers (utf8proc) and the Oniguruma-to-PCRE2 pattern translation used by the tokenizer pipeline
// (the matching itself is hfx::Regex, core/regex.h).
#include <utf8proc.h>

#include <algorithm>
#include <iterator>

#include "hfx/error.h"
#include "tokenize/internal.h"

namespace hfx::tok {

void validate_utf8(std::string_view s, const char* what) {
  std::size_t i = 0;
  while (i < s.size()) {
    utf8proc_int32_t c;
    auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                              static_cast<utf8proc_ssize_t>(s.size() - i), &c);
    if (n <= 0)
      throw_error(ErrorKind::InvalidArgument, std::string(what) + ": invalid UTF-8 at byte " + std::to_string(i));
    i += static_cast<std::size_t>(n);
  }
}

char32_t decode_at(std::string_view s, std::size_t i, std::size_t* len) {
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    *len = 1;
    return b;
  }
  int n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
  char32_t c = b & (0x7F >> n);
  for (int k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  *len = static_cast<std::size_t>(n);
  return c;
}

std::size_t utf8_len(char32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::vector<char32_t> to_chars(std::string_view s) {
  std::vector<char32_t> out;
  for (std::size_t i = 0, n = 0; i < s.size(); i += n) out.push_back(decode_at(s, i, &n));
  return out;
}

static utf8proc_category_t cat(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

bool is_whitespace(char32_t c) {
  return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_numeric(char32_t c) {
  auto k = cat(c);
  return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

bool is_alphanumeric(char32_t c) {
  auto k = cat(c);
  return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) || is_numeric(c);
}

bool is_punctuation(char32_t c) {
  auto k = cat(c);
  return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

// The crate's BERT classes come from the unicode_categories crate, whose tables predate Unicode 10; these
// are the code points where it disagrees with current categories, measured against tokenizers 0.20.3 by
// `tools/fixtures/tokenizer_fixtures.py --bert-unicode` (Unicode 14), plus the P*/Cf code points new in Unicode 15
// (utf8proc's version): U+11B00-11B09, U+11F43-11F4F, U+13439-1343F.
static bool in(const char32_t* first, const char32_t* last, char32_t c) { return std::binary_search(first, last, c); }
static const char32_t kPunctYes[] = {0x166D, 0x111C9};
static const char32_t kPunctNo[] = {
    0x61D, 0x9FD, 0xA76, 0xC77, 0xC84, 0x1B7D, 0x1B7E, 0x2E43, 0x2E44, 0x2E45, 0x2E46, 0x2E47, 0x2E48, 0x2E49,
    0x2E4A, 0x2E4B, 0x2E4C, 0x2E4D, 0x2E4E, 0x2E4F, 0x2E52, 0x2E53, 0x2E54, 0x2E55, 0x2E56, 0x2E57, 0x2E58, 0x2E59,
    0x2E5A, 0x2E5B, 0x2E5C, 0x2E5D, 0x10EAD, 0x10F55, 0x10F56, 0x10F57, 0x10F58, 0x10F59, 0x10F86, 0x10F87, 0x10F88,
    0x10F89, 0x1144B, 0x1144C, 0x1144D, 0x1144E, 0x1144F, 0x1145A, 0x1145B, 0x1145D, 0x11660, 0x11661, 0x11662,
    0x11663, 0x11664, 0x11665, 0x11666, 0x11667, 0x11668, 0x11669, 0x1166A, 0x1166B, 0x1166C, 0x116B9, 0x1183B,
    0x11944, 0x11945, 0x11946, 0x119E2, 0x11A3F, 0x11A40, 0x11A41, 0x11A42, 0x11A43, 0x11A44, 0x11A45, 0x11A46,
    0x11A9A, 0x11A9B, 0x11A9C, 0x11A9E, 0x11A9F, 0x11AA0, 0x11AA1, 0x11AA2, 0x11B00, 0x11B01, 0x11B02, 0x11B03,
    0x11B04, 0x11B05, 0x11B06, 0x11B07, 0x11B08, 0x11B09, 0x11C41, 0x11C42, 0x11C43, 0x11C44, 0x11C45, 0x11C70,
    0x11C71, 0x11EF7, 0x11EF8, 0x11F43, 0x11F44, 0x11F45, 0x11F46, 0x11F47, 0x11F48, 0x11F49, 0x11F4A, 0x11F4B,
    0x11F4C, 0x11F4D, 0x11F4E, 0x11F4F, 0x11FFF, 0x12FF1, 0x12FF2, 0x16E97, 0x16E98, 0x16E99, 0x16E9A, 0x16FE2,
    0x1E95E, 0x1E95F};
static const char32_t kNotControl[] = {0x890,   0x891,   0x8E2,   0x110CD, 0x13430, 0x13431, 0x13432, 0x13433,
                                       0x13434, 0x13435, 0x13436, 0x13437, 0x13438, 0x13439, 0x1343A, 0x1343B,
                                       0x1343C, 0x1343D, 0x1343E, 0x1343F};

bool is_bert_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  if (c < 0x80) return false;
  if (in(std::begin(kPunctYes), std::end(kPunctYes), c)) return true;
  return is_punctuation(c) && !in(std::begin(kPunctNo), std::end(kPunctNo), c);
}

bool is_other(char32_t c) {
  auto k = cat(c);
  return (k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CO ||
          k == UTF8PROC_CATEGORY_CS) &&
         !in(std::begin(kNotControl), std::end(kNotControl), c);
}

bool is_mark_nonspacing(char32_t c) { return cat(c) == UTF8PROC_CATEGORY_MN; }

bool is_mark(char32_t c) {
  auto k = cat(c);
  return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME;
}

bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool grapheme_break(char32_t a, char32_t b, int32_t* state) {
  return utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(a), static_cast<utf8proc_int32_t>(b), state);
}

int combining_class(char32_t c) {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
}

void to_lower(char32_t c, std::vector<char32_t>& out) {
  if (c == 0x130) {  // the one unconditional multi-char lowercase mapping (SpecialCasing.txt)
    out.push_back('i');
    out.push_back(0x307);
    return;
  }
  out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
}

void decompose(char32_t c, bool compat, std::vector<char32_t>& out) {
  utf8proc_int32_t buf[32];
  int last = 0;
  auto opts = static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0));
  auto n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 32, opts, &last);
  if (n <= 0 || n > 32) {
    out.push_back(c);
    return;
  }
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char32_t>(buf[i]));
}

std::string nfc(std::string_view s, bool compat) {
  utf8proc_uint8_t* dst = nullptr;
  auto opts = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | (compat ? UTF8PROC_COMPAT : 0));
  auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
                        &dst, opts);
  if (n < 0) throw_error(ErrorKind::InvalidArgument, "unicode normalization failed");
  std::string out(reinterpret_cast<char*>(dst), static_cast<std::size_t>(n));
  free(dst);
  return out;
}

// ---- Regex patterns ----

// Oniguruma (the Rust crate's engine) gives \s, \w, \d their Unicode meanings; PCRE2 with UCP differs for
// \w (no marks) and \s (no U+0085 ...), so those escapes are rewritten to explicit classes.
static std::string translate_onig(const std::string& p) {
  const std::string ws = "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
                         "\\x{205F}\\x{3000}";
  const std::string word = "\\p{L}\\p{M}\\p{N}\\p{Pc}\\x{200C}\\x{200D}";
  const std::string digit = "\\p{Nd}";
  std::string out;
  bool in_class = false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char e = p[i + 1];
      const std::string* body = e == 's' || e == 'S' ? &ws : e == 'w' || e == 'W' ? &word : e == 'd' || e == 'D' ? &digit : nullptr;
      if (body) {
        bool neg = e == 'S' || e == 'W' || e == 'D';
        if (in_class && !neg) {
          out += *body;
        } else if (in_class) {  // negated escape inside a class: rare; keep PCRE2's meaning
          out += std::string("\\") + e;
        } else {
          out += std::string(neg ? "[^" : "[") + *body + "]";
        }
        ++i;
        continue;
      }
      out += c;
      out += e;
      ++i;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

std::shared_ptr<const Regex> onig_regex(const std::string& pattern) {
  return std::make_shared<const Regex>(translate_onig(pattern), Regex::Options{.unicode = true, .shown = pattern});
}

}  // namespace hfx::tok
