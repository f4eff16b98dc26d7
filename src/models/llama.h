// The Llama decoder (RMSNorm, RoPE, grouped-query attention, SwiGLU MLP),
// shared by the llama, mistral, qwen2, gemma, olmo and starcoder2 model files (LlamaFlavor says what each
// changes).
// Upstream: transformers v4.46.3 src/transformers/models/llama/modeling_llama.py,
// models/mistral/modeling_mistral.py.
#pragma once

#include <functional>
#include <optional>

#include "hfx/generate.h"
#include "nn/attention.h"
#include "nn/decoder.h"
#include "nn/moe.h"

namespace hfx::models {

using nn::DecoderHead;  // nn/decoder.h
using nn::set_decoder_outputs;

// What a llama-style family changes in the shared decoder.
struct LlamaFlavor {
  std::string qa_prefix = "transformer";  // the base-model attribute of *ForQuestionAnswering
  // Mistral: config.sliding_window (null: none). Qwen2: config.sliding_window only when
  // config.use_sliding_window (Qwen2Config.__init__ sets sliding_window = None otherwise).
  enum class Window { None, Always, IfEnabled } window = Window::None;
  // Qwen2Attention: q/k/v_proj with bias=True, o_proj and the MLP without, whatever the config says;
  // head_dim is always hidden_size / num_attention_heads (no config.head_dim in Qwen2 of 4.46).
  bool qwen2 = false;
  // Gemma: GemmaRMSNorm scales by (1 + weight) (weights start at 0), the embeddings are multiplied by
  // sqrt(hidden_size) cast to the model dtype, the MLP activation is config.hidden_activation (null:
  // gelu_pytorch_tanh; hidden_act is ignored), head_dim comes from the config, and the rotary embedding
  // reads rope_theta only (GemmaRotaryEmbedding has no rope_scaling).
  bool gemma = false;
  // Which heads transformers 4.46 has besides <Family>Model and ForCausalLM (Gemma and StarCoder2 have no
  // ForQuestionAnswering, OLMo neither classification head).
  bool question_answering = true;
  bool classification = true;
  // The decoder norms: Llama's RMSNorm (Gemma's with 1 + weight), nn.LayerNorm with weight and bias
  // (StarCoder2), or OLMo's OlmoLayerNorm (no weight, no bias, eps 1e-5 fixed); eps read from `eps_key`.
  enum class Norm { Rms, LayerNorm, LayerNormNoAffine } norm = Norm::Rms;
  std::string eps_key = "rms_norm_eps";
  double eps_default = 1e-6;
  // OLMo: config.clip_qkv (null: none) clamps the q/k/v projections to [-clip_qkv, clip_qkv].
  bool clip_qkv = false;
  // StarCoder2: the MLP is c_fc -> act -> c_proj (no gate), and q/k/v/o_proj and the MLP carry a bias
  // iff config.use_bias.
  bool starcoder2 = false;
  // StableLM: q/k/v_proj biases iff config.use_qkv_bias (o_proj and the MLP none); a rotary embedding over the
  // first int(head_dim * partial_rotary_factor) dims of each head; config.use_parallel_residual (then no
  // post_attention_layernorm: h = h + attn(ln(h)) + mlp(ln(h))); config.qk_layernorm (a LayerNorm without bias
  // per head on q and k, before the rotary embedding).
  bool stablelm = false;
  // Phi: q/k/v_proj and self_attn.dense with biases, an fc1 -> act -> fc2 MLP with biases, a parallel residual
  // h = attn(ln(h)) + mlp(ln(h)) + h (one input_layernorm), model.final_layernorm, partial rotary
  // (partial_rotary_factor), lm_head with a bias, *ForTokenClassification's layer named classifier.
  bool phi = false;
  // Phi-3: fused self_attn.qkv_proj ([q; k; v] rows) and mlp.gate_up_proj ([gate; up] rows), no biases, LongRoPE
  // rope_scaling, *ForTokenClassification's layer named classifier.
  bool phi3 = false;
  // Gemma-2 (with `gemma` set too): config.sliding_window on the even layers only (null: none), scores scaled by
  // query_pre_attn_scalar ** -0.5 and softcapped by attn_logit_softcapping (null: none), pre/post feed-forward
  // RMSNorms and a post-attention norm on the attention output (not the MLP input), the CausalLM logits softcapped by
  // final_logit_softcapping (null: none), and the mask built with finfo.min filled (not added) like its
  // _prepare_4d_causal_attention_mask_with_cache_position plus the layer's torch.where(tril(..., -window)).
  bool gemma2 = false;
  // Mixture of experts (nn::SparseMoe): Mixtral's block_sparse_moe on every layer (experts w1/w3/w2 of
  // intermediate_size, top num_experts_per_tok of num_local_experts, weights renormalised); Qwen2-MoE's mlp on the
  // layers not in mlp_only_layers with (i + 1) % decoder_sparse_step == 0 (experts of moe_intermediate_size,
  // norm_topk_prob, a shared expert with a sigmoid gate; the other layers a dense MLP of intermediate_size).
  // config.output_router_logits adds router_logits.{i} (the MoE layers' [B * S, experts]) to the base model's and
  // CausalLM's outputs, and the CausalLM's aux_loss (load_balancing_loss_func over them and the attention mask).
  // head_dim is hidden_size / num_attention_heads (both attention classes of 4.46).
  enum class Moe { None, Mixtral, Qwen2Moe } moe = Moe::None;
  // Whether the MLP reads config.mlp_bias (LlamaMLP); GemmaMLP and OlmoMLP have no bias.
  bool mlp_bias = true;
  // Families of transformers 5 (Qwen3; Gemma-3 with `gemma` and `gemma2` set too): self_attn.q_norm / k_norm, an
  // RMSNorm over head_dim on every head of q and k before the rotary embedding (Gemma's 1 + weight); per-layer
  // attention types config.layer_types ("sliding_attention" layers attend within sliding_window; without the list:
  // Qwen3's layers >= max_window_layers, Gemma-3's layers with (i + 1) % sliding_window_pattern != 0); Qwen3's window
  // only with use_sliding_window; Gemma-3's sliding layers rotate with theta rope_local_base_freq (the global layers
  // with rope_theta and rope_scaling); the heads of transformers 5 (GenericFor*: ForSequenceClassification pooled at
  // the rightmost token that is not pad_token_id).
  enum class Five { None, Qwen3, Gemma3 } five = Five::None;
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
    nn::Linear qkv, gate_up;  // Phi-3's fused projections
    Param in_norm, post_norm, in_norm_b, post_norm_b;
    Param pre_ff_norm, post_ff_norm;  // Gemma-2
    std::optional<nn::SparseMoe> moe;  // Mixtral / Qwen2-MoE sparse layers
    std::vector<Param> q_norms, k_norms;  // StableLM qk_layernorm
    Param q_norm, k_norm;                 // Qwen3 / Gemma-3 per-head RMSNorms
  };
  void norm_apply(Tensor& x, const Param& w, const Param& b) const;  // the family's norm, in place
  void head_norm(Tensor& x, const Param& w) const;  // Qwen3 / Gemma-3 q_norm, k_norm over each head, in place
  nn::SparseMoe make_moe(const Scope& s, const Config& c, int64_t inter, const char* gate, const char* up,
                         const char* down) const;
  Tensor run(const Tensor& ids, const Tensor& position_ids, const Tensor& attention_mask, const Tensor& head_mask,
             KVCache* cache, bool want_hidden, bool want_attn, nn::StackOutputs& st,
             std::vector<Tensor>* router_logits = nullptr) const;

