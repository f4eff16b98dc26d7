// BLOOM: BloomModel, BloomForCausalLM, BloomForSequenceClassification, BloomForTokenClassification,
// BloomForQuestionAnswering.
// Upstream: transformers v4.46.3 src/transformers/models/bloom/modeling_bloom.py, configuration_bloom.py;
// model_type "bloom"; base model attribute "transformer". (FlaxBloom* exists in 4.46; hfx loads the PyTorch formats
// of this type only.)
// word_embeddings -> word_embeddings_layernorm; per layer input_layernorm, a fused per-head (q, k, v)
// query_key_value, scores alibi + q k^T / sqrt(head_dim) (alibi.baddbmm) plus the 4-D mask (finfo.min filled),
// dense + residual, post_attention_layernorm, dense_h_to_4h -> BloomGelu (the tanh approximation) -> dense_4h_to_h +
// residual, the residuals taken after the norms with apply_residual_connection_post_layernorm; ln_f. No positions
// besides ALiBi (nn/alibi.h); head_mask honoured. pretraining_tp > 1 with slow_but_exact (a sliced summation order)
// is refused.
#include <optional>

#include "models/llama.h"  // DecoderHead, set_decoder_outputs, decoder_architecture
#include "models/registry_entries.h"
#include "nn/alibi.h"
#include "nn/decoder.h"
#include "nn/mask.h"
#include "nn/partial_rotary.h"

namespace hfx::models {
namespace {

class Bloom final : public nn::DecoderModel {
 public:
  Bloom(const std::string& cls, const Config& c, DecoderHead head)
      : DecoderModel(cls, c, "transformer", head, "BloomForCausalLM") {
    H_ = c.has("n_embed") ? c.get<int64_t>("n_embed", 0) : c.get<int64_t>("hidden_size", 0);
    L_ = c.get<int64_t>("n_layer", 0);
    nH_ = c.get<int64_t>("n_head", 0);
    if (vocab_ <= 0 || H_ <= 0 || L_ <= 0 || nH_ <= 0)
      throw_error(ErrorKind::InvalidArgument, "vocab_size, hidden_size, n_layer and n_head must be positive", c.source());
    if (H_ % nH_) throw_error(ErrorKind::InvalidArgument, "hidden_size is not a multiple of n_head", c.source());
    if (c.get<int64_t>("pretraining_tp", 1) > 1 && c.get<bool>("slow_but_exact", false))
      throw_error(ErrorKind::Unsupported, "BLOOM with slow_but_exact and pretraining_tp > 1 is not supported", c.source());
    D_ = H_ / nH_;
    post_ln_residual_ = c.get<bool>("apply_residual_connection_post_layernorm", false);
    const float eps = static_cast<float>(c.get<double>("layer_norm_epsilon", 1e-5));
    Scope r = root();
    Scope m = head == DecoderHead::Base ? r : r / "transformer";
    embed_ = nn::Embedding::make(m / "word_embeddings", vocab_, H_);
    embed_ln_ = nn::LayerNorm::make(m / "word_embeddings_layernorm", H_, eps);
    for (int64_t i = 0; i < L_; ++i) {
      Scope l = m / "h" / i;
      Layer ly;
      ly.ln1 = nn::LayerNorm::make(l / "input_layernorm", H_, eps);
      ly.qkv = nn::Linear::make(l / "self_attention" / "query_key_value", H_, 3 * H_);
      ly.dense = nn::Linear::make(l / "self_attention" / "dense", H_, H_);
      ly.ln2 = nn::LayerNorm::make(l / "post_attention_layernorm", H_, eps);
      ly.fc_in = nn::Linear::make(l / "mlp" / "dense_h_to_4h", H_, 4 * H_);
      ly.fc_out = nn::Linear::make(l / "mlp" / "dense_4h_to_h", 4 * H_, H_);
      layers_.push_back(ly);
    }
    ln_f_ = nn::LayerNorm::make(m / "ln_f", H_, eps);
    // BloomModel has no _prune_heads (prune_heads raises NotImplementedError in transformers 4.46).
    declare_heads(r, c, embed_, H_, {"lm_head", true, false});
    step_position_ids_ = false;  // ALiBi positions follow the attention mask
  }

 private:
  struct Layer {
    nn::LayerNorm ln1, ln2;
    nn::Linear qkv, dense, fc_in, fc_out;
  };

