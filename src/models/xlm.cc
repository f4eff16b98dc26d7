// XLM: post-LayerNorm encoder with learned (or stored sinusoidal) positions,
// optional language embeddings, token types embedded with the word table, and
// padding positions zeroed after every layer.
// Upstream: transformers v4.46.3 src/transformers/models/xlm/modeling_xlm.py
// model_type "xlm"; classes XLMModel, XLMWithLMHeadModel, XLMForSequenceClassification,
// XLMForTokenClassification, XLMForQuestionAnsweringSimple, XLMForQuestionAnswering,
// XLMForMultipleChoice. Generation follows XLMWithLMHeadModel.prepare_inputs_for_generation
// (mask token appended, langs = lang_id, no cache).
#include "hfx/generate.h"
#include "models/bert.h"
#include "models/registry_entries.h"
#include "nn/decoder.h"
#include "nn/heads.h"
#include "nn/loss.h"

namespace hfx::models {
namespace {

enum class Head { Base, LMHead, SequenceClassification, TokenClassification, QuestionAnsweringSimple, QuestionAnswering,
                  MultipleChoice };

class XLM final : public Model, public SessionLM {
 public:
  XLM(const std::string& cls, const Config& c, Head head) : Model(cls, c, "transformer"), head_(head) {
    vocab_ = c.get<int64_t>("vocab_size", 0);
    dim_ = c.get<int64_t>("emb_dim", 0);
    layers_n_ = c.get<int64_t>("n_layers", 0);
    heads_ = c.get<int64_t>("n_heads", 0);
    max_pos_ = c.get<int64_t>("max_position_embeddings", 0);
    n_langs_ = c.get<int64_t>("n_langs", 1);
    pad_index_ = c.get<int64_t>("pad_index", 2);
    causal_ = c.get<bool>("causal", false);
    if (vocab_ <= 0 || dim_ <= 0 || layers_n_ <= 0 || heads_ <= 0 || max_pos_ <= 0 || n_langs_ <= 0)
      throw_error(ErrorKind::InvalidArgument, "vocab_size, emb_dim, n_layers, n_heads, max_position_embeddings and n_langs must be positive", c.source());
    if (!c.get<bool>("is_encoder", true)) throw_error(ErrorKind::Unsupported, "XLM can only be used as an encoder (is_encoder = false)", c.source());
    if (c.get<bool>("asm", false))
      throw_error(ErrorKind::Unsupported, "XLM with an adaptive softmax head (asm = true) is not supported", c.source());
    const float eps = static_cast<float>(c.get<double>("layer_norm_eps", 1e-12));
    const nn::Activation act = c.get<bool>("gelu_activation", true) ? nn::Activation::GeluErf : nn::Activation::Relu;
    Scope r = root();
    Scope t = head == Head::Base ? r : r / "transformer";
    pos_ = nn::Embedding::make(t / "position_embeddings", max_pos_, dim_);
    if (n_langs_ > 1 && c.get<bool>("use_lang_emb", true)) lang_ = nn::Embedding::make(t / "lang_embeddings", n_langs_, dim_);
    word_ = nn::Embedding::make(t / "embeddings", vocab_, dim_);
    norm_emb_ = nn::LayerNorm::make(t / "layer_norm_emb", dim_, eps);
    for (int64_t i = 0; i < layers_n_; ++i) {
      const std::string n = std::to_string(i);
      const nn::EncoderLayerNames names{"attentions." + n + ".q_lin", "attentions." + n + ".k_lin", "attentions." + n + ".v_lin",
                                        "attentions." + n + ".out_lin", "layer_norm1." + n, "ffns." + n + ".lin1",
                                        "ffns." + n + ".lin2", "layer_norm2." + n};
      layers_.push_back(nn::PostLNEncoderLayer::make(t, names, dim_, heads_, 4 * dim_, eps, act));
    }
    switch (head) {
      case Head::Base:
        break;
      case Head::LMHead:
        lm_.in = dim_;
        lm_.out = vocab_;
        lm_.w = (r / "pred_layer" / "proj").param("weight", {vocab_, dim_}, c.get<bool>("tie_word_embeddings", true) ? word_.w.name() : "");
        lm_.b = (r / "pred_layer" / "proj").param("bias", {vocab_});
        break;
      case Head::SequenceClassification:  // the summary projects to num_labels itself
      case Head::MultipleChoice:
        task_.emplace();
        task_->kind = head == Head::MultipleChoice ? nn::TaskHead::MultipleChoice : nn::TaskHead::SequenceClassification;
        task_->summary = nn::SequenceSummary::make(r / "sequence_summary", c, dim_);
        if (head == Head::MultipleChoice) task_->proj = nn::Linear::make(r / "logits_proj", c.num_labels(), 1);
        break;
      case Head::TokenClassification:
        task_.emplace();
        task_->kind = nn::TaskHead::TokenClassification;
        task_->proj = nn::Linear::make(r / "classifier", dim_, c.num_labels());
        break;
      case Head::QuestionAnsweringSimple:
        task_.emplace();
        task_->kind = nn::TaskHead::QuestionAnsweringSimple;
        task_->proj = nn::Linear::make(r / "qa_outputs", dim_, c.num_labels());
        break;
      case Head::QuestionAnswering:
        task_.emplace();
        task_->kind = nn::TaskHead::QuestionAnswering;
        task_->squad = nn::SquadHead::make(r / "qa_outputs", c, dim_, eps);
        break;
    }
    ignored_keys_ = {t.path("position_ids")};
    // Traits: XLMModel._prune_heads prunes MultiHeadAttention attentions.N; the
    // LM head is pred_layer (TFXLMWithLMHeadModel.get_lm_head / get_bias).
    traits_.input_embeddings = word_.w.name();
    set_roles(ParamRole::Embedding, {word_.w.name(), pos_.w.name()});
    if (lang_) set_roles(ParamRole::Embedding, {lang_->w.name()});
    traits_.prune = {heads_, dim_ / heads_, layers_n_, [t](int64_t layer) {
                       const Scope a = t / "attentions" / layer;
                       return AttentionModule{a.path("q_lin"), a.path("k_lin"), a.path("v_lin"), a.path("out_lin")};
                     }, {}, {}};
    if (head == Head::LMHead) {
      traits_.output_embeddings = lm_.w.name();
      traits_.lm_head = {"pred_layer", {{"bias", lm_.b.name()}}, "pred_layer_._proj"};
    }
    // XLMWithLMHeadModel: XLMPredLayer's cross-entropy unshifted; ForQuestionAnswering's SQuADHead computes its loss in forward.
    if (head == Head::LMHead || head == Head::QuestionAnswering)
      traits_.loss.kind = head == Head::LMHead ? LossKind::TokenLM : LossKind::SquadHead;
  }

