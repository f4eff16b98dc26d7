#include "nn/relative.h"

#include <cmath>
#include <limits>

#include "core/threads.h"
#include "kernels/cpu/ops.h"

namespace hfx::nn {

std::vector<float> sinusoid_inv_freq(int64_t d) {
  std::vector<float> f(static_cast<std::size_t>(d / 2));
  for (int64_t i = 0; i < d / 2; ++i) {
    const float e = static_cast<float>(2 * i) / static_cast<float>(d);  // f32 like torch.arange(0, d, 2) / d
    f[static_cast<std::size_t>(i)] = 1.0f / std::pow(10000.0f, e);
  }
  return f;
}

Tensor sinusoid_table(const std::vector<float>& pos, const std::vector<float>& inv_freq) {
  const int64_t n = static_cast<int64_t>(pos.size()), half = static_cast<int64_t>(inv_freq.size());
  Tensor t = Tensor::zeros(DType::F32, {n, 2 * half});
  float* o = t.mutable_data<float>();
  for (int64_t p = 0; p < n; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const float x = pos[static_cast<std::size_t>(p)] * inv_freq[static_cast<std::size_t>(i)];
      o[p * 2 * half + i] = std::sin(x);
      o[p * 2 * half + half + i] = std::cos(x);
    }
  return t;
}

namespace {
// Index into r for output (i, j), or -1 for the zero padding.
inline int64_t shifted(RelShift s, int64_t Sq, int64_t R, int64_t Sk, int64_t i, int64_t j) {
  if (s == RelShift::TransfoXL) {  // [Sq, R+1] padded, viewed [R+1, Sq], first row dropped, viewed [Sq, R]
    const int64_t idx = Sq + i * Sk + j;
    const int64_t row = idx / (R + 1), col = idx % (R + 1);
    return col == 0 ? -1 : row * R + (col - 1);
  }
  const int64_t idx = Sq + i * (R - 1) + j;  // [Sq, R] viewed [R, Sq], first row dropped, viewed [Sq, R-1]
  return idx;                                 // flat index into the [Sq, R] term
}
}  // namespace

Tensor rel_attention(const RelAttentionArgs& a, Tensor* probs) {
  hfx::detail::sync_threads();
  const int64_t B = a.B, Sq = a.Sq, Sk = a.Sk, H = a.H, D = a.D, R = a.R, W = H * D;
  Tensor out = Tensor::zeros(DType::F32, {B, Sq, W});
  if (probs) *probs = Tensor::zeros(DType::F32, {B, H, Sq, Sk});
  const float kMin = std::numeric_limits<float>::lowest();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const float* rb = a.r + (a.r_batched ? b * R * W : 0);
      std::vector<float> bd(static_cast<std::size_t>(Sq * R)), qw(static_cast<std::size_t>(D)), qr(static_cast<std::size_t>(D));
      // position term for every (i, p) before the shift
      for (int64_t i = 0; i < Sq; ++i) {
        const float* qi = a.q + (b * Sq + i) * W + h * D;
        for (int64_t d = 0; d < D; ++d) qr[static_cast<std::size_t>(d)] = qi[d] + a.r_r_bias[h * D + d];
        for (int64_t p = 0; p < R; ++p) {
          const float* rp = rb + p * W + h * D;
          float s = 0.0f;
          for (int64_t d = 0; d < D; ++d) s += qr[static_cast<std::size_t>(d)] * rp[d];
          bd[static_cast<std::size_t>(i * R + p)] = s;
        }
      }
      std::vector<float> sc(static_cast<std::size_t>(Sk));
      for (int64_t i = 0; i < Sq; ++i) {
        const float* qi = a.q + (b * Sq + i) * W + h * D;
        for (int64_t d = 0; d < D; ++d) qw[static_cast<std::size_t>(d)] = qi[d] + a.r_w_bias[h * D + d];
        float ef[2] = {0.0f, 0.0f};
        if (a.seg)
          for (int s = 0; s < 2; ++s) {
            float acc = 0.0f;
            for (int64_t d = 0; d < D; ++d) acc += (qi[d] + a.r_s_bias[h * D + d]) * a.seg_embed[s * W + h * D + d];
            ef[s] = acc;
          }
        for (int64_t j = 0; j < Sk; ++j) {
          const float* kj = a.k + (b * Sk + j) * W + h * D;
          float ac = 0.0f;
          for (int64_t d = 0; d < D; ++d) ac += qw[static_cast<std::size_t>(d)] * kj[d];
          const int64_t p = shifted(a.shift, Sq, R, Sk, i, j);
          const float pos_term = p < 0 ? 0.0f : bd[static_cast<std::size_t>(p)];
          float s = ac + pos_term;
          if (a.seg) s += ef[a.seg[(b * Sq + i) * Sk + j] ? 1 : 0];
          s *= a.scale;
          if (a.mask && a.mask[((a.mask_batched ? b : 0) * Sq + i) * Sk + j])
            s = a.mask_mode == RelMask::FillMin ? kMin : s - 1e30f;
          sc[static_cast<std::size_t>(j)] = s;
        }
        cpu::softmax_rows(sc.data(), 1, Sk);
        if (a.head_mask)
          for (float& x : sc) x *= a.head_mask[h];
        if (probs) std::copy(sc.begin(), sc.end(), probs->mutable_data<float>() + ((b * H + h) * Sq + i) * Sk);
        float* o = out.mutable_data<float>() + (b * Sq + i) * W + h * D;
        for (int64_t j = 0; j < Sk; ++j) {
          const float* vj = a.v + (b * Sk + j) * W + h * D;
          for (int64_t d = 0; d < D; ++d) o[d] += sc[static_cast<std::size_t>(j)] * vj[d];
        }
      }
    }
  return out;
}

