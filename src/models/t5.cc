// T5: T5Model, T5ForConditionalGeneration, T5EncoderModel, T5ForSequenceClassification,
// T5ForTokenClassification, T5ForQuestionAnswering (and, through t5_like_architecture, MT5's copies).
// Upstream: transformers v4.46.3 src/transformers/models/t5/modeling_t5.py
// Pre-norm blocks with T5LayerNorm (RMS, no bias); no 1/sqrt(d) attention scaling
// (folded into the init); relative position buckets from block 0's table, reused
// (with the mask folded in) by every later block; FFN relu or gated (gelu_new for
// "gated-gelu"); the tied lm_head rescales the decoder output by d_model**-0.5.
// Inference runs in f32, so the reference's fp16 clamp of hidden states (applied
// only when they are float16) never triggers here.
#include <cmath>

#include "core/strings.h"
#include "hfx/seq2seq.h"
#include "models/registry_entries.h"
#include "models/t5.h"
#include "nn/attention.h"
#include "nn/kv_cache.h"
#include "nn/seq2seq.h"

namespace hfx::models {
namespace {

enum class Head { Model, ConditionalGeneration, Encoder, SequenceClassification, TokenClassification, QuestionAnswering };

struct Attention {
  nn::Linear q, k, v, o;
  Param rel;  // relative_attention_bias (block 0 self-attention only)
};
struct Block {
  Attention self, cross;
  Param self_norm, cross_norm, ff_norm;
  nn::Linear wi, wi_0, wi_1, wo;
};
struct Stack {
  nn::Embedding embed;
  std::vector<Block> blocks;
  Param final_norm;
};

// T5PreTrainedModel._init_weights (transformers 4.46) for a parameter the checkpoint lacks, by module:
// shared / lm_head / the token classifier N(0, factor), the attention's q N(0, factor (d_model d_kv)^-1/2),
// k and v N(0, factor d_model^-1/2), o N(0, factor (num_heads d_kv)^-1/2), relative_attention_bias and the
// FFN's wi / wi_0 / wi_1 N(0, factor d_model^-1/2), wo N(0, factor d_ff^-1/2), the classification head's
// dense / out_proj and qa_outputs N(0, factor d_model^-1/2), biases 0, T5LayerNorm weights factor
// (InitRule has no fill value: Ones, exact for initializer_factor 1.0, the value of every released T5).
InitRule t5_init_rule(const ParamSpec& s, const Config& c) {
  const double factor = c.get<double>("initializer_factor", 1.0);
  const auto d_model = static_cast<double>(c.get<int64_t>("d_model", 512));
  const auto d_kv = static_cast<double>(c.get<int64_t>("d_kv", 64));
  const auto d_ff = static_cast<double>(c.get<int64_t>("d_ff", 2048));
  const auto heads = static_cast<double>(c.get<int64_t>("num_heads", 8));
  const std::string& n = s.name;
  auto module_is = [&](std::string_view module) {  // n is "<...>.<module>.weight" or "<module>.weight"
    const std::string tail = "." + std::string(module) + ".weight";
    return ends_with(n, tail) || n == std::string(module) + ".weight";
  };
  auto normal = [&](double scale) { return InitRule{InitRule::Normal, factor * scale}; };
  if (ends_with(n, ".bias")) return {InitRule::Zeros, 0.0};
  if (ends_with(n, "layer_norm.weight")) return {InitRule::Ones, 0.0};
  if (module_is("shared") || module_is("embed_tokens") || module_is("lm_head") || module_is("classifier")) return normal(1.0);
  if (module_is("q")) return normal(1.0 / std::sqrt(d_model * d_kv));
  if (module_is("o")) return normal(1.0 / std::sqrt(heads * d_kv));
  if (module_is("wo")) return normal(1.0 / std::sqrt(d_ff));
  return normal(1.0 / std::sqrt(d_model));  // k, v, relative_attention_bias, wi*, dense, out_proj, qa_outputs
}

class T5 final : public Model, public Seq2SeqLM {
 public:
  T5(const std::string& cls, const Config& c, Head head) : Model(cls, c, "transformer"), head_(head) {
    V_ = c.get<int64_t>("vocab_size", 0);
    d_ = c.get<int64_t>("d_model", 0);
    dkv_ = c.get<int64_t>("d_kv", 0);
    dff_ = c.get<int64_t>("d_ff", 0);
    H_ = c.get<int64_t>("num_heads", 0);
    Le_ = c.get<int64_t>("num_layers", 0);
    Ld_ = c.get<int64_t>("num_decoder_layers", Le_);
    buckets_ = c.get<int64_t>("relative_attention_num_buckets", 32);
    max_dist_ = c.get<int64_t>("relative_attention_max_distance", 128);
    eps_ = static_cast<float>(c.get<double>("layer_norm_epsilon", 1e-6));
    if (V_ <= 0 || d_ <= 0 || dkv_ <= 0 || dff_ <= 0 || H_ <= 0 || Le_ <= 0 || Ld_ <= 0 || buckets_ <= 0)
      throw_error(ErrorKind::InvalidArgument, "vocab_size, d_model, d_kv, d_ff, num_heads, num_layers and "
                                              "relative_attention_num_buckets must be positive", c.source());
    const std::string fp = c.get<std::string>("feed_forward_proj", "relu");
    const auto dash = fp.find('-');
    gated_ = dash != std::string::npos && fp.substr(0, dash) == "gated";
    if ((dash != std::string::npos && (!gated_ || fp.find('-', dash + 1) != std::string::npos)) || fp.empty())
      throw_error(ErrorKind::Unsupported, "`feed_forward_proj`: " + fp + " is not a valid activation function of the dense "
                                          "layer (format: gated-{ACT_FN} or {ACT_FN}, e.g. 'gated-gelu' or 'relu')", c.source());
    act_ = nn::parse_activation(fp == "gated-gelu" ? "gelu_new" : fp.substr(dash == std::string::npos ? 0 : dash + 1));
    tie_ = c.get<bool>("tie_word_embeddings", true);
    pad_ = c.get<int64_t>("pad_token_id", 0);
    eos_ = c.get<int64_t>("eos_token_id", 1);
    start_ = c.get<int64_t>("decoder_start_token_id", pad_);
    const bool wrapped = head == Head::SequenceClassification || head == Head::TokenClassification;
    Scope r = root();
    Scope m = wrapped ? r / base_model_prefix() : r;
    const std::string shared = (m / "shared").param("weight", {V_, d_}).name();
    enc_ = make_stack(m / "encoder", Le_, false, shared);
    if (has_decoder()) dec_ = make_stack(m / "decoder", Ld_, true, shared);
    const int64_t labels = c.num_labels();
    if (head == Head::ConditionalGeneration) {
      lm_head_.in = d_;
      lm_head_.out = V_;
      lm_head_.w = (r / "lm_head").param("weight", {V_, d_}, tie_ ? shared : "");
    }
    if (head == Head::SequenceClassification) {
      dense_ = nn::Linear::make(r / "classification_head" / "dense", d_, d_);
      score_ = nn::Linear::make(r / "classification_head" / "out_proj", d_, labels);
    }
    if (head == Head::TokenClassification) score_ = nn::Linear::make(r / "classifier", d_, labels);
    if (head == Head::QuestionAnswering) score_ = nn::Linear::make(r / "qa_outputs", d_, labels);
    declare_traits(m);
  }

