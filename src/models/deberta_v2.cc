// DeBERTa-v2 (and the DeBERTa-v3 checkpoints, which are this model_type): a
// post-LN encoder with disentangled attention (nn/disentangled.h): content-to-
// position and position-to-content terms over log-bucketed relative positions,
// relative embeddings optionally layer-normed and optionally projected with the
// content projections (share_att_key), an optional convolution after layer 0.
// Upstream: transformers v4.46.3 src/transformers/models/deberta_v2/modeling_deberta_v2.py
// model_type "deberta-v2"; classes DebertaV2Model, DebertaV2ForMaskedLM,
// DebertaV2ForSequenceClassification, DebertaV2ForTokenClassification,
// DebertaV2ForQuestionAnswering, DebertaV2ForMultipleChoice.
// DeBERTa (v1, models/deberta/modeling_deberta.py, model_type "deberta") is the same model with a fused
// in_proj (+ q_bias, v_bias), pos_proj / pos_q_proj, optional talking heads and unbucketed relative
// positions over a span of min(S, max_relative_positions): `Version::V1` here, registered by deberta.cc.
// Inference only (StableDropout is the identity); no z_steps (4.46 fixes it to 0).
#include <cmath>

#include "models/bert.h"
#include "models/deberta.h"
#include "models/registry_entries.h"
#include "nn/disentangled.h"
#include "nn/heads.h"

