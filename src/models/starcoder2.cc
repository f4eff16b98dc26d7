// StarCoder2: the Mistral decoder (GQA, RoPE, sliding window) with nn.LayerNorm (weight and bias, eps
// config.norm_epsilon), a c_fc -> gelu -> c_proj MLP, and biases on q/k/v/o_proj and the MLP iff config.use_bias.
// Upstream: transformers v4.46.3 src/transformers/models/starcoder2/modeling_starcoder2.py,
// configuration_starcoder2.py; model_type "starcoder2"; classes Starcoder2Model, Starcoder2ForCausalLM,
// Starcoder2ForSequenceClassification, Starcoder2ForTokenClassification (no *ForQuestionAnswering, no TF/Flax
// class in 4.46; base model attribute "model"). The eager/sdpa mask applies config.sliding_window (null: none)
// on every layer: a key j is visible from query i iff i - sliding_window < j <= i.
#include "models/llama.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture starcoder2_architecture() {
  // Starcoder2Config().to_dict() where it differs from PretrainedConfig.
  json d = {{"vocab_size", 49152}, {"max_position_embeddings", 4096}, {"hidden_size", 3072},
            {"intermediate_size", 12288}, {"num_hidden_layers", 30}, {"num_attention_heads", 24},
            {"sliding_window", nullptr}, {"use_bias", true}, {"num_key_value_heads", 2},
            {"hidden_act", "gelu_pytorch_tanh"}, {"initializer_range", 0.018042}, {"norm_epsilon", 1e-5},
            {"use_cache", true}, {"rope_theta", 10000.0}, {"rope_scaling", nullptr}, {"attention_dropout", 0.0},
            {"residual_dropout", 0.0}, {"embedding_dropout", 0.0}, {"bos_token_id", 50256}, {"eos_token_id", 50256}};
  LlamaFlavor f;
  f.qa_prefix = "model";
  f.window = LlamaFlavor::Window::Always;
  f.question_answering = false;
  f.norm = LlamaFlavor::Norm::LayerNorm;
  f.eps_key = "norm_epsilon";
  f.eps_default = 1e-5;
  f.starcoder2 = true;
  return llama_like_architecture("starcoder2", "Starcoder2", d, f);
}

}  // namespace hfx::models
