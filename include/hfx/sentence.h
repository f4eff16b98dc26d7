// hfx/sentence.h — sentence embeddings as sentence-transformers 3.3 computes them.
//
// A sentence-transformers folder (or hub repo id) is a transformer plus the modules modules.json lists:
//   Transformer  the folder's own model and tokenizer; sentence_bert_config.json's max_seq_length truncates
//                (else min(max_position_embeddings, tokenizer model_max_length)), do_lower_case lowercases;
//                each text is stripped of surrounding whitespace, as Transformer.tokenize does
//   Pooling      1_Pooling/config.json: any of cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken,
//                concatenated in that order (Pooling.forward); include_prompt=false masks the prompt's tokens
//   Dense        <dir>/config.json (in_features, out_features, bias, activation_function) + linear.weight/bias
//   Normalize    L2 normalisation (F.normalize, eps 1e-12)
// A folder without modules.json is read as SentenceTransformer does for a plain model: mean pooling, nothing else.
// config_sentence_transformers.json gives the prompts, default_prompt_name and similarity_fn_name.
//
//   auto st = hfx::SentenceTransformer::from_pretrained("org/name");
//   hfx::Tensor e = st.encode({"a sentence", "another"});   // f32 [2, dim]
#pragma once

#include "hfx/export.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hfx/auto.h"
#include "hfx/hub.h"
#include "hfx/hub_files.h"
#include "hfx/tensor.h"
#include "hfx/tokenizer.h"

namespace hfx {

// sentence-transformers' pooling modes (Pooling.POOLING_MODES spelling).
inline const std::vector<std::string>& pooling_modes() {
  static const std::vector<std::string> m = {"cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"};
  return m;
}

struct HFX_API SentenceModule {
  enum class Kind { Pooling, Dense, Normalize } kind = Kind::Pooling;
  std::string path;                 // folder in the model ("1_Pooling")
  std::vector<std::string> modes;   // Pooling: the modes set, in Pooling.forward's order
  bool include_prompt = true;       // Pooling
  Tensor weight;                    // Dense: [out, in] f32
  std::optional<Tensor> bias;       // Dense: [out]
  std::string activation;           // Dense: "tanh", "identity", "relu", "gelu", "sigmoid"
};

struct HFX_API EncodeOptions {
  std::string prompt_name;                 // a key of prompts(); empty: default_prompt_name, if any
  std::optional<std::string> prompt;       // the prompt text itself (wins over prompt_name)
  std::vector<std::string> pooling;        // replaces the Pooling module's modes (hfx embed --pooling)
  std::optional<bool> normalize;           // force Normalize on/off; unset: as the model says
  int64_t max_seq_length = 0;              // > 0: replaces the model's
  // encode's batch_size (32): texts run longest first in batches of this many, each padded to its own
  // longest, and the rows come back in input order; <= 0: one batch of everything.
  int64_t batch_size = 32;
  // A "Batches" progress bar (tqdm's), drawn only on a terminal (HF_HUB_DISABLE_PROGRESS_BARS honoured).
  bool show_progress_bar = false;
};

class HFX_API SentenceTransformer {
 public:
  // A folder or repo id; a repo id fetches config, weights, tokenizer and the modules into the hub cache.
  static SentenceTransformer from_pretrained(const std::string& path_or_repo, const HubOptions& hub = {});
  // The same with the model's LoadOptions (torch_dtype, quantize; its `hub` is the hub options above).
  static SentenceTransformer from_pretrained(const std::string& path_or_repo, const LoadOptions& load);

  // [texts, dim] f32 embeddings, as SentenceTransformer.encode(texts, prompt_name=..., prompt=...).
  Tensor encode(const std::vector<std::string>& texts, const EncodeOptions& opts = {}) const;
  // Token ids as given, one forward: no tokenizer, prompt or special tokens (the token-array inputs of TEI's /embed
  // and OpenAI's /v1/embeddings); rows padded on the right with the tokenizer's pad id and masked. InvalidArgument
  // for an empty input or an id outside the vocabulary.
  Tensor encode_ids(const std::vector<std::vector<int64_t>>& ids, const EncodeOptions& opts = {}) const;
  // The tokens each text gave (after the prompt, truncation), for reports; same order as encode's rows.
  std::vector<int64_t> token_counts(const std::vector<std::string>& texts, const EncodeOptions& opts = {}) const;

  const Model& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const std::vector<SentenceModule>& modules() const { return modules_; }
  const std::map<std::string, std::string>& prompts() const { return prompts_; }
  const std::string& default_prompt_name() const { return default_prompt_name_; }
  const std::string& similarity_fn_name() const { return similarity_fn_name_; }  // "cosine" unless said
  int64_t max_seq_length() const { return max_seq_length_; }                       // 0: none
  const std::string& path() const { return path_; }

 private:
  Tensor encode_batch(const std::vector<std::string>& texts, const EncodeOptions& opts) const;  // one forward
  std::string path_;
  std::shared_ptr<Model> model_;
  std::shared_ptr<Tokenizer> tokenizer_;
  std::vector<SentenceModule> modules_;
  std::map<std::string, std::string> prompts_;
  std::string default_prompt_name_, similarity_fn_name_ = "cosine";
  int64_t max_seq_length_ = 0;
  bool do_lower_case_ = false;
};

// similarity_fn_name's function between rows of a and b ("cosine", "dot", "euclidean" and "manhattan" as
// negative distances, as sentence-transformers' SimilarityFunction): [rows(a), rows(b)].
HFX_API std::vector<std::vector<double>> sentence_similarity(const Tensor& a, const Tensor& b, const std::string& fn = "cosine");

}  // namespace hfx