namespace hfx::models {
namespace {

enum class Head { Base, MaskedLM, SequenceClassification, TokenClassification, QuestionAnswering, MultipleChoice };

// pos_att_type: a list (["p2c", "c2p"]) or the "c2p|p2c" string DebertaV2Config.__init__ splits.
std::vector<std::string> pos_att_types(const Config& c) {
  std::vector<std::string> out;
  const json* v = c.find("pos_att_type");
  if (!v || v->is_null()) return out;
  auto add = [&](std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(s.substr(b, e - b + 1));
  };
  if (v->is_string()) {
    std::string s = v->get<std::string>();
    std::size_t p = 0;
    for (std::size_t q; (q = s.find('|', p)) != std::string::npos; p = q + 1) add(s.substr(p, q - p));
    add(s.substr(p));
  } else if (v->is_array()) {
    for (const auto& x : *v) {
      if (!x.is_string()) throw_error(ErrorKind::Format, "pos_att_type must hold strings", c.source());
      add(x.get<std::string>());
    }
  } else {
    throw_error(ErrorKind::Format, "pos_att_type must be a list or a '|'-separated string", c.source());
  }
  for (const auto& t : out)
    if (t != "c2p" && t != "p2c")
      throw_error(ErrorKind::Unsupported, "pos_att_type '" + t + "' is not supported (c2p, p2c)", c.source());
  return out;
}

struct Layer {
  nn::Linear q, k, v, o, ffn_in, ffn_out;
  std::optional<nn::Linear> pos_key, pos_query;  // v2: pos_key_proj / pos_query_proj (share_att_key: none); v1: pos_proj / pos_q_proj
  nn::Linear in_proj;                              // v1: fused [q k v] per head, no bias
  Param q_bias, v_bias;                            // v1
  std::optional<nn::Linear> head_logits, head_weights;  // v1 talking_head
  nn::LayerNorm attn_norm, ffn_norm;
};

class DebertaV2 final : public Model {
 public:
  DebertaV2(const std::string& cls, const Config& c, Head head, DebertaVersion version)
      : Model(cls, c, "deberta"), head_(head), v1_(version == DebertaVersion::V1) {
    d_ = bert_dims(c);
    type_vocab_ = c.get<int64_t>("type_vocab_size", 0);
    if (type_vocab_ < 0) throw_error(ErrorKind::Format, "type_vocab_size must be >= 0", c.source());
    position_biased_ = c.get<bool>("position_biased_input", true);
    relative_ = c.get<bool>("relative_attention", false);
    share_att_key_ = c.get<bool>("share_att_key", false);
    const auto types = pos_att_types(c);
    n_types_ = static_cast<int>(types.size());
    c2p_ = std::find(types.begin(), types.end(), "c2p") != types.end();
    p2c_ = std::find(types.begin(), types.end(), "p2c") != types.end();
    head_dim_ = c.get<int64_t>("attention_head_size", d_.hidden / d_.heads);
    if (head_dim_ * d_.heads != d_.hidden)
      throw_error(ErrorKind::Unsupported, "attention_head_size * num_attention_heads must equal hidden_size", c.source());
    pad_ = c.get<int64_t>("pad_token_id", 0);
    max_rel_ = c.get<int64_t>("max_relative_positions", -1);
    if (max_rel_ < 1) max_rel_ = d_.max_positions;
    buckets_ = v1_ ? -1 : c.get<int64_t>("position_buckets", -1);
    talking_head_ = v1_ && c.get<bool>("talking_head", false);
    span_ = buckets_ > 0 ? buckets_ : max_rel_;
    if (relative_ && buckets_ > 0 && buckets_ / 2 < 2)
      throw_error(ErrorKind::InvalidArgument, "position_buckets must be at least 4", c.source());
    std::string norm_rel = c.get<std::string>("norm_rel_ebd", "none");
    for (auto& ch : norm_rel) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    norm_rel_ = !v1_ && norm_rel.find("layer_norm") != std::string::npos;
    conv_kernel_ = v1_ ? 0 : c.get<int64_t>("conv_kernel_size", 0);
    conv_groups_ = c.get<int64_t>("conv_groups", 1);
    conv_act_ = nn::parse_activation(c.get<std::string>("conv_act", "tanh"));
    if (conv_kernel_ > 0 && (conv_groups_ <= 0 || d_.hidden % conv_groups_ != 0))
      throw_error(ErrorKind::InvalidArgument, "conv_groups must divide hidden_size", c.source());
    // An even kernel makes torch's Conv1d one position short, which ConvLayer's mask then fails on.
    if (conv_kernel_ > 0 && conv_kernel_ % 2 == 0)
      throw_error(ErrorKind::Unsupported, "an even conv_kernel_size fails in transformers' ConvLayer", c.source());

    Scope r = root();
    Scope base = head == Head::Base ? r : r / "deberta";
    const Scope e = base / "embeddings";
    word_ = nn::Embedding::make(e / "word_embeddings", d_.vocab, d_.embedding_size);
    if (position_biased_) position_ = nn::Embedding::make(e / "position_embeddings", d_.max_positions, d_.embedding_size);
    if (type_vocab_ > 0) token_type_ = nn::Embedding::make(e / "token_type_embeddings", type_vocab_, d_.embedding_size);
    if (d_.embedding_size != d_.hidden) embed_proj_ = nn::Linear::make(e / "embed_proj", d_.embedding_size, d_.hidden, false);
    emb_norm_ = nn::LayerNorm::make(e / "LayerNorm", d_.hidden, d_.eps);
    const Scope enc = base / "encoder";
    for (int64_t i = 0; i < d_.layers; ++i) {
      const Scope l = enc / "layer" / i;
      Layer L;
      const Scope sa = l / "attention" / "self";
      if (v1_) {
        L.in_proj = nn::Linear::make(sa / "in_proj", d_.hidden, 3 * d_.hidden, false);
        L.q_bias = sa.param("q_bias", {d_.hidden});
        L.v_bias = sa.param("v_bias", {d_.hidden});
        if (relative_ && c2p_) L.pos_key = nn::Linear::make(sa / "pos_proj", d_.hidden, d_.hidden, false);
        if (relative_ && p2c_) L.pos_query = nn::Linear::make(sa / "pos_q_proj", d_.hidden, d_.hidden);
        if (talking_head_) {
          L.head_logits = nn::Linear::make(sa / "head_logits_proj", d_.heads, d_.heads, false);
          L.head_weights = nn::Linear::make(sa / "head_weights_proj", d_.heads, d_.heads, false);
        }
      } else {
        L.q = nn::Linear::make(sa / "query_proj", d_.hidden, d_.hidden);
        L.k = nn::Linear::make(sa / "key_proj", d_.hidden, d_.hidden);
        L.v = nn::Linear::make(sa / "value_proj", d_.hidden, d_.hidden);
      }
      if (!v1_ && relative_ && !share_att_key_) {
        if (c2p_) L.pos_key = nn::Linear::make(l / "attention" / "self" / "pos_key_proj", d_.hidden, d_.hidden);
        if (p2c_) L.pos_query = nn::Linear::make(l / "attention" / "self" / "pos_query_proj", d_.hidden, d_.hidden);
      }
      L.o = nn::Linear::make(l / "attention" / "output" / "dense", d_.hidden, d_.hidden);
      L.attn_norm = nn::LayerNorm::make(l / "attention" / "output" / "LayerNorm", d_.hidden, d_.eps);
      L.ffn_in = nn::Linear::make(l / "intermediate" / "dense", d_.hidden, d_.intermediate);
      L.ffn_out = nn::Linear::make(l / "output" / "dense", d_.intermediate, d_.hidden);
      L.ffn_norm = nn::LayerNorm::make(l / "output" / "LayerNorm", d_.hidden, d_.eps);
      layers_.push_back(std::move(L));
    }
    if (relative_) {
      rel_embeddings_ = nn::Embedding::make(enc / "rel_embeddings", span_ * 2, d_.hidden);
      if (norm_rel_) rel_norm_ = nn::LayerNorm::make(enc / "LayerNorm", d_.hidden, d_.eps);
    }
    if (conv_kernel_ > 0) {
      conv_w_ = (enc / "conv" / "conv").param("weight", {d_.hidden, d_.hidden / conv_groups_, conv_kernel_});
      conv_b_ = (enc / "conv" / "conv").param("bias", {d_.hidden});
      conv_norm_ = nn::LayerNorm::make(enc / "conv" / "LayerNorm", d_.hidden, d_.eps);
    }
    if (head == Head::MaskedLM) {  // cls.predictions: transform (dense -> act -> LayerNorm) -> decoder (+ bias)
      Scope p = r / "cls" / "predictions";
      lm_.dense = nn::Linear::make(p / "transform" / "dense", d_.hidden, d_.embedding_size);
      lm_.norm = nn::LayerNorm::make(p / "transform" / "LayerNorm", d_.embedding_size, d_.eps);
      lm_.act = d_.act;
      Param bias = p.param("bias", {d_.vocab});
      lm_.decoder.in = d_.embedding_size;
      lm_.decoder.out = d_.vocab;
      lm_.decoder.w = (p / "decoder").param("weight", {d_.vocab, d_.embedding_size},
                                            d_.tie_word_embeddings ? word_.w.name() : "");
      lm_.decoder.b = (p / "decoder").param("bias", {d_.vocab}, bias.name());
    }
    if (head == Head::SequenceClassification || head == Head::MultipleChoice) {  // ContextPooler + classifier
      const int64_t ph = c.get<int64_t>("pooler_hidden_size", d_.hidden);
      if (ph != d_.hidden) throw_error(ErrorKind::Unsupported, "pooler_hidden_size must equal hidden_size", c.source());
      pooler_ = nn::Linear::make(r / "pooler" / "dense", ph, ph);
      pooler_act_ = nn::parse_activation(c.get<std::string>("pooler_hidden_act", "gelu"));
      classifier_ = nn::Linear::make(r / "classifier", d_.hidden, head == Head::MultipleChoice ? 1 : c.num_labels());
    }
    if (head == Head::TokenClassification) classifier_ = nn::Linear::make(r / "classifier", d_.hidden, c.num_labels());
    if (head == Head::QuestionAnswering) classifier_ = nn::Linear::make(r / "qa_outputs", d_.hidden, 2);
    ignored_keys_ = {e.path("position_ids")};
    traits_.input_embeddings = word_.w.name();
    mutable_params().set_role(word_.w.name(), ParamRole::Embedding);
    if (position_biased_) mutable_params().set_role(position_.w.name(), ParamRole::Embedding);
    if (type_vocab_ > 0) mutable_params().set_role(token_type_.w.name(), ParamRole::Embedding);
    if (relative_) mutable_params().set_role(rel_embeddings_.w.name(), ParamRole::Embedding);
    traits_.prune.unsupported = v1_ ? "DebertaModel._prune_heads raises NotImplementedError"
                                    : "DebertaV2Model._prune_heads raises NotImplementedError";
    if (head == Head::MaskedLM) lm_head_traits(traits_, "cls.predictions", "");
    if (head == Head::SequenceClassification) traits_.loss.kind = LossKind::DebertaSequenceClassification;
  }

