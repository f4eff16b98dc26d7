// GPT-J: GPTJModel, GPTJForCausalLM, GPTJForSequenceClassification, GPTJForQuestionAnswering.
// Upstream: transformers v4.46.3 src/transformers/models/gptj/modeling_gptj.py, configuration_gptj.py;
// model_type "gptj"; base model attribute "transformer". (TFGPTJ* / FlaxGPTJ* exist in 4.46; hfx loads the
// PyTorch formats of this type only.)
// One LayerNorm per block and a parallel residual h = attn(ln_1(h)) + mlp(ln_1(h)) + h; q/k/v/out_proj without
// biases; an interleaved rotary embedding (rotate_every_two) over the first rotary_dim dims of each head with the
// fixed theta 10000 (create_sinusoidal_positions); scores / sqrt(head_dim) in float32; the 4-D mask of
// _update_causal_mask (finfo.min filled); fc_in -> activation_function -> fc_out; ln_f; lm_head with a bias;
// token_type_ids embedded through wte; head_mask honoured.
#include <optional>

#include "models/llama.h"  // DecoderHead, set_decoder_outputs, decoder_architecture
#include "models/registry_entries.h"
#include "nn/decoder.h"
#include "nn/mask.h"

namespace hfx::models {
namespace {

class GptJ final : public nn::DecoderModel {
 public:
  GptJ(const std::string& cls, const Config& c, DecoderHead head)
      : DecoderModel(cls, c, "transformer", head, "GPTJForCausalLM") {
    H_ = c.get<int64_t>("n_embd", 0);
    L_ = c.get<int64_t>("n_layer", 0);
    nH_ = c.get<int64_t>("n_head", 0);
    if (vocab_ <= 0 || H_ <= 0 || L_ <= 0 || nH_ <= 0)
      throw_error(ErrorKind::InvalidArgument, "vocab_size, n_embd, n_layer and n_head must be positive", c.source());
    if (H_ % nH_) throw_error(ErrorKind::InvalidArgument, "n_embd is not a multiple of n_head", c.source());
    D_ = H_ / nH_;
    const int64_t inner = c.has("n_inner") ? c.get<int64_t>("n_inner", 0) : 4 * H_;
    if (inner <= 0) throw_error(ErrorKind::InvalidArgument, "n_inner must be positive", c.source());
    // GPTJAttention rotates the whole head only when rotary_dim is null, with a table of n_embd / 2 frequencies
    // that fits one head only: transformers 4.46 cannot run it with several heads.
    if (!c.has("rotary_dim")) throw_error(ErrorKind::Unsupported, "GPT-J without rotary_dim is not supported", c.source());
    rope_.dim = c.get<int64_t>("rotary_dim", 0);
    if (rope_.dim <= 0 || rope_.dim > D_ || rope_.dim % 2)
      throw_error(ErrorKind::InvalidArgument, "rotary_dim must be even, positive and at most the head size " +
                                                  std::to_string(D_), c.source());
    rope_.head_stride = D_;
    rope_.interleaved = true;
    rope_.base = 10000.0;
    act_ = nn::parse_activation(c.get<std::string>("activation_function", "gelu_new"));
    const float eps = static_cast<float>(c.get<double>("layer_norm_epsilon", 1e-5));
    Scope r = root();
    Scope m = head == DecoderHead::Base ? r : r / "transformer";
    embed_ = nn::Embedding::make(m / "wte", vocab_, H_);
    for (int64_t i = 0; i < L_; ++i) {
      Scope l = m / "h" / i;
      Layer ly;
      ly.ln = nn::LayerNorm::make(l / "ln_1", H_, eps);
      ly.q = nn::Linear::make(l / "attn" / "q_proj", H_, H_, false);
      ly.k = nn::Linear::make(l / "attn" / "k_proj", H_, H_, false);
      ly.v = nn::Linear::make(l / "attn" / "v_proj", H_, H_, false);
      ly.o = nn::Linear::make(l / "attn" / "out_proj", H_, H_, false);
      ly.fc_in = nn::Linear::make(l / "mlp" / "fc_in", H_, inner);
      ly.fc_out = nn::Linear::make(l / "mlp" / "fc_out", inner, H_);
      layers_.push_back(ly);
      // Non-persistent buffers older checkpoints still hold.
      for (const char* b : {"attn.bias", "attn.masked_bias", "attn.embed_positions"}) ignored_keys_.push_back(l.path(b));
    }
    ln_f_ = nn::LayerNorm::make(m / "ln_f", H_, eps);
    if (head == DecoderHead::QuestionAnswering && c.num_labels() != 2)  // qa_outputs = nn.Linear(hidden_size, num_labels), split in two
      throw_error(ErrorKind::Unsupported, "GPTJForQuestionAnswering needs num_labels 2 (start and end logits)", c.source());
    // GPTJModel has no _prune_heads (prune_heads raises NotImplementedError in transformers 4.46).
    declare_heads(r, c, embed_, H_, {"lm_head", false, true});
  }

