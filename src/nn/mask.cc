#include "nn/mask.h"

#include <limits>
#include <string>

#include "hfx/error.h"

namespace hfx::nn {

namespace {
constexpr float kMin = std::numeric_limits<float>::lowest();

// mask as f32 after checking its shape (undefined stays undefined).
Tensor mask_f32(const Tensor& mask, const Shape& want, const std::string& what) {
  if (!mask.defined()) return {};
  if (mask.shape() != want) throw_error(ErrorKind::Mismatch, what + " shape " + shape_str(mask.shape()) + " must be " + shape_str(want));
  return mask.to(DType::F32).contiguous();
}

// How a key padding mask meets the causal mask.
enum class Padding {
  Scaled,  // GPT-2 / Llama: causal finfo.min + (1 - mask) * finfo.min
  Filled,  // BART / T5: finfo.min where causal-masked or mask == 0
};

// The decoder bias [B, Sq, past + Sq] over queries at past..past+Sq-1; window > 0
// also hides keys j <= past + i - window.
Tensor decoder_bias(const Tensor& key_mask, int64_t B, int64_t Sq, int64_t past, int64_t window, Padding rule, const std::string& what) {
  const int64_t Sk = past + Sq;
  Tensor keep = mask_f32(key_mask, {B, Sk}, what);
  const float* kp = keep.defined() ? keep.data<float>() : nullptr;
  Tensor bias = Tensor::uninitialized(DType::F32, {B, Sq, Sk});
  float* o = bias.mutable_data<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Sq; ++i)
      for (int64_t j = 0; j < Sk; ++j) {
        const bool future = j > past + i;
        float v;
        if (rule == Padding::Filled) {
          v = future || (kp && kp[b * Sk + j] == 0.0f) ? kMin : 0.0f;
        } else {
          v = future ? kMin : 0.0f;
          if (kp) v += (1.0f - kp[b * Sk + j]) * kMin;
        }
        if (window > 0 && j <= past + i - window) v = kMin;
        o[(b * Sq + i) * Sk + j] = v;
      }
  return bias;
}
}  // namespace

Tensor keep_mask(const Tensor& mask, int64_t B, int64_t S, bool causal, int64_t past) {
  const int64_t Sk = past + S, Sq = causal ? S : 1;
  Tensor keep = mask_f32(mask, {B, Sk}, "attention_mask");
  Tensor out = Tensor::uninitialized(DType::F32, {B, Sq, Sk});
  float* o = out.mutable_data<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Sq; ++i)
      for (int64_t j = 0; j < Sk; ++j) {
        const float v = keep.defined() ? keep.data<float>()[b * Sk + j] : 1.0f;
        o[(b * Sq + i) * Sk + j] = causal && j > past + i ? 0.0f : v;
      }
  return out;
}

AttnMask extended_attention_mask(const Tensor& mask, int64_t B, int64_t S, bool causal, int64_t past) {
  AttnMask m;
  if (!mask.defined() && !causal) return m;
  m.bias = keep_mask(mask, B, S, causal, past);
  float* o = m.bias.mutable_data<float>();
  for (int64_t i = 0; i < m.bias.numel(); ++i) o[i] = (1.0f - o[i]) * kMin;
  return m;
}

Tensor causal_bias(const Tensor& key_mask, int64_t B, int64_t Sq, int64_t past) {
  return decoder_bias(key_mask, B, Sq, past, 0, Padding::Scaled, "attention_mask");
}

Tensor causal_window_bias(const Tensor& key_mask, int64_t B, int64_t Sq, int64_t past, int64_t window) {
  return decoder_bias(key_mask, B, Sq, past, window, Padding::Scaled, "attention_mask");
}

Tensor causal_padding_bias(const Tensor& mask, int64_t B, int64_t Sq, int64_t past, const char* what) {
  return decoder_bias(mask, B, Sq, past, 0, Padding::Filled, what);
}

Tensor causal_padding_window_bias(const Tensor& mask, int64_t B, int64_t Sq, int64_t past, int64_t window, const char* what) {
  return decoder_bias(mask, B, Sq, past, window, Padding::Filled, what);
}

Tensor padding_bias(const Tensor& mask, int64_t B, int64_t Sk, const char* what) {
  Tensor keep = mask_f32(mask, {B, Sk}, what);
  Tensor bias = Tensor::zeros(DType::F32, {B, Sk});
  if (!keep.defined()) return bias;
  for (int64_t i = 0; i < B * Sk; ++i) bias.mutable_data<float>()[i] = keep.data<float>()[i] == 0.0f ? kMin : 0.0f;
  return bias;
}

Tensor window_padding_bias(const Tensor& mask, int64_t B, int64_t S, int64_t window, const char* what) {
  const Tensor keys = padding_bias(mask, B, S, what);
  Tensor bias = Tensor::zeros(DType::F32, {B, S, S});
  float* o = bias.mutable_data<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < S; ++j) {
        const bool far = window >= 0 && (i > j ? i - j : j - i) > window;
        o[(b * S + i) * S + j] = far ? kMin : keys.data<float>()[b * S + j];
      }
  return bias;
}

}  // namespace hfx::nn
