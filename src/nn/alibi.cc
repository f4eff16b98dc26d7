#include "nn/alibi.h"

#include <cmath>
#include <string>

#include "hfx/dtype.h"
#include "hfx/error.h"

namespace hfx::nn {

std::vector<float> alibi_slopes(int64_t heads) {
  if (heads <= 0) throw_error(ErrorKind::InvalidArgument, "ALiBi needs a positive head count");
  const int64_t p2 = int64_t{1} << static_cast<int>(std::floor(std::log2(static_cast<double>(heads))));
  // base = 2 ** (-(2 ** -(log2(p2) - 3))) rounded to float32, then float32 powers (torch.pow).
  const float base = static_cast<float>(std::pow(2.0, -std::pow(2.0, -(std::log2(static_cast<double>(p2)) - 3.0))));
  std::vector<float> s;
  for (int64_t i = 1; i <= p2; ++i) s.push_back(std::pow(base, static_cast<float>(i)));
  if (p2 != heads) {
    const float extra = static_cast<float>(std::pow(2.0, -std::pow(2.0, -(std::log2(2.0 * static_cast<double>(p2)) - 3.0))));
    const int64_t rest = std::min(p2, heads - p2);
    for (int64_t i = 1; i < 1 + 2 * rest; i += 2) s.push_back(std::pow(extra, static_cast<float>(i)));
  }
  return s;
}

Tensor alibi_bias(const Tensor& key_mask, int64_t B, int64_t Sk, int64_t heads, bool bf16) {
  Tensor m;
  if (key_mask.defined()) {
    if (key_mask.shape() != Shape{B, Sk})
      throw_error(ErrorKind::Mismatch, "attention_mask shape " + shape_str(key_mask.shape()) + " must be " + shape_str({B, Sk}));
    m = key_mask.to(DType::I64).contiguous();
  }
  std::vector<float> slopes = alibi_slopes(heads);
  if (bf16)
    for (float& v : slopes) v = bf16_to_f32(f32_to_bf16(v));
  Tensor out = Tensor::uninitialized(DType::F32, {B, heads, Sk});
  float* o = out.mutable_data<float>();
  for (int64_t b = 0; b < B; ++b) {
    int64_t run = 0;
    for (int64_t j = 0; j < Sk; ++j) {
      const int64_t keep = m.defined() ? m.data<int64_t>()[b * Sk + j] : 1;
      run += keep;
      const float pos = static_cast<float>((run - 1) * keep);
      for (int64_t h = 0; h < heads; ++h) {
        const float v = slopes[static_cast<std::size_t>(h)] * pos;
        o[(b * heads + h) * Sk + j] = bf16 ? bf16_to_f32(f32_to_bf16(v)) : v;
      }
    }
  }
  return out;
}

}  // namespace hfx::nn
