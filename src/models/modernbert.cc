// ModernBERT: ModernBertModel, ModernBertForMaskedLM, ModernBertForSequenceClassification,
// ModernBertForTokenClassification, ModernBertForQuestionAnswering, ModernBertForMultipleChoice.
// Upstream: transformers v5.25.0 src/transformers/models/modernbert/modeling_modernbert.py, configuration_modernbert.py
// (the type is not in 4.46; fixtures from the second pinned env, tools/fixtures/requirements5.txt); model_type
// "modernbert"; base model attribute "model"; no TF/Flax class. Eager attention over the padded batch (what 5.x runs
// without flash-attention; its unpadded flash path gives the same values on the real tokens).
// Embeddings: tok_embeddings -> norm (LayerNorm, bias iff norm_bias), no positions besides the rotary embedding.
// Pre-norm layers (layer 0 without attn_norm): a fused Wqkv ([q; k; v] rows), a bidirectional attention rotated with
// theta global_rope_theta on the full-attention layers and local_rope_theta on the sliding ones (transformers 5:
// rope_parameters.{full,sliding}_attention; config.layer_types, else every global_attn_every_n_layers-th layer
// global), the sliding layers seeing keys with |i - j| <= local_attention // 2; Wo; mlp_norm; a GLU MLP (Wi -> input,
// gate halves; Wo(act(input) * gate)); final_norm. Heads: the prediction head norm(act(dense(h)))
// (classifier_activation, dense bias iff classifier_bias) then decoder (tied to tok_embeddings, bias iff
// decoder_bias) or classifier, the sequence / multiple-choice heads pooling the first token (classifier_pooling
// "cls"; multiple choice: the first attended one) or the masked mean ("mean").
#include <cmath>
#include <optional>

#include "models/registry_entries.h"
#include "nn/decoder.h"
#include "nn/mask.h"
#include "nn/partial_rotary.h"

