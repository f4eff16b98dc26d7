// Internal: what the zip (torch_zip.cc) and legacy (torch_legacy.cc) PyTorch
// readers share — turning an unpickled state dict into validated tensor
// plans, and a TensorSource that hands out zero-copy views of the mapped file
// (contiguous and aligned) or contiguous copies (strided, misaligned).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hfx/io.h"
#include "io/indexed_source.h"
#include "io/pickle.h"

namespace hfx::torch_io {

// One storage: its element type and its bytes inside the mapped file.
struct StorageInfo {
  std::string key;
  DType dtype = DType::F32;  // U8 for UntypedStorage
  bool untyped = false;
  uint64_t numel = 0;        // elements of dtype
  const uint8_t* data = nullptr;  // numel * dtype_size bytes; set once known
};

// A window of a storage that a persistent id names (legacy view_metadata
// narrows it; zip storages are whole).
struct Window {
  std::size_t storage = 0;
  uint64_t byte_begin = 0, byte_size = 0;
};

struct TensorPlan {
  std::string name;
  std::size_t storage = 0;
  DType dtype = DType::F32;
  uint64_t byte_offset = 0;  // of element [0,...,0] within the storage
  Shape size, stride;        // stride in elements, all >= 0
};

// Resolves a persistent-id tuple (the object BINPERSID received) for the
// tensor named `tensor`; throws hfx::Error naming file and tensor.
using PidResolver = std::function<Window(const pickle::Result& r, const pickle::Object& pid, const std::string& tensor)>;

// Walks the root dict of `r` (name -> tensor), resolving each tensor's storage
// with `pid` and checking offsets, sizes and strides against its window.
// `root`: the dict to walk instead of r.root (a state dict nested in a bigger dump).
std::vector<TensorPlan> plan_tensors(const pickle::Result& r, const std::string& file, const PidResolver& pid,
                                     const std::vector<StorageInfo>& storages, std::optional<uint32_t> root = std::nullopt);

// Maps a StorageType global to (dtype, untyped), throwing Unsupported for
// torch storage types that hfx has no dtype for.
StorageInfo storage_type(const pickle::Object& type, const std::string& file, const std::string& tensor);

class TorchSource final : public io_internal::IndexedSource {
 public:
  TorchSource(std::string path, std::string format, std::shared_ptr<MappedFile> file,
              std::vector<StorageInfo> storages, std::vector<TensorPlan> plans);
  std::string format() const override { return format_; }
  Tensor get(const std::string& name) const override;

 private:
  std::string format_;
  std::shared_ptr<MappedFile> file_;
  std::vector<StorageInfo> storages_;
  std::vector<std::shared_ptr<Storage>> views_;  // one borrowed Storage per storage: shared by its tensors
  std::vector<TensorPlan> plans_;
};

}  // namespace hfx::torch_io
