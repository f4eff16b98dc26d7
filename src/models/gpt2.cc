// GPT-2: pre-LayerNorm decoder with learned positions and Conv1D ([in, out]) weights.
// Upstream: transformers v4.46.3 src/transformers/models/gpt2/modeling_gpt2.py
// model_type "gpt2"; classes GPT2Model, GPT2LMHeadModel, GPT2DoubleHeadsModel,
// GPT2ForSequenceClassification, GPT2ForTokenClassification, GPT2ForQuestionAnswering.
// Eager attention semantics (scale_attn_weights, scale_attn_by_inverse_layer_idx);
// dropout is identity at inference.
#include "hfx/generate.h"
#include "models/registry_entries.h"
#include "nn/attention.h"
#include "nn/decoder.h"

namespace hfx::models {
namespace {

using Head = nn::GptHead;

struct Block {
  nn::LayerNorm ln_1, ln_2;
  nn::Conv1D c_attn, attn_proj, c_fc, mlp_proj;
};

class GPT2 final : public nn::GptModel {
 public:
  GPT2(const std::string& cls, const Config& c, Head head) : GptModel(cls, c, head, "GPT2LMHeadModel") {
    const int64_t E = d_.E, inner = c.get<int64_t>("n_inner", 4 * E);
    const float eps = d_.eps;
    act_ = nn::parse_activation(c.get<std::string>("activation_function", "gelu_new"));
    scale_weights_ = c.get<bool>("scale_attn_weights", true);
    scale_by_layer_ = c.get<bool>("scale_attn_by_inverse_layer_idx", false);
    Scope r = root();
    Scope t = head == Head::Base ? r : r / "transformer";
    wte_ = nn::Embedding::make(t / "wte", d_.vocab, E);
    wpe_ = nn::Embedding::make(t / "wpe", d_.P, E);
    for (int64_t i = 0; i < d_.L; ++i) {
      Scope h = t / "h" / i;
      blocks_.push_back({nn::LayerNorm::make(h / "ln_1", E, eps), nn::LayerNorm::make(h / "ln_2", E, eps),
                         nn::Conv1D::make(h / "attn" / "c_attn", E, 3 * E), nn::Conv1D::make(h / "attn" / "c_proj", E, E),
                         nn::Conv1D::make(h / "mlp" / "c_fc", E, inner), nn::Conv1D::make(h / "mlp" / "c_proj", inner, E)});
      ignored_keys_.push_back(h.path("attn.bias"));  // the causal-mask buffers older checkpoints saved
      ignored_keys_.push_back(h.path("attn.masked_bias"));
    }
    ln_f_ = nn::LayerNorm::make(t / "ln_f", E, eps);
    // Heads and traits (GPT2Model._prune_heads prunes the fused Conv1D attention).
    nn::gpt_heads(r, t, c, head, d_, wte_, wpe_, lm_head_, score_, mutable_params(), traits_);
  }

