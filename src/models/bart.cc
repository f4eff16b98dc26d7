// BART: BartModel, BartForConditionalGeneration, BartForSequenceClassification,
// BartForQuestionAnswering, BartForCausalLM.
// Upstream: transformers v4.46.3 src/transformers/models/bart/modeling_bart.py
// Post-LN encoder/decoder layers; learned positions with offset 2
// (BartLearnedPositionalEmbedding); layernorm_embedding; optional sqrt(d_model)
// embedding scale; q scaled by head_dim**-0.5 before q k^T; decoder_input_ids
// default to shift_tokens_right(input_ids, pad, decoder_start_token_id);
// lm_head tied to model.shared plus the final_logits_bias buffer. Eager
// attention semantics (masks are finfo.min, never -inf); dropout is identity.
#include <cmath>

#include "hfx/seq2seq.h"
#include "models/bart.h"
#include "models/registry_entries.h"
#include "nn/attention.h"
#include "nn/kv_cache.h"
#include "nn/seq2seq.h"

namespace hfx::models {
namespace {

enum class Head { Model, ConditionalGeneration, SequenceClassification, QuestionAnswering, CausalLM };

struct Attention {
  nn::Linear q, k, v, o;
};
struct Layer {
  Attention self, cross;
  nn::LayerNorm self_norm, cross_norm, final_norm;
  nn::Linear fc1, fc2;
};
struct Stack {
  nn::Embedding embed, pos;
  nn::LayerNorm ln_emb, final_norm;  // layernorm_embedding (flavor.ln_embedding), layer_norm (flavor.pre_norm)
  Tensor sinusoid;                   // flavor.sinusoidal: the [max_pos, d] table, computed (not loaded)
  std::vector<Layer> layers;
  int64_t heads = 0, head_dim = 0;
};

constexpr int64_t kPosOffset = 2;  // BartLearnedPositionalEmbedding.offset

// MarianSinusoidalPositionalEmbedding._init_weight / PegasusSinusoidalPositionalEmbedding (numpy float64,
// then float32): row p = [sin(p / 10000^(2 (j // 2) / d)) for even j, then cos(...) for odd j]
// (the sin half has ceil(d / 2) columns).
Tensor sinusoid_positions(int64_t n_pos, int64_t dim) {
  Tensor t = Tensor::zeros(DType::F32, {n_pos, dim});
  float* o = t.mutable_data<float>();
  const int64_t sentinel = dim % 2 == 0 ? dim / 2 : dim / 2 + 1;
  for (int64_t p = 0; p < n_pos; ++p) {
    int64_t c = 0;
    for (int64_t j = 0; j < dim; j += 2)
      o[p * dim + c++] = static_cast<float>(std::sin(static_cast<double>(p) / std::pow(10000.0, 2.0 * static_cast<double>(j / 2) / static_cast<double>(dim))));
    c = sentinel;
    for (int64_t j = 1; j < dim; j += 2)
      o[p * dim + c++] = static_cast<float>(std::cos(static_cast<double>(p) / std::pow(10000.0, 2.0 * static_cast<double>(j / 2) / static_cast<double>(dim))));
  }
  return t;
}

// mBART's shift_tokens_right: ids shifted right with the last non-pad token of each row (its language
// code) wrapped to the front.
Tensor mbart_shift_tokens_right(const Tensor& ids, int64_t pad) {
  const int64_t B = ids.size(0), S = ids.size(1);
  Tensor out = Tensor::zeros(DType::I64, {B, S});
  const int64_t* in = ids.data<int64_t>();
  int64_t* o = out.mutable_data<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    int64_t n = 0;
    for (int64_t s = 0; s < S; ++s) n += (in[b * S + s] == -100 ? pad : in[b * S + s]) != pad;
    if (n == 0) throw_error(ErrorKind::InvalidArgument, "input_ids row " + std::to_string(b) + " is all padding (mBART takes its language code from the last token)");
    const int64_t last = n - 1;
    const int64_t v = in[b * S + last];
    o[b * S] = v == -100 ? pad : v;
    for (int64_t s = 1; s < S; ++s) o[b * S + s] = in[b * S + s - 1] == -100 ? pad : in[b * S + s - 1];
  }
  return out;
}

class BartBase : public Model {
 public:
  BartBase(const std::string& cls, const Config& c, Head head, BartFlavor flavor)
      : Model(cls, c, "model"), head_(head), fl_(std::move(flavor)) {
    V_ = c.get<int64_t>("vocab_size", 0);
    d_ = c.get<int64_t>("d_model", 0);
    max_pos_ = c.get<int64_t>("max_position_embeddings", 0);
    Le_ = c.get<int64_t>("encoder_layers", 0);
    Ld_ = c.get<int64_t>("decoder_layers", 0);
    if (V_ <= 0 || d_ <= 0 || max_pos_ <= 0 || Le_ <= 0 || Ld_ <= 0)
      throw_error(ErrorKind::InvalidArgument, "vocab_size, d_model, max_position_embeddings, encoder_layers and decoder_layers "
                                              "must be positive", c.source());
    // Marian's untied decoder vocabulary (share_encoder_decoder_embeddings = false) is not built here.
    if (!c.get<bool>("share_encoder_decoder_embeddings", true) || c.get<int64_t>("decoder_vocab_size", V_) != V_)
      throw_error(ErrorKind::Unsupported, "a decoder vocabulary apart from the encoder's (share_encoder_decoder_embeddings false or "
                                          "decoder_vocab_size != vocab_size) is not supported", c.source());
    act_ = nn::parse_activation(c.get<std::string>("activation_function", "gelu"));
    embed_scale_ = c.get<bool>("scale_embedding", false) ? static_cast<float>(std::sqrt(static_cast<double>(d_))) : 1.0f;
    pad_ = c.get<int64_t>("pad_token_id", 1);
    eos_ = c.get<int64_t>("eos_token_id", 2);
    start_ = c.get<int64_t>("decoder_start_token_id", eos_);
    const bool tie = c.get<bool>("tie_word_embeddings", true);
    Scope r = root();
    Scope m = head == Head::Model ? r : r / base_model_prefix();
    std::string embed_name;
    if (head != Head::CausalLM) {
      embed_name = (m / "shared").param("weight", {V_, d_}).name();
      enc_ = make_stack(m / "encoder", Le_, c.get<int64_t>("encoder_attention_heads", 0), c.get<int64_t>("encoder_ffn_dim", 0),
                        false, embed_name);
    }
    dec_ = make_stack(m / "decoder", Ld_, c.get<int64_t>("decoder_attention_heads", 0), c.get<int64_t>("decoder_ffn_dim", 0), true,
                      embed_name);
    if (head == Head::ConditionalGeneration || head == Head::CausalLM) {
      lm_head_.in = d_;
      lm_head_.out = V_;
      lm_head_.w = (r / "lm_head").param("weight", {V_, d_}, tie ? dec_.embed.w.name() : "");
      if (head == Head::ConditionalGeneration) lm_head_.b = r.param("final_logits_bias", {1, V_});
    }
    if (head == Head::SequenceClassification) {
      dense_ = nn::Linear::make(r / "classification_head" / "dense", d_, d_);
      score_ = nn::Linear::make(r / "classification_head" / "out_proj", d_, c.num_labels());
    }
    if (head == Head::QuestionAnswering) score_ = nn::Linear::make(r / "qa_outputs", d_, 2);
    // Traits (transformers 4.46 modeling_bart.py): get_input_embeddings is `shared`
    // (the decoder's table in BartForCausalLM); final_logits_bias is a buffer;
    // _keys_to_ignore_on_load_unexpected / _missing; no _prune_heads.
    traits_.input_embeddings = head == Head::CausalLM ? dec_.embed.w.name() : embed_name;
    if (lm_head_.w.valid()) traits_.output_embeddings = lm_head_.w.name();
    set_roles(ParamRole::Embedding, {dec_.embed.w.name(), dec_.pos.w.name()});
    if (head != Head::CausalLM) set_roles(ParamRole::Embedding, {embed_name, enc_.embed.w.name(), enc_.pos.w.name()});
    traits_.ignore_on_load_unexpected = {"encoder.version", "decoder.version"};
    // Labels: *ForConditionalGeneration / MarianMTModel shift them into decoder_input_ids (mBART wraps the
    // language code); the BART-family *ForCausalLM does not shift its loss.
    if (head == Head::ConditionalGeneration)
      traits_.loss = {LossKind::Seq2SeqLM, [pad = pad_, start = start_, wrap = fl_.wrap_last_token](const Tensor& l) {
                        return wrap ? mbart_shift_tokens_right(l, pad) : nn::shift_tokens_right(l, pad, start);
                      }};
    if (head == Head::CausalLM) traits_.loss.kind = LossKind::TokenLM;
    // Marian leaves the sinusoidal tables out of its checkpoints (_keys_to_ignore_on_save): computed here.
    if (fl_.sinusoidal) traits_.ignore_on_load_missing.push_back("embed_positions.weight");
    if (head == Head::ConditionalGeneration) {
      set_roles(ParamRole::Buffer, {lm_head_.b.name()});
      traits_.ignore_on_load_missing.push_back("final_logits_bias");
      traits_.lm_head.bias = {{"final_logits_bias", lm_head_.b.name()}};  // TFBartForConditionalGeneration.get_bias
    }
  }

