// MPNet: a BERT-shaped post-LN encoder whose self-attention adds one relative
// position bias (T5's bidirectional buckets, computed once and shared by every
// layer), with RoBERTa's padding-aware position ids and heads.
// Upstream: transformers v4.46.3 src/transformers/models/mpnet/modeling_mpnet.py
// model_type "mpnet"; classes MPNetModel, MPNetForMaskedLM, MPNetForSequenceClassification,
// MPNetForMultipleChoice, MPNetForTokenClassification, MPNetForQuestionAnswering.
// As upstream: the position ids count from MPNetEmbeddings.padding_idx = 1 whatever
// pad_token_id says, and MPNetEncoder.compute_position_bias buckets with its default
// num_buckets = 32 whatever relative_attention_num_buckets says (that only sizes the table).
#include "models/bert.h"
#include "models/registry_entries.h"
#include "models/roberta.h"
#include "nn/heads.h"
#include "nn/seq2seq.h"

namespace hfx::models {
namespace {

enum class Head { Base, MaskedLM, SequenceClassification, TokenClassification, QuestionAnswering, MultipleChoice };

constexpr int64_t kPaddingIdx = 1;       // MPNetEmbeddings.padding_idx
constexpr int64_t kBuckets = 32;         // compute_position_bias(num_buckets=32)
constexpr int64_t kMaxDistance = 128;    // relative_position_bucket(max_distance=128)

class MPNet final : public Model {
 public:
  MPNet(const std::string& cls, const Config& c, Head head) : Model(cls, c, "mpnet"), head_(head) {
    d_ = bert_dims(c);
    const int64_t rel = c.get<int64_t>("relative_attention_num_buckets", 32);
    if (rel <= 0) throw_error(ErrorKind::InvalidArgument, "config field relative_attention_num_buckets must be positive", c.source());
    const bool pool = head == Head::Base || head == Head::MultipleChoice;
    Scope r = root();
    Scope base = head == Head::Base ? r : r / "mpnet";
    embeddings_ = BertEmbeddings::make(base / "embeddings", d_);
    const nn::EncoderLayerNames names{"attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o",
                                      "attention.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"};
    for (int64_t i = 0; i < d_.layers; ++i)
      layers_.push_back(nn::PostLNEncoderLayer::make(base / "encoder" / "layer" / i, names, d_.hidden, d_.heads, d_.intermediate,
                                                     d_.eps, d_.act));
    rel_bias_ = (base / "encoder" / "relative_attention_bias").param("weight", {rel, d_.heads});
    if (pool) pooler_ = nn::Linear::make(base / "pooler" / "dense", d_.hidden, d_.hidden);
    if (head == Head::MaskedLM) {  // MPNetLMHead: dense -> gelu -> layer_norm -> decoder (+ bias)
      Scope p = r / "lm_head";
      lm_.dense = nn::Linear::make(p / "dense", d_.hidden, d_.hidden);
      lm_.norm = nn::LayerNorm::make(p / "layer_norm", d_.hidden, d_.eps);
      lm_.act = nn::Activation::GeluErf;
      Param bias = p.param("bias", {d_.vocab});
      lm_.decoder.in = d_.hidden;
      lm_.decoder.out = d_.vocab;
      lm_.decoder.w = (p / "decoder").param("weight", {d_.vocab, d_.hidden},
                                            d_.tie_word_embeddings ? base.path("embeddings.word_embeddings.weight") : "");
      lm_.decoder.b = (p / "decoder").param("bias", {d_.vocab}, bias.name());
    }
    if (head == Head::SequenceClassification) {  // MPNetClassificationHead
      cls_dense_ = nn::Linear::make(r / "classifier" / "dense", d_.hidden, d_.hidden);
      classifier_ = nn::Linear::make(r / "classifier" / "out_proj", d_.hidden, c.num_labels());
    }
    if (head == Head::TokenClassification) classifier_ = nn::Linear::make(r / "classifier", d_.hidden, c.num_labels());
    if (head == Head::MultipleChoice) classifier_ = nn::Linear::make(r / "classifier", d_.hidden, 1);
    if (head == Head::QuestionAnswering) classifier_ = nn::Linear::make(r / "qa_outputs", d_.hidden, 2);
    ignored_keys_ = {base.path("embeddings.position_ids")};
    const Scope e = base / "embeddings";
    traits_.input_embeddings = e.path("word_embeddings.weight");
    mutable_params().set_role(traits_.input_embeddings, ParamRole::Embedding);
    mutable_params().set_role(e.path("position_embeddings.weight"), ParamRole::Embedding);
    mutable_params().set_role(rel_bias_.name(), ParamRole::Embedding);
    // MPNetModel._prune_heads shrinks q/k/v/o, but the shared position bias keeps every head, so 4.46's
    // forward fails ("size of tensor a must match") on any pruned layer: refused here.
    traits_.prune.unsupported =
        "MPNet's relative position bias is shared by every layer with all heads; transformers' forward fails after prune_heads";
    if (head == Head::MaskedLM) lm_head_traits(traits_, "lm_head", "lm_head");
  }

