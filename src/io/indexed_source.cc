// IndexedSource and view_or_copy (indexed_source.h).
#include "indexed_source.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <utility>

namespace hfx::io_internal {

namespace {
uint64_t name_hash(std::string_view s) { return std::hash<std::string_view>{}(s); }
}  // namespace

// At most 3/4 full: linear probing stays short, and the table stays small
// enough to sit in cache as long as possible.
void NameIndex::reserve(std::size_t n) {
  if (4 * n > 3 * slots_.size()) grow(4 * n / 3 + 1);
}

void NameIndex::grow(std::size_t min_slots) {
  std::size_t cap = 16;
  while (cap < min_slots) cap *= 2;
  std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(cap));
  const std::size_t mask = cap - 1;
  for (const Slot& s : old) {
    if (!s.idx1) continue;
    const uint64_t h = name_hash(entries_[s.idx1 - 1].name);
    std::size_t p = static_cast<std::size_t>(h) & mask;
    while (slots_[p].idx1) p = (p + 1) & mask;
    slots_[p] = s;
  }
}

void NameIndex::put(std::size_t i) {
  if (4 * (size_ + 1) > 3 * slots_.size()) grow(std::max<std::size_t>(16, 2 * slots_.size()));
  insert(i, name_hash(entries_[i].name));
}

void NameIndex::put_from(std::size_t first) {
  const std::size_t n = entries_.size();
  if (first >= n) return;
  reserve(size_ + (n - first));  // no growth inside the loop: the masks below stay valid
  std::vector<uint64_t> hashes(n - first);
  for (std::size_t i = first; i < n; ++i) hashes[i - first] = name_hash(entries_[i].name);
  const std::size_t mask = slots_.size() - 1;
  constexpr std::size_t kAhead = 16;
  for (std::size_t i = first; i < n; ++i) {
    if (i + kAhead < n) __builtin_prefetch(&slots_[static_cast<std::size_t>(hashes[i + kAhead - first]) & mask], 1);
    insert(i, hashes[i - first]);
  }
}

void NameIndex::insert(std::size_t i, uint64_t h) {
  if (i >= 0xffffffffu) throw_error(ErrorKind::Format, "more than 4 billion tensors");
  const std::string& name = entries_[i].name;
  const uint32_t tag = static_cast<uint32_t>(h >> 32);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t p = static_cast<std::size_t>(h) & mask;; p = (p + 1) & mask) {
    Slot& s = slots_[p];
    if (!s.idx1) {
      s = {tag, static_cast<uint32_t>(i + 1)};
      ++size_;
      return;
    }
    if (s.tag == tag && entries_[s.idx1 - 1].name == name) {
      s.idx1 = static_cast<uint32_t>(i + 1);
      return;
    }
  }
}

std::size_t NameIndex::find(std::string_view name) const {
  if (slots_.empty()) return npos;
  const uint64_t h = name_hash(name);
  const uint32_t tag = static_cast<uint32_t>(h >> 32);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t p = static_cast<std::size_t>(h) & mask;; p = (p + 1) & mask) {
    const Slot& s = slots_[p];
    if (!s.idx1) return npos;
    if (s.tag == tag && entries_[s.idx1 - 1].name == name) return s.idx1 - 1;
  }
}

void IndexedSource::reserve(std::size_t n) {
  entries_.reserve(n);
  data_.reserve(n);
  index_.reserve(n);
}

void IndexedSource::index_deferred() {
  if (deferred_from_ == NameIndex::npos) return;
  index_.put_from(deferred_from_);
  deferred_from_ = NameIndex::npos;
}

std::size_t IndexedSource::add_entry(TensorInfo info, std::shared_ptr<MappedFile> map, Ranges ranges, bool dense) {
  const std::size_t i = entries_.size();
  entries_.push_back(std::move(info));
  if (deferred_from_ == NameIndex::npos) index_.put(i);
  data_.push_back({std::move(map), std::move(ranges), dense});
  return i;
}

void IndexedSource::set_ranges(std::size_t i, std::shared_ptr<MappedFile> map, Ranges ranges, bool dense) {
  data_.at(i) = {std::move(map), std::move(ranges), dense};
}

TensorSource::Bytes IndexedSource::bytes(const std::string& name) const {
  const std::size_t i = find(name);
  const Data& d = data_[i];
  if (!d.map || !d.dense || d.ranges.size() != 1) return {};
  const auto& [off, len] = d.ranges.front();
  if (len != static_cast<uint64_t>(shape_numel(entries_[i].shape)) * dtype_size(entries_[i].dtype)) return {};
  return {d.map, d.map->data() + off, static_cast<std::size_t>(len)};
}

std::size_t IndexedSource::find(const std::string& name) const {
  const std::size_t i = index_.find(name);
  if (i == NameIndex::npos) missing(name);
  return i;
}

void IndexedSource::missing(const std::string& name) const {
  throw_error(ErrorKind::NotFound, "no such tensor in checkpoint", path_, name);
}

void IndexedSource::release(const std::string& name) const {
  const std::size_t i = index_.find(name);
  if (i == NameIndex::npos) return;
  const Data& d = data_[i];
  if (!d.map) return;
  for (const auto& [off, len] : d.ranges) d.map->release(d.map->data() + off, len);
}

Tensor view_or_copy(const std::shared_ptr<MappedFile>& map, const uint8_t* p, std::size_t n, DType dtype, const Shape& shape) {
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(dtype) == 0) return Tensor::view_of(Storage::borrow_mapped(map, p, n), dtype, shape);
  Tensor t = Tensor::uninitialized(dtype, shape);  // every byte is copied below
  // The copy is all that is needed: the mapped pages leave the process as
  // they are copied (8 MiB at a time), so that copying a tensor does not hold
  // it twice.
  constexpr std::size_t kPiece = std::size_t{8} << 20;
  auto* out = static_cast<uint8_t*>(t.mutable_raw());
  for (std::size_t off = 0; off < n; off += kPiece) {
    const std::size_t k = std::min(kPiece, n - off);
    std::memcpy(out + off, p + off, k);
    map->release(p + off, k);
  }
  return t;
}

}  // namespace hfx::io_internal
