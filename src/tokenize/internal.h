// Internals of hfx/tokenizer.h: the pieces of a tokenizer.json pipeline, modelled on the Rust
// `tokenizers` crate 0.20 (tokenizers/src/{normalizers,pre_tokenizers,models,processors,decoders}).
// Unicode properties and normalization come from utf8proc, regexes from PCRE2 (UTF + UCP).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/regex.h"
#include "hfx/error.h"
#include "hfx/tokenizer.h"

namespace hfx::tok {

// The largest vocabulary file (vocab.json, a sentencepiece model) a legacy loader reads.
constexpr std::uintmax_t kMaxVocabFile = std::uintmax_t{1} << 30;


using json = nlohmann::json;
using Offsets = std::pair<std::size_t, std::size_t>;

// ---- Unicode (unicode.cc) ----
// Throws hfx::Error(InvalidArgument) when `s` is not valid UTF-8; `what` names the input.
void validate_utf8(std::string_view s, const char* what);
char32_t decode_at(std::string_view s, std::size_t i, std::size_t* len);  // s valid UTF-8
void append_utf8(std::string& out, char32_t c);
std::size_t utf8_len(char32_t c);
std::vector<char32_t> to_chars(std::string_view s);
bool is_whitespace(char32_t c);       // Rust char::is_whitespace (White_Space)
bool is_alphanumeric(char32_t c);     // Rust char::is_alphanumeric
bool is_numeric(char32_t c);          // Rust char::is_numeric (N*)
bool is_punctuation(char32_t c);      // Unicode P*
bool is_bert_punctuation(char32_t c); // ASCII punctuation or P*
bool is_other(char32_t c);            // Cc Cf Co Cs (BERT's "control")
bool is_mark_nonspacing(char32_t c);  // Mn
bool is_mark(char32_t c);             // Mn Mc Me
bool is_chinese_char(char32_t c);     // BERT's CJK ranges
int combining_class(char32_t c);
// Extended grapheme cluster boundary between a and b (state carried along the string; start at 0).
bool grapheme_break(char32_t a, char32_t b, int32_t* state);
// Rust char::to_lowercase (full mapping: U+0130 -> "i\u0307").
void to_lower(char32_t c, std::vector<char32_t>& out);
// Canonical/compatibility decomposition of one char (not reordered).
void decompose(char32_t c, bool compat, std::vector<char32_t>& out);
std::string nfc(std::string_view s, bool compat);

// ---- Regex: hfx::Regex (core/regex.h, PCRE2) in UTF-8 + Unicode-property mode ----
// A pattern that gives up on an input (match limit, ...) is an hfx::Error naming the pattern, never
// a silently shorter list of matches.
using Regex = hfx::Regex;
// A pattern as tokenizer.json spells it for the Rust crate's engine (Oniguruma), translated so that
// \s \S \w \W \d \D keep their Unicode meanings under PCRE2; errors name the original spelling.
std::shared_ptr<const Regex> onig_regex(const std::string& pattern);

// ---- NormalizedString: normalized text with, per byte, the original byte range it came from ----
struct NormalizedString {
  std::string s;
  std::vector<Offsets> align;   // absolute original byte offsets, one per byte of s
  std::size_t orig_shift = 0;   // where this piece's original text starts
  std::size_t orig_len = 0;     // and its length

