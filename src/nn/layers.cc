#include "nn/layers.h"

#include "nn/attention.h"
#include "nn/backend.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace hfx::nn {

namespace {
// "a.layer.3.b" has the segment "3": a module of an nn.ModuleList (the blocks).
bool has_index_segment(const std::string& name) {
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t end = name.find('.', start);
    if (end == std::string::npos) break;  // the last segment ("weight") is never a block index
    if (end > start && std::all_of(name.begin() + static_cast<std::ptrdiff_t>(start), name.begin() + static_cast<std::ptrdiff_t>(end),
                                   [](char c) { return c >= '0' && c <= '9'; }))
      return true;
    start = end + 1;
  }
  return false;
}
}  // namespace

Linear Linear::make(const Scope& s, int64_t in, int64_t out, bool bias) {
  Linear l;
  l.in = in;
  l.out = out;
  l.w = s.param("weight", {out, in});
  if (bias) l.b = s.param("bias", {out});
  l.pack = std::make_shared<PackedWeight>();
  l.in_block = has_index_segment(l.w.name());
  return l;
}

PackedWeight* Linear::packed() const {
  if (!pack) return nullptr;
  const ParamTable* t = w.table();
  pack->set_int8(in_block && t && t->quantization() == Quantization::Int8 && !t->training());
  return pack.get();
}

// Sizes come from the bound weight (prune_heads / resize may have changed it).
void Linear::forward(const float* x, int64_t rows, float* y) const {
  cpu::linear(x, rows, w->size(1), *w, b.valid() ? *b : Tensor(), y, packed());
}

Tensor Linear::operator()(const Tensor& x) const {
  const int64_t in_now = w->size(1);
  if (x.dtype() != DType::F32 || x.size(-1) != in_now)
    throw_error(ErrorKind::Mismatch, "input " + shape_str(x.shape()) + " does not fit Linear of in_features " +
                                         std::to_string(in_now), {}, w.name());
  Tensor xc = x.contiguous();
  Shape os = x.shape();
  os.back() = w->size(0);
  Tensor y = Tensor::uninitialized(DType::F32, os);  // the GEMM (beta = 0) writes every element
  forward(xc.data<float>(), x.numel() / in_now, y.mutable_data<float>());
  return y;
}

LayerNorm LayerNorm::make(const Scope& s, int64_t dim, float eps, bool bias) {
  LayerNorm n;
  n.dim = dim;
  n.eps = eps;
  n.w = s.param("weight", {dim});
  if (bias) n.b = s.param("bias", {dim});
  return n;
}

void LayerNorm::inplace(Tensor& x) const {
  cpu::layer_norm(x.mutable_data<float>(), x.numel() / dim, dim, *w, b.valid() ? *b : Tensor(), eps);
}

Embedding Embedding::make(const Scope& s, int64_t num, int64_t dim, const std::string& tied_to) {
  Embedding e;
  e.num = num;
  e.dim = dim;
  e.w = s.param("weight", {num, dim}, tied_to);
  return e;
}

void Embedding::gather(const Tensor& ids, float* out, bool accumulate) const {
  const int64_t* p = ids.data<int64_t>();
  const int64_t rows = w->size(0);  // the bound table (resize may have changed it)
  for (int64_t i = 0; i < ids.numel(); ++i)
    if (p[i] < 0 || p[i] >= rows)
      throw_error(ErrorKind::InvalidArgument, "index " + std::to_string(p[i]) + " out of range for embedding of " +
                                                  std::to_string(rows) + " rows", {}, w.name());
  if (accumulate)
    cpu::embedding_add(p, ids.numel(), *w, out);
  else
    cpu::embedding(p, ids.numel(), *w, out);
}

Tensor as_ids(const Tensor& t, const char* what) {
  if (!t.defined()) throw_error(ErrorKind::InvalidArgument, std::string(what) + " is required");
  if (is_floating(t.dtype()))
    throw_error(ErrorKind::InvalidArgument, std::string(what) + " must be an integer tensor, got " + std::string(to_string(t.dtype())));
  return t.to(DType::I64);
}

std::vector<std::vector<float>> per_layer_head_mask(const Tensor& head_mask, int64_t layers, int64_t heads) {
  std::vector<std::vector<float>> out;
  if (!head_mask.defined()) return out;
  Tensor hm = head_mask.to(DType::F32);
  if (hm.shape() == Shape{heads}) {
    out.assign(static_cast<std::size_t>(layers), std::vector<float>(hm.data<float>(), hm.data<float>() + heads));
  } else if (hm.shape() == Shape{layers, heads}) {
    for (int64_t l = 0; l < layers; ++l)
      out.emplace_back(hm.data<float>() + l * heads, hm.data<float>() + (l + 1) * heads);
  } else {
    throw_error(ErrorKind::Mismatch, "head_mask shape " + shape_str(hm.shape()) + " must be [heads] or [layers, heads] = " +
                                         shape_str({layers, heads}));
  }
  return out;
}