  Outputs forward(const ModelInputs& in0) const override {
    ModelInputs in = in0;
    const int64_t choices = head_ == Head::MultipleChoice ? nn::flatten_choice_inputs(in) : 0;
    Tensor ids = nn::as_ids(in.input_ids, "input_ids");
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const int64_t B = ids.size(0), S = ids.size(1), E = d_.hidden;
    // The [B, S] 0/1 mask (default ones), as float.
    Tensor mask = Tensor::zeros(DType::F32, {B, S});
    {
      float* m = mask.mutable_data<float>();
      if (in.attention_mask.defined()) {
        Tensor am = in.attention_mask.to(DType::F32);
        if (am.shape() != ids.shape())
          throw_error(ErrorKind::Mismatch, "attention_mask shape " + shape_str(am.shape()) + " != input_ids " + shape_str(ids.shape()));
        std::copy_n(am.data<float>(), B * S, m);
      } else {
        std::fill_n(m, B * S, 1.0f);
      }
    }
    Tensor h = embed(ids, in, mask);
    nn::StackOutputs st;
    std::vector<int64_t> rel;
    Tensor rel_emb;
    int64_t span = span_;
    if (relative_) {
      rel = nn::deberta_relative_positions(S, S, buckets_, max_rel_);
      Tensor table = (*rel_embeddings_.w).to(DType::F32);
      if (v1_) {  // rel_embeddings[max_rel - span : max_rel + span] with span = min(S, max_relative_positions)
        span = std::min(S, max_rel_);
        rel_emb = Tensor::uninitialized(DType::F32, {1, 2 * span, E});
        std::copy_n(table.data<float>() + (max_rel_ - span) * E, 2 * span * E, rel_emb.mutable_data<float>());
      } else {
        rel_emb = table.reshape({1, span_ * 2, E});
        if (norm_rel_) {  // the table may be a read-only view of the weights file
          rel_emb = rel_emb.clone();
          rel_norm_.inplace(rel_emb);
        }
      }
    }
    const Tensor emb_out = h;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      if (in.output_hidden_states) st.hidden_states.push_back(h);
      Tensor probs;
      h = layer(layers_[i], h, mask, rel, rel_emb, span, in.output_attentions ? &probs : nullptr);
      if (i == 0 && conv_kernel_ > 0) h = conv(emb_out, h, mask);
      if (in.output_attentions) st.attentions.push_back(probs);
    }
    if (in.output_hidden_states) st.hidden_states.push_back(h);
    auto pool = [&] {  // ContextPooler: dense -> pooler_hidden_act on the first token
      Tensor x = (*pooler_)(nn::first_token(h));
      nn::activate(x, pooler_act_);
      return x;
    };
    return nn::encoder_outputs(head_, classifier_, h, nullptr, choices, st, pool,
                               [&](Outputs& out) { out.set("logits", lm_.forward(h)); });  // MaskedLM
  }