namespace hfx::models {
namespace {

enum class Head { Base, MaskedLM, SequenceClassification, TokenClassification, QuestionAnswering, MultipleChoice };

class ModernBert final : public Model {
 public:
  ModernBert(const std::string& cls, const Config& c, Head head) : Model(cls, c, "model"), head_(head) {
    vocab_ = c.get<int64_t>("vocab_size", 0);
    H_ = c.get<int64_t>("hidden_size", 0);
    L_ = c.get<int64_t>("num_hidden_layers", 0);
    nH_ = c.get<int64_t>("num_attention_heads", 0);
    inter_ = c.get<int64_t>("intermediate_size", 0);
    if (vocab_ <= 0 || H_ <= 0 || L_ <= 0 || nH_ <= 0 || inter_ <= 0)
      throw_error(ErrorKind::InvalidArgument, "vocab_size, hidden_size, num_hidden_layers, num_attention_heads and "
                                              "intermediate_size must be positive", c.source());
    if (H_ % nH_) throw_error(ErrorKind::InvalidArgument, "hidden_size is not a multiple of num_attention_heads", c.source());
    D_ = H_ / nH_;
    if (D_ % 2) throw_error(ErrorKind::InvalidArgument, "the head size hidden_size / num_attention_heads must be even (rotary)", c.source());
    const int64_t local = c.get<int64_t>("local_attention", 128);
    if (local < 0) throw_error(ErrorKind::InvalidArgument, "local_attention must not be negative", c.source());
    half_window_ = local / 2;  // ModernBertConfig.sliding_window
    // Layer types: config.layer_types, else global every global_attn_every_n_layers-th layer (from 0).
    const int64_t every = c.get<int64_t>("global_attn_every_n_layers", 3);
    if (every <= 0) throw_error(ErrorKind::InvalidArgument, "global_attn_every_n_layers must be positive", c.source());
    const json* types = c.find("layer_types");
    if (types && (!types->is_array() || static_cast<int64_t>(types->size()) != L_))
      throw_error(ErrorKind::InvalidArgument, "layer_types must list num_hidden_layers = " + std::to_string(L_) + " entries", c.source());
    for (int64_t i = 0; i < L_; ++i) {
      bool sliding = i % every != 0;
      if (types) {
        const json& v = (*types)[static_cast<std::size_t>(i)];
        if (v != "sliding_attention" && v != "full_attention")
          throw_error(ErrorKind::Unsupported, "layer_types entry " + v.dump() + " is not supported (full_attention, sliding_attention)", c.source());
        sliding = v == "sliding_attention";
      }
      sliding_.push_back(sliding);
    }
    // Default rotary embeddings only (the thetas under their 4.x names; Config reads rope_parameters too).
    if (c.has("rope_scaling"))
      throw_error(ErrorKind::Unsupported, "ModernBERT rope scaling is not supported (default rotary embedding only)", c.source());
    if (const json* rp = c.find("rope_parameters"); rp && rp->is_object() && rp->contains("sliding_attention")) {
      const json& sl = (*rp)["sliding_attention"];
      if (sl.is_object() && sl.value("rope_type", std::string("default")) != "default")
        throw_error(ErrorKind::Unsupported, "ModernBERT rope scaling is not supported (default rotary embedding only)", c.source());
    }
    global_rope_.dim = local_rope_.dim = D_;
    global_rope_.base = c.get<double>("global_rope_theta", 160000.0);
    local_rope_.base = c.get<double>("local_rope_theta", 10000.0);
    const float eps = static_cast<float>(c.get<double>("norm_eps", 1e-5));
    const bool norm_bias = c.get<bool>("norm_bias", false), attn_bias = c.get<bool>("attention_bias", false);
    const bool mlp_bias = c.get<bool>("mlp_bias", false);
    act_ = nn::parse_activation(c.get<std::string>("hidden_activation", "gelu"));
    head_act_ = nn::parse_activation(c.get<std::string>("classifier_activation", "gelu"));
    mean_pool_ = c.get<std::string>("classifier_pooling", "cls") == "mean";
    if (!mean_pool_ && c.get<std::string>("classifier_pooling", "cls") != "cls")
      throw_error(ErrorKind::InvalidArgument, "classifier_pooling must be \"cls\" or \"mean\"", c.source());
    Scope r = root();
    Scope m = head == Head::Base ? r : r / "model";
    embed_ = nn::Embedding::make(m / "embeddings" / "tok_embeddings", vocab_, H_);
    embed_norm_ = nn::LayerNorm::make(m / "embeddings" / "norm", H_, eps, norm_bias);
    for (int64_t i = 0; i < L_; ++i) {
      Scope l = m / "layers" / i;
      Layer ly;
      if (i > 0) ly.attn_norm = nn::LayerNorm::make(l / "attn_norm", H_, eps, norm_bias);
      ly.qkv = nn::Linear::make(l / "attn" / "Wqkv", H_, 3 * H_, attn_bias);
      ly.o = nn::Linear::make(l / "attn" / "Wo", H_, H_, attn_bias);
      ly.mlp_norm = nn::LayerNorm::make(l / "mlp_norm", H_, eps, norm_bias);
      ly.wi = nn::Linear::make(l / "mlp" / "Wi", H_, 2 * inter_, mlp_bias);
      ly.wo = nn::Linear::make(l / "mlp" / "Wo", inter_, H_, mlp_bias);
      layers_.push_back(ly);
    }
    final_norm_ = nn::LayerNorm::make(m / "final_norm", H_, eps, norm_bias);
    if (head != Head::Base) {
      dense_ = nn::Linear::make(r / "head" / "dense", H_, H_, c.get<bool>("classifier_bias", false));
      head_norm_ = nn::LayerNorm::make(r / "head" / "norm", H_, eps, norm_bias);
    }
    if (head == Head::MaskedLM) {
      decoder_.in = H_;
      decoder_.out = vocab_;
      decoder_.w = (r / "decoder").param("weight", {vocab_, H_}, c.get<bool>("tie_word_embeddings", true) ? embed_.w.name() : "");
      if (c.get<bool>("decoder_bias", true)) decoder_.b = (r / "decoder").param("bias", {vocab_});
      traits_.output_embeddings = decoder_.w.name();
    }
    if (head == Head::SequenceClassification || head == Head::TokenClassification || head == Head::QuestionAnswering)
      classifier_ = nn::Linear::make(r / "classifier", H_, c.num_labels());
    if (head == Head::MultipleChoice) classifier_ = nn::Linear::make(r / "classifier", H_, 1);
    if (head == Head::QuestionAnswering && c.num_labels() != 2)
      throw_error(ErrorKind::Unsupported, "ModernBertForQuestionAnswering needs num_labels 2 (start and end logits)", c.source());
    // ModernBertModel has no _prune_heads.
    traits_.input_embeddings = embed_.w.name();
    set_roles(ParamRole::Embedding, {embed_.w.name()});
  }

