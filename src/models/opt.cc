// OPT: OPTModel, OPTForCausalLM, OPTForSequenceClassification, OPTForQuestionAnswering.
// Upstream: transformers v4.46.3 src/transformers/models/opt/modeling_opt.py, configuration_opt.py;
// model_type "opt"; base model attribute "model" (OPTModel holds the OPTDecoder as "decoder"). (TFOPT* / FlaxOPT*
// exist in 4.46; hfx loads the PyTorch formats of this type only.)
// Token embeddings of word_embed_proj_dim (project_in / project_out when it differs from hidden_size), learned
// positions at offset 2 from cumsum(attention_mask) * attention_mask - 1, pre-LayerNorm (do_layer_norm_before)
// or post-LayerNorm layers, q_proj(h) * head_dim ** -0.5, the legacy 4-D mask (finfo.min filled where future or
// padded), fc1 -> activation_function -> fc2, biases iff enable_bias, LayerNorms without weight and bias unless
// layer_norm_elementwise_affine; head_mask honoured.
#include <optional>

#include "models/llama.h"  // DecoderHead, set_decoder_outputs, decoder_architecture
#include "models/registry_entries.h"
#include "nn/decoder.h"
#include "nn/decoder_norms.h"
#include "nn/mask.h"

namespace hfx::models {
namespace {

struct Norm {  // nn.LayerNorm(dim, elementwise_affine=...), eps 1e-5
  Param w, b;
  void operator()(Tensor& x) const { nn::layer_norm_(x, w.valid() ? *w : Tensor(), b.valid() ? *b : Tensor(), 1e-5f); }
  static Norm make(const Scope& s, int64_t dim, bool affine) {
    Norm n;
    if (affine) n.w = s.param("weight", {dim}), n.b = s.param("bias", {dim});
    return n;
  }
};

class Opt final : public nn::DecoderModel {
 public:
  Opt(const std::string& cls, const Config& c, DecoderHead head)
      : DecoderModel(cls, c, "model", head, "OPTForCausalLM") {
    H_ = c.get<int64_t>("hidden_size", 0);
    L_ = c.get<int64_t>("num_hidden_layers", 0);
    nH_ = c.get<int64_t>("num_attention_heads", 0);
    E_ = c.get<int64_t>("word_embed_proj_dim", H_);
    P_ = c.get<int64_t>("max_position_embeddings", 0);
    const int64_t ffn = c.get<int64_t>("ffn_dim", 0);
    if (vocab_ <= 0 || H_ <= 0 || L_ <= 0 || nH_ <= 0 || E_ <= 0 || P_ <= 0 || ffn <= 0)
      throw_error(ErrorKind::InvalidArgument, "vocab_size, hidden_size, num_hidden_layers, num_attention_heads, "
                                              "word_embed_proj_dim, max_position_embeddings and ffn_dim must be positive", c.source());
    if (H_ % nH_) throw_error(ErrorKind::InvalidArgument, "hidden_size is not a multiple of num_attention_heads", c.source());
    D_ = H_ / nH_;
    before_ = c.get<bool>("do_layer_norm_before", true);
    act_ = nn::parse_activation(c.get<std::string>("activation_function", "relu"));
    const bool bias = c.get<bool>("enable_bias", true), affine = c.get<bool>("layer_norm_elementwise_affine", true);
    Scope r = root();
    Scope m = (head == DecoderHead::Base ? r : r / "model") / "decoder";
    embed_ = nn::Embedding::make(m / "embed_tokens", vocab_, E_);
    positions_ = nn::Embedding::make(m / "embed_positions", P_ + 2, H_);
    if (E_ != H_) {
      project_in_ = nn::Linear::make(m / "project_in", E_, H_, false);
      project_out_ = nn::Linear::make(m / "project_out", H_, E_, false);
    }
    for (int64_t i = 0; i < L_; ++i) {
      Scope l = m / "layers" / i;
      Layer ly;
      ly.q = nn::Linear::make(l / "self_attn" / "q_proj", H_, H_, bias);
      ly.k = nn::Linear::make(l / "self_attn" / "k_proj", H_, H_, bias);
      ly.v = nn::Linear::make(l / "self_attn" / "v_proj", H_, H_, bias);
      ly.o = nn::Linear::make(l / "self_attn" / "out_proj", H_, H_, bias);
      ly.attn_norm = Norm::make(l / "self_attn_layer_norm", H_, affine);
      ly.fc1 = nn::Linear::make(l / "fc1", H_, ffn, bias);
      ly.fc2 = nn::Linear::make(l / "fc2", ffn, H_, bias);
      ly.ffn_norm = Norm::make(l / "final_layer_norm", H_, affine);
      layers_.push_back(ly);
    }
    if (before_ && !c.get<bool>("_remove_final_layer_norm", false)) final_norm_ = Norm::make(m / "final_layer_norm", H_, affine);
    // OPTModel has no _prune_heads (prune_heads raises NotImplementedError in transformers 4.46).
    declare_heads(r, c, embed_, E_, {"lm_head", true, false});
    set_roles(ParamRole::Embedding, {positions_.w.name()});
    step_position_ids_ = false;  // OPTForCausalLM.prepare_inputs_for_generation passes none: they follow the mask
  }

 private:
  struct Layer {
    nn::Linear q, k, v, o, fc1, fc2;
    Norm attn_norm, ffn_norm;
  };

