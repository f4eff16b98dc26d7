// Internal: the .npy header (numpy format.py, versions 1-3), for the OpenAI
// GPT numpy release reader (openai_npy.cc) and its fuzz target.
#pragma once

#include <cstdint>
#include <string>

#include "hfx/tensor.h"

namespace hfx::internal {

struct NpyHeader {
  DType dtype = DType::F32;
  Shape shape;
  std::size_t data_offset = 0;  // first data byte
  std::size_t nbytes = 0;       // data bytes (checked to lie within the file)
};

// Validates magic, version, header length, descr, fortran_order and shape
// against the `n` bytes at `p`; Format error naming `file` otherwise.
NpyHeader parse_npy_header(const uint8_t* p, std::size_t n, const std::string& file);

}  // namespace hfx::internal
