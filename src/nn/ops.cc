#include "nn/ops.h"

#include <cmath>

#include "hfx/error.h"

namespace hfx::nn {

namespace {
void same_count(const Tensor& x, const Tensor& y, const char* op) {
  if (x.numel() != y.numel())
    throw_error(ErrorKind::Mismatch, std::string(op) + " of " + shape_str(x.shape()) + " and " + shape_str(y.shape()));
}
}  // namespace

Activation parse_activation(std::string_view name) { return cpu::parse_activation(name); }

void activate(Tensor& x, Activation act) { cpu::activate(x.mutable_data<float>(), x.numel(), act); }

void add_(Tensor& x, const Tensor& y) {
  same_count(x, y, "add");
  cpu::add_inplace(x.mutable_data<float>(), y.data<float>(), x.numel());
}

void mul_(Tensor& x, const Tensor& y) {
  same_count(x, y, "multiply");
  float* p = x.mutable_data<float>();
  const float* q = y.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] *= q[i];
}

void scale_(Tensor& x, float s) { cpu::scale_inplace(x.mutable_data<float>(), x.numel(), s); }

void softmax_rows_(Tensor& x) {
  const int64_t n = x.size(-1);
  cpu::softmax_rows(x.mutable_data<float>(), n ? x.numel() / n : 0, n);
}

void rms_norm_(Tensor& x, const Tensor& gamma, float eps) {
  const int64_t d = gamma.numel();
  cpu::rms_norm(x.mutable_data<float>(), x.numel() / d, d, gamma, eps);
}

void t5_rms_norm_(Tensor& x, const Tensor& gamma, float eps) {
  std::vector<float> scratch;
  const float* g = as_f32(gamma, scratch);
  const int64_t d = gamma.numel();
  float* p = x.mutable_data<float>();
  for (int64_t r = 0; r < x.numel() / d; ++r, p += d) {
    double ss = 0;
    for (int64_t j = 0; j < d; ++j) ss += static_cast<double>(p[j]) * p[j];
    const float var = static_cast<float>(ss / static_cast<double>(d));
    const float inv = 1.0f / std::sqrt(var + eps);
    for (int64_t j = 0; j < d; ++j) p[j] = g[j] * (p[j] * inv);
  }
}

Tensor linear(const Tensor& x, const Tensor& W, const Tensor& bias, bool w_in_major) {
  const int64_t in = w_in_major ? W.size(0) : W.size(1), out = w_in_major ? W.size(1) : W.size(0);
  if (W.dim() != 2 || x.size(-1) != in)
    throw_error(ErrorKind::Mismatch, "input " + shape_str(x.shape()) + " does not fit weight " + shape_str(W.shape()));
  Tensor xc = x.to(DType::F32).contiguous();
  Shape os = x.shape();
  os.back() = out;
  Tensor y = Tensor::uninitialized(DType::F32, os);  // the GEMM (beta = 0) writes every element
  cpu::linear(xc.data<float>(), x.numel() / in, in, W, bias, y.mutable_data<float>(), w_in_major);
  return y;
}

const float* as_f32(const Tensor& t, std::vector<float>& scratch) { return cpu::as_f32(t, scratch); }

}  // namespace hfx::nn
