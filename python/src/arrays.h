// NumPy <-> hfx::Tensor without copies (python/src/arrays.cc).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "hfx/tensor.h"

namespace hfxpy {
namespace py = pybind11;

// A NumPy view of `t`: same memory, strides in bytes; the array's base is a
// capsule holding a copy of the Tensor (so hfx's storage lives as long as the
// array). Read-only when the storage is (a memory-mapped checkpoint). bfloat16,
// which NumPy lacks, is the one case converted (to float32, a copy).
// An undefined tensor is None.
py::object to_numpy(const hfx::Tensor& t);

// A Tensor over the array's memory (no copy) when it is C-contiguous, aligned
// and of a dtype hfx has; otherwise over a contiguous copy. The Tensor keeps
// the array alive (released with the GIL held). `what` names the argument in errors.
hfx::Tensor from_numpy(const py::handle& obj, const std::string& what);

// True when `capsule` is the base to_numpy gives its arrays (tests: no copy).
bool is_tensor_capsule(const py::handle& capsule);

}  // namespace hfxpy
