// ALBERT: factorised embeddings and cross-layer parameter sharing (layer groups).
// Upstream: transformers v4.46.3 src/transformers/models/albert/modeling_albert.py
// model_type "albert"; classes AlbertModel, AlbertForMaskedLM, AlbertForPreTraining,
// AlbertForSequenceClassification, AlbertForTokenClassification,
// AlbertForQuestionAnswering, AlbertForMultipleChoice.
#include "models/bert.h"
#include "models/registry_entries.h"
#include "nn/heads.h"

namespace hfx::models {
namespace {

enum class Head { Base, MaskedLM, PreTraining, SequenceClassification, TokenClassification, QuestionAnswering, MultipleChoice };

class Albert final : public Model {
 public:
  Albert(const std::string& cls, const Config& c, Head head) : Model(cls, c, "albert"), head_(head) {
    BertDims d = bert_dims(c);
    dims_ = d;
    groups_ = c.get<int64_t>("num_hidden_groups", 1);
    inner_ = c.get<int64_t>("inner_group_num", 1);
    if (groups_ <= 0 || inner_ <= 0 || d.layers % groups_ != 0)
      throw_error(ErrorKind::InvalidArgument, "num_hidden_groups must divide num_hidden_layers and inner_group_num must be positive", c.source());
    const bool pool = head == Head::Base || head == Head::PreTraining || head == Head::SequenceClassification ||
                      head == Head::MultipleChoice;
    Scope r = root();
    Scope base = head == Head::Base ? r : r / "albert";
    embeddings_ = BertEmbeddings::make(base / "embeddings", d);
    mapping_ = nn::Linear::make(base / "encoder" / "embedding_hidden_mapping_in", d.embedding_size, d.hidden);
    const nn::EncoderLayerNames names{"attention.query", "attention.key", "attention.value", "attention.dense",
                                      "attention.LayerNorm", "ffn", "ffn_output", "full_layer_layer_norm"};
    for (int64_t g = 0; g < groups_; ++g)
      for (int64_t j = 0; j < inner_; ++j)
        layers_.push_back(nn::PostLNEncoderLayer::make(base / "encoder" / "albert_layer_groups" / g / "albert_layers" / j,
                                                       names, d.hidden, d.heads, d.intermediate, d.eps, d.act));
    if (pool) pooler_ = nn::Linear::make(base / "pooler", d.hidden, d.hidden);
    if (head == Head::MaskedLM || head == Head::PreTraining) {  // AlbertMLMHead
      Scope p = r / "predictions";
      lm_.norm = nn::LayerNorm::make(p / "LayerNorm", d.embedding_size, d.eps);
      Param bias = p.param("bias", {d.vocab});
      lm_.dense = nn::Linear::make(p / "dense", d.hidden, d.embedding_size);
      lm_.act = d.act;
      lm_.decoder.in = d.embedding_size;
      lm_.decoder.out = d.vocab;
      lm_.decoder.w = (p / "decoder").param("weight", {d.vocab, d.embedding_size},
                                           d.tie_word_embeddings ? embeddings_.word.w.name() : "");
      lm_.decoder.b = (p / "decoder").param("bias", {d.vocab}, bias.name());
    }
    if (head == Head::PreTraining) classifier_ = nn::Linear::make(r / "sop_classifier" / "classifier", d.hidden, 2);
    if (head == Head::SequenceClassification || head == Head::TokenClassification)
      classifier_ = nn::Linear::make(r / "classifier", d.hidden, c.num_labels());
    if (head == Head::MultipleChoice) classifier_ = nn::Linear::make(r / "classifier", d.hidden, 1);
    if (head == Head::QuestionAnswering) classifier_ = nn::Linear::make(r / "qa_outputs", d.hidden, 2);
    ignored_keys_ = {base.path("embeddings.position_ids"), base.path("embeddings.token_type_ids")};
    // BertCore's embeddings; prune_heads addresses the (group, inner layer) pairs
    // flattened: layer = group * inner_group_num + inner (AlbertModel._prune_heads).
    bert_core_traits(mutable_params(), traits_, base, d);
    traits_.prune.layers = groups_ * inner_;
    traits_.prune.layers_note = "distinct ALBERT layers = num_hidden_groups x inner_group_num";
    traits_.prune.attention = [enc = base / "encoder", inner = inner_](int64_t layer) {
      const Scope a = enc / "albert_layer_groups" / (layer / inner) / "albert_layers" / (layer % inner) / "attention";
      return AttentionModule{a.path("query"), a.path("key"), a.path("value"), a.path("dense")};
    };
    if (head == Head::MaskedLM || head == Head::PreTraining) {  // TFAlbertMLMHead.get_bias: bias and decoder_bias
      lm_head_traits(traits_, "predictions", "");
      traits_.lm_head.bias.emplace_back("decoder_bias", "predictions.decoder.bias");
    }
    if (head == Head::PreTraining) traits_.loss.kind = LossKind::AlbertPreTraining;  // MLM + sentence order
  }

