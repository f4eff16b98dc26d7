// Falcon: FalconModel, FalconForCausalLM, FalconForSequenceClassification, FalconForTokenClassification,
// FalconForQuestionAnswering.
// Upstream: transformers v4.46.3 src/transformers/models/falcon/modeling_falcon.py, configuration_falcon.py;
// model_type "falcon"; base model attribute "transformer"; no TF/Flax class. Eager attention.
// The fused query_key_value has three layouts: new_decoder_architecture (per kv group: its query heads, then one
// key and one value head: grouped-query attention), multi_query (all query heads, one key, one value) or per head
// (q, k, v) blocks. Rotary (rotate_half, rope_theta / rope_scaling) unless config.alibi; with alibi the scores are
// (q k^T + alibi) / sqrt(head_dim) plus a mask that, without head_mask, holds alibi / sqrt(head_dim) again where
// visible (FalconModel._update_causal_mask of 4.46) on the eager path (output_attentions), while the default SDPA
// path (generation, forward without attentions) adds only that mask: both kept (see run()). Layers: parallel_attn (one input_layernorm, or
// ln_attn + ln_mlp when new_decoder_architecture with num_ln_in_parallel_attn 2: h + mlp + attn) or sequential
// (input_layernorm, attention, post_attention_layernorm, MLP). head_mask acts on the ALiBi path only, as upstream.
#include <cmath>
#include <optional>

#include "models/llama.h"  // DecoderHead, set_decoder_outputs, decoder_architecture
#include "models/registry_entries.h"
#include "nn/alibi.h"
#include "nn/decoder.h"
#include "nn/mask.h"
#include "nn/partial_rotary.h"

namespace hfx::models {
namespace {

class Falcon final : public nn::DecoderModel {
 public:
  Falcon(const std::string& cls, const Config& c, DecoderHead head)
      : DecoderModel(cls, c, "transformer", head, "FalconForCausalLM") {
    H_ = c.get<int64_t>("hidden_size", 0);
    L_ = c.get<int64_t>("num_hidden_layers", 0);
    nH_ = c.get<int64_t>("num_attention_heads", 0);
    if (vocab_ <= 0 || H_ <= 0 || L_ <= 0 || nH_ <= 0)
      throw_error(ErrorKind::InvalidArgument, "vocab_size, hidden_size, num_hidden_layers and num_attention_heads must be positive", c.source());
    if (H_ % nH_) throw_error(ErrorKind::InvalidArgument, "hidden_size is not a multiple of num_attention_heads", c.source());
    D_ = H_ / nH_;
    new_arch_ = c.get<bool>("new_decoder_architecture", false);
    multi_query_ = c.get<bool>("multi_query", true);
    parallel_ = c.get<bool>("parallel_attn", true);
    alibi_ = c.get<bool>("alibi", false);
    const int64_t cfg_kv = c.has("num_kv_heads") ? c.get<int64_t>("num_kv_heads", nH_) : nH_;
    nKV_ = new_arch_ ? cfg_kv : multi_query_ ? 1 : nH_;
    if (nKV_ <= 0 || nH_ % nKV_)
      throw_error(ErrorKind::InvalidArgument, "num_attention_heads must be a multiple of num_kv_heads", c.source());
    if (!new_arch_ && !multi_query_ && cfg_kv != nH_)  // FalconAttention reshapes the keys to num_kv_heads heads
      throw_error(ErrorKind::InvalidArgument, "without new_decoder_architecture or multi_query, num_kv_heads must equal "
                                              "num_attention_heads", c.source());
    two_ln_ = new_arch_ && parallel_ && (c.has("num_ln_in_parallel_attn") ? c.get<int64_t>("num_ln_in_parallel_attn", 2) : 2) == 2;
    const int64_t ffn = c.has("ffn_hidden_size") ? c.get<int64_t>("ffn_hidden_size", 0) : 4 * H_;
    if (ffn <= 0) throw_error(ErrorKind::InvalidArgument, "ffn_hidden_size must be positive", c.source());
    if (!alibi_) rope_ = nn::Rope::from_config(c, D_);
    act_ = nn::parse_activation(c.get<std::string>("activation", "gelu"));
    const float eps = static_cast<float>(c.get<double>("layer_norm_epsilon", 1e-5));
    const bool bias = c.get<bool>("bias", false);
    const int64_t qkv_out = new_arch_ ? (2 * nKV_ + nH_) * D_ : multi_query_ ? H_ + 2 * D_ : 3 * H_;
    Scope r = root();
    Scope m = head == DecoderHead::Base ? r : r / "transformer";
    embed_ = nn::Embedding::make(m / "word_embeddings", vocab_, H_);
    for (int64_t i = 0; i < L_; ++i) {
      Scope l = m / "h" / i;
      Layer ly;
      ly.qkv = nn::Linear::make(l / "self_attention" / "query_key_value", H_, qkv_out, bias);
      ly.dense = nn::Linear::make(l / "self_attention" / "dense", H_, H_, bias);
      ly.fc_in = nn::Linear::make(l / "mlp" / "dense_h_to_4h", H_, ffn, bias);
      ly.fc_out = nn::Linear::make(l / "mlp" / "dense_4h_to_h", ffn, H_, bias);
      if (!parallel_) {
        ly.ln1 = nn::LayerNorm::make(l / "input_layernorm", H_, eps);
        ly.ln2 = nn::LayerNorm::make(l / "post_attention_layernorm", H_, eps);
      } else if (two_ln_) {
        ly.ln1 = nn::LayerNorm::make(l / "ln_attn", H_, eps);
        ly.ln2 = nn::LayerNorm::make(l / "ln_mlp", H_, eps);
      } else {
        ly.ln1 = nn::LayerNorm::make(l / "input_layernorm", H_, eps);
      }
      layers_.push_back(ly);
      ignored_keys_.push_back(l.path("self_attention.rotary_emb.inv_freq"));
    }
    ignored_keys_.push_back(m.path("rotary_emb.inv_freq"));
    ln_f_ = nn::LayerNorm::make(m / "ln_f", H_, eps);
    // FalconModel has no _prune_heads (prune_heads raises NotImplementedError in transformers 4.46).
    declare_heads(r, c, embed_, H_, {"lm_head", true, false});
  }

