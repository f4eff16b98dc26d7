// BERT: BertModel and its heads.
// Upstream: transformers v4.46.3 src/transformers/models/bert/modeling_bert.py
// model_type "bert"; classes BertModel, BertForMaskedLM, BertForSequenceClassification,
// BertForTokenClassification, BertForQuestionAnswering, BertForPreTraining,
// BertForNextSentencePrediction, BertLMHeadModel, BertForMultipleChoice.
// Deviations: inference only (dropout is identity); absolute position embeddings only;
// no cross-attention / KV cache yet.
#include "models/bert.h"

#include "models/registry_entries.h"
#include "nn/heads.h"

namespace hfx::models {

json pretrained_config_defaults() {
  return {{"is_decoder", false}, {"add_cross_attention", false}, {"tie_word_embeddings", true},
          {"is_encoder_decoder", false}, {"output_hidden_states", false}, {"output_attentions", false}};
}

json bert_config_defaults() {
  json d = pretrained_config_defaults();
  d.update({{"vocab_size", 30522}, {"hidden_size", 768}, {"num_hidden_layers", 12}, {"num_attention_heads", 12},
            {"intermediate_size", 3072}, {"hidden_act", "gelu"}, {"hidden_dropout_prob", 0.1},
            {"attention_probs_dropout_prob", 0.1}, {"max_position_embeddings", 512}, {"type_vocab_size", 2},
            {"initializer_range", 0.02}, {"layer_norm_eps", 1e-12}, {"pad_token_id", 0},
            {"position_embedding_type", "absolute"}, {"use_cache", true}, {"classifier_dropout", nullptr}});
  return d;
}

BertDims bert_dims(const Config& c) {
  BertDims d{};
  d.vocab = c.get<int64_t>("vocab_size", 0);
  d.hidden = c.get<int64_t>("hidden_size", 0);
  d.layers = c.get<int64_t>("num_hidden_layers", 0);
  d.heads = c.get<int64_t>("num_attention_heads", 0);
  d.intermediate = c.get<int64_t>("intermediate_size", 0);
  d.max_positions = c.get<int64_t>("max_position_embeddings", 0);
  // -1: the architecture has no token types. 0 is kept as transformers keeps it: a 0-row
  // token_type_embeddings that refuses every token type id at forward time.
  d.type_vocab = c.has("type_vocab_size") ? c.get<int64_t>("type_vocab_size", 0) : -1;
  if (d.type_vocab < -1 || (d.type_vocab == -1 && c.has("type_vocab_size")))
    throw_error(ErrorKind::Format, "type_vocab_size must be >= 0", c.source());
  d.embedding_size = c.get<int64_t>("embedding_size", d.hidden);
  d.eps = static_cast<float>(c.get<double>("layer_norm_eps", 1e-12));
  d.act = nn::parse_activation(c.get<std::string>("hidden_act", "gelu"));
  d.is_decoder = c.get<bool>("is_decoder", false);
  d.tie_word_embeddings = c.get<bool>("tie_word_embeddings", true);
  for (auto [name, v] : {std::pair{"vocab_size", d.vocab}, {"hidden_size", d.hidden}, {"num_hidden_layers", d.layers},
                         {"num_attention_heads", d.heads}, {"intermediate_size", d.intermediate},
                         {"max_position_embeddings", d.max_positions}, {"embedding_size", d.embedding_size}})
    if (v <= 0) throw_error(ErrorKind::InvalidArgument, std::string("config field ") + name + " must be positive", c.source());
  if (d.hidden % d.heads != 0)
    throw_error(ErrorKind::InvalidArgument, "hidden_size " + std::to_string(d.hidden) +
                                                " is not a multiple of num_attention_heads " + std::to_string(d.heads), c.source());
  std::string pet = c.get<std::string>("position_embedding_type", "absolute");
  if (pet != "absolute")
    throw_error(ErrorKind::Unsupported, "position_embedding_type '" + pet + "' is not supported (only 'absolute')", c.source());
  if (c.get<bool>("add_cross_attention", false))
    throw_error(ErrorKind::Unsupported, "add_cross_attention is not supported yet", c.source());
  return d;
}

BertEmbeddings BertEmbeddings::make(const Scope& s, const BertDims& d) {
  BertEmbeddings e;
  e.word = nn::Embedding::make(s / "word_embeddings", d.vocab, d.embedding_size);
  e.position = nn::Embedding::make(s / "position_embeddings", d.max_positions, d.embedding_size);
  if (d.type_vocab >= 0) e.token_type = nn::Embedding::make(s / "token_type_embeddings", d.type_vocab, d.embedding_size);
  e.norm = nn::LayerNorm::make(s / "LayerNorm", d.embedding_size, d.eps);
  return e;
}

Tensor BertEmbeddings::forward(const Tensor& ids, const Tensor& token_type_ids, const Tensor& position_ids) const {
  const int64_t B = ids.size(0), S = ids.size(1);
  Tensor h = Tensor::zeros(DType::F32, {B, S, word.dim});
  word.gather(ids, h.mutable_data<float>(), false);
  if (token_type.w.valid()) {
    Tensor tt = token_type_ids.defined() ? nn::as_ids(token_type_ids, "token_type_ids") : Tensor::zeros(DType::I64, {B, S});
    if (tt.shape() != ids.shape()) throw_error(ErrorKind::Mismatch, "token_type_ids shape " + shape_str(tt.shape()) + " != input_ids " + shape_str(ids.shape()));
    token_type.gather(tt, h.mutable_data<float>(), true);
  }
  Tensor pos = position_ids;
  if (!pos.defined()) {
    pos = Tensor::zeros(DType::I64, {B, S});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < S; ++i) pos.mutable_data<int64_t>()[b * S + i] = i;
  } else {
    pos = nn::as_ids(pos, "position_ids");
    if (pos.dim() == 1) pos = pos.reshape({1, S});
    if (pos.size(0) == 1 && B > 1) {  // broadcast [1, S]
      Tensor full = Tensor::zeros(DType::I64, {B, S});
      for (int64_t b = 0; b < B; ++b) std::copy_n(pos.data<int64_t>(), S, full.mutable_data<int64_t>() + b * S);
      pos = full;
    }
    if (pos.shape() != ids.shape()) throw_error(ErrorKind::Mismatch, "position_ids shape " + shape_str(pos.shape()) + " != input_ids " + shape_str(ids.shape()));
  }
  position.gather(pos, h.mutable_data<float>(), true);
  norm.inplace(h);
  return h;
}

