// OpenAI GPT: post-LayerNorm decoder with learned positions and Conv1D weights.
// Upstream: transformers v4.46.3 src/transformers/models/openai/modeling_openai.py
// model_type "openai-gpt"; classes OpenAIGPTModel, OpenAIGPTLMHeadModel,
// OpenAIGPTDoubleHeadsModel, OpenAIGPTForSequenceClassification.
// The reference masks future positions with -1e4 instead of finfo.min; both
// vanish in the softmax (exp underflows to 0 in f32), so hfx uses one causal bias.
#include "models/registry_entries.h"
#include "nn/attention.h"
#include "nn/decoder.h"

namespace hfx::models {
namespace {

using Head = nn::GptHead;  // Base, LMHead, DoubleHeads, SequenceClassification

struct Block {
  nn::Conv1D c_attn, attn_proj, c_fc, mlp_proj;
  nn::LayerNorm ln_1, ln_2;
};

class OpenAIGPT final : public Model, public CausalLM {
 public:
  OpenAIGPT(const std::string& cls, const Config& c, Head head) : Model(cls, c, "transformer"), head_(head) {
    vocab_ = c.get<int64_t>("vocab_size", 0);
    E_ = c.get<int64_t>("n_embd", 0);
    L_ = c.get<int64_t>("n_layer", 0);
    H_ = c.get<int64_t>("n_head", 0);
    P_ = c.get<int64_t>("n_positions", 0);
    if (vocab_ <= 0 || E_ <= 0 || L_ <= 0 || H_ <= 0 || P_ <= 0 || E_ % H_)
      throw_error(ErrorKind::InvalidArgument, "vocab_size, n_embd, n_layer, n_head, n_positions must be positive and n_embd a multiple of n_head", c.source());
    const float eps = static_cast<float>(c.get<double>("layer_norm_epsilon", 1e-5));
    // The reference's ACT_FNS maps "gelu" to the tanh approximation (NewGELUActivation).
    const std::string afn = c.get<std::string>("afn", "gelu");
    act_ = nn::parse_activation(afn == "gelu" ? "gelu_new" : afn);
    pad_ = c.has("pad_token_id") ? c.get<int64_t>("pad_token_id", -1) : -1;
    Scope r = root();
    Scope t = head == Head::Base ? r : r / "transformer";
    tokens_ = nn::Embedding::make(t / "tokens_embed", vocab_, E_);
    positions_ = nn::Embedding::make(t / "positions_embed", P_, E_);
    for (int64_t i = 0; i < L_; ++i) {
      Scope h = t / "h" / i;
      blocks_.push_back({nn::Conv1D::make(h / "attn" / "c_attn", E_, 3 * E_), nn::Conv1D::make(h / "attn" / "c_proj", E_, E_),
                         nn::Conv1D::make(h / "mlp" / "c_fc", E_, 4 * E_), nn::Conv1D::make(h / "mlp" / "c_proj", 4 * E_, E_),
                         nn::LayerNorm::make(h / "ln_1", E_, eps), nn::LayerNorm::make(h / "ln_2", E_, eps)});
      ignored_keys_.push_back(h.path("attn.bias"));
    }
    ignored_keys_.push_back(t.path("position_ids"));
    if (head == Head::LMHead || head == Head::DoubleHeads) {
      lm_head_.in = E_;
      lm_head_.out = vocab_;
      lm_head_.w = (r / "lm_head").param("weight", {vocab_, E_}, c.get<bool>("tie_word_embeddings", true) ? tokens_.w.name() : "");
    }
    if (head == Head::DoubleHeads) score_ = nn::Linear::make(r / "multiple_choice_head" / "summary", E_, 1);
    if (head == Head::SequenceClassification) score_ = nn::Linear::make(r / "score", E_, c.num_labels(), false);
    // Traits: OpenAIGPTModel._prune_heads prunes the fused Conv1D attention like GPT-2's.
    traits_.input_embeddings = tokens_.w.name();
    if (lm_head_.w.valid()) traits_.output_embeddings = lm_head_.w.name();
    set_roles(ParamRole::Embedding, {tokens_.w.name(), positions_.w.name()});
    traits_.prune = {H_, E_ / H_, L_, [t](int64_t layer) {
                       const Scope a = t / "h" / layer / "attn";
                       return AttentionModule{a.path("c_attn"), {}, {}, a.path("c_proj"), true};
                     }, {}, {}};
  }

  int64_t vocab_size() const override { return vocab_; }

  Tensor step(const Tensor& ids, const Tensor& position_ids, const Tensor& attention_mask, KVCache& cache) const override {
    if (head_ != Head::LMHead) throw_error(ErrorKind::Unsupported, class_name() + " cannot generate (use OpenAIGPTLMHeadModel)");
    nn::StackOutputs st;
    return lm_head_(run(nn::as_ids(ids, "input_ids"), position_ids, Tensor(), attention_mask, Tensor(), &cache, false, false, st));
  }

  Outputs forward(const ModelInputs& in) const override {
    return nn::gpt_forward(in, head_, E_, [this](const Tensor& ids, const ModelInputs& x, nn::StackOutputs& st) {
      return run(ids, x.position_ids, x.token_type_ids, x.attention_mask, x.head_mask, nullptr, x.output_hidden_states,
                 x.output_attentions, st);
    }, lm_head_, score_ ? &*score_ : nullptr, pad_);
  }