  // OPTLearnedPositionalEmbedding's ids: (cumsum(mask) * mask - 1)[:, past:] (mask [B, past + S], all ones when
  // undefined), or position_ids as given; plus the offset 2, checked against the table.
  Tensor position_rows(const Tensor& position_ids, const Tensor& attention_mask, int64_t B, int64_t S, int64_t past) const {
    Tensor pos;
    if (position_ids.defined()) {
      pos = nn::positions_or_default(position_ids, B, S, past).contiguous();
    } else {
      pos = Tensor::zeros(DType::I64, {B, S});
      Tensor m = attention_mask.defined() ? attention_mask.to(DType::I64).contiguous() : Tensor();
      if (m.defined() && m.shape() != Shape{B, past + S})
        throw_error(ErrorKind::Mismatch, "attention_mask shape " + shape_str(m.shape()) + " must be " + shape_str({B, past + S}));
      int64_t* p = pos.mutable_data<int64_t>();
      for (int64_t b = 0; b < B; ++b) {
        int64_t run = 0;
        for (int64_t j = 0; j < past + S; ++j) {
          const int64_t keep = m.defined() ? m.data<int64_t>()[b * (past + S) + j] : 1;
          run += keep;
          if (j >= past) p[b * S + j - past] = run * keep - 1;
        }
      }
    }
    Tensor out = Tensor::zeros(DType::I64, {B, S});
    for (int64_t i = 0; i < B * S; ++i) {
      const int64_t v = pos.data<int64_t>()[i] + 2;
      if (v < 0 || v >= P_ + 2)
        throw_error(ErrorKind::InvalidArgument, "position " + std::to_string(v - 2) + " is outside OPT's " +
                                                    std::to_string(P_) + " learned positions (max_position_embeddings)");
      out.mutable_data<int64_t>()[i] = v;
    }
    return out;
  }

  Tensor run(const Tensor& ids, const ModelInputs& in, KVCache* cache, nn::StackOutputs& st) const override {
    const Tensor &position_ids = in.position_ids, &attention_mask = in.attention_mask, &head_mask = in.head_mask;
    const bool want_hidden = in.output_hidden_states, want_attn = in.output_attentions;
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const int64_t B = ids.size(0), S = ids.size(1);
    const int64_t past = cache ? cache->length() : 0;
    Tensor h = Tensor::zeros(DType::F32, {B, S, E_});
    embed_.gather(ids, h.mutable_data<float>(), false);
    if (project_in_) h = (*project_in_)(h);
    Tensor p = Tensor::zeros(DType::F32, {B, S, H_});
    positions_.gather(position_rows(position_ids, attention_mask, B, S, past), p.mutable_data<float>(), false);
    nn::add_(h, p);
    Tensor bias = nn::causal_padding_bias(attention_mask, B, S, past, "attention_mask");
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
      if (before_) ly.attn_norm(x);
      Tensor q = ly.q(x), k = ly.k(x), v = ly.v(x);
      ao.layer = l;
      ao.head_mask = hm.empty() ? nullptr : hm[static_cast<std::size_t>(l)].data();
      nn::Attended at = nn::attend(q, k, v, ao);
      nn::add_(h, ly.o(at.context));
      if (!before_) ly.attn_norm(h);
      x = h.clone();
      if (before_) ly.ffn_norm(x);
      Tensor u = ly.fc1(x);
      nn::activate(u, act_);
      nn::add_(h, ly.fc2(u));
      if (!before_) ly.ffn_norm(h);
      if (want_attn) st.attentions.push_back(at.probs);
    }
    if (final_norm_) (*final_norm_)(h);
    if (project_out_) h = (*project_out_)(h);
    if (want_hidden) st.hidden_states.push_back(h);
    return h;
  }

  int64_t H_ = 0, L_ = 0, nH_ = 0, D_ = 0, E_ = 0, P_ = 0;
  bool before_ = true;
  nn::Activation act_ = nn::Activation::Relu;
  nn::Embedding embed_, positions_;
  std::optional<nn::Linear> project_in_, project_out_;
  std::vector<Layer> layers_;
  std::optional<Norm> final_norm_;
};

}  // namespace

Architecture opt_architecture() {
  // OPTConfig().to_dict() where it differs from PretrainedConfig.
  json d = {{"bos_token_id", 2}, {"pad_token_id", 1}, {"eos_token_id", 2}, {"vocab_size", 50272},
            {"max_position_embeddings", 2048}, {"num_attention_heads", 12}, {"word_embed_proj_dim", 768},
            {"ffn_dim", 3072}, {"hidden_size", 768}, {"num_hidden_layers", 12}, {"dropout", 0.1},
            {"attention_dropout", 0.0}, {"activation_function", "relu"}, {"init_std", 0.02}, {"layerdrop", 0.0},
            {"use_cache", true}, {"do_layer_norm_before", true}, {"enable_bias", true},
            {"layer_norm_elementwise_affine", true}, {"_remove_final_layer_norm", false}};
  return decoder_architecture("opt", std::move(d), "model",
                              {{"OPTModel", DecoderHead::Base},
                               {"OPTForCausalLM", DecoderHead::CausalLM},
                               {"OPTForSequenceClassification", DecoderHead::SequenceClassification},
                               {"OPTForQuestionAnswering", DecoderHead::QuestionAnswering}},
                              [](const std::string& cls, const Config& c, DecoderHead h) {
                                return std::make_unique<Opt>(cls, c, h);
                              });
}

}  // namespace hfx::models
