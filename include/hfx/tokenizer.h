// hfx/tokenizer.h — text in, text out, identical to Hugging Face `tokenizers` 0.20 / transformers 4.46.
//
// A Tokenizer is read from a model folder (AutoTokenizer picks tokenizer.json, else the legacy files:
// vocab.txt, vocab.json + merges.txt, spiece.model / sentencepiece.bpe.model / tokenizer.model, with
// tokenizer_config.json and special_tokens_map.json) or from one tokenizer.json. It implements the
// tokenizer.json pipeline (normalizer, pre-tokenizer, model, post-processor, decoder, added tokens,
// truncation, padding) with the semantics of the Rust crate.
//
//   hfx::Tokenizer tok = hfx::AutoTokenizer::from_pretrained("model_dir");
//   hfx::Encoding e = tok.encode("Hello world", "second sentence");
//   e.ids, e.type_ids, e.attention_mask, e.offsets (char offsets, as Python's tokenizers reports them)
//   std::string text = tok.decode(e.ids, /*skip_special_tokens=*/true);
//
// Bad input — invalid UTF-8, a missing vocabulary file, a malformed tokenizer.json — throws hfx::Error.
#pragma once

#include "hfx/export.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hfx {

struct HFX_API Encoding {
  std::vector<int64_t> ids, type_ids, attention_mask, special_tokens_mask;
  std::vector<std::string> tokens;
  // Offsets into the input text in Unicode code points (what Python's `tokenizers` reports); special and
  // padding tokens have (0, 0). For the pair's tokens the offsets are into the pair text. Legacy sentencepiece
  // folders (slow tokenizers, which have no offsets) report those of the fast tokenizer transformers converts
  // from the same model wherever it splits the same way, else sentencepiece's own.
  std::vector<std::pair<int64_t, int64_t>> offsets;
  // Which input a token came from: 0, 1 (pair) or -1 (special / padding).
  std::vector<int64_t> sequence_ids;
  // The pieces truncation cut off (tokenizers' Encoding.overflowing): with stride s, each piece repeats the
  // last s tokens of the one before; a pair yields the combinations the Rust crate's merge produces. Each
  // piece went through the post-processor (special tokens) and padding like the main encoding.
  std::vector<Encoding> overflowing;
  std::size_t size() const { return ids.size(); }
};

// transformers' return_overflowing_tokens=True: each encoding followed by its overflowing pieces, in one list;
// `sample_of`, when given, receives overflow_to_sample_mapping (the input index of every returned row).
HFX_API std::vector<Encoding> flatten_overflowing(const std::vector<Encoding>& encodings,
                                          std::vector<int64_t>* sample_of = nullptr);

enum class TruncationStrategy { LongestFirst, OnlyFirst, OnlySecond };
enum class Side { Right, Left };

struct HFX_API TruncationParams {
  int64_t max_length = 512;
  TruncationStrategy strategy = TruncationStrategy::LongestFirst;
  // Tokens each overflowing piece repeats from the previous one; must be smaller than the length left to a
  // sequence (max_length minus the special tokens, halved for pairs under LongestFirst), else InvalidArgument.
  int64_t stride = 0;
  Side direction = Side::Right;
};

struct HFX_API PaddingParams {
  std::optional<int64_t> length;  // fixed length; unset: pad to the longest in the batch
  Side direction = Side::Right;
  int64_t pad_to_multiple_of = 0;
  int64_t pad_id = 0, pad_type_id = 0;
  std::string pad_token = "[PAD]";
};

class HFX_API Tokenizer {
 public:
  // tokenizer.json (a file) or its text; `name` is used in error messages.
  static Tokenizer from_file(const std::string& path);
  static Tokenizer from_json(std::string_view text, const std::string& name = "tokenizer.json");

  Encoding encode(std::string_view text, std::optional<std::string_view> pair = std::nullopt,
                  bool add_special_tokens = true) const;
  // Each input encoded, then padded together (when padding is set).
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, bool add_special_tokens = true) const;
  std::vector<Encoding> encode_batch(const std::vector<std::pair<std::string, std::string>>& pairs,
                                     bool add_special_tokens = true) const;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const;

  std::optional<int64_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(int64_t id) const;
  int64_t vocab_size() const;  // model vocabulary plus added tokens

  // tokenizer.json may carry truncation/padding (e.g. all-MiniLM-L6-v2: pad to 128); these replace them.
  // set_truncation refuses (InvalidArgument) a negative length or stride and, as the Rust crate's
  // with_truncation, a stride above max_length minus the special tokens of a single sequence.
  void set_truncation(std::optional<TruncationParams> t);
  void set_padding(std::optional<PaddingParams> p);
  const std::optional<TruncationParams>& truncation() const;
  const std::optional<PaddingParams>& padding() const;
  // Number of special tokens the post-processor adds (single or pair).
  int64_t num_special_tokens_to_add(bool pair) const;

  // Copies share the (immutable) pipeline; truncation and padding belong to each copy.
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl, std::optional<TruncationParams> truncation = std::nullopt,
                     std::optional<PaddingParams> padding = std::nullopt);
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
  std::optional<TruncationParams> truncation_;
  std::optional<PaddingParams> padding_;
};

struct HFX_API AutoTokenizer {
  // A folder: tokenizer.json if present, else the legacy files (see the top of this file); also a path to a
  // tokenizer.json. tokenizer_config.json's model_max_length is not applied (transformers only truncates when
  // asked).
  static Tokenizer from_pretrained(const std::string& path);
};

}  // namespace hfx