PostLNEncoderLayer PostLNEncoderLayer::make(const Scope& s, const EncoderLayerNames& n, int64_t hidden, int64_t heads,
                                            int64_t intermediate, float eps, Activation act) {
  if (heads <= 0 || hidden % heads != 0)
    throw_error(ErrorKind::InvalidArgument, "hidden size " + std::to_string(hidden) + " is not a multiple of the number of attention heads " +
                                                std::to_string(heads));
  PostLNEncoderLayer l;
  l.q = Linear::make(s / n.q, hidden, hidden);
  l.k = Linear::make(s / n.k, hidden, hidden);
  l.v = Linear::make(s / n.v, hidden, hidden);
  l.o = Linear::make(s / n.o, hidden, hidden);
  l.attn_norm = LayerNorm::make(s / n.attn_norm, hidden, eps);
  l.ffn_in = Linear::make(s / n.ffn_in, hidden, intermediate);
  l.ffn_out = Linear::make(s / n.ffn_out, intermediate, hidden);
  l.ffn_norm = LayerNorm::make(s / n.ffn_norm, hidden, eps);
  l.heads = heads;
  l.head_dim = hidden / heads;
  l.act = act;
  return l;
}

void dropout_inplace(Tensor& x, const Param& any) {
  const ParamTable* t = any.table();
  if (!t || !t->training() || t->dropout_p() <= 0.0f) return;
  const float p = t->dropout_p();
  float* d = x.mutable_data<float>();
  if (p >= 1.0f) {
    std::fill_n(d, x.numel(), 0.0f);
    return;
  }
  std::mt19937_64 rng(t->next_dropout_seed());
  std::bernoulli_distribution keep(1.0 - static_cast<double>(p));
  const float scale = 1.0f / (1.0f - p);
  for (int64_t i = 0; i < x.numel(); ++i) d[i] = keep(rng) ? d[i] * scale : 0.0f;
}

Tensor PostLNEncoderLayer::forward(const Tensor& h, const AttnMask& mask, const float* head_mask, Tensor* probs,
                                   const Tensor* head_bias) const {
  const int64_t B = h.size(0), S = h.size(1);
  // Heads left in this layer after prune_heads (q's rows = heads * head_dim).
  const int64_t nh = heads_present(q.w->size(0), head_dim, heads, head_mask != nullptr, q.w.name()), H = nh * head_dim;
  Tensor Q = q(h), K = k(h), V = v(h);
  AttentionOptions ao;
  ao.heads = nh;
  ao.head_dim = head_dim;
  ao.bias = {mask.data(), mask.batch_stride(), 0, mask.query_stride()};
  if (head_bias) {
    if (head_bias->dim() != 4 || head_bias->size(0) != B || head_bias->size(1) != nh || head_bias->size(2) != S || head_bias->size(3) != S)
      throw_error(ErrorKind::Mismatch, "attention bias " + shape_str(head_bias->shape()) + " does not fit [" + std::to_string(B) + ", " +
                                           std::to_string(nh) + ", " + std::to_string(S) + ", " + std::to_string(S) + "] at " + q.w.name());
    ao.bias = AttentionBias::of(*head_bias);
  }
  ao.head_mask = head_mask;
  ao.want_probs = probs != nullptr;
  Attended at = attend(Q, K, V, ao);
  if (probs) *probs = at.probs;
  const Tensor& ctx = at.context;
  const ParamTable* pt = o.w.table();
  if (pt && pt->training() && pt->dropout_p() > 0.0f) {  // dropout sits between the bias and the residual: unfused
    Tensor attn = o(ctx);
    dropout_inplace(attn, o.w);
    cpu::add_inplace(attn.mutable_data<float>(), h.data<float>(), attn.numel());
    attn_norm.inplace(attn);
    Tensor inter = ffn_in(attn);
    cpu::activate(inter.mutable_data<float>(), inter.numel(), to_cpu(act));
    Tensor out = ffn_out(inter);
    dropout_inplace(out, ffn_out.w);
    cpu::add_inplace(out.mutable_data<float>(), attn.data<float>(), out.numel());
    ffn_norm.inplace(out);
    return out;
  }
  // Eval: the GEMMs without bias, then one fused pass each for bias + residual
  // and bias + activation.
  const int64_t rows = B * S, E = o.w->size(0), I = ffn_in.w->size(0);
  auto bias_of = [](const Linear& l) { return l.b.valid() ? *l.b : Tensor(); };
  Tensor attn = Tensor::uninitialized(DType::F32, {B, S, E});
  cpu::linear(ctx.data<float>(), rows, H, *o.w, Tensor(), attn.mutable_data<float>(), o.packed());
  cpu::add_bias_residual(attn.mutable_data<float>(), rows, E, bias_of(o), h.data<float>());
  attn_norm.inplace(attn);
  Tensor inter = Tensor::uninitialized(DType::F32, {B, S, I});
  cpu::linear(attn.data<float>(), rows, E, *ffn_in.w, Tensor(), inter.mutable_data<float>(), ffn_in.packed());
  cpu::bias_activate(inter.mutable_data<float>(), rows, I, bias_of(ffn_in), to_cpu(act));
  Tensor out = Tensor::uninitialized(DType::F32, {B, S, E});
  cpu::linear(inter.data<float>(), rows, I, *ffn_out.w, Tensor(), out.mutable_data<float>(), ffn_out.packed());
  cpu::add_bias_residual(out.mutable_data<float>(), rows, E, bias_of(ffn_out), attn.data<float>());
  ffn_norm.inplace(out);
  return out;
}

}  // namespace hfx::nn