  Outputs forward(const ModelInputs& in) const override {
    Tensor ids = nn::as_ids(in.input_ids, "input_ids");
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const bool want_h = in.output_hidden_states, want_a = in.output_attentions;
    Outputs out;
    if (head_ == Head::CausalLM) {
      KVCache cache;
      nn::StackOutputs st;
      out.set("logits", lm_head_(run_decoder(ids, in.attention_mask, cache, nullptr, in.head_mask, want_h, want_a, st, nullptr)));
      nn::emit_stack(out, st);
      return out;
    }
    nn::StackOutputs est;
    Tensor enc = run_encoder(ids, in.attention_mask, in.head_mask, want_h, want_a, est);
    Tensor dec_ids = in.decoder_input_ids.defined() ? nn::as_ids(in.decoder_input_ids, "decoder_input_ids")
                     : fl_.wrap_last_token ? mbart_shift_tokens_right(ids, pad_)
                                           : nn::shift_tokens_right(ids, pad_, start_);
    Seq2SeqCache cache = start_cache(enc, in.attention_mask);
    nn::StackOutputs dst;
    std::vector<Tensor> cross;
    Tensor dec = run_decoder(dec_ids, in.decoder_attention_mask, cache.self_attn, &cache, Tensor(), want_h, want_a, dst,
                             want_a ? &cross : nullptr);
    return nn::seq2seq_outputs(head_, lm_head_, ids, dec, eos_, dense_, score_, dst, cross, enc, est);
  }