 private:
  Tensor embed(const Tensor& ids, const ModelInputs& in, const Tensor& mask) const {
    const int64_t B = ids.size(0), S = ids.size(1);
    Tensor x = Tensor::zeros(DType::F32, {B, S, d_.embedding_size});
    word_.gather(ids, x.mutable_data<float>(), false);
    if (position_biased_) {
      Tensor pos;
      if (in.position_ids.defined()) {
        pos = nn::as_ids(in.position_ids, "position_ids");
        if (pos.dim() == 1) pos = pos.reshape({1, pos.size(0)});
        if (pos.dim() != 2 || pos.size(1) != S || (pos.size(0) != 1 && pos.size(0) != B))
          throw_error(ErrorKind::Mismatch, "position_ids shape " + shape_str(pos.shape()) + " does not fit input_ids " + shape_str(ids.shape()));
      }
      Tensor full = Tensor::zeros(DType::I64, {B, S});
      int64_t* p = full.mutable_data<int64_t>();
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < S; ++i)
          p[b * S + i] = pos.defined() ? pos.data<int64_t>()[(pos.size(0) == 1 ? 0 : b) * S + i] : i;
      position_.gather(full, x.mutable_data<float>(), true);
    }
    if (type_vocab_ > 0) {
      Tensor tt = in.token_type_ids.defined() ? nn::as_ids(in.token_type_ids, "token_type_ids") : Tensor::zeros(DType::I64, {B, S});
      if (tt.shape() != ids.shape())
        throw_error(ErrorKind::Mismatch, "token_type_ids shape " + shape_str(tt.shape()) + " != input_ids " + shape_str(ids.shape()));
      token_type_.gather(tt, x.mutable_data<float>(), true);
    }
    if (embed_proj_) x = (*embed_proj_)(x);
    emb_norm_.inplace(x);
    mul_rows(x, mask);
    return x;
  }

