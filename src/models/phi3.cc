// Phi-3: the Llama decoder with fused projections (self_attn.qkv_proj = [q; k; v], mlp.gate_up_proj = [gate; up]),
// LongRoPE rope_scaling (short/long factors chosen by the call's largest position against
// original_max_position_embeddings, cos/sin scaled by sqrt(1 + log(s) / log(original_max))) and an optional
// sliding window (config.sliding_window; the eager/sdpa mask applies it on every layer).
// Upstream: transformers v4.46.3 src/transformers/models/phi3/modeling_phi3.py, configuration_phi3.py;
// model_type "phi3"; classes Phi3Model, Phi3ForCausalLM, Phi3ForSequenceClassification, Phi3ForTokenClassification
// (no *ForQuestionAnswering, no TF/Flax class in 4.46; base model attribute "model").
#include "models/llama.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture phi3_architecture() {
  // Phi3Config().to_dict() where it differs from PretrainedConfig.
  json d = {{"vocab_size", 32064}, {"hidden_size", 3072}, {"intermediate_size", 8192}, {"num_hidden_layers", 32},
            {"num_attention_heads", 32}, {"num_key_value_heads", 32}, {"resid_pdrop", 0.0}, {"embd_pdrop", 0.0},
            {"attention_dropout", 0.0}, {"hidden_act", "silu"}, {"max_position_embeddings", 4096},
            {"original_max_position_embeddings", 4096}, {"initializer_range", 0.02}, {"rms_norm_eps", 1e-5},
            {"use_cache", true}, {"rope_theta", 10000.0}, {"rope_scaling", nullptr}, {"sliding_window", nullptr},
            {"tie_word_embeddings", false}, {"bos_token_id", 1}, {"pad_token_id", 32000}, {"eos_token_id", 32000}};
  LlamaFlavor f;
  f.qa_prefix = "model";
  f.window = LlamaFlavor::Window::Always;
  f.question_answering = false;
  f.eps_default = 1e-5;
  f.phi3 = true;
  f.mlp_bias = false;
  return llama_like_architecture("phi3", "Phi3", d, f);
}

}  // namespace hfx::models