 protected:
  Stack make_stack(const Scope& s, int64_t layers, int64_t heads, int64_t ffn, bool decoder, const std::string& shared) const {
    if (heads <= 0 || d_ % heads || ffn <= 0)
      throw_error(ErrorKind::InvalidArgument, "d_model " + std::to_string(d_) + " must be a positive multiple of the attention heads (" +
                                                  std::to_string(heads) + ") and ffn_dim positive", config().source());
    Stack st;
    st.heads = heads;
    st.head_dim = d_ / heads;
    st.embed = nn::Embedding::make(s / "embed_tokens", V_, d_, shared);
    st.pos = nn::Embedding::make(s / "embed_positions", max_pos_ + (fl_.sinusoidal ? 0 : kPosOffset), d_);
    if (fl_.sinusoidal) st.sinusoid = sinusoid_positions(max_pos_, d_);
    auto attention = [&](const Scope& a) {
      return Attention{nn::Linear::make(a / "q_proj", d_, d_), nn::Linear::make(a / "k_proj", d_, d_),
                       nn::Linear::make(a / "v_proj", d_, d_), nn::Linear::make(a / "out_proj", d_, d_)};
    };
    for (int64_t i = 0; i < layers; ++i) {
      Scope l = s / "layers" / i;
      Layer ly;
      ly.self = attention(l / "self_attn");
      ly.self_norm = nn::LayerNorm::make(l / "self_attn_layer_norm", d_, 1e-5f);
      if (decoder) {
        ly.cross = attention(l / "encoder_attn");
        ly.cross_norm = nn::LayerNorm::make(l / "encoder_attn_layer_norm", d_, 1e-5f);
      }
      ly.fc1 = nn::Linear::make(l / "fc1", d_, ffn);
      ly.fc2 = nn::Linear::make(l / "fc2", ffn, d_);
      ly.final_norm = nn::LayerNorm::make(l / "final_layer_norm", d_, 1e-5f);
      st.layers.push_back(ly);
    }
    if (fl_.ln_embedding) st.ln_emb = nn::LayerNorm::make(s / "layernorm_embedding", d_, 1e-5f);
    if (fl_.pre_norm) st.final_norm = nn::LayerNorm::make(s / "layer_norm", d_, 1e-5f);
    return st;
  }