  int64_t vocab_size() const override { return V_; }
  int64_t decoder_start_token_id() const override { return start_; }

  Seq2SeqCache encode(const Tensor& input_ids, const Tensor& attention_mask) const override {
    if (head_ != Head::ConditionalGeneration)
      throw_error(ErrorKind::Unsupported, class_name() + " cannot generate (use the ForConditionalGeneration class)");
    nn::StackOutputs st;
    Tensor ids = nn::as_ids(input_ids, "input_ids");
    return start_cache(run_encoder(ids, attention_mask, Tensor(), false, false, st), attention_mask);
  }

  Tensor decode_step(const Tensor& decoder_ids, Seq2SeqCache& cache) const override {
    if (head_ != Head::ConditionalGeneration)
      throw_error(ErrorKind::Unsupported, class_name() + " cannot generate (use the ForConditionalGeneration class)");
    nn::StackOutputs st;
    return lm_logits(run_decoder(nn::as_ids(decoder_ids, "decoder_input_ids"), Tensor(), cache, Tensor(), false, false, st, nullptr));
  }

  Outputs forward(const ModelInputs& in) const override {
    Tensor ids = nn::as_ids(in.input_ids, "input_ids");
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const bool want_h = in.output_hidden_states, want_a = in.output_attentions;
    Outputs out;
    nn::StackOutputs est;
    Tensor enc = run_encoder(ids, in.attention_mask, in.head_mask, want_h, want_a, est);
    if (!has_decoder()) {
      if (head_ == Head::TokenClassification)
        out.set("logits", (*score_)(enc));
      else
        out.set("last_hidden_state", enc);
      nn::emit_stack(out, est);
      return out;
    }
    Tensor dec_ids;
    if (in.decoder_input_ids.defined())
      dec_ids = nn::as_ids(in.decoder_input_ids, "decoder_input_ids");
    else if (head_ == Head::SequenceClassification || head_ == Head::QuestionAnswering)
      dec_ids = nn::shift_tokens_right(ids, pad_, start_);
    else
      throw_error(ErrorKind::InvalidArgument, "You have to specify either decoder_input_ids or decoder_inputs_embeds (" +
                                                  class_name() + ")");
    if (dec_ids.dim() != 2 || dec_ids.size(0) != ids.size(0))
      throw_error(ErrorKind::Mismatch, "decoder_input_ids must be [batch, seq] with the batch of input_ids, got " + shape_str(dec_ids.shape()));
    Seq2SeqCache cache = start_cache(enc, in.attention_mask);
    nn::StackOutputs dst;
    std::vector<Tensor> cross;
    Tensor dec = run_decoder(dec_ids, in.decoder_attention_mask, cache, Le_ == Ld_ ? in.head_mask : Tensor(), want_h, want_a, dst,
                             want_a ? &cross : nullptr);
    return nn::seq2seq_outputs(head_, [this](const Tensor& x) { return lm_logits(x); }, ids, dec, eos_, dense_, score_, dst,
                               cross, enc, est);
  }