 private:
  struct Layer {
    nn::LayerNorm ln1, ln2;
    nn::Linear qkv, dense, fc_in, fc_out;
  };

  // FalconAttention._split_heads into q [B, S, nH * D], k and v [B, S, nKV * D].
  std::array<Tensor, 3> split(const Tensor& fused) const {
    if (!new_arch_) {
      if (multi_query_) {
        auto p = nn::split_last_dim(fused, {nH_ * D_, D_, D_});
        return {std::move(p[0]), std::move(p[1]), std::move(p[2])};
      }
      return nn::split_per_head_qkv(fused, nH_, D_);
    }
    const int64_t B = fused.size(0), S = fused.size(1), g = nH_ / nKV_;
    Tensor f = fused.contiguous();
    Tensor q = Tensor::uninitialized(DType::F32, {B, S, nH_ * D_});
    Tensor k = Tensor::uninitialized(DType::F32, {B, S, nKV_ * D_}), v = Tensor::uninitialized(DType::F32, {B, S, nKV_ * D_});
    const float* src = f.data<float>();
    float *qp = q.mutable_data<float>(), *kp = k.mutable_data<float>(), *vp = v.mutable_data<float>();
    for (int64_t t = 0; t < B * S; ++t) {
      const float* row = src + t * (nKV_ * (g + 2) * D_);
      for (int64_t kv = 0; kv < nKV_; ++kv) {
        const float* grp = row + kv * (g + 2) * D_;
        std::copy_n(grp, g * D_, qp + t * nH_ * D_ + kv * g * D_);
        std::copy_n(grp + g * D_, D_, kp + t * nKV_ * D_ + kv * D_);
        std::copy_n(grp + (g + 1) * D_, D_, vp + t * nKV_ * D_ + kv * D_);
      }
    }
    return {q, k, v};
  }

  Tensor mlp(const Layer& ly, const Tensor& x) const {
    Tensor u = ly.fc_in(x);
    nn::activate(u, act_);
    return ly.fc_out(u);
  }