BertEncoder BertEncoder::make(const Scope& s, const BertDims& d) {
  BertEncoder enc;
  const nn::EncoderLayerNames names{"attention.self.query", "attention.self.key", "attention.self.value",
                                    "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                                    "output.dense", "output.LayerNorm"};
  for (int64_t i = 0; i < d.layers; ++i)
    enc.layers.push_back(nn::PostLNEncoderLayer::make(s / "layer" / i, names, d.hidden, d.heads, d.intermediate, d.eps, d.act));
  return enc;
}

Tensor BertEncoder::forward(Tensor h, const nn::AttnMask& mask, const Tensor& head_mask, bool hidden, bool attn,
                            nn::StackOutputs& st) const {
  const int64_t L = static_cast<int64_t>(layers.size());
  auto hm = nn::per_layer_head_mask(head_mask, L, layers.empty() ? 0 : layers[0].heads);
  for (int64_t i = 0; i < L; ++i) {
    if (hidden) st.hidden_states.push_back(h);
    Tensor probs;
    h = layers[static_cast<std::size_t>(i)].forward(h, mask, hm.empty() ? nullptr : hm[static_cast<std::size_t>(i)].data(),
                                                    attn ? &probs : nullptr);
    if (attn) st.attentions.push_back(probs);
  }
  if (hidden) st.hidden_states.push_back(h);
  return h;
}

BertCore BertCore::make(const Scope& s, const BertDims& d, bool with_pooler, bool with_projection) {
  BertCore c{d, BertEmbeddings::make(s / "embeddings", d), std::nullopt, {}, std::nullopt};
  if (with_projection) c.project = nn::Linear::make(s / "embeddings_project", d.embedding_size, d.hidden);
  c.encoder = BertEncoder::make(s / "encoder", d);
  if (with_pooler) c.pooler = nn::Linear::make(s / "pooler" / "dense", d.hidden, d.hidden);
  return c;
}

Tensor BertCore::forward(const ModelInputs& in, const Tensor& position_ids, nn::StackOutputs& st, Tensor* pooled) const {
  Tensor ids = nn::as_ids(in.input_ids, "input_ids");
  if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
  const int64_t B = ids.size(0), S = ids.size(1);
  if (S > dims.max_positions)
    throw_error(ErrorKind::InvalidArgument, "sequence length " + std::to_string(S) + " exceeds max_position_embeddings " +
                                                std::to_string(dims.max_positions));
  Tensor h = embeddings.forward(ids, in.token_type_ids, position_ids);
  if (project) h = (*project)(h);
  nn::AttnMask mask = nn::extended_attention_mask(in.attention_mask, B, S, dims.is_decoder);
  h = encoder.forward(h, mask, in.head_mask, in.output_hidden_states, in.output_attentions, st);
  if (pooler && pooled) {
    *pooled = (*pooler)(nn::first_token(h));
    nn::activate(*pooled, nn::Activation::Tanh);
  }
  return h;
}

void bert_core_traits(ParamTable& t, ModelTraits& traits, const Scope& base, const BertDims& d) {
  const Scope e = base / "embeddings";
  traits.input_embeddings = e.path("word_embeddings.weight");
  t.set_role(traits.input_embeddings, ParamRole::Embedding);
  t.set_role(e.path("position_embeddings.weight"), ParamRole::Embedding);
  if (d.type_vocab > 0) t.set_role(e.path("token_type_embeddings.weight"), ParamRole::Embedding);
  traits.prune.heads = d.heads;
  traits.prune.head_dim = d.hidden / d.heads;
  traits.prune.layers = d.layers;
  traits.prune.attention = [enc = base / "encoder"](int64_t layer) {
    const Scope a = enc / "layer" / layer / "attention";
    return AttentionModule{a.path("self.query"), a.path("self.key"), a.path("self.value"), a.path("output.dense")};
  };
}

void lm_head_traits(ModelTraits& traits, const std::string& module, const std::string& tf_prefix, const std::string& decoder) {
  traits.output_embeddings = module + (decoder.empty() ? "" : "." + decoder) + ".weight";
  traits.lm_head.module = module;
  traits.lm_head.bias = {{"bias", module + ".bias"}};
  traits.lm_head.tf_prefix_bias_name = tf_prefix;
}

Tensor LMPredictionHead::forward(const Tensor& h) const {
  Tensor t = dense(h);
  nn::activate(t, act);
  norm.inplace(t);
  return decoder(t);
}

namespace {

enum class BertHead { Base, MaskedLM, SequenceClassification, TokenClassification, QuestionAnswering, PreTraining,
                      NextSentencePrediction, LMHead, MultipleChoice };

class Bert final : public Model {
 public:
  Bert(const std::string& cls, const Config& c, BertHead head) : Model(cls, c, "bert"), head_(head) {
    BertDims d = bert_dims(c);
    const bool pool = head == BertHead::Base || head == BertHead::SequenceClassification ||
                      head == BertHead::PreTraining || head == BertHead::NextSentencePrediction ||
                      head == BertHead::MultipleChoice;
    Scope r = root();
    Scope base = head == BertHead::Base ? r : r / "bert";
    core_ = BertCore::make(base, d, pool);
    const std::string word = base.path("embeddings.word_embeddings.weight");
    if (head == BertHead::MaskedLM || head == BertHead::PreTraining || head == BertHead::LMHead) {
      Scope p = r / "cls" / "predictions";
      lm_.dense = nn::Linear::make(p / "transform" / "dense", d.hidden, d.hidden);
      lm_.norm = nn::LayerNorm::make(p / "transform" / "LayerNorm", d.hidden, d.eps);
      lm_.act = d.act;
      Param bias = p.param("bias", {d.vocab});
      lm_.decoder.in = d.hidden;
      lm_.decoder.out = d.vocab;
      lm_.decoder.w = (p / "decoder").param("weight", {d.vocab, d.hidden}, d.tie_word_embeddings ? word : "");
      lm_.decoder.b = (p / "decoder").param("bias", {d.vocab}, bias.name());
    }
    if (head == BertHead::PreTraining || head == BertHead::NextSentencePrediction)
      nsp_ = nn::Linear::make(r / "cls" / "seq_relationship", d.hidden, 2);
    if (head == BertHead::SequenceClassification || head == BertHead::TokenClassification)
      classifier_ = nn::Linear::make(r / "classifier", d.hidden, c.num_labels());
    if (head == BertHead::MultipleChoice) classifier_ = nn::Linear::make(r / "classifier", d.hidden, 1);
    if (head == BertHead::QuestionAnswering) classifier_ = nn::Linear::make(r / "qa_outputs", d.hidden, 2);
    ignored_keys_ = {base.path("embeddings.position_ids"), base.path("embeddings.token_type_ids")};
    bert_core_traits(mutable_params(), traits_, base, d);
    if (head == BertHead::MaskedLM || head == BertHead::PreTraining || head == BertHead::LMHead)
      lm_head_traits(traits_, "cls.predictions", "mlm___cls/predictions");
    if (head == BertHead::PreTraining) traits_.loss.kind = LossKind::BertPreTraining;  // MLM + NSP; the others by name
  }

  Outputs forward(const ModelInputs& in0) const override {
    ModelInputs in = in0;
    const int64_t choices = head_ == BertHead::MultipleChoice ? nn::flatten_choice_inputs(in) : 0;
    nn::StackOutputs st;
    Tensor pooled;
    Tensor seq = core_.forward(in, in.position_ids, st, &pooled);
    return nn::encoder_outputs(head_, classifier_, seq, &pooled, choices, st, [&] { return pooled; }, [&](Outputs& out) {
      if (head_ == BertHead::MaskedLM || head_ == BertHead::LMHead) out.set("logits", lm_.forward(seq));
      if (head_ == BertHead::PreTraining) {
        out.set("prediction_logits", lm_.forward(seq));
        out.set("seq_relationship_logits", (*nsp_)(pooled));
      }
      if (head_ == BertHead::NextSentencePrediction) out.set("logits", (*nsp_)(pooled));
    });
  }

 private:
  BertHead head_;
  BertCore core_;
  LMPredictionHead lm_;
  std::optional<nn::Linear> nsp_, classifier_;
};

}  // namespace

Architecture bert_architecture() {
  Architecture a{"bert", bert_config_defaults(), "bert", {}, {}, {}};
  // hfx convert bert (convert_bert_original_tf_checkpoint_to_pytorch.py): --config required, one weight file.
  a.convert.name = "bert";
  a.convert.config_required = true;
  a.convert.output = ConvertTraits::Output::StateDictFile;
  auto add = [&](const std::string& cls, BertHead h) {
    a.classes.emplace_back(cls, [cls, h](const Config& c) { return std::make_unique<Bert>(cls, c, h); });
  };
  add("BertModel", BertHead::Base);
  add("BertForMaskedLM", BertHead::MaskedLM);
  add("BertForSequenceClassification", BertHead::SequenceClassification);
  add("BertForTokenClassification", BertHead::TokenClassification);
  add("BertForQuestionAnswering", BertHead::QuestionAnswering);
  add("BertForPreTraining", BertHead::PreTraining);
  add("BertForNextSentencePrediction", BertHead::NextSentencePrediction);
  add("BertLMHeadModel", BertHead::LMHead);
  add("BertForMultipleChoice", BertHead::MultipleChoice);
  a.auto_classes = {{"AutoModel", "BertModel"},
                    {"AutoModelForMaskedLM", "BertForMaskedLM"},
                    {"AutoModelForSequenceClassification", "BertForSequenceClassification"},
                    {"AutoModelForTokenClassification", "BertForTokenClassification"},
                    {"AutoModelForQuestionAnswering", "BertForQuestionAnswering"},
                    {"AutoModelForPreTraining", "BertForPreTraining"},
                    {"AutoModelForCausalLM", "BertLMHeadModel"},
                    {"AutoModelForMultipleChoice", "BertForMultipleChoice"}};
  return a;
}

}  // namespace hfx::models
