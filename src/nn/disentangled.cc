#include "nn/disentangled.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/threads.h"
#include "hfx/error.h"

namespace hfx::nn {

std::vector<int64_t> deberta_relative_positions(int64_t Sq, int64_t Sk, int64_t bucket_size, int64_t max_position) {
  std::vector<int64_t> rel(static_cast<std::size_t>(Sq * Sk));
  const bool log_buckets = bucket_size > 0 && max_position > 0;
  const int64_t mid = bucket_size / 2;
  // make_log_bucket_position in f32 as torch runs it: log(abs / mid) / log(f32((max - 1) / mid)) * (mid - 1), ceil, + mid.
  const float denom = log_buckets ? std::log(static_cast<float>(static_cast<double>(max_position - 1) / static_cast<double>(mid))) : 1.0f;
  for (int64_t i = 0; i < Sq; ++i)
    for (int64_t j = 0; j < Sk; ++j) {
      int64_t r = i - j;
      if (log_buckets) {
        const int64_t abs_pos = (r < mid && r > -mid) ? mid - 1 : std::abs(r);
        if (abs_pos > mid) {
          const float lp = std::ceil(std::log(static_cast<float>(abs_pos) / static_cast<float>(mid)) / denom *
                                     static_cast<float>(mid - 1)) + static_cast<float>(mid);
          r = static_cast<int64_t>(lp * static_cast<float>(r > 0 ? 1 : -1));
        }
      }
      rel[static_cast<std::size_t>(i * Sk + j)] = r;
    }
  return rel;
}

Tensor disentangled_scores(const DisentangledArgs& a) {
  hfx::detail::sync_threads();
  const int64_t B = a.B, S = a.S, H = a.H, D = a.D, W = H * D, span = a.span;
  if (B <= 0 || S <= 0 || H <= 0 || D <= 0 || !a.q.p || !a.k.p)
    throw_error(ErrorKind::InvalidArgument, "disentangled attention needs positive shapes and q, k");
  if ((a.pos_key || a.pos_query) && (span <= 0 || !a.rel || static_cast<int64_t>(a.rel->size()) != S * S))
    throw_error(ErrorKind::InvalidArgument, "disentangled attention: relative positions do not fit the sequence");
  const float scale = std::sqrt(static_cast<float>(D) * static_cast<float>(a.scale_factor));
  Tensor scores = Tensor::uninitialized(DType::F32, {B, H, S, S});
  float* out = scores.mutable_data<float>();
  auto clampi = [&](int64_t x) { return std::clamp<int64_t>(x, 0, 2 * span - 1); };
  auto dot = [D](const float* x, const float* y) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t d = 0; d < D; ++d) s += x[d] * y[d];
    return s;
  };
  // Each (b, h) writes its own [S, S] block.
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < S; ++i) {
        const float* qi = a.q.at(b, S, i, h);
        float* o = out + ((b * H + h) * S + i) * S;
        for (int64_t j = 0; j < S; ++j) {
          const float* kj = a.k.at(b, S, j, h);
          float s = dot(qi, kj) / scale;
          if (a.pos_key) s += dot(qi, a.pos_key + clampi((*a.rel)[static_cast<std::size_t>(i * S + j)] + span) * W + h * D) / scale;
          if (a.pos_query) s += dot(kj, a.pos_query + clampi(-(*a.rel)[static_cast<std::size_t>(j * S + i)] + span) * W + h * D) / scale;
          o[j] = s;
        }
      }
  return scores;
}

void xsoftmax_(Tensor& scores, const float* key_mask) {
  hfx::detail::sync_threads();
  const int64_t B = scores.size(0), H = scores.size(1), S = scores.size(2), Sk = scores.size(3);
  const float fmin = std::numeric_limits<float>::lowest();
  float* p = scores.mutable_data<float>();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < S; ++i) {
        float* row = p + ((b * H + h) * S + i) * Sk;
        const bool qkeep = !key_mask || key_mask[b * S + i] != 0.0f;
        auto keep = [&](int64_t j) { return qkeep && (!key_mask || key_mask[b * Sk + j] != 0.0f); };
        float mx = fmin;
        for (int64_t j = 0; j < Sk; ++j) {
          if (!keep(j)) row[j] = fmin;
          mx = std::max(mx, row[j]);
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < Sk; ++j) sum += (row[j] = std::exp(row[j] - mx));
        for (int64_t j = 0; j < Sk; ++j) row[j] = keep(j) ? row[j] / sum : 0.0f;
      }
}

Tensor attention_context(const Tensor& probs, const HeadRows& v, int64_t D) {
  hfx::detail::sync_threads();
  const int64_t B = probs.size(0), H = probs.size(1), S = probs.size(2), Sk = probs.size(3);
  Tensor ctx = Tensor::zeros(DType::F32, {B, S, H * D});
  float* out = ctx.mutable_data<float>();
  const float* pp = probs.data<float>();
  // Each (b, h) writes its own head's columns of the context.
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < S; ++i) {
        float* o = out + (b * S + i) * H * D + h * D;
        const float* row = pp + ((b * H + h) * S + i) * Sk;
        for (int64_t j = 0; j < Sk; ++j) {
          if (row[j] == 0.0f) continue;
          const float* vj = v.at(b, Sk, j, h);
          for (int64_t d = 0; d < D; ++d) o[d] += row[j] * vj[d];
        }
      }
  return ctx;
}

Tensor disentangled_attention(const DisentangledArgs& a, Tensor* probs) {
  if (!a.v.p) throw_error(ErrorKind::InvalidArgument, "disentangled attention needs v");
  Tensor scores = disentangled_scores(a);
  xsoftmax_(scores, a.key_mask);
  Tensor ctx = attention_context(scores, a.v, a.D);
  if (probs) *probs = scores;
  return ctx;
}

}  // namespace hfx::nn
