// Qwen2-MoE: the Qwen2 decoder (q/k/v biases, RMSNorm, RoPE, GQA, sliding window only with use_sliding_window)
// whose MLP is, on the layers not in mlp_only_layers with (i + 1) % decoder_sparse_step == 0, a sparse mixture of
// experts (nn::SparseMoe: mlp.gate routes to the top num_experts_per_tok of num_experts experts of
// moe_intermediate_size, renormalised iff norm_topk_prob, plus sigmoid(mlp.shared_expert_gate(x)) *
// mlp.shared_expert(x)), and a dense Qwen2MoeMLP of intermediate_size elsewhere.
// Upstream: transformers v4.46.3 src/transformers/models/qwen2_moe/modeling_qwen2_moe.py,
// configuration_qwen2_moe.py; model_type "qwen2_moe"; classes Qwen2MoeModel, Qwen2MoeForCausalLM,
// Qwen2MoeForSequenceClassification, Qwen2MoeForTokenClassification, Qwen2MoeForQuestionAnswering (base model
// attribute "model"); no TF/Flax class. router_logits / aux_loss with config.output_router_logits.
#include "models/llama.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture qwen2_moe_architecture() {
  // Qwen2MoeConfig().to_dict() where it differs from PretrainedConfig (sliding_window null: __init__ keeps it
  // only with use_sliding_window).
  json d = {{"vocab_size", 151936}, {"max_position_embeddings", 32768}, {"hidden_size", 2048},
            {"intermediate_size", 5632}, {"num_hidden_layers", 24}, {"num_attention_heads", 16},
            {"use_sliding_window", false}, {"sliding_window", nullptr}, {"max_window_layers", 28},
            {"num_key_value_heads", 16}, {"hidden_act", "silu"}, {"initializer_range", 0.02}, {"rms_norm_eps", 1e-6},
            {"use_cache", true}, {"rope_theta", 10000.0}, {"rope_scaling", nullptr}, {"attention_dropout", 0.0},
            {"decoder_sparse_step", 1}, {"moe_intermediate_size", 1408}, {"shared_expert_intermediate_size", 5632},
            {"num_experts_per_tok", 4}, {"num_experts", 60}, {"norm_topk_prob", false},
            {"output_router_logits", false}, {"router_aux_loss_coef", 0.001}, {"mlp_only_layers", json::array()},
            {"tie_word_embeddings", false}};
  LlamaFlavor f;
  f.qa_prefix = "model";
  f.window = LlamaFlavor::Window::IfEnabled;
  f.qwen2 = true;
  f.moe = LlamaFlavor::Moe::Qwen2Moe;
  return llama_like_architecture("qwen2_moe", "Qwen2Moe", d, f);
}

}  // namespace hfx::models
