// Qwen2: the Llama decoder with biases on q/k/v_proj (none on o_proj or the MLP) and an optional
// sliding window (config.use_sliding_window).
// Upstream: transformers v4.46.3 src/transformers/models/qwen2/modeling_qwen2.py, configuration_qwen2.py;
// model_type "qwen2"; classes Qwen2Model, Qwen2ForCausalLM, Qwen2ForSequenceClassification,
// Qwen2ForTokenClassification, Qwen2ForQuestionAnswering (base model attribute "model").
// The eager/sdpa mask of 4.46 applies the window on every layer (max_window_layers only
// matters to flash-attention-2): a key j is visible from query i iff i - sliding_window < j <= i.
#include "models/llama.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture qwen2_architecture() {
  // Qwen2Config().to_dict() where it differs from PretrainedConfig (sliding_window is null there:
  // __init__ keeps it only with use_sliding_window).
  json d = {{"is_decoder", false}, {"vocab_size", 151936}, {"max_position_embeddings", 32768},
            {"hidden_size", 4096}, {"intermediate_size", 22016}, {"num_hidden_layers", 32},
            {"num_attention_heads", 32}, {"use_sliding_window", false}, {"sliding_window", nullptr},
            {"max_window_layers", 28}, {"num_key_value_heads", 32}, {"hidden_act", "silu"},
            {"initializer_range", 0.02}, {"rms_norm_eps", 1e-6}, {"use_cache", true}, {"rope_theta", 10000.0},
            {"rope_scaling", nullptr}, {"attention_dropout", 0.0}, {"tie_word_embeddings", false},
            {"pad_token_id", nullptr}, {"bos_token_id", nullptr}, {"eos_token_id", nullptr}};
  LlamaFlavor f;
  f.qa_prefix = "model";
  f.window = LlamaFlavor::Window::IfEnabled;
  f.qwen2 = true;
  return llama_like_architecture("qwen2", "Qwen2", d, f);
}

}  // namespace hfx::models