 private:
  bool has_decoder() const { return head_ != Head::Encoder && head_ != Head::TokenClassification; }
  int64_t inner() const { return H_ * dkv_; }

  // Traits (transformers 4.46 modeling_t5.py): get_input_embeddings is `shared`;
  // _keys_to_ignore_on_load_unexpected per class; only T5EncoderModel and
  // T5ForTokenClassification prune (T5Model._prune_heads reads a missing
  // encoder.layer, the others have no _prune_heads).
  void declare_traits(const Scope& m) {
    traits_.input_embeddings = m.path("shared.weight");
    if (lm_head_.w.valid()) traits_.output_embeddings = lm_head_.w.name();
    set_roles(ParamRole::Embedding, {traits_.input_embeddings, enc_.embed.w.name(), enc_.blocks.at(0).self.rel.name()});
    if (has_decoder()) set_roles(ParamRole::Embedding, {dec_.embed.w.name(), dec_.blocks.at(0).self.rel.name()});
    // T5PreTrainedModel._keep_in_fp32_modules = ["wo"]: the FFN output projection stays f32 in a half-precision
    // load (fp16 overflows there; modeling_t5.py's T5DenseActDense casts its input to wo's dtype). transformers
    // 4.46 applies it to float16 loads only; here the fixed dtype holds for every load dtype (the bind stage
    // reads a ParamSpec's dtype as fixed), so a bfloat16 load keeps wo in f32 too, where transformers rounds
    // it to bfloat16; f32 and f16 loads match it.
    for (const Stack* st : {&enc_, &dec_})
      for (const Block& bl : st->blocks) mutable_params().set_dtype(bl.wo.w.name(), DType::F32);
    traits_.init = t5_init_rule;
    if (head_ == Head::ConditionalGeneration)  // labels -> decoder_input_ids by _shift_right (-100 -> pad)
      traits_.loss = {LossKind::Seq2SeqLM, [pad = pad_, start = start_](const Tensor& l) { return nn::shift_tokens_right(l, pad, start); }};
    if (head_ == Head::Encoder) traits_.ignore_on_load_unexpected = {"decoder"};
    else if (head_ != Head::TokenClassification)
      traits_.ignore_on_load_unexpected = {"decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"};
    if (head_ == Head::Encoder || head_ == Head::TokenClassification) {
      traits_.prune = {H_, dkv_, Le_, [enc = m / "encoder"](int64_t layer) {
                         const Scope a = enc / "block" / layer / "layer" / 0 / "SelfAttention";
                         return AttentionModule{a.path("q"), a.path("k"), a.path("v"), a.path("o")};
                       }, {}, {}};
    } else {
      traits_.prune.unsupported = "transformers 4.46 prunes T5 only in T5EncoderModel / T5ForTokenClassification; " + class_name() +
                                  "'s prune_heads raises AttributeError (T5Model._prune_heads reads a missing encoder.layer, "
                                  "T5ForConditionalGeneration / T5ForQuestionAnswering have no _prune_heads)";
    }
  }

