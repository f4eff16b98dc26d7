// ELECTRA: BERT's encoder with a smaller embedding size (projected) and
// discriminator / generator heads.
// Upstream: transformers v4.46.3 src/transformers/models/electra/modeling_electra.py
// model_type "electra"; classes ElectraModel, ElectraForPreTraining (discriminator),
// ElectraForMaskedLM (generator), ElectraForCausalLM, ElectraForSequenceClassification,
// ElectraForTokenClassification, ElectraForQuestionAnswering, ElectraForMultipleChoice.
#include "models/bert.h"
#include "models/registry_entries.h"
#include "nn/heads.h"

namespace hfx::models {
namespace {

enum class Head { Base, PreTraining, MaskedLM, CausalLM, SequenceClassification, TokenClassification, QuestionAnswering, MultipleChoice };

class Electra final : public Model {
 public:
  Electra(const std::string& cls, const Config& c, Head head) : Model(cls, c, "electra"), head_(head) {
    BertDims d = bert_dims(c);
    Scope r = root();
    Scope base = head == Head::Base ? r : r / "electra";
    core_ = BertCore::make(base, d, false, d.embedding_size != d.hidden);
    if (head == Head::PreTraining) {
      disc_dense_ = nn::Linear::make(r / "discriminator_predictions" / "dense", d.hidden, d.hidden);
      disc_act_ = d.act;
      classifier_ = nn::Linear::make(r / "discriminator_predictions" / "dense_prediction", d.hidden, 1);
    }
    if (head == Head::MaskedLM || head == Head::CausalLM) {  // generator: dense -> gelu -> LayerNorm -> lm head
      lm_.dense = nn::Linear::make(r / "generator_predictions" / "dense", d.hidden, d.embedding_size);
      lm_.norm = nn::LayerNorm::make(r / "generator_predictions" / "LayerNorm", d.embedding_size, d.eps);
      lm_.act = nn::Activation::GeluErf;
      lm_.decoder.in = d.embedding_size;
      lm_.decoder.out = d.vocab;
      lm_.decoder.w = (r / "generator_lm_head").param("weight", {d.vocab, d.embedding_size},
                                                     d.tie_word_embeddings ? base.path("embeddings.word_embeddings.weight") : "");
      lm_.decoder.b = (r / "generator_lm_head").param("bias", {d.vocab});
    }
    if (head == Head::SequenceClassification) {  // ElectraClassificationHead
      disc_dense_ = nn::Linear::make(r / "classifier" / "dense", d.hidden, d.hidden);
      disc_act_ = nn::Activation::GeluErf;
      classifier_ = nn::Linear::make(r / "classifier" / "out_proj", d.hidden, c.num_labels());
    }
    if (head == Head::TokenClassification) classifier_ = nn::Linear::make(r / "classifier", d.hidden, c.num_labels());
    if (head == Head::QuestionAnswering) classifier_ = nn::Linear::make(r / "qa_outputs", d.hidden, 2);
    if (head == Head::MultipleChoice) {  // SequenceSummary(first, proj to hidden, gelu) + classifier
      disc_dense_ = nn::Linear::make(r / "sequence_summary" / "summary", d.hidden, d.hidden);
      disc_act_ = nn::parse_activation(c.get<std::string>("summary_activation", "gelu"));
      classifier_ = nn::Linear::make(r / "classifier", d.hidden, 1);
    }
    ignored_keys_ = {base.path("embeddings.position_ids"), base.path("embeddings.token_type_ids")};
    bert_core_traits(mutable_params(), traits_, base, d);
    if (head == Head::MaskedLM || head == Head::CausalLM) lm_head_traits(traits_, "generator_lm_head", "generator_lm_head", "");
    if (head == Head::PreTraining) traits_.loss.kind = LossKind::ElectraPreTraining;  // discriminator BCE
  }

  Outputs forward(const ModelInputs& in0) const override {
    ModelInputs in = in0;
    const int64_t choices = head_ == Head::MultipleChoice ? nn::flatten_choice_inputs(in) : 0;
    nn::StackOutputs st;
    Tensor seq = core_.forward(in, in.position_ids, st, nullptr);
    auto dense_act = [&](const Tensor& x) {
      Tensor y = (*disc_dense_)(x);
      nn::activate(y, disc_act_);
      return y;
    };
    return nn::encoder_outputs(head_, classifier_, seq, nullptr, choices, st, [&] { return dense_act(nn::first_token(seq)); },
                               [&](Outputs& out) {
                                 if (head_ == Head::PreTraining)  // discriminator: one logit a token
                                   out.set("logits", (*classifier_)(dense_act(seq)).reshape({seq.size(0), seq.size(1)}));
                                 else  // MaskedLM, CausalLM
                                   out.set("logits", lm_.forward(seq));
                               });
  }

 private:
  Head head_;
  BertCore core_;
  LMPredictionHead lm_;
  std::optional<nn::Linear> disc_dense_, classifier_;
  nn::Activation disc_act_ = nn::Activation::GeluErf;
};

}  // namespace

Architecture electra_architecture() {
  json d = bert_config_defaults();
  d.update({{"embedding_size", 128}, {"hidden_size", 256}, {"num_attention_heads", 4}, {"intermediate_size", 1024},
            {"summary_type", "first"}, {"summary_use_proj", true}, {"summary_activation", "gelu"},
            {"summary_last_dropout", 0.1}});
  Architecture a{"electra", d, "electra", {}, {}, {}};
  auto add = [&](const std::string& cls, Head h) {
    a.classes.emplace_back(cls, [cls, h](const Config& c) { return std::make_unique<Electra>(cls, c, h); });
  };
  add("ElectraModel", Head::Base);
  add("ElectraForPreTraining", Head::PreTraining);
  add("ElectraForMaskedLM", Head::MaskedLM);
  add("ElectraForCausalLM", Head::CausalLM);
  add("ElectraForSequenceClassification", Head::SequenceClassification);
  add("ElectraForTokenClassification", Head::TokenClassification);
  add("ElectraForQuestionAnswering", Head::QuestionAnswering);
  add("ElectraForMultipleChoice", Head::MultipleChoice);
  a.auto_classes = {{"AutoModel", "ElectraModel"},
                    {"AutoModelForPreTraining", "ElectraForPreTraining"},
                    {"AutoModelForMaskedLM", "ElectraForMaskedLM"},
                    {"AutoModelForCausalLM", "ElectraForCausalLM"},
                    {"AutoModelForSequenceClassification", "ElectraForSequenceClassification"},
                    {"AutoModelForTokenClassification", "ElectraForTokenClassification"},
                    {"AutoModelForQuestionAnswering", "ElectraForQuestionAnswering"},
                    {"AutoModelForMultipleChoice", "ElectraForMultipleChoice"}};
  return a;
}

}  // namespace hfx::models
