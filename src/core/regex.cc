// PCRE2 behind hfx::Regex: see regex.h for the contract (every failure other than "no match" is a
// typed error naming the pattern; nothing is silently truncated).
#include "core/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>

#include "hfx/error.h"

namespace hfx {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR msg[256];
  if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0) return "PCRE2 error " + std::to_string(code);
  return reinterpret_cast<const char*>(msg);
}

struct MatchData {
  explicit MatchData(const pcre2_code* code) : md(pcre2_match_data_create_from_pattern(code, nullptr)) {
    if (!md) throw_error(ErrorKind::Io, "out of memory for regex match data");
  }
  ~MatchData() { pcre2_match_data_free(md); }
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
  pcre2_match_data* md;
};

// Bytes in the UTF-8 sequence led by `b` (the subject was checked by PCRE2's first match).
std::size_t utf8_step(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

}  // namespace

Regex::Regex(std::string_view pattern, Options options)
    : unicode_(options.unicode), shown_(options.shown.empty() ? std::string(pattern) : std::move(options.shown)) {
  int err = 0;
  PCRE2_SIZE off = 0;
  const uint32_t flags = unicode_ ? PCRE2_UTF | PCRE2_UCP : 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), flags, &err, &off, nullptr);
  if (!code) throw_error(ErrorKind::Format, "bad regex '" + shown_ + "': " + pcre2_message(err));
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort; the interpreter is used when JIT is unavailable
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

Regex::Regex(Regex&& o) noexcept : code_(o.code_), unicode_(o.unicode_), shown_(std::move(o.shown_)) { o.code_ = nullptr; }

void Regex::gave_up(int rc, std::size_t subject_len) const {
  throw_error(ErrorKind::InvalidArgument, "regex '" + shown_ + "' gave up on a " + std::to_string(subject_len) +
                                              "-byte input: " + pcre2_message(rc));
}

std::vector<std::pair<std::size_t, std::size_t>> Regex::find_all(std::string_view s) const {
  auto* code = static_cast<const pcre2_code*>(code_);
  MatchData m(code);
  std::vector<std::pair<std::size_t, std::size_t>> out;
  std::size_t pos = 0;
  uint32_t opts = 0;  // the first call checks the subject's UTF-8 once; later calls skip it (linear, not quadratic)
  while (pos <= s.size()) {
    const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), pos, opts, m.md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) gave_up(rc, s.size());
    opts = PCRE2_NO_UTF_CHECK;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(m.md);
    const std::size_t a = ov[0], b = ov[1];
    if (b > a) {
      out.emplace_back(a, b);
      pos = b;
    } else {  // empty match: step one character
      if (a >= s.size()) break;
      pos = a + (unicode_ ? utf8_step(static_cast<unsigned char>(s[a])) : 1);
    }
  }
  return out;
}

bool Regex::full_match(std::string_view s, std::vector<std::string>* groups) const {
  auto* code = static_cast<const pcre2_code*>(code_);
  MatchData m(code);
  const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED,
                             m.md, nullptr);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) gave_up(rc, s.size());
  if (groups) {
    uint32_t n = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &n);
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(m.md);
    groups->assign(n + 1, std::string());
    for (uint32_t i = 0; i <= n && i < static_cast<uint32_t>(rc); ++i)
      if (ov[2 * i] != PCRE2_UNSET) (*groups)[i] = std::string(s.substr(ov[2 * i], ov[2 * i + 1] - ov[2 * i]));
  }
  return true;
}

std::string Regex::replace_all(std::string_view s, std::string_view replacement) const {
  auto* code = static_cast<const pcre2_code*>(code_);
  const uint32_t opts = PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH;
  std::string out(s.size() + s.size() / 4 + 16, '\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    PCRE2_SIZE len = out.size();
    const int rc = pcre2_substitute(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, opts, nullptr, nullptr,
                                    reinterpret_cast<PCRE2_SPTR>(replacement.data()), replacement.size(),
                                    reinterpret_cast<PCRE2_UCHAR*>(out.data()), &len);
    if (rc >= 0) {
      out.resize(len);
      return out;
    }
    if (rc != PCRE2_ERROR_NOMEMORY || attempt == 1) gave_up(rc, s.size());
    out.assign(len, '\0');  // OVERFLOW_LENGTH: `len` is now the size needed (terminating zero included)
  }
  gave_up(PCRE2_ERROR_NOMEMORY, s.size());
}

}  // namespace hfx
