// What every format reader shares: the entry list in file order, the name
// index and its accessors, where each tensor's data lies in a mapped file (so
// that release() can drop those pages from the process in a streaming
// conversion), and the rule for handing out mapped data (an aligned view, or a
// copy when the bytes are misaligned for the element type).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hfx/io.h"

namespace hfx::io_internal {

class IndexedSource : public TensorSource {
 public:
  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& entries() const override { return entries_; }
  bool contains(const std::string& name) const override { return index_.count(name) > 0; }
  const TensorInfo& info(const std::string& name) const override { return entries_[find(name)]; }
  // madvise(MADV_DONTNEED) on the mapped ranges recorded for `name` (none: a no-op).
  void release(const std::string& name) const override;
  // The one mapped range of a tensor added as `dense` (row-major, every byte its own).
  Bytes bytes(const std::string& name) const override;

 protected:
  using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;  // (offset, length) in the mapped file
  explicit IndexedSource(std::string path) : path_(std::move(path)) {}
  // Appends an entry in file order; a later entry with the same name wins the
  // index. `map` + `ranges`: where its data lies, for release(); `dense`: the
  // ranges hold exactly its row-major bytes, in order (bytes() hands them out).
  std::size_t add_entry(TensorInfo info, std::shared_ptr<MappedFile> map = {}, Ranges ranges = {}, bool dense = true);
  // Sets where entry i's data lies (a reader that learns it after add_entry).
  void set_ranges(std::size_t i, std::shared_ptr<MappedFile> map, Ranges ranges, bool dense = true);
  const Ranges& ranges(std::size_t i) const { return data_[i].ranges; }
  std::size_t find(const std::string& name) const;  // else missing(name)
  // Throws for a name that is not in the index: NotFound by default.
  [[noreturn]] virtual void missing(const std::string& name) const;

  std::string path_;
  std::vector<TensorInfo> entries_;
  std::unordered_map<std::string, std::size_t> index_;  // hashed: 100k+ tensors stay linear (issue 24)

 private:
  struct Data {
    std::shared_ptr<MappedFile> map;
    Ranges ranges;
    bool dense = true;
  };
  std::vector<Data> data_;
};

// [p, p + n) of `map` (n == the bytes of dtype x shape) as a tensor: a
// zero-copy view when p is aligned for the dtype, else an owned copy (a
// foreign writer's misaligned data is never handed out as a misaligned view),
// after which the copied pages are released from the process.
Tensor view_or_copy(const std::shared_ptr<MappedFile>& map, const uint8_t* p, std::size_t n, DType dtype, const Shape& shape);

}  // namespace hfx::io_internal
