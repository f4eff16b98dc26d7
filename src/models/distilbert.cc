// DistilBERT.
// Upstream: transformers v4.46.3 src/transformers/models/distilbert/modeling_distilbert.py
// model_type "distilbert"; classes DistilBertModel, DistilBertForMaskedLM,
// DistilBertForSequenceClassification, DistilBertForTokenClassification,
// DistilBertForQuestionAnswering, DistilBertForMultipleChoice.
// Sinusoidal position embeddings are stored in the checkpoint, so they load like learned ones.
#include "models/bert.h"
#include "models/registry_entries.h"
#include "nn/heads.h"

namespace hfx::models {
namespace {

enum class Head { Base, MaskedLM, SequenceClassification, TokenClassification, QuestionAnswering, MultipleChoice };

class DistilBert final : public Model {
 public:
  DistilBert(const std::string& cls, const Config& c, Head head) : Model(cls, c, "distilbert"), head_(head) {
    BertDims d{};
    d.vocab = c.get<int64_t>("vocab_size", 0);
    d.hidden = c.get<int64_t>("dim", 0);
    d.layers = c.get<int64_t>("n_layers", 0);
    d.heads = c.get<int64_t>("n_heads", 0);
    d.intermediate = c.get<int64_t>("hidden_dim", 0);
    d.max_positions = c.get<int64_t>("max_position_embeddings", 0);
    d.embedding_size = d.hidden;
    d.eps = 1e-12f;
    d.act = nn::parse_activation(c.get<std::string>("activation", "gelu"));
    if (d.vocab <= 0 || d.hidden <= 0 || d.layers <= 0 || d.heads <= 0 || d.intermediate <= 0 || d.max_positions <= 0)
      throw_error(ErrorKind::InvalidArgument, "vocab_size, dim, n_layers, n_heads, hidden_dim and max_position_embeddings must be positive", c.source());
    dims_ = d;
    Scope r = root();
    Scope base = head == Head::Base ? r : r / "distilbert";
    Scope e = base / "embeddings";
    word_ = nn::Embedding::make(e / "word_embeddings", d.vocab, d.hidden);
    pos_ = nn::Embedding::make(e / "position_embeddings", d.max_positions, d.hidden);
    norm_ = nn::LayerNorm::make(e / "LayerNorm", d.hidden, d.eps);
    const nn::EncoderLayerNames names{"attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
                                      "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm"};
    for (int64_t i = 0; i < d.layers; ++i)
      layers_.push_back(nn::PostLNEncoderLayer::make(base / "transformer" / "layer" / i, names, d.hidden, d.heads,
                                                     d.intermediate, d.eps, d.act));
    if (head == Head::MaskedLM) {
      lm_.dense = nn::Linear::make(r / "vocab_transform", d.hidden, d.hidden);
      lm_.act = d.act;
      lm_.norm = nn::LayerNorm::make(r / "vocab_layer_norm", d.hidden, d.eps);
      lm_.decoder.in = d.hidden;
      lm_.decoder.out = d.vocab;
      lm_.decoder.w = (r / "vocab_projector").param("weight", {d.vocab, d.hidden},
                                                   c.get<bool>("tie_word_embeddings", true) ? word_.w.name() : "");
      lm_.decoder.b = (r / "vocab_projector").param("bias", {d.vocab});
    }
    if (head == Head::SequenceClassification || head == Head::MultipleChoice) {
      pre_ = nn::Linear::make(r / "pre_classifier", d.hidden, d.hidden);
      classifier_ = nn::Linear::make(r / "classifier", d.hidden, head == Head::MultipleChoice ? 1 : c.num_labels());
    }
    if (head == Head::TokenClassification) classifier_ = nn::Linear::make(r / "classifier", d.hidden, c.num_labels());
    if (head == Head::QuestionAnswering) classifier_ = nn::Linear::make(r / "qa_outputs", d.hidden, 2);
    ignored_keys_ = {base.path("embeddings.position_ids")};
    traits_.input_embeddings = word_.w.name();
    set_roles(ParamRole::Embedding, {word_.w.name(), pos_.w.name()});
    traits_.prune = {d.heads, d.hidden / d.heads, d.layers, [t = base / "transformer"](int64_t layer) {
                       const Scope a = t / "layer" / layer / "attention";
                       return AttentionModule{a.path("q_lin"), a.path("k_lin"), a.path("v_lin"), a.path("out_lin")};
                     }, {}, {}};
    if (head == Head::MaskedLM) lm_head_traits(traits_, "vocab_projector", "vocab_projector", "");
  }