int64_t check_mems(const std::vector<Tensor>& mems, int64_t layers, int64_t B, int64_t D) {
  if (mems.empty()) return 0;
  if (static_cast<int64_t>(mems.size()) != layers)
    throw_error(ErrorKind::Mismatch, "mems has " + std::to_string(mems.size()) + " tensors for " + std::to_string(layers) + " layers");
  const int64_t M = mems[0].dim() == 3 ? mems[0].size(0) : -1;
  for (const Tensor& m : mems)
    if (m.dim() != 3 || m.size(0) != M || m.size(1) != B || m.size(2) != D || !is_floating(m.dtype()))
      throw_error(ErrorKind::Mismatch, "every mems tensor must be [mem_len, " + std::to_string(B) + ", " + std::to_string(D) +
                                           "] (the same for every layer), got " + shape_str(m.shape()));
  return M;
}

Tensor cat_mems(const Tensor* mem, const Tensor& h) {
  const int64_t B = h.size(0), S = h.size(1), D = h.size(2), M = mem ? mem->size(0) : 0;
  Tensor out = Tensor::zeros(DType::F32, {B, M + S, D});
  Tensor mf = mem ? mem->to(DType::F32) : Tensor();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t p = 0; p < M; ++p) std::copy_n(mf.data<float>() + (p * B + b) * D, D, out.mutable_data<float>() + (b * (M + S) + p) * D);
    std::copy_n(h.data<float>() + b * S * D, S * D, out.mutable_data<float>() + (b * (M + S) + M) * D);
  }
  return out;
}

Tensor roll_mems(const Tensor* prev, const Tensor& h, int64_t take, int64_t keep) {
  const int64_t B = h.size(0), S = h.size(1), D = h.size(2), M = prev ? prev->size(0) : 0, total = M + take;
  const int64_t beg = keep < 0 ? 0 : std::max<int64_t>(0, total - keep);
  Tensor out = Tensor::zeros(DType::F32, {total - beg, B, D});
  Tensor pf = prev ? prev->to(DType::F32) : Tensor();
  for (int64_t p = beg; p < total; ++p)
    for (int64_t b = 0; b < B; ++b) {
      const float* src = p < M ? pf.data<float>() + (p * B + b) * D : h.data<float>() + (b * S + p - M) * D;
      std::copy_n(src, D, out.mutable_data<float>() + ((p - beg) * B + b) * D);
    }
  return out;
}

void reorder_mems(std::vector<Tensor>& mems, const std::vector<int64_t>& index) {
  for (Tensor& t : mems) {
    const int64_t L = t.size(0), B = t.size(1), D = t.size(2), nb = static_cast<int64_t>(index.size());
    Tensor f = t.to(DType::F32);
    Tensor n = Tensor::zeros(DType::F32, {L, nb, D});
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t src = index[static_cast<std::size_t>(b)];
      if (src < 0 || src >= B) throw_error(ErrorKind::InvalidArgument, "reorder index " + std::to_string(src) + " out of range for batch " + std::to_string(B));
      for (int64_t p = 0; p < L; ++p) std::copy_n(f.data<float>() + (p * B + src) * D, D, n.mutable_data<float>() + (p * nb + b) * D);
    }
    t = n;
  }
}

}  // namespace hfx::nn