  // Scaled token embeddings + positions past..past+S-1 (offset 2), then layernorm_embedding.
  Tensor embed(const Stack& st, const Tensor& ids, int64_t past) const {
    const int64_t B = ids.size(0), S = ids.size(1);
    Tensor h = Tensor::zeros(DType::F32, {B, S, d_});
    st.embed.gather(ids, h.mutable_data<float>(), false);
    if (embed_scale_ != 1.0f) nn::scale_(h, embed_scale_);
    if (fl_.sinusoidal) {  // the computed table (Marian checkpoints leave embed_positions out)
      if (past + S > max_pos_)
        throw_error(ErrorKind::InvalidArgument, "position " + std::to_string(past + S - 1) + " exceeds max_position_embeddings " +
                                                    std::to_string(max_pos_));
      float* o = h.mutable_data<float>();
      const float* t = st.sinusoid.data<float>();
      for (int64_t b = 0; b < B; ++b)
        for (int64_t s = 0; s < S; ++s)
          for (int64_t j = 0; j < d_; ++j) o[(b * S + s) * d_ + j] += t[(past + s) * d_ + j];
    } else {
      Tensor pos = Tensor::zeros(DType::I64, {B, S});
      for (int64_t b = 0; b < B; ++b)
        for (int64_t s = 0; s < S; ++s) pos.mutable_data<int64_t>()[b * S + s] = past + s + kPosOffset;
      st.pos.gather(pos, h.mutable_data<float>(), true);
    }
    if (fl_.ln_embedding) st.ln_emb.inplace(h);
    return h;
  }

  // q_proj(x) * head_dim**-0.5, as BartAttention scales the queries before q k^T.
  static Tensor query(const Attention& a, const Stack& st, const Tensor& x) {
    Tensor q = a.q(x);
    nn::scale_(q, static_cast<float>(std::pow(static_cast<double>(st.head_dim), -0.5)));
    return q;
  }

  // Post-norm (BART, Marian): h = norm(h + fc2(act(fc1(h)))); pre-norm (mBART, Pegasus): h + fc2(act(fc1(norm(h)))).
  void feed_forward(const Layer& ly, Tensor& h) const {
    Tensor x = h;
    if (fl_.pre_norm) {
      x = h.clone();
      ly.final_norm.inplace(x);
    }
    Tensor a = ly.fc1(x);
    nn::activate(a, act_);
    Tensor y = ly.fc2(a);
    nn::add_(y, h);
    if (!fl_.pre_norm) ly.final_norm.inplace(y);
    h = y;
  }