  Outputs forward(const ModelInputs& in0) const override {
    ModelInputs in = in0;
    const Shape in_shape = nn::as_ids(in.input_ids, "input_ids").shape();
    int64_t choices = 0;
    if (head_ == Head::MultipleChoice) choices = nn::flatten_choice_inputs(in);
    Tensor ids = nn::as_ids(in.input_ids, "input_ids");
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const int64_t B = ids.size(0), S = ids.size(1);
    nn::StackOutputs st;
    Tensor h = run(ids, in, st);
    Outputs out;
    if (head_ == Head::Base) {
      out.set("last_hidden_state", h);
    } else if (head_ == Head::MaskedLM) {
      out.set("logits", decoder_(head_out(h)));
    } else if (head_ == Head::TokenClassification) {
      out.set("logits", (*classifier_)(head_out(h)));
    } else if (head_ == Head::QuestionAnswering) {
      nn::set_qa_logits(out, (*classifier_)(head_out(h)));
    } else {
      Tensor logits = (*classifier_)(head_out(pool(h, in.attention_mask, B, S)));
      out.set("logits", head_ == Head::MultipleChoice ? logits.reshape({in_shape[0], choices}) : logits);
    }
    nn::emit_stack(out, st);
    return out;
  }

 private:
  struct Layer {
    std::optional<nn::LayerNorm> attn_norm;
    nn::Linear qkv, o, wi, wo;
    nn::LayerNorm mlp_norm;
  };

  Tensor head_out(const Tensor& x) const {  // ModernBertPredictionHead: norm(act(dense(x)))
    Tensor y = dense_(x);
    nn::activate(y, head_act_);
    head_norm_.inplace(y);
    return y;
  }

  // [B, H]: the first token ("cls"; multiple choice: the first position with the largest mask value, as
  // attention_mask.argmax) or the mean over the attended tokens ("mean").
  Tensor pool(const Tensor& h, const Tensor& attention_mask, int64_t B, int64_t S) const {
    Tensor mask = attention_mask.defined() ? attention_mask.to(DType::F32).contiguous() : Tensor();
    if (mask.defined() && mask.shape() != Shape{B, S})
      throw_error(ErrorKind::Mismatch, "attention_mask shape " + shape_str(mask.shape()) + " must be " + shape_str({B, S}));
    Tensor out = Tensor::zeros(DType::F32, {B, H_});
    const float* hp = h.data<float>();
    float* o = out.mutable_data<float>();
    for (int64_t b = 0; b < B; ++b) {
      const float* mk = mask.defined() ? mask.data<float>() + b * S : nullptr;
      if (mean_pool_) {  // (h * mask).sum(1) / mask.sum(1)
        double n = 0;
        std::vector<double> acc(static_cast<std::size_t>(H_));
        for (int64_t i = 0; i < S; ++i) {
          const float w = mk ? mk[i] : 1.0f;
          n += w;
          for (int64_t e = 0; e < H_; ++e) acc[static_cast<std::size_t>(e)] += static_cast<double>(hp[(b * S + i) * H_ + e] * w);
        }
        for (int64_t e = 0; e < H_; ++e) o[b * H_ + e] = static_cast<float>(acc[static_cast<std::size_t>(e)]) / static_cast<float>(n);
        continue;
      }
      int64_t at = 0;
      if (head_ == Head::MultipleChoice && mk)
        for (int64_t i = 1; i < S; ++i)
          if (mk[i] > mk[at]) at = i;
      std::copy_n(hp + (b * S + at) * H_, H_, o + b * H_);
    }
    return out;
  }

