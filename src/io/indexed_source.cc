// IndexedSource and view_or_copy (indexed_source.h).
#include "indexed_source.h"

#include <algorithm>
#include <cstring>

namespace hfx::io_internal {

std::size_t IndexedSource::add_entry(TensorInfo info, std::shared_ptr<MappedFile> map, Ranges ranges, bool dense) {
  const std::size_t i = entries_.size();
  index_[info.name] = i;
  entries_.push_back(std::move(info));
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
  auto it = index_.find(name);
  if (it == index_.end()) missing(name);
  return it->second;
}

void IndexedSource::missing(const std::string& name) const {
  throw_error(ErrorKind::NotFound, "no such tensor in checkpoint", path_, name);
}

void IndexedSource::release(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return;
  const Data& d = data_[it->second];
  if (!d.map) return;
  for (const auto& [off, len] : d.ranges) d.map->release(d.map->data() + off, len);
}

Tensor view_or_copy(const std::shared_ptr<MappedFile>& map, const uint8_t* p, std::size_t n, DType dtype, const Shape& shape) {
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(dtype) == 0) return Tensor::view_of(Storage::borrow(map, p, n), dtype, shape);
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
