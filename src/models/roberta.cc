// RoBERTa: BERT's encoder with padding-aware position ids and its own heads.
// Upstream: transformers v4.46.3 src/transformers/models/roberta/modeling_roberta.py
// model_type "roberta"; classes RobertaModel, RobertaForMaskedLM, RobertaForCausalLM,
// RobertaForSequenceClassification, RobertaForTokenClassification,
// RobertaForQuestionAnswering, RobertaForMultipleChoice.
#include "models/roberta.h"

#include "models/bert.h"
#include "models/registry_entries.h"
#include "nn/heads.h"

namespace hfx::models {

Tensor roberta_position_ids(const Tensor& ids, int64_t pad) {
  Tensor pos = Tensor::zeros(DType::I64, ids.shape());
  const int64_t B = ids.size(0), S = ids.size(1);
  const int64_t* p = ids.data<int64_t>();
  int64_t* o = pos.mutable_data<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    int64_t run = 0;
    for (int64_t i = 0; i < S; ++i) {
      const bool keep = p[b * S + i] != pad;
      run += keep;
      o[b * S + i] = keep ? run + pad : pad;
    }
  }
  return pos;
}

namespace {

enum class Head { Base, MaskedLM, CausalLM, SequenceClassification, TokenClassification, QuestionAnswering, MultipleChoice };

class Roberta final : public Model {
 public:
  Roberta(const std::string& cls, const Config& c, Head head) : Model(cls, c, "roberta"), head_(head) {
    BertDims d = bert_dims(c);
    pad_ = c.get<int64_t>("pad_token_id", 1);
    const bool pool = head == Head::Base || head == Head::MultipleChoice;
    Scope r = root();
    Scope base = head == Head::Base ? r : r / "roberta";
    core_ = BertCore::make(base, d, pool);
    if (head == Head::MaskedLM || head == Head::CausalLM) {
      Scope p = r / "lm_head";
      lm_.dense = nn::Linear::make(p / "dense", d.hidden, d.hidden);
      lm_.norm = nn::LayerNorm::make(p / "layer_norm", d.hidden, d.eps);
      lm_.act = nn::Activation::GeluErf;  // RobertaLMHead always uses gelu
      Param bias = p.param("bias", {d.vocab});
      lm_.decoder.in = d.hidden;
      lm_.decoder.out = d.vocab;
      lm_.decoder.w = (p / "decoder").param("weight", {d.vocab, d.hidden},
                                           d.tie_word_embeddings ? base.path("embeddings.word_embeddings.weight") : "");
      lm_.decoder.b = (p / "decoder").param("bias", {d.vocab}, bias.name());
    }
    if (head == Head::SequenceClassification) {  // RobertaClassificationHead
      cls_dense_ = nn::Linear::make(r / "classifier" / "dense", d.hidden, d.hidden);
      classifier_ = nn::Linear::make(r / "classifier" / "out_proj", d.hidden, c.num_labels());
    }
    if (head == Head::TokenClassification) classifier_ = nn::Linear::make(r / "classifier", d.hidden, c.num_labels());
    if (head == Head::MultipleChoice) classifier_ = nn::Linear::make(r / "classifier", d.hidden, 1);
    if (head == Head::QuestionAnswering) classifier_ = nn::Linear::make(r / "qa_outputs", d.hidden, 2);
    ignored_keys_ = {base.path("embeddings.position_ids"), base.path("embeddings.token_type_ids")};
    bert_core_traits(mutable_params(), traits_, base, d);
    if (head == Head::MaskedLM || head == Head::CausalLM) lm_head_traits(traits_, "lm_head", "lm_head");
  }

  Outputs forward(const ModelInputs& in0) const override {
    ModelInputs in = in0;
    const int64_t choices = head_ == Head::MultipleChoice ? nn::flatten_choice_inputs(in) : 0;
    Tensor pos = in.position_ids;
    if (!pos.defined()) pos = roberta_position_ids(nn::as_ids(in.input_ids, "input_ids"), pad_);
    nn::StackOutputs st;
    Tensor pooled;
    Tensor seq = core_.forward(in, pos, st, &pooled);
    auto pool = [&] {
      if (head_ != Head::SequenceClassification) return pooled;  // multiple choice: the pooler
      Tensor x = (*cls_dense_)(nn::first_token(seq));  // RobertaClassificationHead: dense -> tanh -> out_proj on <s>
      nn::activate(x, nn::Activation::Tanh);
      return x;
    };
    return nn::encoder_outputs(head_, classifier_, seq, &pooled, choices, st, pool,
                               [&](Outputs& out) { out.set("logits", lm_.forward(seq)); });  // MaskedLM, CausalLM
  }

 private:
  Head head_;
  int64_t pad_ = 1;
  BertCore core_;
  LMPredictionHead lm_;
  std::optional<nn::Linear> cls_dense_, classifier_;
};

}  // namespace

Architecture roberta_like_architecture(const std::string& model_type, const std::string& family, json defaults) {
  Architecture a{model_type, std::move(defaults), "roberta", {}, {}, {}};
  auto add = [&](const std::string& suffix, Head h) {
    const std::string cls = family + suffix;
    a.classes.emplace_back(cls, [cls, h](const Config& c) { return std::make_unique<Roberta>(cls, c, h); });
  };
  add("Model", Head::Base);
  add("ForMaskedLM", Head::MaskedLM);
  add("ForCausalLM", Head::CausalLM);
  add("ForSequenceClassification", Head::SequenceClassification);
  add("ForTokenClassification", Head::TokenClassification);
  add("ForQuestionAnswering", Head::QuestionAnswering);
  add("ForMultipleChoice", Head::MultipleChoice);
  a.auto_classes = {{"AutoModel", family + "Model"},
                    {"AutoModelForMaskedLM", family + "ForMaskedLM"},
                    {"AutoModelForPreTraining", family + "ForMaskedLM"},
                    {"AutoModelForCausalLM", family + "ForCausalLM"},
                    {"AutoModelForSequenceClassification", family + "ForSequenceClassification"},
                    {"AutoModelForTokenClassification", family + "ForTokenClassification"},
                    {"AutoModelForQuestionAnswering", family + "ForQuestionAnswering"},
                    {"AutoModelForMultipleChoice", family + "ForMultipleChoice"}};
  return a;
}

Architecture roberta_architecture() {
  json d = bert_config_defaults();
  d.update({{"vocab_size", 50265}, {"pad_token_id", 1}, {"bos_token_id", 0}, {"eos_token_id", 2}});
  return roberta_like_architecture("roberta", "Roberta", d);
}

}  // namespace hfx::models
