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

class OpenAIGPT final : public nn::GptModel {
 public:
  OpenAIGPT(const std::string& cls, const Config& c, Head head) : GptModel(cls, c, head, "OpenAIGPTLMHeadModel") {
    const int64_t E = d_.E;
    const float eps = d_.eps;
    // The reference's ACT_FNS maps "gelu" to the tanh approximation (NewGELUActivation).
    const std::string afn = c.get<std::string>("afn", "gelu");
    act_ = nn::parse_activation(afn == "gelu" ? "gelu_new" : afn);
    Scope r = root();
    Scope t = head == Head::Base ? r : r / "transformer";
    tokens_ = nn::Embedding::make(t / "tokens_embed", d_.vocab, E);
    positions_ = nn::Embedding::make(t / "positions_embed", d_.P, E);
    for (int64_t i = 0; i < d_.L; ++i) {
      Scope h = t / "h" / i;
      blocks_.push_back({nn::Conv1D::make(h / "attn" / "c_attn", E, 3 * E), nn::Conv1D::make(h / "attn" / "c_proj", E, E),
                         nn::Conv1D::make(h / "mlp" / "c_fc", E, 4 * E), nn::Conv1D::make(h / "mlp" / "c_proj", 4 * E, E),
                         nn::LayerNorm::make(h / "ln_1", E, eps), nn::LayerNorm::make(h / "ln_2", E, eps)});
      ignored_keys_.push_back(h.path("attn.bias"));
    }
    ignored_keys_.push_back(t.path("position_ids"));
    // Heads and traits (OpenAIGPTModel._prune_heads prunes the fused Conv1D attention like GPT-2's).
    nn::gpt_heads(r, t, c, head, d_, tokens_, positions_, lm_head_, score_, mutable_params(), traits_);
  }

  // Post-LN blocks (no final norm).
  Tensor run(const Tensor& ids, const Tensor& position_ids, const Tensor& token_type_ids, const Tensor& attention_mask,
             const Tensor& head_mask, KVCache* cache, bool want_hidden, bool want_attn, nn::StackOutputs& st) const override {
    nn::GptStart g = nn::gpt_start(d_, tokens_, positions_, ids, position_ids, token_type_ids, attention_mask, head_mask, cache, want_attn);
    Tensor h = g.h;
    const auto& hm = g.head_masks;
    nn::AttentionOptions& ao = g.ao;
    const int64_t B = ids.size(0), S = ids.size(1), D = ao.head_dim;
    for (int64_t l = 0; l < d_.L; ++l) {
      const Block& blk = blocks_[static_cast<std::size_t>(l)];
      if (want_hidden) st.hidden_states.push_back(h);
      Tensor qkv = blk.c_attn(h);  // [B, S, 3W]: prune_heads narrows c_attn to W = heads * D per part
      const int64_t W = blk.c_attn.w->size(1) / 3;
      ao.heads = nn::heads_present(W, D, d_.H, !hm.empty(), blk.c_attn.w.name());
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
  nn::Activation act_ = nn::Activation::GeluErf;
  nn::Embedding tokens_, positions_;
  std::vector<Block> blocks_;
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
