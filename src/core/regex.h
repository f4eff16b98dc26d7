// One PCRE2 wrapper for every layer that needs a regular expression (the tokenizer's Split/Replace
// patterns, TF variable renames in naming/, repo-id checks in hub/); internal, not installed.
//
// Why PCRE2 and not std::regex: std::regex is slow, recursive (a long subject can overflow the
// stack) and gives no bound on backtracking. PCRE2 is already linked for the tokenizer.
//
// Contract: every PCRE2 failure other than "no match" is an hfx::Error naming the pattern —
//   - a pattern that does not compile: ErrorKind::Format;
//   - a match that gives up (match/depth/heap limit, JIT stack, bad UTF-8 subject):
//     ErrorKind::InvalidArgument, "regex '<pattern>' gave up on a <n>-byte input: <PCRE2 message>".
// A search never stops early and returns a partial result as if the rest did not match.
// Thread-safe: a Regex is immutable after construction; each call makes its own match data.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hfx {

class Regex {
 public:
  struct Options {
    // UTF-8 mode with Unicode properties for \w \d \s (the tokenizer). Off: byte mode with ASCII
    // classes, which is what std::regex on std::string did for naming/ and hub/.
    bool unicode = false;
    // How errors name the pattern (default: the pattern itself), e.g. the tokenizer.json spelling
    // before it was translated from Oniguruma.
    std::string shown = {};
  };
  explicit Regex(std::string_view pattern) : Regex(pattern, Options{}) {}
  Regex(std::string_view pattern, Options options);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  Regex(Regex&& o) noexcept;
  Regex& operator=(Regex&&) = delete;

  // Non-overlapping, non-empty matches as byte ranges [begin, end), left to right. An empty match
  // advances one character (one code point in unicode mode).
  std::vector<std::pair<std::size_t, std::size_t>> find_all(std::string_view s) const;
  // Whether the whole of `s` matches (std::regex_match). When `groups` is given it receives group 0
  // (the whole match) and every capture group; an unset group is empty.
  bool full_match(std::string_view s, std::vector<std::string>* groups = nullptr) const;
  // Every match replaced by `replacement`, where $1 / ${1} name capture groups (std::regex_replace's
  // ECMAScript format, PCRE2's substitute syntax for it).
  std::string replace_all(std::string_view s, std::string_view replacement) const;

  const std::string& pattern() const { return shown_; }

 private:
  [[noreturn]] void gave_up(int rc, std::size_t subject_len) const;
  void* code_ = nullptr;
  bool unicode_ = false;
  std::string shown_;
};

}  // namespace hfx