 private:
  struct Layer {
    nn::LayerNorm ln;
    nn::Linear q, k, v, o, fc_in, fc_out;
  };

  Tensor run(const Tensor& ids, const ModelInputs& in, KVCache* cache, nn::StackOutputs& st) const override {
    const Tensor &token_type_ids = in.token_type_ids, &position_ids = in.position_ids, &attention_mask = in.attention_mask,
                 &head_mask = in.head_mask;
    const bool want_hidden = in.output_hidden_states, want_attn = in.output_attentions;
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const int64_t B = ids.size(0), S = ids.size(1);
    const int64_t past = cache ? cache->length() : 0;
    Tensor h = Tensor::zeros(DType::F32, {B, S, H_});
    embed_.gather(ids, h.mutable_data<float>(), false);
    if (token_type_ids.defined()) {  // token_type_embeds = self.wte(token_type_ids)
      Tensor tt = nn::as_ids(token_type_ids, "token_type_ids");
      if (tt.shape() != ids.shape())
        throw_error(ErrorKind::Mismatch, "token_type_ids " + shape_str(tt.shape()) + " must match input_ids " + shape_str(ids.shape()));
      Tensor e = Tensor::zeros(DType::F32, {B, S, H_});
      embed_.gather(tt, e.mutable_data<float>(), false);
      nn::add_(h, e);
    }
    Tensor bias = nn::causal_padding_bias(attention_mask, B, S, past, "attention_mask");
    auto hm = nn::per_layer_head_mask(head_mask, L_, nH_);
    nn::RotaryAttention ra(rope_, position_ids, B, S, cache, nH_, nH_, D_, bias, want_attn);
    for (int64_t l = 0; l < L_; ++l) {
      const Layer& ly = layers_[static_cast<std::size_t>(l)];
      if (want_hidden) st.hidden_states.push_back(h.clone());
      Tensor x = h.clone();
      ly.ln.inplace(x);
      Tensor q = ly.q(x), k = ly.k(x), v = ly.v(x);
      ra.ao.layer = l;
      ra.ao.head_mask = hm.empty() ? nullptr : hm[static_cast<std::size_t>(l)].data();
      nn::Attended at = nn::attend(q, k, v, ra.ao);
      Tensor t = ly.o(at.context);  // attn_output + feed_forward_hidden_states + residual, in that order
      Tensor u = ly.fc_in(x);
      nn::activate(u, act_);
      nn::add_(t, ly.fc_out(u));
      nn::add_(t, h);
      h = t;
      if (want_attn) st.attentions.push_back(at.probs);
    }
    ln_f_.inplace(h);
    if (want_hidden) st.hidden_states.push_back(h);
    return h;
  }

  int64_t H_ = 0, L_ = 0, nH_ = 0, D_ = 0;
  nn::Activation act_ = nn::Activation::GeluTanh;
  nn::Rope rope_;
  nn::Embedding embed_;
  std::vector<Layer> layers_;
  nn::LayerNorm ln_f_;
};

}  // namespace

Architecture gptj_architecture() {
  // GPTJConfig().to_dict() where it differs from PretrainedConfig.
  json d = {{"vocab_size", 50400}, {"n_positions", 2048}, {"n_embd", 4096}, {"n_layer", 28}, {"n_head", 16},
            {"n_inner", nullptr}, {"rotary_dim", 64}, {"activation_function", "gelu_new"}, {"resid_pdrop", 0.0},
            {"embd_pdrop", 0.0}, {"attn_pdrop", 0.0}, {"layer_norm_epsilon", 1e-5}, {"initializer_range", 0.02},
            {"use_cache", true}, {"bos_token_id", 50256}, {"eos_token_id", 50256}, {"tie_word_embeddings", false}};
  return decoder_architecture("gptj", std::move(d), "transformer",
                              {{"GPTJModel", DecoderHead::Base},
                               {"GPTJForCausalLM", DecoderHead::CausalLM},
                               {"GPTJForSequenceClassification", DecoderHead::SequenceClassification},
                               {"GPTJForQuestionAnswering", DecoderHead::QuestionAnswering}},
                              [](const std::string& cls, const Config& c, DecoderHead h) {
                                return std::make_unique<GptJ>(cls, c, h);
                              });
}

}  // namespace hfx::models
