// Internal: named tensors as LazyTensors that view them, for the streaming writers. The eager writers
// (write_safetensors / write_torch_zip of NamedTensors) are these views written by the streaming ones, and
// pretrained's progress bar wraps the same views' done(). An undefined tensor gets no get(): the writer
// refuses it as "undefined tensor", naming it. `ts` must outlive the result.
#pragma once

#include <vector>

#include "hfx/formats.h"
#include "hfx/io.h"

namespace hfx::io_internal {

inline std::vector<LazyTensor> lazy_views(const NamedTensors& ts) {
  std::vector<LazyTensor> out;
  out.reserve(ts.size());
  for (const auto& nt : ts) {
    const Tensor& t = nt.second;
    if (!t.defined()) out.push_back({nt.first, DType::F32, {}, nullptr});
    else out.push_back({nt.first, t.dtype(), t.shape(), [&t] { return t; }});
  }
  return out;
}

}  // namespace hfx::io_internal
