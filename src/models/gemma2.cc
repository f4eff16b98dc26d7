// Gemma-2: the Gemma decoder (RMSNorm scaled by 1 + weight, embeddings times sqrt(hidden_size), gated
// hidden_activation MLP, explicit head_dim, tied head) with alternating sliding-window (even layers) and global
// attention, scores scaled by query_pre_attn_scalar ** -0.5 and tanh-softcapped (attn_logit_softcapping),
// a post-attention norm on the attention output plus pre/post feed-forward norms, and the LM logits softcapped
// (final_logit_softcapping).
// Upstream: transformers v4.46.3 src/transformers/models/gemma2/modeling_gemma2.py, configuration_gemma2.py;
// model_type "gemma2"; classes Gemma2Model, Gemma2ForCausalLM, Gemma2ForSequenceClassification,
// Gemma2ForTokenClassification (no *ForQuestionAnswering, no TF/Flax class in 4.46; base model attribute "model").
// Eager attention (what transformers 4.46 picks for Gemma-2 and what output_attentions needs).
#include "models/llama.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture gemma2_architecture() {
  // Gemma2Config().to_dict() where it differs from PretrainedConfig (no hidden_act: the MLP reads
  // hidden_activation).
  json d = {{"vocab_size", 256000}, {"max_position_embeddings", 8192}, {"hidden_size", 3072},
            {"intermediate_size", 24576}, {"num_hidden_layers", 28}, {"num_attention_heads", 16}, {"head_dim", 256},
            {"num_key_value_heads", 16}, {"initializer_range", 0.02}, {"rms_norm_eps", 1e-6}, {"use_cache", true},
            {"rope_theta", 10000.0}, {"attention_bias", false}, {"attention_dropout", 0.0},
            {"hidden_activation", "gelu_pytorch_tanh"}, {"query_pre_attn_scalar", 224}, {"sliding_window", 4096},
            {"final_logit_softcapping", 30.0}, {"attn_logit_softcapping", 50.0}, {"cache_implementation", "hybrid"},
            {"tie_word_embeddings", true}, {"bos_token_id", 2}, {"pad_token_id", 0}, {"eos_token_id", 1}};
  LlamaFlavor f;
  f.qa_prefix = "model";
  f.gemma = true;
  f.gemma2 = true;
  f.question_answering = false;
  f.mlp_bias = false;
  return llama_like_architecture("gemma2", "Gemma2", d, f);
}

}  // namespace hfx::models
