// hfx/tensor.h — Tensor = dtype + shape + strides + storage.
//
// Storage is a byte buffer that is either owned (64-byte aligned heap memory)
// or a read-only view into something else kept alive by a shared owner (a
// memory-mapped file region, a zip entry inside a mapped archive, ...). Views
// of views share storage; nothing is copied unless a function says so
// (`contiguous()`, `to()`, `clone()`).
//
// Shapes and strides are in elements, row-major by default. Tensors are cheap
// to copy (they share storage). Mapped storage is read-only: asking for
// mutable data on it throws ErrorKind::InvalidArgument.
#pragma once

#include "hfx/export.h"

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <typeinfo>
#include <string>
#include <vector>

#include "hfx/dtype.h"
#include "hfx/error.h"

namespace hfx {

class MappedFile;  // hfx/io.h

using Shape = std::vector<int64_t>;
HFX_API std::string shape_str(const Shape& s);
// Product of dims; throws Format on negative dims or overflow past 2^62.
HFX_API int64_t shape_numel(const Shape& s);

class HFX_API Storage {
 public:
  // Owned, zero-initialised, 64-byte aligned.
  static std::shared_ptr<Storage> allocate(std::size_t nbytes);
  // Owned, 64-byte aligned, contents unspecified (kernel outputs written in full).
  static std::shared_ptr<Storage> allocate_uninitialized(std::size_t nbytes);
  // Read-only view of [data, data+nbytes) kept alive by `owner`.
  static std::shared_ptr<Storage> borrow(std::shared_ptr<const void> owner, const void* data,
                                         std::size_t nbytes);
  // Read-only view into a memory-mapped file, kept alive by it: release_pages() can hand its pages back.
  static std::shared_ptr<Storage> borrow_mapped(std::shared_ptr<const MappedFile> file, const void* data,
                                                std::size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  const uint8_t* data() const noexcept { return data_; }
  uint8_t* mutable_data();  // throws on borrowed storage
  std::size_t size() const noexcept { return size_; }
  bool owned() const noexcept { return owned_; }
  // Drops the resident pages of [p, p + n) (a range of this storage) when they can be read again as they were: a
  // view of a read-only file mapping (MappedFile::release). A no-op for other storage. For the kernels that keep
  // their own copy of a weight (a packed or quantized form), so the weights are not resident twice.
  void release_pages(const void* p, std::size_t n) const noexcept;

 private:
  Storage() = default;
  uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  bool owned_ = false;
  std::shared_ptr<const void> owner_;
  const MappedFile* map_ = nullptr;  // owner_, when it is a mapped file
};

class HFX_API Tensor {
 public:
  Tensor() = default;
  // Fresh, zero-filled, contiguous.
  static Tensor zeros(DType dtype, Shape shape);
  static Tensor empty(DType dtype, Shape shape) { return zeros(dtype, std::move(shape)); }
  // Fresh, contiguous, contents unspecified: only for buffers a kernel overwrites
  // completely before anything reads them (saves a memset pass in the hot loop).
  static Tensor uninitialized(DType dtype, Shape shape);
  // Contiguous view over existing storage at a byte offset (bounds checked).
  static Tensor view_of(std::shared_ptr<Storage> storage, DType dtype, Shape shape,
                        std::size_t byte_offset = 0);
  template <class T>
  static Tensor from_vector(DType dtype, Shape shape, const std::vector<T>& values);

  bool defined() const noexcept { return storage_ != nullptr; }
  DType dtype() const noexcept { return dtype_; }
  const Shape& shape() const noexcept { return shape_; }
  const Shape& strides() const noexcept { return strides_; }
  int64_t dim() const noexcept { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const noexcept { return numel_; }
  std::size_t nbytes() const noexcept { return static_cast<std::size_t>(numel_) * dtype_size(dtype_); }
  bool is_contiguous() const noexcept;
  const std::shared_ptr<Storage>& storage() const noexcept { return storage_; }
  std::size_t byte_offset() const noexcept { return offset_; }

  const void* raw() const { return storage_->data() + offset_; }
  void* mutable_raw() { return storage_->mutable_data() + offset_; }
  // Typed access; checks that T matches the dtype's size and kind.
  template <class T> const T* data() const;
  template <class T> T* mutable_data();

  // Same storage, new shape (contiguous tensors only; one dim may be -1).
  Tensor reshape(Shape shape) const;
  // View of [start, end) along dim (no copy; result may be non-contiguous).
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  // Swap two dims (a strided view).
  Tensor transpose(int64_t d0, int64_t d1) const;
  // Contiguous copy if needed (returns *this when already contiguous).
  Tensor contiguous() const;
  // Converted contiguous copy (returns *this when dtype matches and contiguous).
  Tensor to(DType dtype) const;
  Tensor clone() const;
  // Element i (flat, logical row-major order) as double; for tests and the CLI.
  double item(int64_t flat_index) const;

 private:
  DType dtype_ = DType::F32;
  Shape shape_, strides_;
  int64_t numel_ = 0;
  std::size_t offset_ = 0;
  std::shared_ptr<Storage> storage_;
};

// Maximum |a - b| over all elements (both converted to f64). Throws Mismatch
// when shapes differ.
HFX_API double max_abs_diff(const Tensor& a, const Tensor& b);
// An owned [cols, rows] tensor: the transpose of the row-major [rows, cols]
// dtype data at `src`, which need not be aligned for the dtype.
HFX_API Tensor transposed_copy(const void* src, DType dtype, int64_t rows, int64_t cols);

// ---- template definitions --------------------------------------------------
namespace detail {
template <class T> constexpr bool dtype_matches(DType d) {
  if constexpr (std::is_same_v<T, float>) return d == DType::F32;
  else if constexpr (std::is_same_v<T, double>) return d == DType::F64;
  else if constexpr (std::is_same_v<T, int64_t>) return d == DType::I64;
  else if constexpr (std::is_same_v<T, int32_t>) return d == DType::I32;
  else if constexpr (std::is_same_v<T, int16_t>) return d == DType::I16;
  else if constexpr (std::is_same_v<T, int8_t>) return d == DType::I8;
  else if constexpr (std::is_same_v<T, uint8_t>) return d == DType::U8 || d == DType::Bool;
  else if constexpr (std::is_same_v<T, uint16_t>) return d == DType::F16 || d == DType::BF16 || d == DType::U16;
  else if constexpr (std::is_same_v<T, uint32_t>) return d == DType::U32;
  else if constexpr (std::is_same_v<T, uint64_t>) return d == DType::U64;
  else return false;
}
[[noreturn]] HFX_API void throw_dtype_access(DType have, const char* want);
}  // namespace detail

template <class T> const T* Tensor::data() const {
  if (!detail::dtype_matches<T>(dtype_)) detail::throw_dtype_access(dtype_, typeid(T).name());
  return static_cast<const T*>(raw());
}
template <class T> T* Tensor::mutable_data() {
  if (!detail::dtype_matches<T>(dtype_)) detail::throw_dtype_access(dtype_, typeid(T).name());
  return static_cast<T*>(mutable_raw());
}
template <class T>
Tensor Tensor::from_vector(DType dtype, Shape shape, const std::vector<T>& values) {
  Tensor t = zeros(dtype, std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.numel())
    throw_error(ErrorKind::InvalidArgument, "from_vector: " + std::to_string(values.size()) +
                                                " values for shape " + shape_str(t.shape()));
  T* out = t.mutable_data<T>();
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = values[i];
  return t;
}

}  // namespace hfx