  // x [B, S, E] *= mask [B, S] per row.
  static void mul_rows(Tensor& x, const Tensor& mask) {
    const int64_t rows = mask.numel(), E = x.size(2);
    float* p = x.mutable_data<float>();
    const float* m = mask.data<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < E; ++j) p[r * E + j] *= m[r];
  }

  // Mixes the heads of x [B, H, S, S] with a talking-head Linear [H, H] (v1's head_logits_proj / head_weights_proj).
  static Tensor mix_heads(const nn::Linear& l, const Tensor& x) {
    const int64_t B = x.size(0), H = x.size(1), SS = x.size(2) * x.size(3);
    const Tensor w = (*l.w).to(DType::F32);
    Tensor y = Tensor::zeros(DType::F32, x.shape());
    const float* xp = x.data<float>();
    float* yp = y.mutable_data<float>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t o = 0; o < H; ++o)
        for (int64_t hh = 0; hh < H; ++hh) {
          const float wv = w.data<float>()[o * H + hh];
          const float* src = xp + (b * H + hh) * SS;
          float* dst = yp + (b * H + o) * SS;
          for (int64_t t = 0; t < SS; ++t) dst[t] += wv * src[t];
        }
    return y;
  }

  Tensor layer(const Layer& L, const Tensor& h, const Tensor& mask, const std::vector<int64_t>& rel, const Tensor& rel_emb,
               int64_t span, Tensor* probs) const {
    const int64_t B = h.size(0), S = h.size(1), W = d_.hidden, D = head_dim_;
    nn::DisentangledArgs a;
    a.B = B, a.S = S, a.H = d_.heads, a.D = D;
    Tensor Q, K, V, QKV;
    if (v1_) {  // in_proj's output holds [q k v] per head; q_bias / v_bias added per head
      QKV = L.in_proj(h);
      float* p = QKV.mutable_data<float>();
      const Tensor qb = (*L.q_bias).to(DType::F32), vb = (*L.v_bias).to(DType::F32);
      for (int64_t t = 0; t < B * S; ++t)
        for (int64_t hh = 0; hh < d_.heads; ++hh)
          for (int64_t dd = 0; dd < D; ++dd) {
            p[t * 3 * W + hh * 3 * D + dd] += qb.data<float>()[hh * D + dd];
            p[t * 3 * W + hh * 3 * D + 2 * D + dd] += vb.data<float>()[hh * D + dd];
          }
      a.q = {p, 3 * W, 3 * D}, a.k = {p + D, 3 * W, 3 * D}, a.v = {p + 2 * D, 3 * W, 3 * D};
      a.scale_factor = 1 + n_types_;
    } else {
      Q = L.q(h), K = L.k(h), V = L.v(h);
      a.q = {Q.data<float>(), W, D}, a.k = {K.data<float>(), W, D}, a.v = {V.data<float>(), W, D};
      a.scale_factor = 1 + (c2p_ ? 1 : 0) + (p2c_ ? 1 : 0);
    }
    a.key_mask = mask.data<float>();
    Tensor pk, pq;
    if (relative_) {
      a.span = span;
      a.rel = &rel;
      if (c2p_) {
        pk = share_att_key_ && !v1_ ? L.k(rel_emb) : (*L.pos_key)(rel_emb);
        a.pos_key = pk.data<float>();
      }
      if (p2c_) {
        pq = share_att_key_ && !v1_ ? L.q(rel_emb) : (*L.pos_query)(rel_emb);
        a.pos_query = pq.data<float>();
      }
    }
    Tensor ctx;
    if (talking_head_) {
      Tensor scores = mix_heads(*L.head_logits, nn::disentangled_scores(a));
      nn::xsoftmax_(scores, a.key_mask);
      Tensor pr = mix_heads(*L.head_weights, scores);
      ctx = nn::attention_context(pr, a.v, D);
      if (probs) *probs = pr;
    } else {
      ctx = nn::disentangled_attention(a, probs);
    }
    Tensor attn = L.o(ctx);
    nn::add_(attn, h);
    L.attn_norm.inplace(attn);
    Tensor inter = L.ffn_in(attn);
    nn::activate(inter, d_.act);
    Tensor out = L.ffn_out(inter);
    nn::add_(out, attn);
    L.ffn_norm.inplace(out);
    return out;
  }

  // ConvLayer: conv1d over the sequence (same padding, groups), zero on padded tokens, conv_act,
  // LayerNorm(residual + out), times the mask.
  Tensor conv(const Tensor& x, const Tensor& residual, const Tensor& mask) const {
    const int64_t B = x.size(0), S = x.size(1), E = d_.hidden, K = conv_kernel_, G = conv_groups_, Cg = E / G;
    const int64_t pad = (K - 1) / 2;
    const Tensor w = (*conv_w_).to(DType::F32), bias = (*conv_b_).to(DType::F32);
    Tensor out = Tensor::zeros(DType::F32, {B, S, E});
    const float* xp = x.data<float>();
    const float* wp = w.data<float>();
    const float* m = mask.data<float>();
    float* o = out.mutable_data<float>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < S; ++t) {
        if (m[b * S + t] == 0.0f) continue;  // masked_fill_(rmask, 0)
        for (int64_t c = 0; c < E; ++c) {
          const int64_t g = c / Cg;
          float s = bias.data<float>()[c];
          for (int64_t kk = 0; kk < K; ++kk) {
            const int64_t src = t + kk - pad;
            if (src < 0 || src >= S) continue;
            const float* xr = xp + (b * S + src) * E + g * Cg;
            const float* wr = wp + (c * Cg) * K + kk;
            for (int64_t ci = 0; ci < Cg; ++ci) s += wr[ci * K] * xr[ci];
          }
          o[(b * S + t) * E + c] = s;
        }
      }
    nn::activate(out, conv_act_);
    nn::add_(out, residual);
    conv_norm_.inplace(out);
    mul_rows(out, mask);
    return out;
  }

  Head head_;
  bool v1_ = false, talking_head_ = false;
  int n_types_ = 0;
  BertDims d_{};
  int64_t type_vocab_ = 0, head_dim_ = 0, pad_ = 0, max_rel_ = 0, buckets_ = -1, span_ = 0, conv_kernel_ = 0, conv_groups_ = 1;
  bool position_biased_ = true, relative_ = false, share_att_key_ = false, c2p_ = false, p2c_ = false, norm_rel_ = false;
  nn::Activation conv_act_ = nn::Activation::Tanh, pooler_act_ = nn::Activation::GeluErf;
  nn::Embedding word_, position_, token_type_, rel_embeddings_;
  std::optional<nn::Linear> embed_proj_;
  nn::LayerNorm emb_norm_, rel_norm_, conv_norm_;
  std::vector<Layer> layers_;
  Param conv_w_, conv_b_;
  LMPredictionHead lm_;
  std::optional<nn::Linear> pooler_, classifier_;
};

}  // namespace

