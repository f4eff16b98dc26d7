// hfx/gguf.h — GGUF, llama.cpp's file format: read as one more source format, write from any model hfx loads.
//
// Layout (little-endian, version 3; ggml's docs/gguf.md and ggml/src/gguf.cpp): "GGUF", u32 version,
// u64 tensor count, u64 metadata count, metadata (key, u32 type, value; arrays are u32 element type +
// u64 count + elements), tensor infos (name, u32 n_dims, u64 ne[n_dims] innermost first, u32 ggml type,
// u64 offset from the data section), padding to general.alignment (default 32), the data section.
//
// Reading: open_gguf() lists tensors under GGUF's names (blk.0.attn_q.weight, ...) with PyTorch shapes
// (ne reversed); F32/F16/BF16 are views of the mapped file, Q8_0/Q4_0/Q4_K are dequantized to F32 on
// get(). Every count, size, offset, type and the alignment are checked against the file before
// anything is allocated or read: a malformed file is hfx::Error{Format} (an unknown-but-valid ggml type:
// Unsupported) naming the file and what is wrong. load_pretrained() on a .gguf file takes its config
// from the metadata (gguf_config) and the names from naming/gguf.cc (llama, mistral as llama, qwen2,
// gemma, gpt2; llama.cpp's Q/K row permutation and Gemma's norm + 1 undone).
//
// Writing: save_gguf() writes what llama.cpp's convert_hf_to_gguf.py writes for the model (names,
// hyper-parameters, tokenizer.ggml.* from the tokenizer files in tokenizer_dir) in F32, F16, BF16 or
// Q8_0 (1-D tensors stay F32; a row length not a multiple of 32 falls back to F16, as the converter
// does), atomically (AtomicFile).
#pragma once

#include "hfx/export.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hfx/config.h"
#include "hfx/io.h"

namespace hfx {

class Model;

enum class GgufType : uint32_t { U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8,
                                 Array = 9, U64 = 10, I64 = 11, F64 = 12 };
enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, Q4_K = 12, BF16 = 30 };

// One metadata entry; `value` is a JSON number / bool / string, or an array of them for Array (`elem`:
// the element type). Strings are kept as bytes (JSON strings need not be valid UTF-8 here).
struct HFX_API GgufKV {
  std::string key;
  GgufType type = GgufType::U32;
  nlohmann::json value;
  GgufType elem = GgufType::U8;
};

// A GGUF file's metadata, in file order (tensor infos validated too). Throws as open_gguf.
HFX_API std::vector<GgufKV> read_gguf_metadata(const std::string& path);
// A TensorSource (format() == "gguf") under GGUF's names; metadata() holds the scalar entries as text.
HFX_API std::unique_ptr<TensorSource> open_gguf(const std::string& path);
// True when the file starts with the GGUF magic.
HFX_API bool is_gguf_file(const std::string& path);

// A tensor to write: name, ggml type, PyTorch (row-major) shape, and its data on demand (any float dtype).
struct HFX_API GgufTensorOut {
  std::string name;
  GgmlType type = GgmlType::F32;
  Shape shape;
  std::function<Tensor()> get;
};
// Writes a GGUF v3 file atomically. F32/F16/BF16 are converted from what get() returns; Q8_0 quantizes
// as ggml's quantize_row_q8_0_ref (blocks of 32 along the innermost dimension, which must divide by 32).
HFX_API void write_gguf(const std::string& path, const std::vector<GgufKV>& kvs, const std::vector<GgufTensorOut>& tensors,
                        uint32_t alignment = 32);

// The config a lone .gguf file loads with (config.json fields from the metadata and the tensor list).
HFX_API Config gguf_config(const std::string& path);

struct HFX_API GgufSaveOptions {
  std::string outtype = "f32";  // f32, f16, bf16, q8_0
  std::string tokenizer_dir;    // folder with tokenizer.json (+ tokenizer_config.json); empty: no tokenizer metadata
  std::string name;             // general.name (default: the model's class)
};
// save_gguf: the model's parameters under llama.cpp's names. Unsupported for an architecture without a
// GGUF mapping or a config llama.cpp has no key for (rope_scaling other than linear).
HFX_API void save_gguf(const Model& model, const std::string& path, const GgufSaveOptions& o = {});

}  // namespace hfx
