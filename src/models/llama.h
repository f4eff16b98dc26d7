// The Llama decoder (RMSNorm, RoPE, grouped-query attention, SwiGLU MLP),
// shared by the llama and mistral model files; Mistral adds a sliding window.
// Upstream: transformers v4.46.3 src/transformers/models/llama/modeling_llama.py,
// models/mistral/modeling_mistral.py.
#pragma once

#include "hfx/generate.h"
#include "nn/attention.h"

namespace hfx::models {

enum class DecoderHead { Base, CausalLM, SequenceClassification, TokenClassification, QuestionAnswering };

class LlamaLike final : public Model, public CausalLM {
 public:
  // `family` is the class-name prefix ("Llama", "Mistral"); `qa_prefix` the
  // base-model attribute of *ForQuestionAnswering ("transformer" for Llama).
  LlamaLike(const std::string& cls, const Config& c, DecoderHead head, const std::string& qa_prefix, bool sliding_window);
  Outputs forward(const ModelInputs& in) const override;
  Tensor step(const Tensor& ids, const Tensor& position_ids, const Tensor& attention_mask, KVCache& cache) const override;
  int64_t vocab_size() const override { return vocab_; }

 private:
  struct Layer {
    nn::Linear q, k, v, o, gate, up, down;
    Param in_norm, post_norm;
  };
  Tensor run(const Tensor& ids, const Tensor& position_ids, const Tensor& attention_mask, const Tensor& head_mask,
             KVCache* cache, bool want_hidden, bool want_attn, nn::StackOutputs& st) const;

  DecoderHead head_;
  int64_t vocab_ = 0, H_ = 0, L_ = 0, nH_ = 0, nKV_ = 0, D_ = 0, window_ = 0, pad_ = -1;
  float eps_ = 1e-6f;
  nn::Activation act_ = nn::Activation::Silu;
  nn::Rope rope_;
  nn::Embedding embed_;
  std::vector<Layer> layers_;
  Param norm_;
  nn::Linear lm_head_;
  std::optional<nn::Linear> score_;
};

// Shared registration for llama-style families.
Architecture llama_like_architecture(const std::string& model_type, const std::string& family, json defaults,
                                     const std::string& qa_prefix, bool sliding_window);

}  // namespace hfx::models
