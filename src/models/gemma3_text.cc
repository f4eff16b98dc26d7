// Gemma-3 (text): Gemma3TextModel, Gemma3ForCausalLM, Gemma3TextForSequenceClassification.
// Upstream: transformers v5.25.0 src/transformers/models/gemma3/modeling_gemma3.py, configuration_gemma3.py (the type
// is not in 4.46; fixtures from the second pinned env, tools/fixtures/requirements5.txt); model_type "gemma3_text";
// base model attribute "model"; no TF/Flax class. (Gemma3Model / Gemma3ForConditionalGeneration, the multimodal
// classes of model_type "gemma3", are not this type.)
// The Gemma-2 decoder (RMSNorm scaled by 1 + weight, embeddings times sqrt(hidden_size), sandwich norms, scores scaled
// by query_pre_attn_scalar ** -0.5, optional attention / final softcapping) plus a per-head q_norm / k_norm (1 +
// weight over head_dim) before the rotary embedding, and per-layer attention types config.layer_types (else every
// sliding_window_pattern-th layer global): the sliding layers attend within sliding_window and rotate with theta
// rope_local_base_freq, the global layers with rope_theta and rope_scaling (transformers 5 writes both thetas in
// rope_parameters.{full,sliding}_attention; Config reads either layout). use_bidirectional_attention (an encoder
// use of the class) is refused.
#include "models/llama.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture gemma3_text_architecture() {
  // Gemma3TextConfig().to_dict() where it differs from PretrainedConfig; rope_parameters under the 4.x names
  // rope_theta (full attention, 1e6) and rope_local_base_freq (sliding, 1e4); layer_types (derived) left out.
  json d = {{"vocab_size", 262208}, {"hidden_size", 2304}, {"intermediate_size", 9216}, {"num_hidden_layers", 26},
            {"num_attention_heads", 8}, {"num_key_value_heads", 4}, {"head_dim", 256},
            {"hidden_activation", "gelu_pytorch_tanh"}, {"max_position_embeddings", 131072},
            {"initializer_range", 0.02}, {"rms_norm_eps", 1e-6}, {"use_cache", true}, {"pad_token_id", 0},
            {"eos_token_id", 1}, {"bos_token_id", 2}, {"tie_word_embeddings", true}, {"rope_theta", 1000000.0},
            {"rope_local_base_freq", 10000.0}, {"rope_scaling", nullptr}, {"attention_bias", false},
            {"attention_dropout", 0.0}, {"query_pre_attn_scalar", 256}, {"sliding_window", 4096},
            {"final_logit_softcapping", nullptr}, {"attn_logit_softcapping", nullptr},
            {"use_bidirectional_attention", false}};
  LlamaFlavor f;
  f.qa_prefix = "model";
  f.gemma = true;
  f.gemma2 = true;
  f.mlp_bias = false;
  f.five = LlamaFlavor::Five::Gemma3;
  return decoder_architecture("gemma3_text", std::move(d), "model",
                              {{"Gemma3TextModel", DecoderHead::Base},
                               {"Gemma3ForCausalLM", DecoderHead::CausalLM},
                               {"Gemma3TextForSequenceClassification", DecoderHead::SequenceClassification}},
                              [f](const std::string& cls, const Config& c, DecoderHead h) -> std::unique_ptr<Model> {
                                if (c.get<bool>("use_bidirectional_attention", false))
                                  throw_error(ErrorKind::Unsupported, "Gemma-3 with use_bidirectional_attention is not supported", c.source());
                                return std::make_unique<LlamaLike>(cls, c, h, f);
                              });
}

}  // namespace hfx::models