  int64_t vocab_size() const override { return vocab_; }

  Outputs forward(const ModelInputs& in0) const override {
    ModelInputs in = in0;
    int64_t choices = 0;
    if (head_ == Head::MultipleChoice) {
      choices = nn::flatten_choice_inputs(in);
      in.langs = nn::flatten_choices(in.langs);
    }
    nn::StackOutputs st;
    Tensor h = run(in, st);
    Outputs out;
    if (head_ == Head::Base) out.set("last_hidden_state", h);
    else if (head_ == Head::LMHead) out.set("logits", lm_(h));
    else if (head_ == Head::QuestionAnswering && in.start_positions.defined()) nn::squad_head_loss(*task_->squad, h, in, out);
    else task_->apply(h, choices, out);
    nn::emit_stack(out, st);
    return out;
  }

  // XLMModel.forward: returns the last hidden state [B, S, dim].
  Tensor run(const ModelInputs& in, nn::StackOutputs& st) const {
    Tensor ids = nn::as_ids(in.input_ids, "input_ids");
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const int64_t B = ids.size(0), S = ids.size(1);
    if (S > max_pos_ && !in.position_ids.defined())
      throw_error(ErrorKind::InvalidArgument, "sequence length " + std::to_string(S) + " exceeds max_position_embeddings " +
                                                  std::to_string(max_pos_));
    // mask: the attention mask, else positions before the count of non-pad tokens (get_masks)
    Tensor mask = Tensor::zeros(DType::F32, {B, S});
    if (in.attention_mask.defined()) {
      if (in.attention_mask.shape() != ids.shape())
        throw_error(ErrorKind::Mismatch, "attention_mask shape " + shape_str(in.attention_mask.shape()) + " does not match input_ids " + shape_str(ids.shape()));
      mask = in.attention_mask.to(DType::F32);
    } else {
      for (int64_t b = 0; b < B; ++b) {
        int64_t len = 0;
        for (int64_t i = 0; i < S; ++i) len += ids.data<int64_t>()[b * S + i] != pad_index_;
        for (int64_t i = 0; i < len; ++i) mask.mutable_data<float>()[b * S + i] = 1.0f;
      }
    }
    Tensor h = Tensor::zeros(DType::F32, {B, S, dim_});
    word_.gather(ids, h.mutable_data<float>(), false);
    Tensor pos = nn::positions_or_default(in.position_ids, B, S, 0);
    pos_.gather(pos, h.mutable_data<float>(), true);
    if (in.langs.defined() && lang_) {
      Tensor langs = nn::as_ids(in.langs, "langs");
      if (langs.shape() != ids.shape()) throw_error(ErrorKind::Mismatch, "langs must match input_ids " + shape_str(ids.shape()));
      lang_->gather(langs, h.mutable_data<float>(), true);
    }
    if (in.token_type_ids.defined()) {
      Tensor tt = nn::as_ids(in.token_type_ids, "token_type_ids");
      if (tt.shape() != ids.shape()) throw_error(ErrorKind::Mismatch, "token_type_ids must match input_ids " + shape_str(ids.shape()));
      word_.gather(tt, h.mutable_data<float>(), true);  // token types index the word table
    }
    norm_emb_.inplace(h);
    nn::dropout_inplace(h, norm_emb_.w);
    zero_padding(h, mask);
    // Attention: causal only when config.causal, else the padding mask.
    nn::AttnMask am = causal_ ? nn::extended_attention_mask(Tensor(), B, S, true) : nn::extended_attention_mask(mask, B, S, false);
    auto hm = nn::per_layer_head_mask(in.head_mask, layers_n_, heads_);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      if (in.output_hidden_states) st.hidden_states.push_back(h);
      Tensor probs;
      h = layers_[i].forward(h, am, hm.empty() ? nullptr : hm[i].data(), in.output_attentions ? &probs : nullptr);
      zero_padding(h, mask);
      if (in.output_attentions) st.attentions.push_back(probs);
    }
    if (in.output_hidden_states) st.hidden_states.push_back(h);
    return h;
  }

