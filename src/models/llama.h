// The Llama decoder (RMSNorm, RoPE, grouped-query attention, SwiGLU MLP),
// shared by the llama and mistral model files; Mistral adds a sliding window.
// Upstream: transformers v4.46.3 src/transformers/models/llama/modeling_llama.py,
// models/mistral/modeling_mistral.py.
#pragma once

#include "hfx/generate.h"
#include "nn/attention.h"

namespace hfx::models {

enum class DecoderHead { Base, CausalLM, SequenceClassification, TokenClassification, QuestionAnswering };

// What a llama-style family changes in the shared decoder.
struct LlamaFlavor {
  std::string qa_prefix = "transformer";  // the base-model attribute of *ForQuestionAnswering
  // Mistral: config.sliding_window (null: none). Qwen2: config.sliding_window only when
  // config.use_sliding_window (Qwen2Config.__init__ sets sliding_window = None otherwise).
  enum class Window { None, Always, IfEnabled } window = Window::None;
  // Qwen2Attention: q/k/v_proj with bias=True, o_proj and the MLP without, whatever the config says;
  // head_dim is always hidden_size / num_attention_heads (no config.head_dim in Qwen2 of 4.46).
  bool qwen2 = false;
};

class LlamaLike final : public Model, public CausalLM {
 public:
  // `cls` is the class name ("LlamaModel", "MistralForCausalLM", "Qwen2ForQuestionAnswering").
  LlamaLike(const std::string& cls, const Config& c, DecoderHead head, const LlamaFlavor& flavor);
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
// `family` is the class-name prefix ("Llama", "Mistral", "Qwen2").
Architecture llama_like_architecture(const std::string& model_type, const std::string& family, json defaults,
                                     const LlamaFlavor& flavor);
Architecture llama_like_architecture(const std::string& model_type, const std::string& family, json defaults,
                                     const std::string& qa_prefix, bool sliding_window);

}  // namespace hfx::models