  static NormalizedString from(std::string_view original, std::size_t shift = 0);
  bool empty() const { return s.empty(); }
  // dest: (char, change) as in Rust: 0 replaces a char, +1 inserts, -n replaces and removes n more.
  void transform_range(std::size_t start, std::size_t end, const std::vector<std::pair<char32_t, int>>& dest,
                       std::size_t initial_offset);
  void transform(const std::vector<std::pair<char32_t, int>>& dest, std::size_t initial_offset) {
    transform_range(0, s.size(), dest, initial_offset);
  }
  NormalizedString slice(std::size_t start, std::size_t end) const;
  // Original (absolute) byte range of normalized bytes [start, end).
  std::optional<Offsets> original_range(std::size_t start, std::size_t end) const;
  void prepend(std::string_view p);
  void append(std::string_view p);
  template <class F>
  void filter(F keep);
  template <class F>
  void map(F fn);
  void lowercase();
  void nfd(bool compat);
  void nfc_(bool compat);
  void strip(bool left, bool right);
};

// A pattern match list covering the whole string: (range, is_match).
using Matches = std::vector<std::pair<Offsets, bool>>;
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
SplitBehavior parse_behavior(const std::string& s);
Matches find_char_matches(std::string_view s, bool (*pred)(char32_t));
Matches find_string_matches(std::string_view s, std::string_view pat);
Matches find_regex_matches(std::string_view s, const Regex& re);
std::vector<NormalizedString> split(const NormalizedString& n, Matches matches, SplitBehavior b);
void replace(NormalizedString& n, const Matches& m, std::string_view content);

// A pattern from tokenizer.json: {"String": "..."} or {"Regex": "..."}.
struct Pattern {
  std::string literal;
  std::shared_ptr<const Regex> regex;
  static Pattern parse(const json& j);
  Matches find(std::string_view s) const;
};

// ---- Pipeline components ----
struct Token {
  int64_t id;
  std::string value;
  Offsets offsets;  // bytes, relative to the piece's normalized string
};

struct Normalizer {
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString& n) const = 0;
};
struct PreTokenizer {
  virtual ~PreTokenizer() = default;
  // Splits each piece; pieces[i] with empty text are dropped by the caller.
  virtual void pre_tokenize(std::vector<NormalizedString>& pieces) const = 0;
};
struct Model {
  virtual ~Model() = default;
  virtual std::vector<Token> tokenize(std::string_view s) const = 0;
  virtual std::optional<int64_t> token_to_id(std::string_view t) const = 0;
  virtual std::optional<std::string> id_to_token(int64_t id) const = 0;
  virtual int64_t vocab_size() const = 0;
};
struct PostProcessor {
  virtual ~PostProcessor() = default;
  virtual int64_t added_tokens(bool pair) const = 0;
  // encodings: 1 or 2 (pair); returns the pieces to merge, in order.
  virtual std::vector<Encoding> process(std::vector<Encoding> encodings, bool add_special_tokens) const = 0;
};
struct Decoder {
  virtual ~Decoder() = default;
  virtual std::vector<std::string> decode_chain(std::vector<std::string> tokens) const = 0;
};

std::unique_ptr<Normalizer> make_normalizer(const json& j);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j);
std::unique_ptr<Model> make_model(const json& j);
std::unique_ptr<PostProcessor> make_post_processor(const json& j);
std::unique_ptr<Decoder> make_decoder(const json& j);

// Models built directly (legacy loaders).
std::unique_ptr<Model> make_wordpiece(std::unordered_map<std::string, int64_t> vocab, std::string unk,
                                      std::string prefix, int64_t max_chars);
// ByteLevel's byte <-> char table.
const std::vector<char32_t>& bytes_to_chars();
void process_offsets_byte_level(Encoding& e, bool add_prefix_space);
// Every byte of n becomes its ByteLevel character (ByteLevel pre-tokenizer and normalizer).
void byte_level_transform(NormalizedString& n);
Encoding merge_encodings(std::vector<Encoding> encs);

struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool special = false, single_word = false, lstrip = false, rstrip = false, normalized = true;
};

// A whole tokenizer/vocabulary file (NotFound when missing, Format above 1 GiB).
std::string read_limited(const std::string& path);