  // The input of a sublayer: h itself (post-norm) or norm(h) (pre-norm).
  Tensor sub_input(const nn::LayerNorm& norm, const Tensor& h) const {
    if (!fl_.pre_norm) return h;
    Tensor x = h.clone();
    norm.inplace(x);
    return x;
  }
  // residual + sublayer output, normed after (post-norm only).
  void residual(const nn::LayerNorm& norm, Tensor& y, const Tensor& h) const {
    nn::add_(y, h);
    if (!fl_.pre_norm) norm.inplace(y);
  }

  Tensor run_encoder(const Tensor& ids, const Tensor& mask, const Tensor& head_mask, bool want_h, bool want_a,
                     nn::StackOutputs& st) const {
    const int64_t B = ids.size(0), S = ids.size(1);
    Tensor h = embed(enc_, ids, 0);
    Tensor bias = nn::padding_bias(mask, B, S, "attention_mask");
    auto hm = nn::per_layer_head_mask(head_mask, Le_, enc_.heads);
    nn::AttentionOptions ao = options(enc_, bias, want_a);
    for (int64_t l = 0; l < Le_; ++l) {
      const Layer& ly = enc_.layers[static_cast<std::size_t>(l)];
      if (want_h) st.hidden_states.push_back(h);
      ao.head_mask = hm.empty() ? nullptr : hm[static_cast<std::size_t>(l)].data();
      Tensor x = sub_input(ly.self_norm, h);
      Tensor q = query(ly.self, enc_, x), k = ly.self.k(x), v = ly.self.v(x);
      nn::Attended at = nn::attend(q, k, v, ao);
      Tensor y = ly.self.o(at.context);
      residual(ly.self_norm, y, h);
      feed_forward(ly, y);
      h = y;
      if (want_a) st.attentions.push_back(at.probs);
    }
    if (fl_.pre_norm) enc_.final_norm.inplace(h);
    if (want_h) st.hidden_states.push_back(h);
    return h;
  }

  // Attention over stack `st` (queries pre-scaled by query(), so the scores are not scaled again).
  static nn::AttentionOptions options(const Stack& st, const Tensor& bias, bool want_probs) {
    nn::AttentionOptions ao;
    ao.heads = st.heads;
    ao.head_dim = st.head_dim;
    ao.scale = 1.0f;
    ao.bias = nn::AttentionBias::of(bias);
    ao.want_probs = want_probs;
    return ao;
  }

  Seq2SeqCache start_cache(const Tensor& enc, const Tensor& mask) const {
    Seq2SeqCache c;
    c.encoder_hidden = enc;
    const int64_t B = enc.size(0), S = enc.size(1);
    if (mask.defined()) {
      c.encoder_mask = mask.to(DType::I64);
      if (c.encoder_mask.shape() != Shape{B, S})
        throw_error(ErrorKind::Mismatch, "attention_mask shape " + shape_str(mask.shape()) + " does not match input " + shape_str({B, S}));
    }
    for (int64_t l = 0; l < Ld_; ++l) {
      const Layer& ly = dec_.layers[static_cast<std::size_t>(l)];
      nn::kv_set(c.cross_attn, l, ly.cross.k(enc), ly.cross.v(enc));
    }
    return c;
  }