  Stack make_stack(const Scope& s, int64_t layers, bool decoder, const std::string& shared) const {
    Stack st;
    st.embed = nn::Embedding::make(s / "embed_tokens", V_, d_, shared);
    auto attention = [&](const Scope& a, bool rel) {
      Attention at;
      at.q = nn::Linear::make(a / "q", d_, inner(), false);
      at.k = nn::Linear::make(a / "k", d_, inner(), false);
      at.v = nn::Linear::make(a / "v", d_, inner(), false);
      at.o = nn::Linear::make(a / "o", inner(), d_, false);
      if (rel) at.rel = (a / "relative_attention_bias").param("weight", {buckets_, H_});
      return at;
    };
    for (int64_t i = 0; i < layers; ++i) {
      Scope b = s / "block" / i;
      Block bl;
      bl.self = attention(b / "layer" / 0 / "SelfAttention", i == 0);
      bl.self_norm = (b / "layer" / 0 / "layer_norm").param("weight", {d_});
      if (decoder) {
        bl.cross = attention(b / "layer" / 1 / "EncDecAttention", false);
        bl.cross_norm = (b / "layer" / 1 / "layer_norm").param("weight", {d_});
      }
      Scope f = b / "layer" / (decoder ? 2 : 1);
      if (gated_) {
        bl.wi_0 = nn::Linear::make(f / "DenseReluDense" / "wi_0", d_, dff_, false);
        bl.wi_1 = nn::Linear::make(f / "DenseReluDense" / "wi_1", d_, dff_, false);
      } else {
        bl.wi = nn::Linear::make(f / "DenseReluDense" / "wi", d_, dff_, false);
      }
      bl.wo = nn::Linear::make(f / "DenseReluDense" / "wo", dff_, d_, false);
      bl.ff_norm = (f / "layer_norm").param("weight", {d_});
      st.blocks.push_back(bl);
    }
    st.final_norm = (s / "final_layer_norm").param("weight", {d_});
    return st;
  }

  // T5LayerNorm with torch's f32 steps.
  void rms_inplace(Tensor& x, const Param& w) const { nn::t5_rms_norm_(x, *w, eps_); }
  Tensor normed(const Tensor& h, const Param& w) const {
    Tensor x = h.clone();
    rms_inplace(x, w);
    return x;
  }

  // gelu_new exactly as NewGELUActivation spells it (torch.pow(x, 3.0)); other activations from the kernels.
  void activate(Tensor& a) const {
    if (act_ != nn::Activation::GeluTanh) return nn::activate(a, act_);
    float* p = a.mutable_data<float>();
    const float alpha = static_cast<float>(std::sqrt(2.0 / M_PI));
    for (int64_t i = 0; i < a.numel(); ++i) {
      const float v = p[i];
      p[i] = 0.5f * v * (1.0f + std::tanh(alpha * (v + 0.044715f * std::pow(v, 3.0f))));
    }
  }

  void feed_forward(const Block& bl, Tensor& h) const {
    Tensor x = normed(h, bl.ff_norm);
    Tensor a;
    if (gated_) {
      a = bl.wi_0(x);
      activate(a);
      nn::mul_(a, bl.wi_1(x));
    } else {
      a = bl.wi(x);
      activate(a);
    }
    nn::add_(h, bl.wo(a));
  }

