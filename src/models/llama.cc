// Llama: LlamaModel, LlamaForCausalLM, LlamaForSequenceClassification,
// LlamaForTokenClassification, LlamaForQuestionAnswering.
// Upstream: transformers v4.46.3 src/transformers/models/llama/modeling_llama.py
// Eager attention; RoPE default/linear/dynamic/llama3; GQA; tied or untied embeddings.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "models/llama.h"

#include "models/registry_entries.h"
#include "nn/decoder.h"
#include "nn/decoder_norms.h"
#include "nn/partial_rotary.h"

namespace hfx::models {

namespace {
// Qwen2MoeDecoderLayer: a sparse block iff layer_idx not in mlp_only_layers and num_experts > 0 and
// (layer_idx + 1) % decoder_sparse_step == 0.
bool qwen2_moe_sparse(const Config& c, int64_t i) {
  if (const json* only = c.find("mlp_only_layers"))
    for (const json& v : *only)
      if (v.is_number_integer() && v.get<int64_t>() == i) return false;
  const int64_t step = c.get<int64_t>("decoder_sparse_step", 1);
  if (step <= 0) throw_error(ErrorKind::InvalidArgument, "decoder_sparse_step must be positive", c.source());
  return c.get<int64_t>("num_experts", 0) > 0 && (i + 1) % step == 0;
}
// Which layers are sliding-attention layers: config.layer_types (transformers 5) when present, else `fallback(i)`.
std::vector<char> sliding_layers(const Config& c, int64_t L, const std::function<bool(int64_t)>& fallback) {
  std::vector<char> out(static_cast<std::size_t>(L));
  const json* t = c.find("layer_types");
  if (t && (!t->is_array() || static_cast<int64_t>(t->size()) != L))
    throw_error(ErrorKind::InvalidArgument, "layer_types must list num_hidden_layers = " + std::to_string(L) + " entries", c.source());
  for (int64_t i = 0; i < L; ++i) {
    if (!t) {
      out[static_cast<std::size_t>(i)] = fallback(i);
      continue;
    }
    const json& v = (*t)[static_cast<std::size_t>(i)];
    if (v != "sliding_attention" && v != "full_attention")
      throw_error(ErrorKind::Unsupported, "layer_types entry " + v.dump() + " is not supported (full_attention, sliding_attention)", c.source());
    out[static_cast<std::size_t>(i)] = v == "sliding_attention";
  }
  return out;
}
}  // namespace

nn::SparseMoe LlamaLike::make_moe(const Scope& s, const Config& c, int64_t inter, const char* gate, const char* up,
                                  const char* down) const {
  if (inter <= 0) throw_error(ErrorKind::InvalidArgument, "the experts' intermediate size must be positive", c.source());
  nn::SparseMoe m;
  m.router = nn::Linear::make(s / "gate", H_, experts_, false);
  for (int64_t e = 0; e < experts_; ++e) m.experts.push_back(nn::GatedMlp::make(s / "experts" / e, H_, inter, gate, up, down));
  m.top_k = top_k_;
  m.act = act_;
  return m;
}

LlamaLike::LlamaLike(const std::string& cls, const Config& c, DecoderHead head, const LlamaFlavor& flavor)
    : Model(cls, c, head == DecoderHead::QuestionAnswering ? flavor.qa_prefix : "model"), head_(head), flavor_(flavor) {
  vocab_ = c.get<int64_t>("vocab_size", 0);
  H_ = c.get<int64_t>("hidden_size", 0);
  L_ = c.get<int64_t>("num_hidden_layers", 0);
  nH_ = c.get<int64_t>("num_attention_heads", 0);
  nKV_ = c.get<int64_t>("num_key_value_heads", nH_);
  if (vocab_ <= 0 || H_ <= 0 || L_ <= 0 || nH_ <= 0 || nKV_ <= 0)
    throw_error(ErrorKind::InvalidArgument, "vocab_size, hidden_size, num_hidden_layers and head counts must be positive", c.source());
  if (nH_ % nKV_) throw_error(ErrorKind::InvalidArgument, "num_attention_heads must be a multiple of num_key_value_heads", c.source());
  D_ = flavor.qwen2 || flavor.moe != LlamaFlavor::Moe::None ? H_ / nH_ : c.get<int64_t>("head_dim", H_ / nH_);
  // A partial rotary (StableLM, Phi) needs an even rotated width only (nn::partial_rope checks it).
  if (D_ <= 0 || (D_ % 2 && !flavor.stablelm && !flavor.phi))
    throw_error(ErrorKind::InvalidArgument, "head_dim must be positive and even", c.source());
  const int64_t inter = c.get<int64_t>("intermediate_size", 0);
  inter_ = inter;
  eps_ = flavor.norm == LlamaFlavor::Norm::LayerNormNoAffine
             ? 1e-5f  // OlmoLayerNorm: F.layer_norm(..., eps=1e-5) whatever the config says
             : static_cast<float>(c.get<double>(flavor.eps_key, flavor.eps_default));
  if (flavor.clip_qkv && c.has("clip_qkv")) {
    clip_ = static_cast<float>(c.get<double>("clip_qkv", 0.0));
    if (!(clip_ >= 0)) throw_error(ErrorKind::InvalidArgument, "clip_qkv must not be negative", c.source());
  }
  act_ = flavor.gemma ? nn::parse_activation(c.get<std::string>("hidden_activation", "gelu_pytorch_tanh"))
                      : nn::parse_activation(c.get<std::string>("hidden_act", "silu"));
  if (flavor.gemma2) {
    window_ = c.has("sliding_window") ? c.get<int64_t>("sliding_window", 0) : 0;
    attn_softcap_ = c.has("attn_logit_softcapping") ? static_cast<float>(c.get<double>("attn_logit_softcapping", 0.0)) : 0.0f;
    final_softcap_ = c.has("final_logit_softcapping") ? static_cast<float>(c.get<double>("final_logit_softcapping", 0.0)) : 0.0f;
    const double scalar = c.get<double>("query_pre_attn_scalar", 224.0);
    if (!(scalar > 0) || attn_softcap_ < 0 || final_softcap_ < 0 || window_ < 0)
      throw_error(ErrorKind::InvalidArgument, "query_pre_attn_scalar must be positive and the softcapping values and "
                                              "sliding_window not negative", c.source());
    attn_scale_ = static_cast<float>(std::pow(scalar, -0.5));
  }
  if (flavor.five == LlamaFlavor::Five::Qwen3) {  // Qwen3Config: sliding_window only with use_sliding_window
    window_ = c.get<bool>("use_sliding_window", false) ? c.get<int64_t>("sliding_window", 0) : 0;
    const int64_t from = c.get<int64_t>("max_window_layers", 28);
    const bool any = window_ > 0;
    sliding_ = sliding_layers(c, L_, [any, from](int64_t i) { return any && i >= from; });
  } else if (flavor.five == LlamaFlavor::Five::Gemma3) {
    const json* p = c.find("sliding_window_pattern");
    if (!p) p = c.find("_sliding_window_pattern");
    const int64_t pattern = p && p->is_number_integer() ? p->get<int64_t>() : 6;
    if (pattern <= 0) throw_error(ErrorKind::InvalidArgument, "sliding_window_pattern must be positive", c.source());
    sliding_ = sliding_layers(c, L_, [pattern](int64_t i) { return (i + 1) % pattern != 0; });
  } else if (flavor.gemma2 && window_ > 0) {  // Gemma-2: the even layers
    sliding_.resize(static_cast<std::size_t>(L_));
    for (int64_t i = 0; i < L_; i += 2) sliding_[static_cast<std::size_t>(i)] = 1;
  }
  if (flavor.window == LlamaFlavor::Window::Always ||
      (flavor.window == LlamaFlavor::Window::IfEnabled && c.get<bool>("use_sliding_window", false)))
    window_ = c.get<int64_t>("sliding_window", 0);
  // A config.json of transformers 5 lists the windowed layers (Qwen2: those >= max_window_layers): follow it.
  if (flavor.window != LlamaFlavor::Window::None && window_ > 0 && c.has("layer_types"))
    sliding_ = sliding_layers(c, L_, [](int64_t) { return true; });
  if (window_ < 0) throw_error(ErrorKind::InvalidArgument, "sliding_window must not be negative", c.source());
  if (c.get<int64_t>("pretraining_tp", 1) != 1)
    throw_error(ErrorKind::Unsupported, "pretraining_tp > 1 is not supported", c.source());
  if (flavor.five == LlamaFlavor::Five::Gemma3) {
    // Gemma3RotaryEmbedding: per layer type; rope_parameters.sliding_attention of transformers 5 must be the default.
    rope_ = nn::Rope::from_config(c, D_);
    if (const json* rp = c.find("rope_parameters"); rp && rp->is_object() && rp->contains("sliding_attention")) {
      const json& sl = (*rp)["sliding_attention"];
      if (sl.is_object() && sl.value("rope_type", std::string("default")) != "default")
        throw_error(ErrorKind::Unsupported, "rope_parameters.sliding_attention.rope_type must be default", c.source());
    }
    local_rope_ = nn::Rope();
    local_rope_->dim = D_;
    local_rope_->base = c.get<double>("rope_local_base_freq", 10000.0);
  } else if (flavor.gemma) {
    rope_.dim = D_;
    rope_.base = c.get<double>("rope_theta", 10000.0);
  } else if (flavor.stablelm) {
    rope_ = nn::partial_rope(c, D_, c.get<double>("partial_rotary_factor", 0.25), c.get<double>("rope_theta", 10000.0));
    parallel_ = c.get<bool>("use_parallel_residual", false);
    qk_norm_ = c.get<bool>("qk_layernorm", false);
  } else if (flavor.phi3) {
    rope_ = nn::phi3_rope(c, D_);
  } else if (flavor.phi) {
    rope_ = nn::partial_rope(c, D_, c.get<double>("partial_rotary_factor", 0.5), c.get<double>("rope_theta", 10000.0));
    parallel_ = true;
    // PhiAttention's q/k_layernorm is nn.LayerNorm(head_dim) applied to [B, S, heads * head_dim] before the
    // head split: transformers 4.46 cannot run it with more than one head, so there is no reference to follow.
    if (c.get<bool>("qk_layernorm", false))
      throw_error(ErrorKind::Unsupported, "Phi with qk_layernorm is not supported (transformers 4.46's PhiAttention "
                                          "normalises [B, S, hidden] over head_dim and fails)", c.source());
  } else {
    rope_ = nn::Rope::from_config(c, D_);
  }
  pad_ = c.has("pad_token_id") ? c.get<int64_t>("pad_token_id", -1) : -1;
  if (flavor.moe != LlamaFlavor::Moe::None) {
    experts_ = c.get<int64_t>(flavor.moe == LlamaFlavor::Moe::Mixtral ? "num_local_experts" : "num_experts", 0);
    top_k_ = c.get<int64_t>("num_experts_per_tok", 2);
    output_router_ = c.get<bool>("output_router_logits", false);
    // Mixtral always has experts; Qwen2-MoE with num_experts 0 is all dense layers.
    if (experts_ < 0 || (flavor.moe == LlamaFlavor::Moe::Mixtral && experts_ == 0) ||
        (experts_ > 0 && (top_k_ <= 0 || top_k_ > experts_)))
      throw_error(ErrorKind::InvalidArgument, "the number of experts must be positive and num_experts_per_tok between 1 "
                                              "and it", c.source());
  }
  const bool use_bias = flavor.starcoder2 && c.get<bool>("use_bias", true);
  const bool attn_bias = flavor.starcoder2 ? use_bias
                                           : !flavor.qwen2 && !flavor.stablelm && c.get<bool>("attention_bias", false);
  const bool qkv_bias = flavor.stablelm ? c.get<bool>("use_qkv_bias", false) : flavor.qwen2 || flavor.phi || attn_bias;
  // Llama's mlp_bias (flavor.mlp_bias); StarCoder2's use_bias.
  const bool mlp_bias = flavor.starcoder2 ? use_bias
                                          : !flavor.qwen2 && flavor.mlp_bias && c.get<bool>("mlp_bias", false);
  const bool ln_affine = flavor.norm != LlamaFlavor::Norm::LayerNormNoAffine;
  const bool ln_bias = flavor.norm == LlamaFlavor::Norm::LayerNorm;
  Scope r = root();
  Scope m = head == DecoderHead::Base ? r : r / base_model_prefix();
  embed_ = nn::Embedding::make(m / "embed_tokens", vocab_, H_);
  for (int64_t i = 0; i < L_; ++i) {
    Scope l = m / "layers" / i;
    Layer ly;
    if (flavor.phi3) {
      ly.qkv = nn::Linear::make(l / "self_attn" / "qkv_proj", H_, (nH_ + 2 * nKV_) * D_, false);
    } else {
      ly.q = nn::Linear::make(l / "self_attn" / "q_proj", H_, nH_ * D_, qkv_bias);
      ly.k = nn::Linear::make(l / "self_attn" / "k_proj", H_, nKV_ * D_, qkv_bias);
      ly.v = nn::Linear::make(l / "self_attn" / "v_proj", H_, nKV_ * D_, qkv_bias);
    }
    if (flavor.phi)
      ly.o = nn::Linear::make(l / "self_attn" / "dense", nH_ * D_, H_, true);
    else
      ly.o = nn::Linear::make(l / "self_attn" / "o_proj", nH_ * D_, H_, attn_bias);
    if (flavor.moe == LlamaFlavor::Moe::Mixtral) {  // MixtralSparseMoeBlock
      ly.moe = make_moe(l / "block_sparse_moe", c, inter, "w1", "w3", "w2");
    } else if (flavor.moe == LlamaFlavor::Moe::Qwen2Moe && qwen2_moe_sparse(c, i)) {  // Qwen2MoeSparseMoeBlock
      ly.moe = make_moe(l / "mlp", c, c.get<int64_t>("moe_intermediate_size", 0), "gate_proj", "up_proj", "down_proj");
      ly.moe->shared = nn::GatedMlp::make(l / "mlp" / "shared_expert", H_, c.get<int64_t>("shared_expert_intermediate_size", 0));
      ly.moe->shared_gate = nn::Linear::make(l / "mlp" / "shared_expert_gate", H_, 1, false);
      ly.moe->norm_topk_prob = c.get<bool>("norm_topk_prob", false);
    } else if (flavor.starcoder2) {  // Starcoder2MLP: c_fc -> act -> c_proj
      ly.up = nn::Linear::make(l / "mlp" / "c_fc", H_, inter, mlp_bias);
      ly.down = nn::Linear::make(l / "mlp" / "c_proj", inter, H_, mlp_bias);
    } else if (flavor.phi3) {  // Phi3MLP: gate, up = gate_up_proj(x).chunk(2); down_proj(up * act(gate))
      ly.gate_up = nn::Linear::make(l / "mlp" / "gate_up_proj", H_, 2 * inter, false);
      ly.down = nn::Linear::make(l / "mlp" / "down_proj", inter, H_, false);
    } else if (flavor.phi) {  // PhiMLP: fc1 -> act -> fc2
      ly.up = nn::Linear::make(l / "mlp" / "fc1", H_, inter, true);
      ly.down = nn::Linear::make(l / "mlp" / "fc2", inter, H_, true);
    } else {
      ly.gate = nn::Linear::make(l / "mlp" / "gate_proj", H_, inter, mlp_bias);
      ly.up = nn::Linear::make(l / "mlp" / "up_proj", H_, inter, mlp_bias);
      ly.down = nn::Linear::make(l / "mlp" / "down_proj", inter, H_, mlp_bias);
    }
    if (ln_affine) ly.in_norm = (l / "input_layernorm").param("weight", {H_});
    if (ln_bias) ly.in_norm_b = (l / "input_layernorm").param("bias", {H_});
    if (!parallel_) {  // StableLM's parallel layers have no post_attention_layernorm
      if (ln_affine) ly.post_norm = (l / "post_attention_layernorm").param("weight", {H_});
      if (ln_bias) ly.post_norm_b = (l / "post_attention_layernorm").param("bias", {H_});
    }
    if (flavor.gemma2) {
      ly.pre_ff_norm = (l / "pre_feedforward_layernorm").param("weight", {H_});
      ly.post_ff_norm = (l / "post_feedforward_layernorm").param("weight", {H_});
    }
    if (flavor.five != LlamaFlavor::Five::None) {
      ly.q_norm = (l / "self_attn" / "q_norm").param("weight", {D_});
      ly.k_norm = (l / "self_attn" / "k_norm").param("weight", {D_});
    }
    if (qk_norm_) {
      for (int64_t h = 0; h < nH_; ++h) ly.q_norms.push_back((l / "self_attn" / "q_layernorm" / "norms" / h).param("weight", {D_}));
      for (int64_t h = 0; h < nKV_; ++h) ly.k_norms.push_back((l / "self_attn" / "k_layernorm" / "norms" / h).param("weight", {D_}));
    }
    layers_.push_back(ly);
    ignored_keys_.push_back(l.path("self_attn.rotary_emb.inv_freq"));
  }
  ignored_keys_.push_back(m.path("rotary_emb.inv_freq"));
  const std::string final_norm = flavor.phi ? "final_layernorm" : "norm";
  if (ln_affine) norm_ = (m / final_norm).param("weight", {H_});
  if (ln_bias) norm_b_ = (m / final_norm).param("bias", {H_});
  if (head == DecoderHead::CausalLM) {
    lm_head_.in = H_;
    lm_head_.out = vocab_;
    // PretrainedConfig defaults tie_word_embeddings to True (Starcoder2Config keeps that default).
    lm_head_.w = (r / "lm_head").param("weight", {vocab_, H_}, c.get<bool>("tie_word_embeddings", true) ? embed_.w.name() : "");
    if (flavor.phi) lm_head_.b = (r / "lm_head").param("bias", {vocab_});  // PhiForCausalLM: bias=True
  }
  if (head == DecoderHead::SequenceClassification) score_ = nn::Linear::make(r / "score", H_, c.num_labels(), false);
  if (head == DecoderHead::TokenClassification)
    score_ = nn::Linear::make(r / (flavor.phi || flavor.phi3 ? "classifier" : "score"), H_, c.num_labels());
  if (head == DecoderHead::QuestionAnswering) score_ = nn::Linear::make(r / "qa_outputs", H_, 2);
  // Traits: the base models have no _prune_heads (prune_heads raises AttributeError in transformers 4.46).
  traits_.input_embeddings = embed_.w.name();
  if (lm_head_.w.valid()) traits_.output_embeddings = lm_head_.w.name();
  set_roles(ParamRole::Embedding, {embed_.w.name()});
  if (flavor.gemma)  // GemmaRMSNorm's weight starts at zeros (it scales by 1 + weight); _init_weights leaves it
    traits_.init = [](const ParamSpec& s, const Config& cfg) {
      if (s.shape.size() == 1 && s.name.size() >= 7 && s.name.compare(s.name.size() - 7, 7, ".weight") == 0 &&
          s.name.find("norm") != std::string::npos)
        return InitRule{InitRule::Zeros, 0.0};
      return default_init_rule(s, cfg);
    };
}

void LlamaLike::head_norm(Tensor& x, const Param& w) const {
  if (!flavor_.gemma) return nn::rms_norm_(x, *w, eps_);
  std::vector<float> scratch;
  const float* g = nn::as_f32(*w, scratch);
  Tensor one_plus = Tensor::zeros(DType::F32, {D_});
  for (int64_t i = 0; i < D_; ++i) one_plus.mutable_data<float>()[i] = 1.0f + g[i];
  nn::rms_norm_(x, one_plus, eps_);
}

void LlamaLike::norm_apply(Tensor& x, const Param& w, const Param& b) const {
  if (flavor_.norm == LlamaFlavor::Norm::LayerNorm) return nn::layer_norm_(x, *w, *b, eps_);
  if (flavor_.norm == LlamaFlavor::Norm::LayerNormNoAffine) return nn::layer_norm_(x, Tensor(), Tensor(), eps_);
  if (!flavor_.gemma) return nn::rms_norm_(x, *w, eps_);
  // GemmaRMSNorm: x * rsqrt(mean(x^2) + eps) * (1 + weight), the 1 + weight in float like the reference.
  std::vector<float> scratch;
  const float* g = nn::as_f32(*w, scratch);
  Tensor one_plus = Tensor::zeros(DType::F32, {H_});
  float* o = one_plus.mutable_data<float>();
  for (int64_t i = 0; i < H_; ++i) o[i] = 1.0f + g[i];
  nn::rms_norm_(x, one_plus, eps_);
}

Tensor LlamaLike::run(const Tensor& ids, const Tensor& position_ids, const Tensor& attention_mask, const Tensor& head_mask,
                      KVCache* cache, bool want_hidden, bool want_attn, nn::StackOutputs& st,
                      std::vector<Tensor>* router_logits) const {
  if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
  const int64_t B = ids.size(0), S = ids.size(1);
  const int64_t past = cache ? cache->length() : 0;
  Tensor h = Tensor::zeros(DType::F32, {B, S, H_});
  embed_.gather(ids, h.mutable_data<float>(), false);
  // Gemma: hidden_states * torch.tensor(hidden_size ** 0.5, dtype=hidden_states.dtype)
  if (flavor_.gemma) nn::scale_(h, static_cast<float>(std::sqrt(static_cast<double>(H_))));
  // Per-layer attention types (Gemma-2's even layers, layer_types): the global layers' mask and the sliding
  // layers' one; otherwise one mask (with the family's window, if any) for every layer.
  const bool per_layer = !sliding_.empty();
  auto mask_for = [&](int64_t window) {
    return flavor_.gemma2 ? nn::causal_padding_window_bias(attention_mask, B, S, past, window, "attention_mask")
                          : nn::causal_window_bias(attention_mask, B, S, past, window);
  };
  Tensor bias = mask_for(per_layer ? 0 : window_);
  Tensor slide_bias;
  if (per_layer && window_ > 0) slide_bias = mask_for(window_);
  auto hm = nn::per_layer_head_mask(head_mask, L_, nH_);
  nn::RotaryAttention ra(rope_, position_ids, B, S, cache, nH_, nKV_, D_, bias, want_attn);
  nn::AttentionOptions& ao = ra.ao;
  std::vector<float> local_inv;
  if (local_rope_) {
    int64_t max_pos = 0;
    for (int64_t i = 0; i < ra.pos.numel(); ++i) max_pos = std::max(max_pos, ra.pos.data<int64_t>()[i]);
    local_inv = local_rope_->inv_freq(max_pos);
  }
  ao.scale = attn_scale_;
  ao.softcap = attn_softcap_;
  for (int64_t l = 0; l < L_; ++l) {
    const Layer& ly = layers_[static_cast<std::size_t>(l)];
    if (want_hidden) st.hidden_states.push_back(h.clone());  // h is updated in place below
    const bool sliding = per_layer && sliding_[static_cast<std::size_t>(l)];
    if (per_layer) ao.bias = nn::AttentionBias::of(sliding && slide_bias.defined() ? slide_bias : bias);
    if (local_rope_) ao.rope = sliding ? nn::RopeHook{&*local_rope_, &ra.pos, &local_inv} : nn::RopeHook{&rope_, &ra.pos, &ra.inv};
    Tensor x = h.clone();
    norm_apply(x, ly.in_norm, ly.in_norm_b);
    Tensor q, k, v;
    if (flavor_.phi3) {
      auto parts = nn::split_last_dim(ly.qkv(x), {nH_ * D_, nKV_ * D_, nKV_ * D_});
      q = std::move(parts[0]), k = std::move(parts[1]), v = std::move(parts[2]);
    } else {
      q = ly.q(x), k = ly.k(x), v = ly.v(x);
    }
    if (clip_ > 0)
      for (Tensor* t : {&q, &k, &v}) nn::clamp_(*t, clip_);
    if (ly.q_norm.valid()) {
      head_norm(q, ly.q_norm);
      head_norm(k, ly.k_norm);
    }
    if (qk_norm_) {
      std::vector<Tensor> gq, gk;
      for (const Param& p : ly.q_norms) gq.push_back(*p);
      for (const Param& p : ly.k_norms) gk.push_back(*p);
      nn::layer_norm_per_head_(q, nH_, gq, eps_);
      nn::layer_norm_per_head_(k, nKV_, gk, eps_);
    }
    ao.layer = l;
    ao.head_mask = hm.empty() ? nullptr : hm[static_cast<std::size_t>(l)].data();
    nn::Attended at = nn::attend(q, k, v, ao);
    if (flavor_.phi) {  // attn_outputs + feed_forward_hidden_states + residual, in that order
      Tensor t = ly.o(at.context);
      Tensor u = ly.up(x);
      nn::activate(u, act_);
      nn::add_(t, ly.down(u));
      nn::add_(t, h);
      h = t;
      if (want_attn) st.attentions.push_back(at.probs);
      continue;
    }
    if (flavor_.gemma2) {  // post_attention_layernorm(attn) + residual; post_ff_norm(mlp(pre_ff_norm(h))) + residual
      Tensor a = ly.o(at.context);
      norm_apply(a, ly.post_norm, Param());
      nn::add_(h, a);
      x = h.clone();
      norm_apply(x, ly.pre_ff_norm, Param());
      Tensor g = ly.gate(x);
      nn::activate(g, act_);
      nn::mul_(g, ly.up(x));
      Tensor m = ly.down(g);
      norm_apply(m, ly.post_ff_norm, Param());
      nn::add_(h, m);
      if (want_attn) st.attentions.push_back(at.probs);
      continue;
    }
    nn::add_(h, ly.o(at.context));
    if (!parallel_) {  // StableLM parallel: the MLP reads the same normed input x (residual + attn + mlp)
      x = h.clone();
      norm_apply(x, ly.post_norm, ly.post_norm_b);
    }
    if (ly.moe) {
      Tensor logits;
      nn::add_(h, (*ly.moe)(x, router_logits ? &logits : nullptr));
      if (router_logits) router_logits->push_back(logits);
    } else if (flavor_.starcoder2 || flavor_.phi) {
      Tensor u = ly.up(x);
      nn::activate(u, act_);
      nn::add_(h, ly.down(u));
    } else if (flavor_.phi3) {  // up_states * act(gate): the product in that order
      auto gu = nn::split_last_dim(ly.gate_up(x), {inter_, inter_});
      nn::activate(gu[0], act_);
      nn::mul_(gu[1], gu[0]);
      nn::add_(h, ly.down(gu[1]));
    } else {
      Tensor g = ly.gate(x);
      nn::activate(g, act_);
      nn::mul_(g, ly.up(x));
      nn::add_(h, ly.down(g));
    }
    if (want_attn) st.attentions.push_back(at.probs);
  }
  norm_apply(h, norm_, norm_b_);
  if (want_hidden) st.hidden_states.push_back(h);
  return h;
}

Tensor LlamaLike::step(const Tensor& ids, const Tensor& position_ids, const Tensor& attention_mask, KVCache& cache) const {
  if (head_ != DecoderHead::CausalLM) throw_error(ErrorKind::Unsupported, class_name() + " cannot generate (use *ForCausalLM)");
  nn::StackOutputs st;
  return head_out(run(nn::as_ids(ids, "input_ids"), position_ids, attention_mask, Tensor(), &cache, false, false, st));
}

Tensor LlamaLike::head_out(const Tensor& h) const {
  Tensor logits = lm_head_(h);
  if (final_softcap_ > 0) nn::softcap_(logits, final_softcap_);
  return logits;
}

Outputs LlamaLike::forward(const ModelInputs& in) const {
  // transformers 4.46's Llama / Mistral forward has no head_mask parameter (the *ForCausalLM /
  // *ForQuestionAnswering classes swallow it in **kwargs and ignore it, the others raise TypeError).
  if (in.head_mask.defined())
    throw_error(ErrorKind::InvalidArgument, class_name() + " takes no head_mask (the " + config().model_type() +
                                                " forward of transformers 4.46 has no head_mask parameter)");
  Tensor ids = nn::as_ids(in.input_ids, "input_ids");
  nn::StackOutputs st;
  std::vector<Tensor> router;
  const bool want_router = output_router_ && (head_ == DecoderHead::Base || head_ == DecoderHead::CausalLM);
  Tensor h = run(ids, in.position_ids, in.attention_mask, Tensor(), nullptr, in.output_hidden_states, in.output_attentions, st,
                 want_router ? &router : nullptr);
  Outputs out;
  if (want_router) {
    // MoeCausalLMOutputWithPast.aux_loss: load_balancing_loss_func(router_logits, num_experts, top_k, attention_mask)
    // whenever the router logits are output (transformers returns 0, not a tensor, when no layer is sparse).
    if (head_ == DecoderHead::CausalLM && !router.empty())
      out.set("aux_loss", nn::load_balancing_loss(router, experts_, top_k_, in.attention_mask));
    for (std::size_t i = 0; i < router.size(); ++i) out.set("router_logits." + std::to_string(i), router[i]);
  }
  switch (head_) {
    case DecoderHead::Base:
      out.set("last_hidden_state", h);
      break;
    case DecoderHead::CausalLM:
      out.set("logits", head_out(h));
      break;
    case DecoderHead::SequenceClassification:
      out.set("logits", flavor_.five != LlamaFlavor::Five::None ? nn::pool_rightmost_non_pad((*score_)(h), ids, pad_)
                                                                 : nn::pool_last_non_pad((*score_)(h), ids, pad_));
      break;
    case DecoderHead::TokenClassification:
      out.set("logits", (*score_)(h));
      break;
    case DecoderHead::QuestionAnswering:
      nn::set_qa_logits(out, (*score_)(h));
      break;
  }
  nn::emit_stack(out, st);
  return out;
}

Architecture decoder_architecture(const std::string& model_type, json defaults, const std::string& base_model_prefix,
                                  const std::vector<std::pair<std::string, DecoderHead>>& classes, const DecoderBuilder& make) {
  static const std::map<DecoderHead, std::string> kAuto = {
      {DecoderHead::Base, "AutoModel"},
      {DecoderHead::CausalLM, "AutoModelForCausalLM"},
      {DecoderHead::SequenceClassification, "AutoModelForSequenceClassification"},
      {DecoderHead::TokenClassification, "AutoModelForTokenClassification"},
      {DecoderHead::QuestionAnswering, "AutoModelForQuestionAnswering"}};
  Architecture a{model_type, std::move(defaults), base_model_prefix, {}, {}, {}};
  for (const auto& [cls, head] : classes) {
    a.classes.emplace_back(cls, [cls = cls, head = head, make](const Config& c) { return make(cls, c, head); });
    a.auto_classes.emplace(kAuto.at(head), cls);
  }
  return a;
}

Architecture llama_like_architecture(const std::string& model_type, const std::string& family, json defaults,
                                     const std::string& qa_prefix, bool sliding_window) {
  LlamaFlavor f;
  f.qa_prefix = qa_prefix;
  f.window = sliding_window ? LlamaFlavor::Window::Always : LlamaFlavor::Window::None;
  return llama_like_architecture(model_type, family, std::move(defaults), f);
}

Architecture llama_like_architecture(const std::string& model_type, const std::string& family, json defaults,
                                     const LlamaFlavor& flavor) {
  Architecture a{model_type, std::move(defaults), "model", {}, {}, {}};
  auto add = [&](const std::string& suffix, DecoderHead h) {
    const std::string cls = family + suffix;
    a.classes.emplace_back(cls, [cls, h, flavor](const Config& c) { return std::make_unique<LlamaLike>(cls, c, h, flavor); });
  };
  add("Model", DecoderHead::Base);
  add("ForCausalLM", DecoderHead::CausalLM);
  a.auto_classes = {{"AutoModel", family + "Model"}, {"AutoModelForCausalLM", family + "ForCausalLM"}};
  if (flavor.classification) {
    add("ForSequenceClassification", DecoderHead::SequenceClassification);
    add("ForTokenClassification", DecoderHead::TokenClassification);
    a.auto_classes.emplace("AutoModelForSequenceClassification", family + "ForSequenceClassification");
    a.auto_classes.emplace("AutoModelForTokenClassification", family + "ForTokenClassification");
  }
  if (flavor.question_answering) {
    add("ForQuestionAnswering", DecoderHead::QuestionAnswering);
    a.auto_classes.emplace("AutoModelForQuestionAnswering", family + "ForQuestionAnswering");
  }
  return a;
}

Architecture llama_architecture() {
  json d = {{"is_decoder", false}, {"vocab_size", 32000}, {"hidden_size", 4096}, {"intermediate_size", 11008},
            {"num_hidden_layers", 32}, {"num_attention_heads", 32}, {"num_key_value_heads", nullptr},
            {"hidden_act", "silu"}, {"max_position_embeddings", 2048}, {"initializer_range", 0.02},
            {"rms_norm_eps", 1e-6}, {"use_cache", true}, {"pad_token_id", nullptr}, {"bos_token_id", 1},
            {"eos_token_id", 2}, {"pretraining_tp", 1}, {"tie_word_embeddings", false}, {"rope_theta", 10000.0},
            {"rope_scaling", nullptr}, {"attention_bias", false}, {"attention_dropout", 0.0}, {"mlp_bias", false}};
  return llama_like_architecture("llama", "Llama", d, "transformer", false);
}

}  // namespace hfx::models