  // The decoder over self-attention cache `self` (past = self.length); `enc`
  // null: no cross-attention (BartForCausalLM without encoder states).
  Tensor run_decoder(const Tensor& ids, const Tensor& mask, KVCache& self, const Seq2SeqCache* enc, const Tensor& head_mask,
                     bool want_h, bool want_a, nn::StackOutputs& st, std::vector<Tensor>* cross) const {
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "decoder_input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const int64_t B = ids.size(0), S = ids.size(1), past = self.length();
    const int64_t Se = enc ? enc->cross_attn.length() : 0;
    if (enc && enc->encoder_hidden.size(0) != B)
      throw_error(ErrorKind::Mismatch, "decoder batch " + std::to_string(B) + " != encoder batch " + std::to_string(enc->encoder_hidden.size(0)));
    Tensor h = embed(dec_, ids, past);
    Tensor bias = nn::causal_padding_bias(mask, B, S, past, enc ? "decoder_attention_mask" : "attention_mask");
    nn::AttentionOptions ao = options(dec_, bias, want_a);
    ao.cache = &self;
    Tensor enc_bias = enc ? nn::padding_bias(enc->encoder_mask, B, Se, "attention_mask") : Tensor();
    nn::AttentionOptions co = options(dec_, enc_bias, cross != nullptr);
    co.cached = enc ? &enc->cross_attn : nullptr;
    auto hm = nn::per_layer_head_mask(head_mask, Ld_, dec_.heads);
    Tensor none;
    for (int64_t l = 0; l < Ld_; ++l) {
      const Layer& ly = dec_.layers[static_cast<std::size_t>(l)];
      const auto li = static_cast<std::size_t>(l);
      if (want_h) st.hidden_states.push_back(h);
      ao.layer = co.layer = l;
      ao.head_mask = hm.empty() ? nullptr : hm[li].data();
      Tensor x = sub_input(ly.self_norm, h);
      Tensor q = query(ly.self, dec_, x), k = ly.self.k(x), v = ly.self.v(x);
      nn::Attended at = nn::attend(q, k, v, ao);
      Tensor y = ly.self.o(at.context);
      residual(ly.self_norm, y, h);
      Tensor cprobs;
      if (enc) {
        Tensor cq = query(ly.cross, dec_, sub_input(ly.cross_norm, y));
        nn::Attended ct = nn::attend(cq, none, none, co);
        cprobs = ct.probs;
        Tensor z = ly.cross.o(ct.context);
        residual(ly.cross_norm, z, y);
        y = z;
      }
      feed_forward(ly, y);
      h = y;
      if (want_a) st.attentions.push_back(at.probs);
      if (cross && enc) cross->push_back(cprobs);
    }
    if (fl_.pre_norm) dec_.final_norm.inplace(h);
    if (want_h) st.hidden_states.push_back(h);
    return h;
  }

  Head head_;
  BartFlavor fl_;
  int64_t V_ = 0, d_ = 0, max_pos_ = 0, Le_ = 0, Ld_ = 0, pad_ = 1, eos_ = 2, start_ = 2;
  float embed_scale_ = 1.0f;
  nn::Activation act_ = nn::Activation::GeluErf;
  Stack enc_, dec_;
  nn::Linear lm_head_;
  std::optional<nn::Linear> dense_, score_;
};

// Every encoder-decoder head; BartForConditionalGeneration also generates.
class Bart final : public BartBase, public Seq2SeqLM {
 public:
  using BartBase::BartBase;
  int64_t vocab_size() const override { return V_; }
  int64_t decoder_start_token_id() const override { return start_; }
  Seq2SeqCache encode(const Tensor& input_ids, const Tensor& attention_mask) const override {
    check_lm();
    nn::StackOutputs st;
    Tensor ids = nn::as_ids(input_ids, "input_ids");
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    return start_cache(run_encoder(ids, attention_mask, Tensor(), false, false, st), attention_mask);
  }
  Tensor decode_step(const Tensor& decoder_ids, Seq2SeqCache& cache) const override {
    check_lm();
    nn::StackOutputs st;
    return lm_head_(run_decoder(nn::as_ids(decoder_ids, "decoder_input_ids"), Tensor(), cache.self_attn, &cache, Tensor(), false,
                                false, st, nullptr));
  }