  std::unique_ptr<GenerationSession> start_generation(bool /*use_cache: XLM has no cache*/) const override {
    if (head_ != Head::LMHead) throw_error(ErrorKind::Unsupported, class_name() + " cannot generate (use XLMWithLMHeadModel)");
    return std::make_unique<Session>(*this);
  }

 private:
  static void zero_padding(Tensor& h, const Tensor& mask) {
    const int64_t rows = mask.numel(), D = h.size(-1);
    float* x = h.mutable_data<float>();
    for (int64_t r = 0; r < rows; ++r) {
      const float m = mask.data<float>()[r];
      for (int64_t d = 0; d < D; ++d) x[r * D + d] *= m;
    }
  }

  // Every step: input_ids + [mask_token_id], langs = lang_id, no attention mask.
  class Session final : public GenerationSession {
   public:
    explicit Session(const XLM& m) : m_(m) {}
    Tensor next_logits(const std::vector<std::vector<int64_t>>& seqs, int64_t) override {
      const int64_t B = static_cast<int64_t>(seqs.size()), S = static_cast<int64_t>(seqs[0].size()) + 1;
      const int64_t mask_id = m_.config().get<int64_t>("mask_token_id", 0);
      std::vector<int64_t> flat;
      for (const auto& s : seqs) {
        flat.insert(flat.end(), s.begin(), s.end());
        flat.push_back(mask_id);
      }
      ModelInputs in;
      in.input_ids = Tensor::from_vector(DType::I64, {B, S}, flat);
      if (const json* l = m_.config().find("lang_id"); l && l->is_number_integer())
        in.langs = Tensor::from_vector(DType::I64, {B, S}, std::vector<int64_t>(flat.size(), l->get<int64_t>()));
      nn::StackOutputs st;
      Tensor h = m_.run(in, st);
      Tensor last = Tensor::zeros(DType::F32, {B, m_.dim_});
      for (int64_t b = 0; b < B; ++b)
        std::copy_n(h.data<float>() + (b * S + S - 1) * m_.dim_, m_.dim_, last.mutable_data<float>() + b * m_.dim_);
      return m_.lm_(last);
    }
    void reorder(const std::vector<int64_t>&) override {}  // stateless