namespace hfx::nn {

Tensor first_token(const Tensor& h) {
  const int64_t B = h.size(0), S = h.size(1), H = h.size(2);
  Tensor out = Tensor::zeros(DType::F32, {B, H});
  for (int64_t b = 0; b < B; ++b) std::copy_n(h.data<float>() + b * S * H, H, out.mutable_data<float>() + b * H);
  return out;
}

std::pair<Tensor, Tensor> split_last_two(const Tensor& logits) {
  Shape s = logits.shape();
  s.pop_back();
  Tensor a = Tensor::zeros(DType::F32, s), b = Tensor::zeros(DType::F32, s);
  const float* p = logits.data<float>();
  for (int64_t i = 0; i < a.numel(); ++i) {
    a.mutable_data<float>()[i] = p[2 * i];
    b.mutable_data<float>()[i] = p[2 * i + 1];
  }
  return {a, b};
}

void set_qa_logits(Outputs& out, const Tensor& logits) {
  auto [s, e] = split_last_two(logits);
  out.set("start_logits", s);
  out.set("end_logits", e);
}

void emit_stack(Outputs& out, const StackOutputs& st, const std::string& prefix) {
  for (std::size_t i = 0; i < st.hidden_states.size(); ++i)
    out.set(prefix + "hidden_states." + std::to_string(i), st.hidden_states[i]);
  for (std::size_t i = 0; i < st.attentions.size(); ++i)
    out.set(prefix + "attentions." + std::to_string(i), st.attentions[i]);
}

Tensor flatten_choices(const Tensor& t) {
  if (!t.defined()) return t;
  if (t.dim() != 3) throw_error(ErrorKind::Mismatch, "multiple-choice inputs must be [batch, choices, seq], got " + shape_str(t.shape()));
  return t.reshape({t.size(0) * t.size(1), t.size(2)});
}

}  // namespace hfx::nn

namespace hfx::nn {
int64_t flatten_choice_inputs(ModelInputs& in) {
  const int64_t choices = in.input_ids.size(1);
  in.input_ids = flatten_choices(in.input_ids);
  in.attention_mask = flatten_choices(in.attention_mask);
  in.token_type_ids = flatten_choices(in.token_type_ids);
  in.position_ids = flatten_choices(in.position_ids);
  return choices;
}
}  // namespace hfx::nn

namespace hfx::nn {
Conv1D Conv1D::make(const Scope& s, int64_t in, int64_t out) {
  Conv1D c;
  c.in = in;
  c.out = out;
  c.w = s.param("weight", {in, out});
  c.b = s.param("bias", {out});
  return c;
}

// Sizes come from the bound weight (prune_heads may have changed it).
Tensor Conv1D::operator()(const Tensor& x) const {
  const int64_t in_now = w->size(0), out_now = w->size(1);
  if (x.dtype() != DType::F32 || x.size(-1) != in_now)
    throw_error(ErrorKind::Mismatch, "input " + shape_str(x.shape()) + " does not fit Conv1D of nx " + std::to_string(in_now), {}, w.name());
  Tensor xc = x.contiguous();
  Shape os = x.shape();
  os.back() = out_now;
  Tensor y = Tensor::zeros(DType::F32, os);
  cpu::linear(xc.data<float>(), x.numel() / in_now, in_now, *w, *b, y.mutable_data<float>(), /*w_in_major=*/true);
  return y;
}

}  // namespace hfx::nn

