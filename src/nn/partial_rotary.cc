#include "nn/partial_rotary.h"

#include <cstring>

#include "hfx/error.h"

namespace hfx::nn {

Rope partial_rope(const Config& c, int64_t head_dim, double fraction, double base) {
  if (!(fraction > 0.0 && fraction <= 1.0))
    throw_error(ErrorKind::InvalidArgument, "the rotary fraction must be in (0, 1], got " + std::to_string(fraction), c.source());
  Rope r = Rope::from_config(c, head_dim);
  r.dim = static_cast<int64_t>(static_cast<double>(head_dim) * fraction);  // Python int(): truncation
  if (r.dim <= 0 || r.dim % 2)
    throw_error(ErrorKind::InvalidArgument,
                "the rotary width int(head_dim * fraction) = " + std::to_string(r.dim) + " must be positive and even",
                c.source());
  r.head_stride = head_dim;
  r.base = base;
  return r;
}

std::array<Tensor, 3> split_per_head_qkv(const Tensor& qkv, int64_t heads, int64_t head_dim) {
  if (qkv.dim() != 3 || qkv.size(2) != 3 * heads * head_dim || qkv.dtype() != DType::F32)
    throw_error(ErrorKind::Mismatch, "fused query_key_value output " + shape_str(qkv.shape()) + " is not [B, S, " +
                                         std::to_string(3 * heads * head_dim) + "] f32");
  const int64_t rows = qkv.size(0) * qkv.size(1), D = head_dim;
  std::array<Tensor, 3> out;
  for (auto& t : out) t = Tensor::uninitialized(DType::F32, {qkv.size(0), qkv.size(1), heads * D});
  const float* src = qkv.data<float>();
  float* dst[3] = {out[0].mutable_data<float>(), out[1].mutable_data<float>(), out[2].mutable_data<float>()};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < heads; ++h)
      for (int part = 0; part < 3; ++part)
        std::memcpy(dst[part] + r * heads * D + h * D, src + r * 3 * heads * D + h * 3 * D + part * D,
                    static_cast<std::size_t>(D) * sizeof(float));
  return out;
}

}  // namespace hfx::nn
