// Element-wise and normalisation ops over f32 tensors for model files, which
// never call the kernels themselves: a second backend swaps what these
// dispatch to, not the models.
#pragma once

#include <string_view>
#include <vector>

#include "hfx/tensor.h"
#include "kernels/cpu/ops.h"

namespace hfx::nn {

using Activation = cpu::Activation;
// transformers' ACT2FN names ("gelu", "gelu_new", "relu", "silu", ...); Unsupported otherwise.
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