// Throws Format naming the key when j is not an object holding key with the right type.
const json& need(const json& j, const char* key, const char* what);
// An integer field: a JSON integer that fits int64 (floats and huge values are refused, never converted).
int64_t integer(const json& v, const char* what);
// obj[key] as integer() when present (and not null), else `dflt`.
int64_t integer_or(const json& obj, const char* key, int64_t dflt, const char* what);
// A token id (or type id) as the tokenizers crate reads it: a u32, so anything outside 0..2^32-1
// (-7, 2^40) is refused at load, never emitted as an id.
int64_t token_id(const json& v, const char* what);
// j[key] as T when present (and not null), else `dflt`; integers through integer() and range-checked,
// anything of the wrong type a Format error naming the key.
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
// j["type"] as a string; j[key] as an array (Format errors naming `what` otherwise).
std::string type_of(const json& j, const char* what);
const json& need_array(const json& j, const char* key, const char* what);

// f(a.x, b.x) for each per-token field x of Encoding (ids, type_ids, attention_mask, special_tokens_mask,
// tokens, offsets, sequence_ids; not `overflowing`): the one list of them, so that appending (processors.cc)
// and slicing (tokenizer.cc truncation) cannot miss a field added later.
template <class F>
void for_each_field(Encoding& a, const Encoding& b, F&& f) {
  f(a.ids, b.ids);
  f(a.type_ids, b.type_ids);
  f(a.attention_mask, b.attention_mask);
  f(a.special_tokens_mask, b.special_tokens_mask);
  f(a.tokens, b.tokens);
  f(a.offsets, b.offsets);
  f(a.sequence_ids, b.sequence_ids);
}

// Shared by the Metaspace pre-tokenizer and decoder (pre_tokenizers.cc).
enum class Prepend { Always, First, Never };
Prepend parse_prepend(const json& j);
// A string field that must hold exactly one character.
char32_t single_char(const std::string& s, const char* what);

// ---- Legacy tokenizer files (legacy.cc, sentencepiece.cc) ----
// tokenizer_config.json overlaid with special_tokens_map.json; special tokens may be strings or
// {"content": ...} objects.
struct TokenizerConfig {
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
  // A token the tokenizer cannot work without: null in the config is a typed error naming `file`, never
  // a dereferenced empty optional.
  std::string required(const char* key, const char* dflt, const std::string& file) const {
    std::optional<std::string> t = special(key, dflt);
    if (!t) throw_error(ErrorKind::Format, std::string(key) + " is null, but this tokenizer needs one", file);
    return *t;
  }
  bool flag(const char* key, bool dflt) const { return j.contains(key) && j[key].is_boolean() ? j[key].get<bool>() : dflt; }
  std::string str(const char* key) const { return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : ""; }
};
// TemplateProcessing pieces: a special token / sequence "A" or "B" with its type id.
json piece_special(const std::string& t, int64_t type_id);
json piece_seq(const char* s, int64_t type_id);
// A sentencepiece model run as the slow tokenizer tokenizer_class names (sentencepiece.cc).
Tokenizer from_sentencepiece(const std::filesystem::path& file, const TokenizerConfig& cfg);

}  // namespace hfx::tok

namespace hfx {

struct Tokenizer::Impl {
  std::unique_ptr<tok::Normalizer> normalizer;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer;
  std::unique_ptr<tok::Model> model;
  std::unique_ptr<tok::PostProcessor> post_processor;
  std::unique_ptr<tok::Decoder> decoder;
  std::vector<tok::AddedToken> added;
  std::string name;

  void add_tokens(std::vector<tok::AddedToken> tokens);
  Encoding encode_sequence(std::string_view text, int64_t type_id) const;
  Encoding post_process(Encoding a, std::optional<Encoding> b, bool add_special_tokens,
                        const std::optional<TruncationParams>& truncation,
                        const std::optional<PaddingParams>& padding) const;

  // Added-token lookup, built by add_tokens.
  std::unordered_map<std::string, int64_t> added_by_content;
  std::unordered_map<int64_t, std::size_t> added_by_id;
};

}  // namespace hfx