  // Block 0's relative position bias for queries at past..past+Sq-1, plus the
  // per-batch additive mask `mask` ([B, Sk] key mask or [B, Sq, Sk]): [B, H, Sq, Sk].
  Tensor position_bias(const Param& table, int64_t B, int64_t Sq, int64_t past, bool bidirectional, const Tensor& mask) const {
    const int64_t Sk = past + Sq;
    Tensor pb = Tensor::zeros(DType::F32, {1, H_, Sq, Sk});
    nn::add_relative_position_bias(pb, *table, past, bidirectional, buckets_, max_dist_);
    Tensor full = Tensor::zeros(DType::F32, {B, H_, Sq, Sk});
    const bool per_query = mask.dim() == 3;
    float* o = full.mutable_data<float>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H_; ++h)
        for (int64_t i = 0; i < Sq; ++i)
          for (int64_t j = 0; j < Sk; ++j)
            o[((b * H_ + h) * Sq + i) * Sk + j] =
                pb.data<float>()[(h * Sq + i) * Sk + j] + mask.data<float>()[per_query ? (b * Sq + i) * Sk + j : b * Sk + j];
    return full;
  }

  // bias [B, H, Sq, Sk] restricted to the heads encoder layer `layer` kept
  // (config.pruned_heads names the removed ones, original numbering): [B, nh, Sq, Sk].
  Tensor kept_heads_bias(const Tensor& bias, int64_t layer, int64_t nh) const {
    std::vector<bool> removed(static_cast<std::size_t>(H_), false);
    if (const json* ph = config().find("pruned_heads"); ph && ph->is_object()) {
      auto it = ph->find(std::to_string(layer));
      if (it != ph->end() && it->is_array())
        for (const auto& v : *it)
          if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < H_) removed[static_cast<std::size_t>(v.get<int64_t>())] = true;
    }
    std::vector<int64_t> keep;
    for (int64_t h = 0; h < H_; ++h)
      if (!removed[static_cast<std::size_t>(h)]) keep.push_back(h);
    if (static_cast<int64_t>(keep.size()) != nh)
      throw_error(ErrorKind::Mismatch, "encoder layer " + std::to_string(layer) + " holds " + std::to_string(nh) + " heads but config.pruned_heads leaves " +
                                           std::to_string(keep.size()), config().source());
    const int64_t B = bias.size(0), plane = bias.size(2) * bias.size(3);
    Tensor out = Tensor::uninitialized(DType::F32, {B, nh, bias.size(2), bias.size(3)});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < nh; ++j)
        std::copy_n(bias.data<float>() + (b * H_ + keep[static_cast<std::size_t>(j)]) * plane, plane, out.mutable_data<float>() + (b * nh + j) * plane);
    return out;
  }

  // T5 attention: unscaled scores, the additive bias (relative positions + mask, per head) as the hook.
  nn::AttentionOptions options(const Tensor& bias, bool want_probs) const {
    nn::AttentionOptions ao;
    ao.heads = H_;
    ao.head_dim = dkv_;
    ao.scale = 1.0f;
    ao.bias = nn::AttentionBias::of(bias);
    ao.want_probs = want_probs;
    return ao;
  }

  Tensor run_encoder(const Tensor& ids, const Tensor& mask, const Tensor& head_mask, bool want_h, bool want_a,
                     nn::StackOutputs& st) const {
    const int64_t B = ids.size(0), S = ids.size(1);
    Tensor h = Tensor::zeros(DType::F32, {B, S, d_});
    enc_.embed.gather(ids, h.mutable_data<float>(), false);
    Tensor bias = position_bias(enc_.blocks[0].self.rel, B, S, 0, true, nn::padding_bias(mask, B, S, "attention_mask"));
    auto hm = nn::per_layer_head_mask(head_mask, Le_, H_);
    nn::AttentionOptions ao = options(bias, want_a);
    for (int64_t l = 0; l < Le_; ++l) {
      const Block& bl = enc_.blocks[static_cast<std::size_t>(l)];
      if (want_h) st.hidden_states.push_back(h.clone());
      Tensor x = normed(h, bl.self_norm);
      // prune_heads (encoder-only classes) narrows q/k/v/o; the shared position bias keeps
      // every head and a pruned layer uses the rows of the heads it kept (T5Attention.forward).
      ao.heads = nn::heads_present(bl.self.q.w->size(0), dkv_, H_, !hm.empty(), bl.self.q.w.name());
      Tensor kept = ao.heads != H_ ? kept_heads_bias(bias, l, ao.heads) : Tensor();
      ao.bias = nn::AttentionBias::of(kept.defined() ? kept : bias);
      ao.head_mask = hm.empty() ? nullptr : hm[static_cast<std::size_t>(l)].data();
      Tensor q = bl.self.q(x), k = bl.self.k(x), v = bl.self.v(x);
      nn::Attended at = nn::attend(q, k, v, ao);
      nn::add_(h, bl.self.o(at.context));
      feed_forward(bl, h);
      if (want_a) st.attentions.push_back(at.probs);
    }
    rms_inplace(h, enc_.final_norm);
    if (want_h) st.hidden_states.push_back(h);
    return h;
  }

  Seq2SeqCache start_cache(const Tensor& enc, const Tensor& mask) const {
    Seq2SeqCache c;
    c.encoder_hidden = enc;
    if (mask.defined()) c.encoder_mask = mask.to(DType::I64);
    const int64_t B = enc.size(0), S = enc.size(1);
    for (int64_t l = 0; l < Ld_; ++l) {
      const Block& bl = dec_.blocks[static_cast<std::size_t>(l)];
      nn::kv_set(c.cross_attn, l, bl.cross.k(enc), bl.cross.v(enc));
    }
    if (c.encoder_mask.defined() && c.encoder_mask.shape() != Shape{B, S})
      throw_error(ErrorKind::Mismatch, "attention_mask shape " + shape_str(mask.shape()) + " does not match input " + shape_str({B, S}));
    return c;
  }

  Tensor run_decoder(const Tensor& ids, const Tensor& mask, Seq2SeqCache& cache, const Tensor& head_mask, bool want_h, bool want_a,
                     nn::StackOutputs& st, std::vector<Tensor>* cross) const {
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "decoder_input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const int64_t B = ids.size(0), S = ids.size(1), past = cache.self_attn.length(), Se = cache.cross_attn.length();
    if (cache.encoder_hidden.size(0) != B)
      throw_error(ErrorKind::Mismatch, "decoder batch " + std::to_string(B) + " != encoder batch " + std::to_string(cache.encoder_hidden.size(0)));
    Tensor h = Tensor::zeros(DType::F32, {B, S, d_});
    dec_.embed.gather(ids, h.mutable_data<float>(), false);
    Tensor bias = position_bias(dec_.blocks[0].self.rel, B, S, past, false,
                                nn::causal_padding_bias(mask, B, S, past, "decoder_attention_mask"));
    nn::AttentionOptions ao = options(bias, want_a);
    ao.cache = &cache.self_attn;
    Tensor enc_bias = nn::padding_bias(cache.encoder_mask, B, Se, "attention_mask");
    nn::AttentionOptions co = options(enc_bias, cross != nullptr);
    co.cached = &cache.cross_attn;
    auto hm = nn::per_layer_head_mask(head_mask, Ld_, H_);
    Tensor none;
    for (int64_t l = 0; l < Ld_; ++l) {
      const Block& bl = dec_.blocks[static_cast<std::size_t>(l)];
      const auto li = static_cast<std::size_t>(l);
      if (want_h) st.hidden_states.push_back(h.clone());
      Tensor x = normed(h, bl.self_norm);
      ao.layer = co.layer = l;
      ao.head_mask = hm.empty() ? nullptr : hm[li].data();
      Tensor q = bl.self.q(x), k = bl.self.k(x), v = bl.self.v(x);
      nn::Attended at = nn::attend(q, k, v, ao);
      nn::add_(h, bl.self.o(at.context));
      x = normed(h, bl.cross_norm);
      Tensor cq = bl.cross.q(x);
      nn::Attended ct = nn::attend(cq, none, none, co);
      nn::add_(h, bl.cross.o(ct.context));
      feed_forward(bl, h);
      if (want_a) st.attentions.push_back(at.probs);
      if (cross) cross->push_back(ct.probs);
    }
    rms_inplace(h, dec_.final_norm);
    if (want_h) st.hidden_states.push_back(h);
    return h;
  }

  Tensor lm_logits(const Tensor& dec) const {
    if (!tie_) return lm_head_(dec);
    Tensor x = dec.clone();  // T5 rescales before the tied projection
    nn::scale_(x, static_cast<float>(std::pow(static_cast<double>(d_), -0.5)));
    return lm_head_(x);
  }

  Head head_;
  int64_t V_ = 0, d_ = 0, dkv_ = 0, dff_ = 0, H_ = 0, Le_ = 0, Ld_ = 0, buckets_ = 32, max_dist_ = 128;
  int64_t pad_ = 0, eos_ = 1, start_ = 0;
  float eps_ = 1e-6f;
  bool gated_ = false, tie_ = true;
  nn::Activation act_ = nn::Activation::Relu;
  Stack enc_, dec_;
  nn::Linear lm_head_;
  std::optional<nn::Linear> dense_, score_;
};

}  // namespace

