#include "nn/partial_rotary.h"

#include <cmath>
#include <cstring>
#include <vector>

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

std::vector<Tensor> split_last_dim(const Tensor& x, const std::vector<int64_t>& widths) {
  int64_t total = 0;
  for (int64_t w : widths) total += w;
  if (x.dim() != 3 || x.size(2) != total || x.dtype() != DType::F32)
    throw_error(ErrorKind::Mismatch, "fused projection output " + shape_str(x.shape()) + " is not [B, S, " +
                                         std::to_string(total) + "] f32");
  const int64_t rows = x.size(0) * x.size(1);
  std::vector<Tensor> out;
  int64_t col = 0;
  for (int64_t w : widths) {
    Tensor t = Tensor::uninitialized(DType::F32, {x.size(0), x.size(1), w});
    float* d = t.mutable_data<float>();
    const float* s = x.data<float>() + col;
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(d + r * w, s + r * total, static_cast<std::size_t>(w) * sizeof(float));
    out.push_back(std::move(t));
    col += w;
  }
  return out;
}

Rope phi3_rope(const Config& c, int64_t head_dim) {
  Rope r;
  r.dim = head_dim;
  r.base = c.get<double>("rope_theta", 10000.0);
  r.original_max = c.get<int64_t>("original_max_position_embeddings", 4096);
  const json* rs = c.find("rope_scaling");
  if (!rs) return r;
  // "type" as 4.x wrote it; transformers 5's rope_parameters may carry "rope_type" only.
  const std::string t = rs->is_object() ? rs->value("type", rs->value("rope_type", std::string())) : std::string();
  if (t != "longrope")
    throw_error(ErrorKind::Unsupported, "Phi-3 rope_scaling type '" + t + "' is not supported (longrope)", c.source());
  for (const char* k : {"short_factor", "long_factor"}) {
    const auto it = rs->find(k);
    if (it == rs->end() || !it->is_array() || static_cast<int64_t>(it->size()) != head_dim / 2)
      throw_error(ErrorKind::InvalidArgument, std::string("rope_scaling.") + k + " must list head_dim / 2 = " +
                                                  std::to_string(head_dim / 2) + " numbers", c.source());
    std::vector<float>& dst = std::string(k) == "short_factor" ? r.short_factor : r.long_factor;
    for (const auto& v : *it) {
      if (!v.is_number() || !(v.get<double>() > 0))
        throw_error(ErrorKind::InvalidArgument, std::string("rope_scaling.") + k + " must hold positive numbers", c.source());
      dst.push_back(v.get<float>());
    }
  }
  if (r.original_max <= 0)
    throw_error(ErrorKind::InvalidArgument, "original_max_position_embeddings must be positive", c.source());
  r.type = "longrope";
  const double scale = static_cast<double>(c.get<int64_t>("max_position_embeddings", 4096)) / static_cast<double>(r.original_max);
  if (scale > 1.0) r.mscale = static_cast<float>(std::sqrt(1 + std::log(scale) / std::log(static_cast<double>(r.original_max))));
  return r;
}

}  // namespace hfx::nn
