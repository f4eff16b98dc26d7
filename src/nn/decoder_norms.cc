#include "nn/decoder_norms.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "hfx/error.h"
#include "nn/backend.h"

namespace hfx::nn {

void layer_norm_(Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  if (x.dim() < 1) throw_error(ErrorKind::Mismatch, "layer_norm of a scalar");
  const int64_t dim = x.size(x.dim() - 1);
  for (const Tensor* t : {&gamma, &beta})
    if (t->defined() && t->numel() != dim)
      throw_error(ErrorKind::Mismatch, "layer_norm parameter of " + shape_str(t->shape()) + " over a last dim of " +
                                           std::to_string(dim));
  if (dim == 0) return;
  // The kernel always multiplies by a weight: OlmoLayerNorm has none, so it multiplies by exact ones.
  const Tensor g = gamma.defined() ? gamma : Tensor::from_vector(DType::F32, {dim}, std::vector<float>(static_cast<std::size_t>(dim), 1.0f));
  cpu::layer_norm(x.mutable_data<float>(), x.numel() / dim, dim, g, beta, eps);
}

void layer_norm_per_head_(Tensor& x, int64_t heads, const std::vector<Tensor>& gammas, float eps) {
  if (x.dim() < 1 || heads <= 0 || x.size(x.dim() - 1) % heads || static_cast<int64_t>(gammas.size()) != heads)
    throw_error(ErrorKind::Mismatch, "per-head layer_norm of " + shape_str(x.shape()) + " over " + std::to_string(heads) +
                                         " heads with " + std::to_string(gammas.size()) + " weights");
  const int64_t D = x.size(x.dim() - 1) / heads, rows = x.numel() / (heads * D);
  if (D == 0 || rows == 0) return;
  std::vector<float> buf(static_cast<std::size_t>(rows * D));
  float* p = x.mutable_data<float>();
  for (int64_t h = 0; h < heads; ++h) {
    if (gammas[static_cast<std::size_t>(h)].numel() != D)
      throw_error(ErrorKind::Mismatch, "per-head layer_norm weight " + std::to_string(h) + " is not [" + std::to_string(D) + "]");
    for (int64_t r = 0; r < rows; ++r)
      std::copy_n(p + (r * heads + h) * D, D, buf.data() + r * D);
    cpu::layer_norm(buf.data(), rows, D, gammas[static_cast<std::size_t>(h)], Tensor(), eps);
    for (int64_t r = 0; r < rows; ++r)
      std::copy_n(buf.data() + r * D, D, p + (r * heads + h) * D);
  }
}

void clamp_(Tensor& x, float limit) {
  float* p = x.mutable_data<float>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) p[i] = std::clamp(p[i], -limit, limit);
}

void softcap_(Tensor& x, float cap) {
  float* p = x.mutable_data<float>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) p[i] = std::tanh(p[i] / cap) * cap;
}

}  // namespace hfx::nn