  Tensor run(const Tensor& ids, const ModelInputs& in, KVCache* cache, nn::StackOutputs& st) const override {
    const Tensor &position_ids = in.position_ids, &attention_mask = in.attention_mask, &head_mask = in.head_mask;
    const bool want_hidden = in.output_hidden_states, want_attn = in.output_attentions;
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const int64_t B = ids.size(0), S = ids.size(1);
    const int64_t past = cache ? cache->length() : 0, Sk = past + S;
    Tensor h = Tensor::zeros(DType::F32, {B, S, H_});
    embed_.gather(ids, h.mutable_data<float>(), false);
    Tensor bias = nn::causal_padding_bias(attention_mask, B, S, past, "attention_mask");
    // ALiBi, as transformers 4.46 runs it by default (attn_implementation "sdpa" on torch >= 2.1.1):
    //  - no head_mask, no attentions asked: SDPA with the mask of _update_causal_mask, which holds alibi / sqrt(D)
    //    where visible: q k^T / sqrt(D) + alibi / sqrt(D);
    //  - attentions asked (the eager fallback): (q k^T + alibi) / sqrt(D) plus that same mask: alibi counted twice;
    //  - head_mask given (eager, the mask left plain): (q k^T + alibi) / sqrt(D) + the causal / padding mask.
    if (alibi_) {  // [B, nH, S, Sk]
      const Tensor al = nn::alibi_bias(attention_mask, B, Sk, nH_, true);
      const float inv_norm = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D_)));
      const float sq = static_cast<float>(std::sqrt(static_cast<double>(D_)));
      const bool sdpa = !want_attn && !head_mask.defined();
      Tensor full = Tensor::uninitialized(DType::F32, {B, nH_, S, Sk});
      float* o = full.mutable_data<float>();
      const float* a = al.data<float>();
      const float* cm = bias.data<float>();
      for (int64_t b = 0; b < B; ++b)
        for (int64_t hh = 0; hh < nH_; ++hh)
          for (int64_t i = 0; i < S; ++i)
            for (int64_t j = 0; j < Sk; ++j) {
              const float av = a[(b * nH_ + hh) * Sk + j], m = cm[(b * S + i) * Sk + j];
              // masked_fill(alibi / sqrt(D), causal_mask < -1, min) without head_mask; the plain mask with it
              const float mask = head_mask.defined() ? m : (m < -1.0f ? m : av / sq);
              o[((b * nH_ + hh) * S + i) * Sk + j] = sdpa ? mask : av * inv_norm + mask;
            }
      bias = full;
    }
    auto hm = nn::per_layer_head_mask(head_mask, L_, nH_);
    nn::RotaryAttention ra(rope_, position_ids, B, S, cache, nH_, nKV_, D_, bias, want_attn);
    if (alibi_) ra.ao.rope = {};
    for (int64_t l = 0; l < L_; ++l) {
      const Layer& ly = layers_[static_cast<std::size_t>(l)];
      if (want_hidden) st.hidden_states.push_back(h.clone());
      Tensor x = h.clone();
      ly.ln1.inplace(x);
      Tensor y;
      if (two_ln_) {
        y = h.clone();
        ly.ln2.inplace(y);
      }
      auto qkv = split(ly.qkv(x));
      ra.ao.layer = l;
      ra.ao.head_mask = alibi_ && !hm.empty() ? hm[static_cast<std::size_t>(l)].data() : nullptr;
      nn::Attended at = nn::attend(qkv[0], qkv[1], qkv[2], ra.ao);
      Tensor attn = ly.dense(at.context);
      if (!parallel_) {  // residual = attn + h; out = mlp(post_attention_layernorm(residual)) + residual
        nn::add_(h, attn);
        Tensor z = h.clone();
        ly.ln2.inplace(z);
        nn::add_(h, mlp(ly, z));
      } else {  // mlp_output += attention_output; output = mlp_output + residual
        Tensor t = mlp(ly, two_ln_ ? y : x);
        nn::add_(t, attn);
        nn::add_(t, h);
        h = t;
      }
      if (want_attn) st.attentions.push_back(at.probs);
    }
    ln_f_.inplace(h);
    if (want_hidden) st.hidden_states.push_back(h);
    return h;
  }

  int64_t H_ = 0, L_ = 0, nH_ = 0, nKV_ = 0, D_ = 0;
  bool new_arch_ = false, multi_query_ = true, parallel_ = true, alibi_ = false, two_ln_ = false;
  nn::Activation act_ = nn::Activation::GeluErf;
  nn::Rope rope_;
  nn::Embedding embed_;
  std::vector<Layer> layers_;
  nn::LayerNorm ln_f_;
};

}  // namespace

Architecture falcon_architecture() {
  // FalconConfig().to_dict() where it differs from PretrainedConfig.
  json d = {{"vocab_size", 65024}, {"hidden_size", 4544}, {"num_hidden_layers", 32}, {"num_attention_heads", 71},
            {"layer_norm_epsilon", 1e-5}, {"initializer_range", 0.02}, {"use_cache", true}, {"hidden_dropout", 0.0},
            {"attention_dropout", 0.0}, {"bos_token_id", 11}, {"eos_token_id", 11}, {"num_kv_heads", 71},
            {"alibi", false}, {"new_decoder_architecture", false}, {"multi_query", true}, {"parallel_attn", true},
            {"bias", false}, {"num_ln_in_parallel_attn", nullptr}, {"max_position_embeddings", 2048},
            {"rope_theta", 10000.0}, {"rope_scaling", nullptr}, {"activation", "gelu"}, {"ffn_hidden_size", 18176}};
  return decoder_architecture("falcon", std::move(d), "transformer",
                              {{"FalconModel", DecoderHead::Base},
                               {"FalconForCausalLM", DecoderHead::CausalLM},
                               {"FalconForSequenceClassification", DecoderHead::SequenceClassification},
                               {"FalconForTokenClassification", DecoderHead::TokenClassification},
                               {"FalconForQuestionAnswering", DecoderHead::QuestionAnswering}},
                              [](const std::string& cls, const Config& c, DecoderHead h) {
                                return std::make_unique<Falcon>(cls, c, h);
                              });
}

}  // namespace hfx::models