   private:
    const XLM& m_;
  };

  Head head_;
  int64_t vocab_ = 0, dim_ = 0, layers_n_ = 0, heads_ = 0, max_pos_ = 0, n_langs_ = 1, pad_index_ = 2;
  bool causal_ = false;
  nn::Embedding pos_, word_;
  std::optional<nn::Embedding> lang_;
  nn::LayerNorm norm_emb_;
  std::vector<nn::PostLNEncoderLayer> layers_;
  nn::Linear lm_;
  std::optional<nn::TaskHeads> task_;
};

}  // namespace

Architecture xlm_architecture() {
  json d = pretrained_config_defaults();
  d.update({{"vocab_size", 30145}, {"emb_dim", 2048}, {"n_layers", 12}, {"n_heads", 16}, {"dropout", 0.1},
            {"attention_dropout", 0.1}, {"gelu_activation", true}, {"sinusoidal_embeddings", false}, {"causal", false},
            {"asm", false}, {"n_langs", 1}, {"use_lang_emb", true}, {"max_position_embeddings", 512},
            {"embed_init_std", 0.02209708691207961}, {"layer_norm_eps", 1e-12}, {"init_std", 0.02}, {"bos_index", 0},
            {"eos_index", 1}, {"pad_index", 2}, {"unk_index", 3}, {"mask_index", 5}, {"is_encoder", true},
            {"summary_type", "first"}, {"summary_use_proj", true}, {"summary_activation", nullptr},
            {"summary_proj_to_labels", true}, {"summary_first_dropout", 0.1}, {"start_n_top", 5}, {"end_n_top", 5},
            {"mask_token_id", 0}, {"lang_id", 0}, {"pad_token_id", 2}, {"bos_token_id", 0}});
  Architecture a{"xlm", d, "transformer", {}, {}, {}};
  // hfx convert xlm (convert_xlm_original_pytorch_checkpoint_to_pytorch.py): the original torch dump's
  // "model" state dict gets "transformer." (pred_layer kept), dico_word2id becomes vocab.json
  // (BPE continuations lose "@@", other words past the 14 special ones gain "</w>").
  a.convert.name = "xlm";
  a.convert.source = ConvertTraits::Source::TorchDump;
  a.convert.class_name = "XLMWithLMHeadModel";
  a.convert.rename = [](const std::string& k) { return k.find("pred_layer") != std::string::npos ? k : "transformer." + k; };
  a.convert.vocab = [](const json& word2id) {
    json vocab = json::object();
    for (const auto& [s, i] : word2id.items()) {
      if (!i.is_number_integer()) throw_error(ErrorKind::Format, "dico_word2id value is not an int", {}, s);
      std::string w = s;
      if (s.find("@@") == std::string::npos && i.get<int64_t>() > 13) w += "</w>";
      else for (std::size_t p = w.find("@@"); p != std::string::npos; p = w.find("@@", p)) w.erase(p, 2);
      vocab[w] = i;
    }
    return vocab;
  };
  auto add = [&](const std::string& cls, Head h) {
    a.classes.emplace_back(cls, [cls, h](const Config& c) { return std::make_unique<XLM>(cls, c, h); });
  };
  add("XLMModel", Head::Base);
  add("XLMWithLMHeadModel", Head::LMHead);
  add("XLMForSequenceClassification", Head::SequenceClassification);
  add("XLMForTokenClassification", Head::TokenClassification);
  add("XLMForQuestionAnsweringSimple", Head::QuestionAnsweringSimple);
  add("XLMForQuestionAnswering", Head::QuestionAnswering);
  add("XLMForMultipleChoice", Head::MultipleChoice);
  a.auto_classes = {{"AutoModel", "XLMModel"},
                    {"AutoModelForMaskedLM", "XLMWithLMHeadModel"},
                    {"AutoModelForCausalLM", "XLMWithLMHeadModel"},
                    {"AutoModelForPreTraining", "XLMWithLMHeadModel"},
                    {"AutoModelForSequenceClassification", "XLMForSequenceClassification"},
                    {"AutoModelForTokenClassification", "XLMForTokenClassification"},
                    {"AutoModelForQuestionAnswering", "XLMForQuestionAnsweringSimple"},
                    {"AutoModelForMultipleChoice", "XLMForMultipleChoice"}};
  return a;
}

}  // namespace hfx::models