  Outputs forward(const ModelInputs& in0) const override {
    ModelInputs in = in0;
    const int64_t choices = head_ == Head::MultipleChoice ? nn::flatten_choice_inputs(in) : 0;
    Tensor ids = nn::as_ids(in.input_ids, "input_ids");
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const int64_t B = ids.size(0), S = ids.size(1);
    Tensor pos = in.position_ids.defined() ? in.position_ids : roberta_position_ids(ids, kPaddingIdx);
    Tensor h = embeddings_.forward(ids, Tensor(), pos);
    // The shared bias: table[bucket(j - i), h] + the extended mask (finfo.min on padded keys), [B, H, S, S].
    nn::AttnMask mask = nn::extended_attention_mask(in.attention_mask, B, S, false);
    Tensor pb = Tensor::zeros(DType::F32, {1, d_.heads, S, S});
    nn::add_relative_position_bias(pb, *rel_bias_, 0, true, kBuckets, kMaxDistance);
    Tensor bias = Tensor::zeros(DType::F32, {B, d_.heads, S, S});
    float* o = bias.mutable_data<float>();
    const float* m = mask.data();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t hh = 0; hh < d_.heads; ++hh)
        for (int64_t i = 0; i < S; ++i)
          for (int64_t j = 0; j < S; ++j)
            o[((b * d_.heads + hh) * S + i) * S + j] =
                pb.data<float>()[(hh * S + i) * S + j] + (m ? m[b * mask.batch_stride() + i * mask.query_stride() + j] : 0.0f);
    nn::StackOutputs st;
    auto hm = nn::per_layer_head_mask(in.head_mask, d_.layers, d_.heads);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      if (in.output_hidden_states) st.hidden_states.push_back(h);
      Tensor probs;
      h = layers_[i].forward(h, mask, hm.empty() ? nullptr : hm[i].data(), in.output_attentions ? &probs : nullptr, &bias);
      if (in.output_attentions) st.attentions.push_back(probs);
    }
    if (in.output_hidden_states) st.hidden_states.push_back(h);
    Tensor pooled;
    if (pooler_) {
      pooled = (*pooler_)(nn::first_token(h));
      nn::activate(pooled, nn::Activation::Tanh);
    }
    auto pool = [&] {
      if (head_ != Head::SequenceClassification) return pooled;  // multiple choice: the pooler
      Tensor x = (*cls_dense_)(nn::first_token(h));              // MPNetClassificationHead: dense -> tanh -> out_proj
      nn::activate(x, nn::Activation::Tanh);
      return x;
    };
    return nn::encoder_outputs(head_, classifier_, h, pooler_ ? &pooled : nullptr, choices, st, pool,
                               [&](Outputs& out) { out.set("logits", lm_.forward(h)); });  // MaskedLM
  }

 private:
  Head head_;
  BertDims d_{};
  BertEmbeddings embeddings_;
  std::vector<nn::PostLNEncoderLayer> layers_;
  Param rel_bias_;
  std::optional<nn::Linear> pooler_;
  LMPredictionHead lm_;
  std::optional<nn::Linear> cls_dense_, classifier_;
};

}  // namespace

Architecture mpnet_architecture() {
  // MPNetConfig().to_dict() (transformers 4.46.3); no type_vocab_size: MPNet has no token types.
  json d = pretrained_config_defaults();
  d.update({{"vocab_size", 30527}, {"hidden_size", 768}, {"num_hidden_layers", 12}, {"num_attention_heads", 12},
            {"intermediate_size", 3072}, {"hidden_act", "gelu"}, {"hidden_dropout_prob", 0.1},
            {"attention_probs_dropout_prob", 0.1}, {"max_position_embeddings", 512}, {"initializer_range", 0.02},
            {"layer_norm_eps", 1e-12}, {"relative_attention_num_buckets", 32}, {"pad_token_id", 1},
            {"bos_token_id", 0}, {"eos_token_id", 2}});
  Architecture a{"mpnet", d, "mpnet", {}, {}, {}};
  auto add = [&](const std::string& cls, Head h) {
    a.classes.emplace_back(cls, [cls, h](const Config& c) { return std::make_unique<MPNet>(cls, c, h); });
  };
  add("MPNetModel", Head::Base);
  add("MPNetForMaskedLM", Head::MaskedLM);
  add("MPNetForSequenceClassification", Head::SequenceClassification);
  add("MPNetForMultipleChoice", Head::MultipleChoice);
  add("MPNetForTokenClassification", Head::TokenClassification);
  add("MPNetForQuestionAnswering", Head::QuestionAnswering);
  a.auto_classes = {{"AutoModel", "MPNetModel"},
                    {"AutoModelForMaskedLM", "MPNetForMaskedLM"},
                    {"AutoModelForPreTraining", "MPNetForMaskedLM"},
                    {"AutoModelForSequenceClassification", "MPNetForSequenceClassification"},
                    {"AutoModelForMultipleChoice", "MPNetForMultipleChoice"},
                    {"AutoModelForTokenClassification", "MPNetForTokenClassification"},
                    {"AutoModelForQuestionAnswering", "MPNetForQuestionAnswering"}};
  return a;
}

}  // namespace hfx::models
