// GPT-NeoX: GPTNeoXModel, GPTNeoXForCausalLM, GPTNeoXForSequenceClassification,
// GPTNeoXForTokenClassification, GPTNeoXForQuestionAnswering.
// Upstream: transformers v4.46.3 src/transformers/models/gpt_neox/modeling_gpt_neox.py, configuration_gpt_neox.py;
// model_type "gpt_neox"; base model attribute "gpt_neox"; no TF/Flax class in 4.46.
// Pre-LayerNorm layers with a fused query_key_value laid out per head as (q, k, v) blocks, a rotary embedding
// over the first int(head_size * rotary_pct) dims of each head (theta rotary_emb_base: GPTNeoXConfig.__init__
// overwrites rope_theta / partial_rotary_factor with them), and use_parallel_residual:
//   parallel:   h = mlp(ln2(h)) + attn(ln1(h)) + h
//   sequential: a = attn(ln1(h)) + h; h = mlp(ln2(a)) + a
// The LM head is embed_out (tied to embed_in only with tie_word_embeddings); head_mask is honoured.
#include <algorithm>
#include <optional>

#include "models/llama.h"  // DecoderHead, set_decoder_outputs, decoder_architecture
#include "models/registry_entries.h"
#include "nn/decoder.h"
#include "nn/partial_rotary.h"

namespace hfx::models {
namespace {

class GptNeoX final : public nn::DecoderModel {
 public:
  GptNeoX(const std::string& cls, const Config& c, DecoderHead head)
      : DecoderModel(cls, c, "gpt_neox", head, "GPTNeoXForCausalLM") {
    H_ = c.get<int64_t>("hidden_size", 0);
    L_ = c.get<int64_t>("num_hidden_layers", 0);
    nH_ = c.get<int64_t>("num_attention_heads", 0);
    const int64_t inter = c.get<int64_t>("intermediate_size", 0);
    if (vocab_ <= 0 || H_ <= 0 || L_ <= 0 || nH_ <= 0 || inter <= 0)
      throw_error(ErrorKind::InvalidArgument,
                  "vocab_size, hidden_size, num_hidden_layers, num_attention_heads and intermediate_size must be positive",
                  c.source());
    if (H_ % nH_) throw_error(ErrorKind::InvalidArgument, "hidden_size is not a multiple of num_attention_heads", c.source());
    D_ = H_ / nH_;
    rope_ = nn::partial_rope(c, D_, c.get<double>("rotary_pct", 0.25), c.get<double>("rotary_emb_base", 10000.0));
    parallel_ = c.get<bool>("use_parallel_residual", true);
    act_ = nn::parse_activation(c.get<std::string>("hidden_act", "gelu"));
    const float eps = static_cast<float>(c.get<double>("layer_norm_eps", 1e-5));
    const bool bias = c.get<bool>("attention_bias", true);
    Scope r = root();
    Scope m = head == DecoderHead::Base ? r : r / "gpt_neox";
    embed_ = nn::Embedding::make(m / "embed_in", vocab_, H_);
    for (int64_t i = 0; i < L_; ++i) {
      Scope l = m / "layers" / i;
      Layer ly;
      ly.ln1 = nn::LayerNorm::make(l / "input_layernorm", H_, eps);
      ly.ln2 = nn::LayerNorm::make(l / "post_attention_layernorm", H_, eps);
      ly.qkv = nn::Linear::make(l / "attention" / "query_key_value", H_, 3 * H_, bias);
      ly.dense = nn::Linear::make(l / "attention" / "dense", H_, H_, bias);
      ly.fc_in = nn::Linear::make(l / "mlp" / "dense_h_to_4h", H_, inter);
      ly.fc_out = nn::Linear::make(l / "mlp" / "dense_4h_to_h", inter, H_);
      layers_.push_back(ly);
      // Non-persistent buffers that older checkpoints (Pythia) still hold.
      for (const char* b : {"attention.bias", "attention.masked_bias", "attention.rotary_emb.inv_freq"})
        ignored_keys_.push_back(l.path(b));
    }
    ignored_keys_.push_back(m.path("rotary_emb.inv_freq"));
    final_ln_ = nn::LayerNorm::make(m / "final_layer_norm", H_, eps);
    // GPTNeoXModel has no _prune_heads (prune_heads raises NotImplementedError in transformers 4.46).
    declare_heads(r, c, embed_, H_, {"embed_out", true, false});
  }