  // Pre-LN blocks; returns ln_f(h).
  Tensor run(const Tensor& ids, const Tensor& position_ids, const Tensor& token_type_ids, const Tensor& attention_mask,
             const Tensor& head_mask, KVCache* cache, bool want_hidden, bool want_attn, nn::StackOutputs& st) const override {
    nn::GptStart g = nn::gpt_start(d_, wte_, wpe_, ids, position_ids, token_type_ids, attention_mask, head_mask, cache, want_attn);
    Tensor& h = g.h;
    const auto& hm = g.head_masks;
    nn::AttentionOptions& ao = g.ao;
    const int64_t B = ids.size(0), S = ids.size(1), D = ao.head_dim;
    for (int64_t l = 0; l < d_.L; ++l) {
      const Block& blk = blocks_[static_cast<std::size_t>(l)];
      if (want_hidden) st.hidden_states.push_back(h.clone());  // h is updated in place below
      Tensor x = h.clone();
      blk.ln_1.inplace(x);
      Tensor qkv = blk.c_attn(x);  // [B, S, 3W]: prune_heads narrows c_attn to W = heads * D per part
      const int64_t W = blk.c_attn.w->size(1) / 3;
      ao.heads = nn::heads_present(W, D, d_.H, !hm.empty(), blk.c_attn.w.name());
      ao.layer = l;
      ao.head_mask = hm.empty() ? nullptr : hm[static_cast<std::size_t>(l)].data();
      ao.scale = (scale_weights_ ? 1.0f / std::sqrt(static_cast<float>(D)) : 1.0f) / (scale_by_layer_ ? static_cast<float>(l + 1) : 1.0f);
      nn::Attended at = nn::attend(B, S, nn::Rows::of(qkv, 0), nn::Rows::of(qkv, W), nn::Rows::of(qkv, 2 * W), ao);
      nn::add_(h, blk.attn_proj(at.context));
      x = h.clone();
      blk.ln_2.inplace(x);
      Tensor ff = blk.c_fc(x);
      nn::activate(ff, act_);
      nn::add_(h, blk.mlp_proj(ff));
      if (want_attn) st.attentions.push_back(at.probs);
    }
    ln_f_.inplace(h);
    return h;
  }

 private:
  nn::Activation act_ = nn::Activation::GeluTanh;
  bool scale_weights_ = true, scale_by_layer_ = false;
  nn::Embedding wte_, wpe_;
  std::vector<Block> blocks_;
  nn::LayerNorm ln_f_;
};

}  // namespace

Architecture gpt2_architecture() {
  json d = {{"is_decoder", false}, {"tie_word_embeddings", true}, {"vocab_size", 50257}, {"n_positions", 1024},
            {"n_embd", 768}, {"n_layer", 12}, {"n_head", 12}, {"n_inner", nullptr}, {"activation_function", "gelu_new"},
            {"resid_pdrop", 0.1}, {"embd_pdrop", 0.1}, {"attn_pdrop", 0.1}, {"layer_norm_epsilon", 1e-5},
            {"initializer_range", 0.02}, {"summary_type", "cls_index"}, {"summary_use_proj", true},
            {"summary_activation", nullptr}, {"summary_proj_to_labels", true}, {"summary_first_dropout", 0.1},
            {"scale_attn_weights", true}, {"use_cache", true}, {"bos_token_id", 50256}, {"eos_token_id", 50256},
            {"scale_attn_by_inverse_layer_idx", false}, {"reorder_and_upcast_attn", false}};
  Architecture a{"gpt2", d, "transformer", {}, {}, {}};
  // hfx convert gpt2 (convert_gpt2_original_tf_checkpoint_to_pytorch.py): a TF1 checkpoint -> a folder.
  a.convert.name = "gpt2";
  a.convert.attribute_map = {{"hidden_size", "n_embd"}, {"max_position_embeddings", "n_positions"},
                             {"num_attention_heads", "n_head"}, {"num_hidden_layers", "n_layer"}};
  auto add = [&](const std::string& cls, Head h) {
    a.classes.emplace_back(cls, [cls, h](const Config& c) { return std::make_unique<GPT2>(cls, c, h); });
  };
  add("GPT2Model", Head::Base);
  add("GPT2LMHeadModel", Head::LMHead);
  add("GPT2DoubleHeadsModel", Head::DoubleHeads);
  add("GPT2ForSequenceClassification", Head::SequenceClassification);
  add("GPT2ForTokenClassification", Head::TokenClassification);
  add("GPT2ForQuestionAnswering", Head::QuestionAnswering);
  a.auto_classes = {{"AutoModel", "GPT2Model"},
                    {"AutoModelForCausalLM", "GPT2LMHeadModel"},
                    {"AutoModelForPreTraining", "GPT2LMHeadModel"},
                    {"AutoModelForSequenceClassification", "GPT2ForSequenceClassification"},
                    {"AutoModelForTokenClassification", "GPT2ForTokenClassification"},
                    {"AutoModelForQuestionAnswering", "GPT2ForQuestionAnswering"}};
  return a;
}

}  // namespace hfx::models
