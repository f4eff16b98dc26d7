#include "nn/ops.h"

#include <cmath>

#include "hfx/error.h"
#include "nn/backend.h"

namespace hfx::nn {

namespace {
void same_count(const Tensor& x, const Tensor& y, const char* op) {
  if (x.numel() != y.numel())
    throw_error(ErrorKind::Mismatch, std::string(op) + " of " + shape_str(x.shape()) + " and " + shape_str(y.shape()));
}
}  // namespace

Activation parse_activation(std::string_view name) {
  // transformers 4.46 activations.py ACT2CLS, every name.
  if (name == "gelu" || name == "gelu_python") return Activation::GeluErf;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_accurate") return Activation::GeluTanh;
  if (name == "gelu_fast") return Activation::GeluFast;
  if (name == "gelu_10") return Activation::GeluClip10;
  if (name == "quick_gelu") return Activation::QuickGelu;
  if (name == "relu") return Activation::Relu;
  if (name == "relu2") return Activation::Relu2;
  if (name == "relu6") return Activation::Relu6;
  if (name == "leaky_relu") return Activation::LeakyRelu;
  if (name == "laplace") return Activation::Laplace;
  if (name == "silu" || name == "swish") return Activation::Silu;
  if (name == "tanh") return Activation::Tanh;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "linear" || name == "identity") return Activation::Identity;
  if (name == "mish") return Activation::Mish;
  throw_error(ErrorKind::Unsupported, "unsupported activation '" + std::string(name) +
                                          "' (supported: gelu, gelu_10, gelu_accurate, gelu_fast, gelu_new, gelu_python, gelu_pytorch_tanh, laplace, leaky_relu, "
                                          "linear, mish, quick_gelu, relu, relu2, relu6, sigmoid, silu, swish, tanh)");
}

cpu::Activation to_cpu(Activation act) {
  switch (act) {  // exhaustive: -Wswitch (an error here) names an enumerator added to one side only
    case Activation::GeluErf: return cpu::Activation::GeluErf;
    case Activation::GeluTanh: return cpu::Activation::GeluTanh;
    case Activation::GeluFast: return cpu::Activation::GeluFast;
    case Activation::QuickGelu: return cpu::Activation::QuickGelu;
    case Activation::Relu: return cpu::Activation::Relu;
    case Activation::Silu: return cpu::Activation::Silu;
    case Activation::Tanh: return cpu::Activation::Tanh;
    case Activation::Sigmoid: return cpu::Activation::Sigmoid;
    case Activation::Identity: return cpu::Activation::Identity;
    case Activation::Mish: return cpu::Activation::Mish;
    case Activation::GeluClip10: return cpu::Activation::GeluClip10;
    case Activation::Laplace: return cpu::Activation::Laplace;
    case Activation::LeakyRelu: return cpu::Activation::LeakyRelu;
    case Activation::Relu2: return cpu::Activation::Relu2;
    case Activation::Relu6: return cpu::Activation::Relu6;
  }
  throw_error(ErrorKind::InvalidArgument, "activation " + std::to_string(static_cast<int>(act)) + " has no kernel");
}

void activate(Tensor& x, Activation act) { cpu::activate(x.mutable_data<float>(), x.numel(), to_cpu(act)); }

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