Architecture deberta_like_architecture(DebertaVersion version, json defaults) {
  const bool v1 = version == DebertaVersion::V1;
  const std::string family = v1 ? "Deberta" : "DebertaV2";
  Architecture a{v1 ? "deberta" : "deberta-v2", std::move(defaults), "deberta", {}, {}, {}};
  auto add = [&](const std::string& suffix, Head h) {
    const std::string cls = family + suffix;
    a.classes.emplace_back(cls, [cls, h, version](const Config& c) { return std::make_unique<DebertaV2>(cls, c, h, version); });
  };
  add("Model", Head::Base);
  add("ForMaskedLM", Head::MaskedLM);
  add("ForSequenceClassification", Head::SequenceClassification);
  add("ForTokenClassification", Head::TokenClassification);
  add("ForQuestionAnswering", Head::QuestionAnswering);
  if (!v1) add("ForMultipleChoice", Head::MultipleChoice);  // transformers 4.46 has no DebertaForMultipleChoice
  a.auto_classes = {{"AutoModel", family + "Model"},
                    {"AutoModelForMaskedLM", family + "ForMaskedLM"},
                    {"AutoModelForPreTraining", family + "ForMaskedLM"},
                    {"AutoModelForSequenceClassification", family + "ForSequenceClassification"},
                    {"AutoModelForTokenClassification", family + "ForTokenClassification"},
                    {"AutoModelForQuestionAnswering", family + "ForQuestionAnswering"}};
  if (!v1) a.auto_classes["AutoModelForMultipleChoice"] = family + "ForMultipleChoice";
  return a;
}