  Tensor run(const Tensor& ids, const ModelInputs& in, nn::StackOutputs& st) const {
    if (in.head_mask.defined())
      throw_error(ErrorKind::InvalidArgument, class_name() + " takes no head_mask (ModernBERT's forward has none)");
    const int64_t B = ids.size(0), S = ids.size(1);
    Tensor h = Tensor::zeros(DType::F32, {B, S, H_});
    embed_.gather(ids, h.mutable_data<float>(), false);
    embed_norm_.inplace(h);
    const Tensor global = nn::window_padding_bias(in.attention_mask, B, S, -1, "attention_mask");
    const Tensor local = nn::window_padding_bias(in.attention_mask, B, S, half_window_, "attention_mask");
    nn::RotaryAttention ra(global_rope_, in.position_ids, B, S, nullptr, nH_, nH_, D_, global, in.output_attentions);
    nn::AttentionOptions& ao = ra.ao;
    int64_t max_pos = 0;
    for (int64_t i = 0; i < ra.pos.numel(); ++i) max_pos = std::max(max_pos, ra.pos.data<int64_t>()[i]);
    const std::vector<float> local_inv = local_rope_.inv_freq(max_pos);
    for (int64_t l = 0; l < L_; ++l) {
      const Layer& ly = layers_[static_cast<std::size_t>(l)];
      if (in.output_hidden_states) st.hidden_states.push_back(h.clone());
      const bool sliding = sliding_[static_cast<std::size_t>(l)];
      ao.bias = nn::AttentionBias::of(sliding ? local : global);
      ao.rope = sliding ? nn::RopeHook{&local_rope_, &ra.pos, &local_inv} : nn::RopeHook{&global_rope_, &ra.pos, &ra.inv};
      ao.layer = l;
      Tensor x = h.clone();
      if (ly.attn_norm) ly.attn_norm->inplace(x);
      auto qkv = nn::split_last_dim(ly.qkv(x), {H_, H_, H_});
      nn::Attended at = nn::attend(qkv[0], qkv[1], qkv[2], ao);
      nn::add_(h, ly.o(at.context));
      Tensor y = h.clone();
      ly.mlp_norm.inplace(y);
      auto ig = nn::split_last_dim(ly.wi(y), {inter_, inter_});  // input, gate = Wi(x).chunk(2)
      nn::activate(ig[0], act_);
      nn::mul_(ig[0], ig[1]);
      nn::add_(h, ly.wo(ig[0]));
      if (in.output_attentions) st.attentions.push_back(at.probs);
    }
    final_norm_.inplace(h);
    if (in.output_hidden_states) st.hidden_states.push_back(h);
    return h;
  }

  Head head_;
  int64_t vocab_ = 0, H_ = 0, L_ = 0, nH_ = 0, D_ = 0, inter_ = 0, half_window_ = 0;
  bool mean_pool_ = false;
  nn::Activation act_ = nn::Activation::GeluErf, head_act_ = nn::Activation::GeluErf;
  std::vector<char> sliding_;
  nn::Rope global_rope_, local_rope_;
  nn::Embedding embed_;
  nn::LayerNorm embed_norm_, final_norm_, head_norm_;
  std::vector<Layer> layers_;
  nn::Linear dense_, decoder_;
  std::optional<nn::Linear> classifier_;
};

}  // namespace

Architecture modernbert_architecture() {
  // ModernBertConfig().to_dict() where it differs from PretrainedConfig; rope_parameters under the 4.x names
  // global_rope_theta / local_rope_theta, layer_types (derived) left out.
  json d = {{"vocab_size", 50368}, {"hidden_size", 768}, {"intermediate_size", 1152}, {"num_hidden_layers", 22},
            {"num_attention_heads", 12}, {"hidden_activation", "gelu"}, {"max_position_embeddings", 8192},
            {"initializer_range", 0.02}, {"initializer_cutoff_factor", 2.0}, {"norm_eps", 1e-5}, {"norm_bias", false},
            {"pad_token_id", 50283}, {"eos_token_id", 50282}, {"bos_token_id", 50281}, {"cls_token_id", 50281},
            {"sep_token_id", 50282}, {"attention_bias", false}, {"attention_dropout", 0.0},
            {"global_rope_theta", 160000.0}, {"local_rope_theta", 10000.0}, {"local_attention", 128},
            {"global_attn_every_n_layers", 3}, {"embedding_dropout", 0.0}, {"mlp_bias", false}, {"mlp_dropout", 0.0},
            {"decoder_bias", true}, {"classifier_pooling", "cls"}, {"classifier_dropout", 0.0},
            {"classifier_bias", false}, {"classifier_activation", "gelu"}, {"deterministic_flash_attn", false},
            {"sparse_prediction", false}, {"sparse_pred_ignore_index", -100}, {"tie_word_embeddings", true}};
  Architecture a{"modernbert", d, "model", {}, {}, {}};
  auto add = [&](const std::string& cls, Head h, const char* auto_cls) {
    a.classes.emplace_back(cls, [cls, h](const Config& c) { return std::make_unique<ModernBert>(cls, c, h); });
    a.auto_classes.emplace(auto_cls, cls);
  };
  add("ModernBertModel", Head::Base, "AutoModel");
  add("ModernBertForMaskedLM", Head::MaskedLM, "AutoModelForMaskedLM");
  add("ModernBertForSequenceClassification", Head::SequenceClassification, "AutoModelForSequenceClassification");
  add("ModernBertForTokenClassification", Head::TokenClassification, "AutoModelForTokenClassification");
  add("ModernBertForQuestionAnswering", Head::QuestionAnswering, "AutoModelForQuestionAnswering");
  add("ModernBertForMultipleChoice", Head::MultipleChoice, "AutoModelForMultipleChoice");
  return a;
}

}  // namespace hfx::models