Architecture t5_like_architecture(const std::string& model_type, const std::string& family, json defaults) {
  Architecture a{model_type, std::move(defaults), "transformer", {}, {}, {}};
  auto add = [&](const std::string& suffix, Head h) {
    const std::string cls = family + suffix;
    a.classes.emplace_back(cls, [cls, h](const Config& c) { return std::make_unique<T5>(cls, c, h); });
  };
  add("Model", Head::Model);
  add("ForConditionalGeneration", Head::ConditionalGeneration);
  add("EncoderModel", Head::Encoder);
  add("ForSequenceClassification", Head::SequenceClassification);
  add("ForTokenClassification", Head::TokenClassification);
  add("ForQuestionAnswering", Head::QuestionAnswering);
  a.auto_classes = {{"AutoModel", family + "Model"},
                    {"AutoModelForSeq2SeqLM", family + "ForConditionalGeneration"},
                    {"AutoModelForPreTraining", family + "ForConditionalGeneration"},
                    {"AutoModelForSequenceClassification", family + "ForSequenceClassification"},
                    {"AutoModelForTokenClassification", family + "ForTokenClassification"},
                    {"AutoModelForQuestionAnswering", family + "ForQuestionAnswering"}};
  return a;
}

Architecture t5_architecture() {
  json d = {{"vocab_size", 32128}, {"d_model", 512}, {"d_kv", 64}, {"d_ff", 2048}, {"num_layers", 6},
            {"num_decoder_layers", nullptr}, {"num_heads", 8}, {"relative_attention_num_buckets", 32},
            {"relative_attention_max_distance", 128}, {"dropout_rate", 0.1}, {"layer_norm_epsilon", 1e-6},
            {"initializer_factor", 1.0}, {"feed_forward_proj", "relu"}, {"is_encoder_decoder", true},
            {"use_cache", true}, {"pad_token_id", 0}, {"eos_token_id", 1}, {"classifier_dropout", 0.0}};
  Architecture a = t5_like_architecture("t5", "T5", d);
  // hfx convert t5 (convert_t5_original_tf_checkpoint_to_pytorch.py): --config required, written with
  // save_pretrained; T5Config.__init__ derives dense_act_fn, is_gated_act and num_decoder_layers.
  a.convert.name = "t5";
  a.convert.config_required = true;
  a.convert.output = ConvertTraits::Output::SavePretrained;
  a.convert.attribute_map = {{"hidden_size", "d_model"}, {"num_attention_heads", "num_heads"}, {"num_hidden_layers", "num_layers"},
                             {"head_dim", "d_kv"}};
  a.convert.derive = [](json& full, const json& in) {
    const std::string ff = full.value("feed_forward_proj", "relu");
    if (!in.contains("dense_act_fn")) full["dense_act_fn"] = ff == "gated-gelu" ? "gelu_new" : ff.substr(ff.rfind('-') + 1);
    if (!in.contains("is_gated_act")) full["is_gated_act"] = ff.rfind("gated-", 0) == 0;
    if (full["num_decoder_layers"].is_null() || !in.contains("num_decoder_layers")) full["num_decoder_layers"] = full["num_layers"];
  };
  return a;
}

}  // namespace hfx::models
