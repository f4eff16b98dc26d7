#include "nn/attention.h"

#include <cmath>

#include "kernels/cpu/ops.h"
#include "nn/kv_cache.h"

namespace hfx::nn {

Rows Rows::of(Tensor& t, int64_t col) {
  if (t.dtype() != DType::F32 || t.dim() != 3)
    throw_error(ErrorKind::Mismatch, "attention input must be f32 [batch, seq, width], got " + shape_str(t.shape()));
  if (!t.is_contiguous()) t = t.contiguous();
  const int64_t W = t.size(2);
  return {t.mutable_data<float>() + col, t.size(1) * W, W};
}

AttentionBias AttentionBias::of(const Tensor& t) {
  if (!t.defined()) return {};
  const float* d = t.data<float>();
  switch (t.dim()) {
    case 2: return {d, t.size(1), 0, 0};
    case 3: return {d, t.size(1) * t.size(2), 0, t.size(1) > 1 ? t.size(2) : 0};
    case 4: return {d, t.size(1) * t.size(2) * t.size(3), t.size(1) > 1 ? t.size(2) * t.size(3) : 0, t.size(2) > 1 ? t.size(3) : 0};
    default: throw_error(ErrorKind::Mismatch, "attention bias must be [B, Sk], [B, Sq, Sk] or [B, H, Sq, Sk], got " + shape_str(t.shape()));
  }
}

Attended attend(int64_t B, int64_t Sq, const Rows& q, const Rows& k, const Rows& v, const AttentionOptions& o, int64_t Sk) {
  const int64_t H = o.heads, KV = o.kv_heads > 0 ? o.kv_heads : o.heads, D = o.head_dim;
  if (H <= 0 || D <= 0 || H % KV)
    throw_error(ErrorKind::InvalidArgument, "attention needs positive heads (" + std::to_string(H) + ") that are a multiple of the key/value heads (" +
                                                std::to_string(KV) + ")");
  if (Sk < 0) Sk = Sq;
  if (o.rope.rope) {
    o.rope.rope->apply(q.data, B, Sq, H, q.batch_stride, q.seq_stride, *o.rope.positions, *o.rope.inv_freq);
    if (k.data) o.rope.rope->apply(k.data, B, Sq, KV, k.batch_stride, k.seq_stride, *o.rope.positions, *o.rope.inv_freq);
  }
  cpu::AttentionArgs a{};
  a.B = B; a.Sq = Sq; a.H = H; a.D = D; a.group = H / KV;
  a.q = q.data; a.q_bs = q.batch_stride; a.q_ss = q.seq_stride;
  KVView kv{k.data, v.data, k.batch_stride, k.seq_stride, Sk};
  if (o.cached)
    kv = kv_read(*o.cached, o.layer);
  else if (!k.data || !v.data)
    throw_error(ErrorKind::InvalidArgument, "attention needs keys and values, or a cache holding them");
  else if (o.cache)
    kv = kv_append(*o.cache, o.layer, B, Sq, KV * D, k.data, v.data, k.batch_stride, k.seq_stride);
  else if (v.batch_stride != k.batch_stride || v.seq_stride != k.seq_stride)
    throw_error(ErrorKind::Mismatch, "keys and values must share their layout");
  a.Sk = kv.length;
  a.k = kv.k; a.k_bs = kv.batch_stride; a.k_ss = kv.seq_stride;
  a.v = kv.v; a.v_bs = kv.batch_stride; a.v_ss = kv.seq_stride;
  a.bias = o.bias.data; a.bias_bs = o.bias.bs; a.bias_hs = o.bias.hs; a.bias_qs = o.bias.qs;
  a.head_mask = o.head_mask;
  a.scale = o.scale ? *o.scale : 1.0f / std::sqrt(static_cast<float>(D));
  a.softcap = o.softcap;
  Attended r;
  r.context = Tensor::uninitialized(DType::F32, {B, Sq, H * D});  // the kernel writes every head's columns
  if (o.want_probs) r.probs = Tensor::zeros(DType::F32, {B, H, Sq, a.Sk});
  a.out = r.context.mutable_data<float>();
  a.probs = o.want_probs ? r.probs.mutable_data<float>() : nullptr;
  cpu::attention(a);
  return r;
}

Attended attend(Tensor& q, Tensor& k, Tensor& v, const AttentionOptions& o) {
  const Rows qr = Rows::of(q);
  if (!k.defined()) return attend(q.size(0), q.size(1), qr, Rows{}, Rows{}, o);
  if (k.size(0) != q.size(0)) throw_error(ErrorKind::Mismatch, "keys " + shape_str(k.shape()) + " do not fit queries " + shape_str(q.shape()));
  return attend(q.size(0), q.size(1), qr, Rows::of(k), Rows::of(v), o, k.size(1));
}

int64_t heads_present(int64_t q_rows, int64_t head_dim, int64_t configured, bool has_head_mask, const std::string& where) {
  const int64_t nh = q_rows / head_dim;
  if (has_head_mask && nh != configured)
    throw_error(ErrorKind::Mismatch, "head_mask has " + std::to_string(configured) + " heads but this layer was pruned to " +
                                         std::to_string(nh), {}, where);
  return nh;
}

}  // namespace hfx::nn