  Tensor run(const Tensor& ids, const ModelInputs& in, KVCache* cache, nn::StackOutputs& st) const override {
    const Tensor &attention_mask = in.attention_mask, &head_mask = in.head_mask;
    const bool want_hidden = in.output_hidden_states, want_attn = in.output_attentions;
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const int64_t B = ids.size(0), S = ids.size(1);
    const int64_t past = cache ? cache->length() : 0, Sk = past + S;
    Tensor h = Tensor::zeros(DType::F32, {B, S, H_});
    embed_.gather(ids, h.mutable_data<float>(), false);
    embed_ln_.inplace(h);
    // [B, nH, S, Sk]: alibi[b, h, j] + the causal / padding mask.
    const Tensor mask = nn::causal_padding_bias(attention_mask, B, S, past, "attention_mask");
    const Tensor al = nn::alibi_bias(attention_mask, B, Sk, nH_, false);
    Tensor bias = Tensor::uninitialized(DType::F32, {B, nH_, S, Sk});
    float* o = bias.mutable_data<float>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t hh = 0; hh < nH_; ++hh)
        for (int64_t i = 0; i < S; ++i)
          for (int64_t j = 0; j < Sk; ++j)
            o[((b * nH_ + hh) * S + i) * Sk + j] = al.data<float>()[(b * nH_ + hh) * Sk + j] + mask.data<float>()[(b * S + i) * Sk + j];
    auto hm = nn::per_layer_head_mask(head_mask, L_, nH_);
    nn::AttentionOptions ao;
    ao.heads = nH_;
    ao.head_dim = D_;
    ao.bias = nn::AttentionBias::of(bias);
    ao.cache = cache;
    ao.want_probs = want_attn;
    for (int64_t l = 0; l < L_; ++l) {
      const Layer& ly = layers_[static_cast<std::size_t>(l)];
      if (want_hidden) st.hidden_states.push_back(h.clone());
      Tensor x = h.clone();
      ly.ln1.inplace(x);
      auto qkv = nn::split_per_head_qkv(ly.qkv(x), nH_, D_);
      ao.layer = l;
      ao.head_mask = hm.empty() ? nullptr : hm[static_cast<std::size_t>(l)].data();
      nn::Attended at = nn::attend(qkv[0], qkv[1], qkv[2], ao);
      Tensor a = ly.dense(at.context);
      nn::add_(a, post_ln_residual_ ? x : h);  // attention_output = dense(context) + residual
      Tensor y = a.clone();
      ly.ln2.inplace(y);
      Tensor u = ly.fc_in(y);
      nn::activate(u, nn::Activation::GeluTanh);  // BloomGelu
      Tensor t = ly.fc_out(u);
      nn::add_(t, post_ln_residual_ ? y : a);
      h = t;
      if (want_attn) st.attentions.push_back(at.probs);
    }
    ln_f_.inplace(h);
    if (want_hidden) st.hidden_states.push_back(h);
    return h;
  }

  int64_t H_ = 0, L_ = 0, nH_ = 0, D_ = 0;
  bool post_ln_residual_ = false;
  nn::Embedding embed_;
  nn::LayerNorm embed_ln_;
  std::vector<Layer> layers_;
  nn::LayerNorm ln_f_;
};

}  // namespace

Architecture bloom_architecture() {
  // BloomConfig().to_dict() where it differs from PretrainedConfig.
  json d = {{"vocab_size", 250880}, {"hidden_size", 64}, {"n_layer", 2}, {"n_head", 8}, {"layer_norm_epsilon", 1e-5},
            {"initializer_range", 0.02}, {"use_cache", true}, {"pretraining_tp", 1},
            {"apply_residual_connection_post_layernorm", false}, {"hidden_dropout", 0.0}, {"attention_dropout", 0.0},
            {"bos_token_id", 1}, {"eos_token_id", 2}, {"slow_but_exact", false}};
  return decoder_architecture("bloom", std::move(d), "transformer",
                              {{"BloomModel", DecoderHead::Base},
                               {"BloomForCausalLM", DecoderHead::CausalLM},
                               {"BloomForSequenceClassification", DecoderHead::SequenceClassification},
                               {"BloomForTokenClassification", DecoderHead::TokenClassification},
                               {"BloomForQuestionAnswering", DecoderHead::QuestionAnswering}},
                              [](const std::string& cls, const Config& c, DecoderHead h) {
                                return std::make_unique<Bloom>(cls, c, h);
                              });
}

}  // namespace hfx::models