json deberta_config_defaults() {
  // DebertaConfig().to_dict() (transformers 4.46.3); pooler_hidden_size defaults to hidden_size (derived, read where used).
  json d = pretrained_config_defaults();
  d.update({{"vocab_size", 50265}, {"hidden_size", 768}, {"num_hidden_layers", 12}, {"num_attention_heads", 12},
            {"intermediate_size", 3072}, {"hidden_act", "gelu"}, {"hidden_dropout_prob", 0.1},
            {"attention_probs_dropout_prob", 0.1}, {"max_position_embeddings", 512}, {"type_vocab_size", 0},
            {"initializer_range", 0.02}, {"relative_attention", false}, {"max_relative_positions", -1},
            {"pad_token_id", 0}, {"position_biased_input", true}, {"pos_att_type", nullptr},
            {"layer_norm_eps", 1e-7}, {"pooler_dropout", 0}, {"pooler_hidden_act", "gelu"}});
  return d;
}

Architecture deberta_v2_architecture() {
  // DebertaV2Config().to_dict(): DebertaConfig's fields with DeBERTa-v2-xlarge's sizes.
  json d = deberta_config_defaults();
  d.update({{"vocab_size", 128100}, {"hidden_size", 1536}, {"num_hidden_layers", 24}, {"num_attention_heads", 24},
            {"intermediate_size", 6144}});
  return deberta_like_architecture(DebertaVersion::V2, d);
}

}  // namespace hfx::models
