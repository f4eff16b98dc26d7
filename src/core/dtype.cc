#include "hfx/dtype.h"

#include <array>
#include <cctype>

namespace hfx {

namespace {
constexpr std::array kTable = {
#define HFX_X(e, size, torch, numpy, tf, st, fl) DTypeInfo{DType::e, size, #e, torch, numpy, tf, st, fl},
    HFX_DTYPES(HFX_X)
#undef HFX_X
};

template <class F>
std::optional<DType> find(F&& pick, std::string_view s) {
  for (const auto& i : kTable)
    if (!pick(i).empty() && pick(i) == s) return i.dtype;
  return std::nullopt;
}
}  // namespace

const DTypeInfo& info(DType d) { return kTable[static_cast<std::size_t>(d)]; }
std::string_view to_string(DType d) { return info(d).numpy; }

std::optional<DType> dtype_from_safetensors(std::string_view s) {
  return find([](const DTypeInfo& i) { return i.safetensors; }, s);
}
std::optional<DType> dtype_from_torch(std::string_view s) {
  if (auto d = find([](const DTypeInfo& i) { return i.torch; }, s)) return d;
  return find([](const DTypeInfo& i) { return i.torch.substr(6); }, s);  // without "torch."
}
std::optional<DType> dtype_from_numpy(std::string_view s) {
  return find([](const DTypeInfo& i) { return i.numpy; }, s);
}
std::optional<DType> dtype_from_tf(std::string_view s) {
  return find([](const DTypeInfo& i) { return i.tf; }, s);
}

std::optional<DType> parse_dtype(std::string_view s) {
  if (s == "fp16" || s == "half") return DType::F16;
  if (s == "bf16") return DType::BF16;
  if (s == "fp32" || s == "float") return DType::F32;
  if (s == "fp64" || s == "double") return DType::F64;
  if (auto d = dtype_from_torch(s)) return d;
  if (auto d = dtype_from_safetensors(s)) return d;
  if (auto d = dtype_from_tf(s)) return d;
  return std::nullopt;
}

}  // namespace hfx