  Outputs forward(const ModelInputs& in0) const override {
    ModelInputs in = in0;
    const int64_t choices = head_ == Head::MultipleChoice ? nn::flatten_choice_inputs(in) : 0;
    Tensor ids = nn::as_ids(in.input_ids, "input_ids");
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const int64_t B = ids.size(0), S = ids.size(1);
    if (S > dims_.max_positions)
      throw_error(ErrorKind::InvalidArgument, "sequence length exceeds max_position_embeddings");
    Tensor h = Tensor::zeros(DType::F32, {B, S, dims_.hidden});
    word_.gather(ids, h.mutable_data<float>(), false);
    Tensor pos = Tensor::zeros(DType::I64, {B, S});
    if (in.position_ids.defined()) {
      pos = nn::as_ids(in.position_ids, "position_ids");
    } else {
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < S; ++i) pos.mutable_data<int64_t>()[b * S + i] = i;
    }
    pos_.gather(pos, h.mutable_data<float>(), true);
    norm_.inplace(h);
    nn::AttnMask mask = nn::extended_attention_mask(in.attention_mask, B, S, false);
    auto hm = nn::per_layer_head_mask(in.head_mask, dims_.layers, dims_.heads);
    nn::StackOutputs st;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      if (in.output_hidden_states) st.hidden_states.push_back(h);
      Tensor probs;
      h = layers_[i].forward(h, mask, hm.empty() ? nullptr : hm[i].data(), in.output_attentions ? &probs : nullptr);
      if (in.output_attentions) st.attentions.push_back(probs);
    }
    if (in.output_hidden_states) st.hidden_states.push_back(h);
    auto pool = [&] {  // pre_classifier -> relu on [CLS]
      Tensor x = (*pre_)(nn::first_token(h));
      nn::activate(x, nn::Activation::Relu);
      return x;
    };
    return nn::encoder_outputs(head_, classifier_, h, nullptr, choices, st, pool,
                               [&](Outputs& out) { out.set("logits", lm_.forward(h)); });  // MaskedLM
  }

 private:
  Head head_;
  BertDims dims_{};
  nn::Embedding word_, pos_;
  nn::LayerNorm norm_;
  std::vector<nn::PostLNEncoderLayer> layers_;
  LMPredictionHead lm_;
  std::optional<nn::Linear> pre_, classifier_;
};

}  // namespace

Architecture distilbert_architecture() {
  json d = pretrained_config_defaults();
  d.update({{"vocab_size", 30522}, {"max_position_embeddings", 512}, {"sinusoidal_pos_embds", false}, {"n_layers", 6},
            {"n_heads", 12}, {"dim", 768}, {"hidden_dim", 3072}, {"dropout", 0.1}, {"attention_dropout", 0.1},
            {"activation", "gelu"}, {"initializer_range", 0.02}, {"qa_dropout", 0.1}, {"seq_classif_dropout", 0.2},
            {"pad_token_id", 0}});
  Architecture a{"distilbert", d, "distilbert", {}, {}, {}};
  auto add = [&](const std::string& cls, Head h) {
    a.classes.emplace_back(cls, [cls, h](const Config& c) { return std::make_unique<DistilBert>(cls, c, h); });
  };
  add("DistilBertModel", Head::Base);
  add("DistilBertForMaskedLM", Head::MaskedLM);
  add("DistilBertForSequenceClassification", Head::SequenceClassification);
  add("DistilBertForTokenClassification", Head::TokenClassification);
  add("DistilBertForQuestionAnswering", Head::QuestionAnswering);
  add("DistilBertForMultipleChoice", Head::MultipleChoice);
  a.auto_classes = {{"AutoModel", "DistilBertModel"},
                    {"AutoModelForMaskedLM", "DistilBertForMaskedLM"},
                    {"AutoModelForPreTraining", "DistilBertForMaskedLM"},
                    {"AutoModelForSequenceClassification", "DistilBertForSequenceClassification"},
                    {"AutoModelForTokenClassification", "DistilBertForTokenClassification"},
                    {"AutoModelForQuestionAnswering", "DistilBertForQuestionAnswering"},
                    {"AutoModelForMultipleChoice", "DistilBertForMultipleChoice"}};
  return a;
}

}  // namespace hfx::models