  DecoderHead head_;
  LlamaFlavor flavor_;
  int64_t vocab_ = 0, H_ = 0, L_ = 0, nH_ = 0, nKV_ = 0, D_ = 0, window_ = 0, pad_ = -1, inter_ = 0;
  float eps_ = 1e-6f;
  nn::Activation act_ = nn::Activation::Silu;
  nn::Rope rope_;
  nn::Embedding embed_;
  std::vector<Layer> layers_;
  Param norm_, norm_b_;
  float clip_ = 0;  // OLMo clip_qkv (0: none)
  bool parallel_ = false, qk_norm_ = false;  // StableLM use_parallel_residual, qk_layernorm
  float attn_softcap_ = 0, final_softcap_ = 0;  // Gemma-2 (0: none)
  bool output_router_ = false;                  // MoE: config.output_router_logits
  int64_t experts_ = 0, top_k_ = 0;
  std::optional<float> attn_scale_;           // Gemma-2 query_pre_attn_scalar ** -0.5
  std::vector<char> sliding_;                 // per layer: a sliding-attention layer (empty: every layer alike)
  std::optional<nn::Rope> local_rope_;        // Gemma-3: the sliding layers' rotary embedding
  Tensor head_out(const Tensor& h) const;     // lm_head (+ Gemma-2's final softcapping)
  nn::Linear lm_head_;
  std::optional<nn::Linear> score_;
};

// Registration of a decoder family with its own Model class (GPT-NeoX, GPT-J, OPT, Falcon, BLOOM): one class per
// (class name, head) with its Auto class (AutoModel, AutoModelForCausalLM, ...ForSequenceClassification,
// ...ForTokenClassification, ...ForQuestionAnswering), `make` building it.
using DecoderBuilder = std::function<std::unique_ptr<Model>(const std::string& cls, const Config& c, DecoderHead head)>;
Architecture decoder_architecture(const std::string& model_type, json defaults, const std::string& base_model_prefix,
                                  const std::vector<std::pair<std::string, DecoderHead>>& classes, const DecoderBuilder& make);

// Shared registration for llama-style families.
// `family` is the class-name prefix ("Llama", "Mistral", "Qwen2").
Architecture llama_like_architecture(const std::string& model_type, const std::string& family, json defaults,
                                     const LlamaFlavor& flavor);
Architecture llama_like_architecture(const std::string& model_type, const std::string& family, json defaults,
                                     const std::string& qa_prefix, bool sliding_window);

}  // namespace hfx::models