  // Post-LN blocks over new tokens `ids` [B, S], attending to cached keys/values when given.
  Tensor run(const Tensor& ids, const Tensor& position_ids, const Tensor& token_type_ids, const Tensor& attention_mask,
             const Tensor& head_mask, KVCache* cache, bool want_hidden, bool want_attn, nn::StackOutputs& st) const {
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const int64_t B = ids.size(0), S = ids.size(1);
    const int64_t past = cache ? cache->length() : 0, Sk = past + S;
    if (Sk > P_) throw_error(ErrorKind::InvalidArgument, "sequence length " + std::to_string(Sk) + " exceeds n_positions " + std::to_string(P_));
    Tensor h = Tensor::zeros(DType::F32, {B, S, E_});
    tokens_.gather(ids, h.mutable_data<float>(), false);
    Tensor pos = nn::positions_or_default(position_ids, B, S, past);
    positions_.gather(pos, h.mutable_data<float>(), true);
    if (token_type_ids.defined()) tokens_.gather(nn::as_ids(token_type_ids, "token_type_ids"), h.mutable_data<float>(), true);
    Tensor bias = nn::causal_bias(attention_mask, B, S, past);
    auto hm = nn::per_layer_head_mask(head_mask, L_, H_);
    const int64_t D = E_ / H_;
    nn::AttentionOptions ao;
    ao.head_dim = D;
    ao.bias = nn::AttentionBias::of(bias);
    ao.cache = cache;
    ao.want_probs = want_attn;
    for (int64_t l = 0; l < L_; ++l) {
      const Block& blk = blocks_[static_cast<std::size_t>(l)];
      if (want_hidden) st.hidden_states.push_back(h);
      Tensor qkv = blk.c_attn(h);  // [B, S, 3W]: prune_heads narrows c_attn to W = heads * D per part
      const int64_t W = blk.c_attn.w->size(1) / 3;
      ao.heads = nn::heads_present(W, D, H_, !hm.empty(), blk.c_attn.w.name());
      ao.layer = l;
      ao.head_mask = hm.empty() ? nullptr : hm[static_cast<std::size_t>(l)].data();
      nn::Attended at = nn::attend(B, S, nn::Rows::of(qkv, 0), nn::Rows::of(qkv, W), nn::Rows::of(qkv, 2 * W), ao);
      Tensor n = blk.attn_proj(at.context);
      nn::add_(n, h);
      blk.ln_1.inplace(n);
      Tensor ff = blk.c_fc(n);
      nn::activate(ff, act_);
      Tensor m = blk.mlp_proj(ff);
      nn::add_(m, n);
      blk.ln_2.inplace(m);
      h = m;
      if (want_attn) st.attentions.push_back(at.probs);
    }
    return h;
  }

 private:
  Head head_;
  int64_t vocab_ = 0, E_ = 0, L_ = 0, H_ = 0, P_ = 0, pad_ = -1;
  nn::Activation act_ = nn::Activation::GeluErf;
  nn::Embedding tokens_, positions_;
  std::vector<Block> blocks_;
  nn::Linear lm_head_;
  std::optional<nn::Linear> score_;
};

}  // namespace

Architecture openai_gpt_architecture() {
  json d = {{"is_decoder", false}, {"tie_word_embeddings", true}, {"vocab_size", 40478}, {"n_positions", 512},
            {"n_embd", 768}, {"n_layer", 12}, {"n_head", 12}, {"afn", "gelu"}, {"resid_pdrop", 0.1}, {"embd_pdrop", 0.1},
            {"attn_pdrop", 0.1}, {"layer_norm_epsilon", 1e-5}, {"initializer_range", 0.02},
            {"summary_type", "cls_index"}, {"summary_use_proj", true}, {"summary_activation", nullptr},
            {"summary_proj_to_labels", true}, {"summary_first_dropout", 0.1}};
  Architecture a{"openai-gpt", d, "transformer", {}, {}, {}};
  // hfx convert gpt (convert_openai_original_tf_checkpoint_to_pytorch.py): the OpenAI .npy folder -> a folder.
  a.convert.name = "gpt";
  a.convert.source = ConvertTraits::Source::OpenAINpyFolder;
  a.convert.attribute_map = {{"max_position_embeddings", "n_positions"}, {"hidden_size", "n_embd"},
                             {"num_attention_heads", "n_head"}, {"num_hidden_layers", "n_layer"}};
  auto add = [&](const std::string& cls, Head h) {
    a.classes.emplace_back(cls, [cls, h](const Config& c) { return std::make_unique<OpenAIGPT>(cls, c, h); });
  };
  add("OpenAIGPTModel", Head::Base);
  add("OpenAIGPTLMHeadModel", Head::LMHead);
  add("OpenAIGPTDoubleHeadsModel", Head::DoubleHeads);
  add("OpenAIGPTForSequenceClassification", Head::SequenceClassification);
  a.auto_classes = {{"AutoModel", "OpenAIGPTModel"},
                    {"AutoModelForCausalLM", "OpenAIGPTLMHeadModel"},
                    {"AutoModelForPreTraining", "OpenAIGPTLMHeadModel"},
                    {"AutoModelForSequenceClassification", "OpenAIGPTForSequenceClassification"}};
  return a;
}

}  // namespace hfx::models