  Outputs forward(const ModelInputs& in0) const override {
    ModelInputs in = in0;
    const int64_t choices = head_ == Head::MultipleChoice ? nn::flatten_choice_inputs(in) : 0;
    Tensor ids = nn::as_ids(in.input_ids, "input_ids");
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const int64_t B = ids.size(0), S = ids.size(1);
    if (S > dims_.max_positions) throw_error(ErrorKind::InvalidArgument, "sequence length exceeds max_position_embeddings");
    Tensor h = mapping_(embeddings_.forward(ids, in.token_type_ids, in.position_ids));
    nn::AttnMask mask = nn::extended_attention_mask(in.attention_mask, B, S, false);
    auto hm = nn::per_layer_head_mask(in.head_mask, dims_.layers, dims_.heads);
    nn::StackOutputs st;
    if (in.output_hidden_states) st.hidden_states.push_back(h);
    const int64_t per_group = dims_.layers / groups_;
    for (int64_t i = 0; i < dims_.layers; ++i) {
      const int64_t g = i / per_group;
      for (int64_t j = 0; j < inner_; ++j) {
        // Upstream quirk kept: group g's inner layer j uses head_mask[g * per_group + j].
        const std::size_t hm_idx = static_cast<std::size_t>(g * per_group + j);
        Tensor probs;
        h = layers_[static_cast<std::size_t>(g * inner_ + j)].forward(
            h, mask, hm.empty() || hm_idx >= hm.size() ? nullptr : hm[hm_idx].data(), in.output_attentions ? &probs : nullptr);
        if (in.output_attentions) st.attentions.push_back(probs);
      }
      if (in.output_hidden_states) st.hidden_states.push_back(h);
    }
    Tensor pooled;
    if (pooler_) {
      pooled = (*pooler_)(nn::first_token(h));
      nn::activate(pooled, nn::Activation::Tanh);
    }
    return nn::encoder_outputs(head_, classifier_, h, &pooled, choices, st, [&] { return pooled; }, [&](Outputs& out) {
      if (head_ == Head::MaskedLM) out.set("logits", lm_.forward(h));
      if (head_ == Head::PreTraining) {
        out.set("prediction_logits", lm_.forward(h));
        out.set("sop_logits", (*classifier_)(pooled));
      }
    });
  }

 private:
  Head head_;
  BertDims dims_{};
  int64_t groups_ = 1, inner_ = 1;
  BertEmbeddings embeddings_;
  nn::Linear mapping_;
  std::vector<nn::PostLNEncoderLayer> layers_;
  std::optional<nn::Linear> pooler_, classifier_;
  LMPredictionHead lm_;
};

}  // namespace

Architecture albert_architecture() {
  json d = pretrained_config_defaults();
  d.update({{"vocab_size", 30000}, {"embedding_size", 128}, {"hidden_size", 4096}, {"num_hidden_layers", 12},
            {"num_hidden_groups", 1}, {"num_attention_heads", 64}, {"intermediate_size", 16384}, {"inner_group_num", 1},
            {"hidden_act", "gelu_new"}, {"hidden_dropout_prob", 0}, {"attention_probs_dropout_prob", 0},
            {"max_position_embeddings", 512}, {"type_vocab_size", 2}, {"initializer_range", 0.02},
            {"layer_norm_eps", 1e-12}, {"classifier_dropout_prob", 0.1}, {"position_embedding_type", "absolute"},
            {"pad_token_id", 0}, {"bos_token_id", 2}, {"eos_token_id", 3}});
  Architecture a{"albert", d, "albert", {}, {}, {}};
  // hfx convert albert (convert_albert_original_tf_checkpoint_to_pytorch.py): --config required, one weight file.
  a.convert.name = "albert";
  a.convert.config_required = true;
  a.convert.output = ConvertTraits::Output::StateDictFile;
  auto add = [&](const std::string& cls, Head h) {
    a.classes.emplace_back(cls, [cls, h](const Config& c) { return std::make_unique<Albert>(cls, c, h); });
  };
  add("AlbertModel", Head::Base);
  add("AlbertForMaskedLM", Head::MaskedLM);
  add("AlbertForPreTraining", Head::PreTraining);
  add("AlbertForSequenceClassification", Head::SequenceClassification);
  add("AlbertForTokenClassification", Head::TokenClassification);
  add("AlbertForQuestionAnswering", Head::QuestionAnswering);
  add("AlbertForMultipleChoice", Head::MultipleChoice);
  a.auto_classes = {{"AutoModel", "AlbertModel"},
                    {"AutoModelForMaskedLM", "AlbertForMaskedLM"},
                    {"AutoModelForPreTraining", "AlbertForPreTraining"},
                    {"AutoModelForSequenceClassification", "AlbertForSequenceClassification"},
                    {"AutoModelForTokenClassification", "AlbertForTokenClassification"},
                    {"AutoModelForQuestionAnswering", "AlbertForQuestionAnswering"},
                    {"AutoModelForMultipleChoice", "AlbertForMultipleChoice"}};
  return a;
}

}  // namespace hfx::models