namespace hfx::nn {
Rope Rope::from_config(const Config& c, int64_t head_dim) {
  Rope r;
  r.dim = head_dim;
  r.base = c.get<double>("rope_theta", 10000.0);
  r.original_max = c.get<int64_t>("max_position_embeddings", 2048);
  if (const json* rs = c.find("rope_scaling"); rs && rs->is_object()) {
    std::string t = rs->value("rope_type", rs->value("type", std::string("default")));
    r.type = t;
    r.factor = rs->value("factor", 1.0);
    r.low_freq_factor = rs->value("low_freq_factor", 1.0);
    r.high_freq_factor = rs->value("high_freq_factor", 4.0);
    if (rs->contains("original_max_position_embeddings")) {
      const json& v = (*rs)["original_max_position_embeddings"];
      if (!v.is_number_integer() || v.get<int64_t>() <= 0)  // get<int64_t>() of a float is an undefined cast
        throw_error(ErrorKind::Format, "rope_scaling.original_max_position_embeddings must be a positive integer, not " + v.dump(), c.source());
      r.original_max = v.get<int64_t>();
    }
    if (t != "default" && t != "linear" && t != "dynamic" && t != "llama3")
      throw_error(ErrorKind::Unsupported, "rope_scaling type '" + t + "' is not supported (default, linear, dynamic, llama3)", c.source());
  }
  return r;
}

std::vector<float> Rope::inv_freq(int64_t max_pos) const {
  double b = base;
  if (type == "dynamic" && max_pos + 1 > original_max) {
    const double seq_len = static_cast<double>(max_pos + 1);
    b = base * std::pow(factor * seq_len / static_cast<double>(original_max) - (factor - 1.0),
                        static_cast<double>(dim) / static_cast<double>(dim - 2));
  }
  std::vector<float> inv(static_cast<std::size_t>(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i) {  // float32 like torch: 1 / base ** (arange(0, dim, 2) / dim)
    const float e = static_cast<float>(2 * i) / static_cast<float>(dim);
    inv[static_cast<std::size_t>(i)] = 1.0f / std::pow(static_cast<float>(b), e);
  }
  if (type == "longrope") {  // 1 / (ext_factors * base ** (arange(0, dim, 2) / dim)), all float32
    const std::vector<float>& ext = max_pos + 1 > original_max ? long_factor : short_factor;
    for (int64_t i = 0; i < dim / 2; ++i) {
      const float e = static_cast<float>(2 * i) / static_cast<float>(dim);
      inv[static_cast<std::size_t>(i)] = 1.0f / (ext[static_cast<std::size_t>(i)] * std::pow(static_cast<float>(b), e));
    }
  }
  if (type == "linear")
    for (float& f : inv) f = static_cast<float>(f / factor);
  if (type == "llama3") {
    const double old_ctx = static_cast<double>(original_max);
    const double low_wl = old_ctx / low_freq_factor, high_wl = old_ctx / high_freq_factor;
    for (float& f : inv) {
      const double wl = 2 * M_PI / f;
      double scaled = wl > low_wl ? f / factor : f;
      if (!(wl < high_wl) && !(wl > low_wl)) {
        const double smooth = (old_ctx / wl - low_freq_factor) / (high_freq_factor - low_freq_factor);
        scaled = (1 - smooth) * scaled / factor + smooth * scaled;
      }
      f = static_cast<float>(scaled);
    }
  }
  return inv;
}

void Rope::apply(float* x, int64_t B, int64_t S, int64_t heads, int64_t b_stride, int64_t s_stride, const Tensor& pos,
                 const std::vector<float>& inv) const {
  const int64_t half = dim / 2;
  std::vector<float> c(static_cast<std::size_t>(half)), sn(static_cast<std::size_t>(half));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s) {
      const float p = static_cast<float>(pos.data<int64_t>()[b * S + s]);
      for (int64_t i = 0; i < half; ++i) {
        const float f = p * inv[static_cast<std::size_t>(i)];
        c[static_cast<std::size_t>(i)] = std::cos(f) * mscale;
        sn[static_cast<std::size_t>(i)] = std::sin(f) * mscale;
      }
      for (int64_t h = 0; h < heads; ++h) {
        float* v = x + b * b_stride + s * s_stride + h * (head_stride ? head_stride : dim);
        if (interleaved) {  // x * cos + rotate_every_two(x) * sin, cos/sin repeat_interleave'd
          for (int64_t i = 0; i < half; ++i) {
            const float x1 = v[2 * i], x2 = v[2 * i + 1];
            v[2 * i] = x1 * c[static_cast<std::size_t>(i)] - x2 * sn[static_cast<std::size_t>(i)];
            v[2 * i + 1] = x2 * c[static_cast<std::size_t>(i)] + x1 * sn[static_cast<std::size_t>(i)];
          }
          continue;
        }
        for (int64_t i = 0; i < half; ++i) {
          const float x1 = v[i], x2 = v[i + half];
          v[i] = x1 * c[static_cast<std::size_t>(i)] - x2 * sn[static_cast<std::size_t>(i)];
          v[i + half] = x2 * c[static_cast<std::size_t>(i)] + x1 * sn[static_cast<std::size_t>(i)];
        }
      }
    }
}

}  // namespace hfx::nn
