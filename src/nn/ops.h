// Element-wise and normalisation ops over f32 tensors for model files, which
// never call the kernels themselves: a second backend swaps what these
// dispatch to, not the models.
#pragma once

#include <string_view>
#include <vector>

#include "hfx/tensor.h"

namespace hfx::nn {

// The activation functions of transformers 4.46 activations.py (ACT2CLS). nn/'s own type, so model files never
// see a kernel header; nn/ops.cc maps it onto the backend's.
enum class Activation {
  GeluErf,     // "gelu", "gelu_python" (x * 0.5 * (1 + erf(x / sqrt 2)): the same function)
  GeluTanh,    // "gelu_new", "gelu_pytorch_tanh", "gelu_accurate" (the tanh approximation, written three ways)
  GeluFast,    // "gelu_fast"
  QuickGelu,   // "quick_gelu": x * sigmoid(1.702 x)
  Relu,        // "relu"
  Silu,        // "silu", "swish"
  Tanh,        // "tanh"
  Sigmoid,     // "sigmoid"
  Identity,    // "linear", "identity"
  Mish,        // "mish"
  GeluClip10,  // "gelu_10": ClippedGELUActivation(-10, 10)
  Laplace,     // "laplace": 0.5 * (1 + erf((x - 0.707107) / (0.282095 * sqrt 2)))
  LeakyRelu,   // "leaky_relu": nn.LeakyReLU(), slope 0.01
  Relu2,       // "relu2": relu(x) ** 2
  Relu6,       // "relu6": clamp(x, 0, 6)
};
// transformers' ACT2FN names above; Unsupported naming the value (and the supported names) otherwise.
Activation parse_activation(std::string_view name);

// In place on f32 contiguous tensors.
void activate(Tensor& x, Activation act);
void add_(Tensor& x, const Tensor& y);  // x += y (same element count)
void mul_(Tensor& x, const Tensor& y);  // x *= y (same element count)
void scale_(Tensor& x, float s);        // x *= s
void softmax_rows_(Tensor& x);          // softmax over the last dim, max subtracted
// RMSNorm over the last dim (Llama: x * rsqrt(mean(x^2) + eps) * gamma), in place.
void rms_norm_(Tensor& x, const Tensor& gamma, float eps);
// T5LayerNorm with torch's f32 steps: variance = mean(x^2) in double, then weight * (x * rsqrt(variance + eps)).
void t5_rms_norm_(Tensor& x, const Tensor& gamma, float eps);

// y = x W^T (+ bias) over the last dim of x, for weights that are not a Linear
// module (adaptive embedding projections, reshaped einsum weights). W is [out, in],
// or [in, out] with w_in_major; bias may be undefined.
Tensor linear(const Tensor& x, const Tensor& W, const Tensor& bias, bool w_in_major = false);

// Float view of a small parameter (bias, norm weight): the data itself if f32, else a widened copy in `scratch`.
const float* as_f32(const Tensor& t, std::vector<float>& scratch);

}  // namespace hfx::nn
