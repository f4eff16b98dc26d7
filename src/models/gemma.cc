// Gemma: the Llama decoder with GemmaRMSNorm (scale 1 + weight), embeddings scaled by sqrt(hidden_size),
// a gelu_pytorch_tanh gated MLP (config.hidden_activation), an explicit head_dim and a tied LM head.
// Upstream: transformers v4.46.3 src/transformers/models/gemma/modeling_gemma.py, configuration_gemma.py,
// modeling_flax_gemma.py; model_type "gemma"; classes GemmaModel, GemmaForCausalLM,
// GemmaForSequenceClassification, GemmaForTokenClassification (no *ForQuestionAnswering in 4.46; base model
// attribute "model"). Flax: FlaxGemmaModel, FlaxGemmaForCausalLM (naming: "gemma" in flax.cc's
// weight_norm_archs, FlaxGemmaRMSNorm keeps `weight`).
#include "models/llama.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture gemma_architecture() {
  // GemmaConfig().to_dict() where it differs from PretrainedConfig (hidden_activation null: the MLP uses
  // gelu_pytorch_tanh whatever hidden_act says).
  json d = {{"vocab_size", 256000}, {"max_position_embeddings", 8192}, {"hidden_size", 3072},
            {"intermediate_size", 24576}, {"num_hidden_layers", 28}, {"num_attention_heads", 16}, {"head_dim", 256},
            {"num_key_value_heads", 16}, {"hidden_act", "gelu_pytorch_tanh"}, {"hidden_activation", nullptr},
            {"initializer_range", 0.02}, {"rms_norm_eps", 1e-6}, {"use_cache", true}, {"rope_theta", 10000.0},
            {"attention_bias", false}, {"attention_dropout", 0.0}, {"tie_word_embeddings", true},
            {"bos_token_id", 2}, {"pad_token_id", 0}, {"eos_token_id", 1}};
  LlamaFlavor f;
  f.qa_prefix = "model";
  f.gemma = true;
  f.question_answering = false;
  f.mlp_bias = false;
  return llama_like_architecture("gemma", "Gemma", d, f);
}

}  // namespace hfx::models