 private:
  void check_lm() const {
    if (head_ != Head::ConditionalGeneration)
      throw_error(ErrorKind::Unsupported, class_name() + " cannot generate (use the ForConditionalGeneration / MTModel class)");
  }
};

// BartForCausalLM: the decoder alone, generating like any decoder-only model.
class BartDecoderLM final : public BartBase, public CausalLM {
 public:
  using BartBase::BartBase;
  int64_t vocab_size() const override { return V_; }
  Tensor step(const Tensor& ids, const Tensor& /*position_ids: BART counts positions from the cache*/, const Tensor& attention_mask,
              KVCache& cache) const override {
    nn::StackOutputs st;
    return lm_head_(run_decoder(nn::as_ids(ids, "input_ids"), attention_mask, cache, nullptr, Tensor(), false, false, st, nullptr));
  }
};

}  // namespace

Architecture bart_like_architecture(const std::string& model_type, json defaults, const BartFlavor& flavor,
                                   const std::vector<std::pair<std::string, std::string>>& classes,
                                   std::map<std::string, std::string> auto_classes) {
  Architecture a{model_type, std::move(defaults), "model", {}, {}, {}};
  static const std::map<std::string, Head> kHeads = {{"Model", Head::Model}, {"ConditionalGeneration", Head::ConditionalGeneration},
                                                     {"SequenceClassification", Head::SequenceClassification},
                                                     {"QuestionAnswering", Head::QuestionAnswering}, {"CausalLM", Head::CausalLM}};
  for (const auto& entry : classes) {  // (clang 14 cannot capture a structured binding)
    const std::string cls = entry.first;
    const Head h = kHeads.at(entry.second);
    a.classes.emplace_back(cls, [cls, h, flavor](const Config& c) -> std::unique_ptr<Model> {
      if (h == Head::CausalLM) return std::make_unique<BartDecoderLM>(cls, c, h, flavor);
      return std::make_unique<Bart>(cls, c, h, flavor);
    });
  }
  a.auto_classes = std::move(auto_classes);
  return a;
}

Architecture bart_architecture() {
  json d = {{"vocab_size", 50265}, {"max_position_embeddings", 1024}, {"encoder_layers", 12}, {"encoder_ffn_dim", 4096},
            {"encoder_attention_heads", 16}, {"decoder_layers", 12}, {"decoder_ffn_dim", 4096}, {"decoder_attention_heads", 16},
            {"encoder_layerdrop", 0.0}, {"decoder_layerdrop", 0.0}, {"activation_function", "gelu"}, {"d_model", 1024},
            {"dropout", 0.1}, {"attention_dropout", 0.0}, {"activation_dropout", 0.0}, {"init_std", 0.02},
            {"classifier_dropout", 0.0}, {"scale_embedding", false}, {"use_cache", true}, {"num_labels", 3},
            {"pad_token_id", 1}, {"bos_token_id", 0}, {"eos_token_id", 2}, {"is_encoder_decoder", true},
            {"decoder_start_token_id", 2}, {"forced_eos_token_id", 2}};
  return bart_like_architecture("bart", d, BartFlavor{},
                                {{"BartModel", "Model"},
                                 {"BartForConditionalGeneration", "ConditionalGeneration"},
                                 {"BartForSequenceClassification", "SequenceClassification"},
                                 {"BartForQuestionAnswering", "QuestionAnswering"},
                                 {"BartForCausalLM", "CausalLM"}},
                                {{"AutoModel", "BartModel"},
                                 {"AutoModelForSeq2SeqLM", "BartForConditionalGeneration"},
                                 {"AutoModelForPreTraining", "BartForConditionalGeneration"},
                                 {"AutoModelForCausalLM", "BartForCausalLM"},
                                 {"AutoModelForSequenceClassification", "BartForSequenceClassification"},
                                 {"AutoModelForQuestionAnswering", "BartForQuestionAnswering"}});
}

}  // namespace hfx::models