 private:
  struct Layer {
    nn::LayerNorm ln1, ln2;
    nn::Linear qkv, dense, fc_in, fc_out;
  };

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
    const int64_t past = cache ? cache->length() : 0;
    Tensor h = Tensor::zeros(DType::F32, {B, S, H_});
    embed_.gather(ids, h.mutable_data<float>(), false);
    Tensor bias = nn::causal_window_bias(attention_mask, B, S, past, 0);
    auto hm = nn::per_layer_head_mask(head_mask, L_, nH_);
    nn::RotaryAttention ra(rope_, position_ids, B, S, cache, nH_, nH_, D_, bias, want_attn);
    nn::AttentionOptions& ao = ra.ao;
    for (int64_t l = 0; l < L_; ++l) {
      const Layer& ly = layers_[static_cast<std::size_t>(l)];
      if (want_hidden) st.hidden_states.push_back(h.clone());
      Tensor x = h.clone();
      ly.ln1.inplace(x);
      auto qkv = nn::split_per_head_qkv(ly.qkv(x), nH_, D_);
      ao.layer = l;
      ao.head_mask = hm.empty() ? nullptr : hm[static_cast<std::size_t>(l)].data();
      nn::Attended at = nn::attend(qkv[0], qkv[1], qkv[2], ao);
      Tensor attn = ly.dense(at.context);
      if (parallel_) {  // mlp_output + attn_output + hidden_states, in that order
        Tensor y = h.clone();
        ly.ln2.inplace(y);
        Tensor t = mlp(ly, y);
        nn::add_(t, attn);
        nn::add_(t, h);
        h = t;
      } else {  // attn_output + hidden_states, then mlp_output + attn_output
        nn::add_(h, attn);
        Tensor y = h.clone();
        ly.ln2.inplace(y);
        nn::add_(h, mlp(ly, y));
      }
      if (want_attn) st.attentions.push_back(at.probs);
    }
    final_ln_.inplace(h);
    if (want_hidden) st.hidden_states.push_back(h);
    return h;
  }

  int64_t H_ = 0, L_ = 0, nH_ = 0, D_ = 0;
  bool parallel_ = true;
  nn::Activation act_ = nn::Activation::GeluErf;
  nn::Rope rope_;
  nn::Embedding embed_;
  std::vector<Layer> layers_;
  nn::LayerNorm final_ln_;
};

}  // namespace

Architecture gpt_neox_architecture() {
  // GPTNeoXConfig().to_dict() where it differs from PretrainedConfig.
  json d = {{"tie_word_embeddings", false}, {"bos_token_id", 0}, {"eos_token_id", 2}, {"vocab_size", 50432},
            {"max_position_embeddings", 2048}, {"hidden_size", 6144}, {"num_hidden_layers", 44},
            {"num_attention_heads", 64}, {"intermediate_size", 24576}, {"hidden_act", "gelu"}, {"rotary_pct", 0.25},
            {"partial_rotary_factor", 0.25}, {"rotary_emb_base", 10000}, {"rope_theta", 10000},
            {"attention_dropout", 0.0}, {"hidden_dropout", 0.0}, {"classifier_dropout", 0.1},
            {"initializer_range", 0.02}, {"layer_norm_eps", 1e-5}, {"use_cache", true},
            {"use_parallel_residual", true}, {"rope_scaling", nullptr}, {"attention_bias", true}};
  return decoder_architecture("gpt_neox", std::move(d), "gpt_neox",
                              {{"GPTNeoXModel", DecoderHead::Base},
                               {"GPTNeoXForCausalLM", DecoderHead::CausalLM},
                               {"GPTNeoXForSequenceClassification", DecoderHead::SequenceClassification},
                               {"GPTNeoXForTokenClassification", DecoderHead::TokenClassification},
                               {"GPTNeoXForQuestionAnswering", DecoderHead::QuestionAnswering}},
                              [](const std::string& cls, const Config& c, DecoderHead h) {
                                return std::make_unique<GptNeoX>(cls, c, h);
                              });
}

}  // namespace hfx::models
