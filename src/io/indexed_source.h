// What every format reader shares: the entry list in file order, the name
// index and its accessors, where each tensor's data lies in a mapped file (so
// that release() can drop those pages from the process in a streaming
// conversion), and the rule for handing out mapped data (an aligned view, or a
// copy when the bytes are misaligned for the element type).
#pragma once

#include <map>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hfx/io.h"

namespace hfx::io_internal {

// Name -> entry index over a vector of entries, for 100k+ tensors in linear
// time (issue 24). Open addressing with 8-byte slots (a 32-bit hash tag and the
// entry index) in one array: std::unordered_map allocated a node per name (a
// copy of the name) and chased a bucket and a node per insert, and at 160k
// tensors those were cache misses that made a header parse 20-26x slower than
// 1/16 of it. Names are compared in `entries` only when the tags match.
class NameIndex {
 public:
  explicit NameIndex(const std::vector<TensorInfo>& entries) : entries_(entries) {}
  NameIndex(const NameIndex&) = delete;
  NameIndex& operator=(const NameIndex&) = delete;
  static constexpr std::size_t npos = ~std::size_t{0};
  void reserve(std::size_t n);
  // Points entries[i].name at i (a later entry with the same name wins).
  void put(std::size_t i);
  // put(i) for every i in [first, entries.size()), in order, with the slots
  // prefetched a few entries ahead (the table is written at random places).
  void put_from(std::size_t first);
  std::size_t find(std::string_view name) const;  // npos when absent
  std::size_t count(std::string_view name) const { return find(name) == npos ? 0 : 1; }

 private:
  struct Slot {
    uint32_t tag = 0;
    uint32_t idx1 = 0;  // entry index + 1; 0: empty
  };
  void grow(std::size_t min_slots);
  void insert(std::size_t i, uint64_t hash);  // room is there
  const std::vector<TensorInfo>& entries_;
  std::vector<Slot> slots_;  // a power of two in size, at most 3/4 full
  std::size_t size_ = 0;
};

class IndexedSource : public TensorSource {
 public:
  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& entries() const override { return entries_; }
  IndexedSource(const IndexedSource&) = delete;  // index_ refers to entries_
  IndexedSource& operator=(const IndexedSource&) = delete;
  bool contains(const std::string& name) const override { return index_.count(name) > 0; }
  const TensorInfo& info(const std::string& name) const override { return entries_[find(name)]; }
  // madvise(MADV_DONTNEED) on the mapped ranges recorded for `name` (none: a no-op).
  void release(const std::string& name) const override;
  // The one mapped range of a tensor added as `dense` (row-major, every byte its own).
  Bytes bytes(const std::string& name) const override;

 protected:
  using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;  // (offset, length) in the mapped file
  explicit IndexedSource(std::string path) : path_(std::move(path)) {}
  // Room for n entries (a reader that knows how many are coming).
  void reserve(std::size_t n);
  // Between these two calls add_entry leaves the index alone; the second
  // indexes the entries added since, in one pass (NameIndex::put_from).
  void defer_index() { deferred_from_ = entries_.size(); }
  void index_deferred();
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
  NameIndex index_{entries_};
  std::size_t deferred_from_ = NameIndex::npos;  // npos: add_entry indexes at once

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
