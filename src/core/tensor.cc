#include "hfx/tensor.h"

#include "hfx/io.h"  // MappedFile::release, for Storage::release_pages

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace hfx {

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw_error(ErrorKind::Format, "negative dimension in shape " + shape_str(s));
    if (d != 0 && n > (int64_t{1} << 62) / d)
      throw_error(ErrorKind::Format, "shape " + shape_str(s) + " overflows the element count");
    n *= d;
  }
  return n;
}

// ---- Storage -----------------------------------------------------------------
std::shared_ptr<Storage> Storage::allocate(std::size_t nbytes) {
  std::shared_ptr<Storage> s = allocate_uninitialized(nbytes);
  std::memset(s->data_, 0, (std::max<std::size_t>(nbytes, 1) + 63) / 64 * 64);
  return s;
}

std::shared_ptr<Storage> Storage::allocate_uninitialized(std::size_t nbytes) {
  std::shared_ptr<Storage> s(new Storage());
  std::size_t rounded = (nbytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw_error(ErrorKind::Io, "out of memory allocating " + std::to_string(nbytes) + " bytes");
  s->data_ = static_cast<uint8_t*>(p);
  s->size_ = nbytes;
  s->owned_ = true;
  return s;
}

std::shared_ptr<Storage> Storage::borrow(std::shared_ptr<const void> owner, const void* data,
                                         std::size_t nbytes) {
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = const_cast<uint8_t*>(static_cast<const uint8_t*>(data));
  s->size_ = nbytes;
  s->owned_ = false;
  s->owner_ = std::move(owner);
  return s;
}

std::shared_ptr<Storage> Storage::borrow_mapped(std::shared_ptr<const MappedFile> file, const void* data,
                                                std::size_t nbytes) {
  const MappedFile* map = file.get();
  auto s = borrow(std::move(file), data, nbytes);
  s->map_ = map;
  return s;
}

void Storage::release_pages(const void* p, std::size_t n) const noexcept {
  const auto* b = static_cast<const uint8_t*>(p);
  if (map_ && b >= data_ && n <= size_ && b - data_ <= static_cast<std::ptrdiff_t>(size_ - n)) map_->release(p, n);
}

Storage::~Storage() {
  if (owned_) std::free(data_);
}

uint8_t* Storage::mutable_data() {
  if (!owned_) throw_error(ErrorKind::InvalidArgument, "tensor storage is a read-only view (mapped file)");
  return data_;
}

// ---- Tensor ------------------------------------------------------------------
namespace {
Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t acc = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    st[i] = acc;
    acc *= std::max<int64_t>(shape[i], 1);
  }
  return st;
}
}  // namespace

void detail::throw_dtype_access(DType have, const char* want) {
  throw_error(ErrorKind::Mismatch, std::string("tensor of dtype ") + std::string(to_string(have)) +
                                       " accessed as C++ type " + want);
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t = uninitialized(dtype, std::move(shape));
  std::memset(t.storage_->mutable_data(), 0, t.nbytes());
  return t;
}

Tensor Tensor::uninitialized(DType dtype, Shape shape) {
  Tensor t;
  t.numel_ = shape_numel(shape);
  t.dtype_ = dtype;
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  t.storage_ = Storage::allocate_uninitialized(t.nbytes());
  return t;
}

Tensor Tensor::view_of(std::shared_ptr<Storage> storage, DType dtype, Shape shape,
                       std::size_t byte_offset) {
  Tensor t;
  t.numel_ = shape_numel(shape);
  t.dtype_ = dtype;
  std::size_t need = t.nbytes();
  if (byte_offset > storage->size() || need > storage->size() - byte_offset)
    throw_error(ErrorKind::Format, "view of " + std::to_string(need) + " bytes at offset " +
                                       std::to_string(byte_offset) + " exceeds storage of " +
                                       std::to_string(storage->size()) + " bytes");
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  t.offset_ = byte_offset;
  t.storage_ = std::move(storage);
  return t;
}

int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  if (d < 0) d += n;
  if (d < 0 || d >= n)
    throw_error(ErrorKind::InvalidArgument, "dim " + std::to_string(d) + " out of range for shape " + shape_str(shape_));
  return shape_[static_cast<std::size_t>(d)];
}

bool Tensor::is_contiguous() const noexcept {
  int64_t acc = 1;
  for (std::size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] != 1 && strides_[i] != acc) return false;
    acc *= shape_[i];
  }
  return true;
}

Tensor Tensor::reshape(Shape shape) const {
  int64_t known = 1, infer = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw_error(ErrorKind::InvalidArgument, "reshape: more than one -1");
      infer = static_cast<int64_t>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) shape[static_cast<std::size_t>(infer)] = known ? numel_ / known : 0;
  if (shape_numel(shape) != numel_)
    throw_error(ErrorKind::Mismatch, "reshape " + shape_str(shape_) + " -> " + shape_str(shape));
  Tensor base = is_contiguous() ? *this : contiguous();
  base.strides_ = contiguous_strides(shape);
  base.shape_ = std::move(shape);
  return base;
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  if (d < 0) d += dim();
  if (d < 0 || d >= dim() || start < 0 || length < 0 || start + length > shape_[static_cast<std::size_t>(d)])
    throw_error(ErrorKind::InvalidArgument, "narrow out of range on shape " + shape_str(shape_));
  Tensor t = *this;
  t.offset_ += static_cast<std::size_t>(start * strides_[static_cast<std::size_t>(d)]) * dtype_size(dtype_);
  t.shape_[static_cast<std::size_t>(d)] = length;
  t.numel_ = shape_numel(t.shape_);
  return t;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  if (d0 < 0) d0 += dim();
  if (d1 < 0) d1 += dim();
  if (d0 < 0 || d1 < 0 || d0 >= dim() || d1 >= dim())
    throw_error(ErrorKind::InvalidArgument, "transpose dims out of range on shape " + shape_str(shape_));
  Tensor t = *this;
  std::swap(t.shape_[static_cast<std::size_t>(d0)], t.shape_[static_cast<std::size_t>(d1)]);
  std::swap(t.strides_[static_cast<std::size_t>(d0)], t.strides_[static_cast<std::size_t>(d1)]);
  return t;
}

namespace {
// Iterate a strided tensor in logical row-major order, calling f(element byte pointer).
template <class F>
void for_each_element(const Tensor& t, F&& f) {
  const uint8_t* base = static_cast<const uint8_t*>(t.raw());
  const std::size_t es = dtype_size(t.dtype());
  if (t.is_contiguous()) {
    for (int64_t i = 0; i < t.numel(); ++i) f(base + static_cast<std::size_t>(i) * es);
    return;
  }
  const auto n = t.shape().size();
  std::vector<int64_t> idx(n, 0);
  for (int64_t i = 0; i < t.numel(); ++i) {
    int64_t off = 0;
    for (std::size_t k = 0; k < n; ++k) off += idx[k] * t.strides()[k];
    f(base + static_cast<std::size_t>(off) * es);
    for (std::size_t k = n; k-- > 0;) {
      if (++idx[k] < t.shape()[k]) break;
      idx[k] = 0;
    }
  }
}

double load_as_double(DType d, const uint8_t* p) {
  switch (d) {
#define L(E, T) case DType::E: { T v; std::memcpy(&v, p, sizeof v); return static_cast<double>(v); }
    L(F32, float) L(F64, double) L(I64, int64_t) L(I32, int32_t) L(I16, int16_t) L(I8, int8_t)
    L(U8, uint8_t) L(U16, uint16_t) L(U32, uint32_t) L(U64, uint64_t)
#undef L
    case DType::Bool: return *p ? 1.0 : 0.0;
    case DType::F16: { uint16_t h; std::memcpy(&h, p, 2); return f16_to_f32(h); }
    case DType::BF16: { uint16_t h; std::memcpy(&h, p, 2); return bf16_to_f32(h); }
  }
  return 0;
}

void store_from_double(DType d, uint8_t* p, double v) {
  switch (d) {
#define S(E, T) case DType::E: { T x = static_cast<T>(v); std::memcpy(p, &x, sizeof x); return; }
    S(F32, float) S(F64, double) S(I64, int64_t) S(I32, int32_t) S(I16, int16_t) S(I8, int8_t)
    S(U8, uint8_t) S(U16, uint16_t) S(U32, uint32_t) S(U64, uint64_t)
#undef S
    case DType::Bool: *p = v != 0.0; return;
    case DType::F16: { uint16_t h = f32_to_f16(static_cast<float>(v)); std::memcpy(p, &h, 2); return; }
    case DType::BF16: { uint16_t h = f32_to_bf16(static_cast<float>(v)); std::memcpy(p, &h, 2); return; }
  }
}
}  // namespace

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

namespace {
#ifdef __AVX2__
// dst row i (8 elements, 32-bit) = column i of the 8 x 8 block whose rows
// start at src + k * lds (k = 0..7): a register transpose (unpack 32, unpack
// 64, swap 128-bit halves). Integer moves only, so any bit pattern (NaN
// payloads included) is copied exactly.
inline void transpose8x8_32(const uint8_t* src, std::size_t lds, uint8_t* dst, std::size_t ldd) {
  __m256i r[8], t[8], u[8];
  for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + k * lds));
  for (int k = 0; k < 8; k += 2) {
    t[k] = _mm256_unpacklo_epi32(r[k], r[k + 1]);
    t[k + 1] = _mm256_unpackhi_epi32(r[k], r[k + 1]);
  }
  for (int k = 0; k < 8; k += 4) {
    u[k] = _mm256_unpacklo_epi64(t[k], t[k + 2]);
    u[k + 1] = _mm256_unpackhi_epi64(t[k], t[k + 2]);
    u[k + 2] = _mm256_unpacklo_epi64(t[k + 1], t[k + 3]);
    u[k + 3] = _mm256_unpackhi_epi64(t[k + 1], t[k + 3]);
  }
  for (int k = 0; k < 4; ++k) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k * ldd), _mm256_permute2x128_si256(u[k], u[k + 4], 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + (k + 4) * ldd), _mm256_permute2x128_si256(u[k], u[k + 4], 0x31));
  }
}
#endif

// dst[r * cols + c] = src[r * rs + c * cs] in 32 x 32 tiles, so that a
// transposed view (cs = the source's row length) is read a cache line at a
// time; a transposed 32-bit matrix (rs == 1: TF kernels, PyTorch Linear
// weights) goes through 8 x 8 register transposes.
template <class T>
void copy_strided_2d(const uint8_t* src_b, uint8_t* dst_b, int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  constexpr int64_t B = 32;
  constexpr std::size_t es = sizeof(T);
  for (int64_t r0 = 0; r0 < rows; r0 += B)
    for (int64_t c0 = 0; c0 < cols; c0 += B) {
      const int64_t r1 = std::min(rows, r0 + B), c1 = std::min(cols, c0 + B);
      int64_t rv = r0, cv = c0;  // [r0, rv) x [c0, cv): done by register transposes
#ifdef __AVX2__
      if constexpr (es == 4) {
        if (rs == 1) {
          rv = r0 + (r1 - r0) / 8 * 8;
          cv = c0 + (c1 - c0) / 8 * 8;
          for (int64_t r = r0; r < rv; r += 8)
            for (int64_t c = c0; c < cv; c += 8)
              transpose8x8_32(src_b + static_cast<std::size_t>(r + c * cs) * es, static_cast<std::size_t>(cs) * es,
                              dst_b + static_cast<std::size_t>(r * cols + c) * es, static_cast<std::size_t>(cols) * es);
        }
      }
#endif
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = (r < rv ? cv : c0); c < c1; ++c)  // fixed-size memcpy: one load and one store
          std::memcpy(dst_b + static_cast<std::size_t>(r * cols + c) * es, src_b + static_cast<std::size_t>(r * rs + c * cs) * es, es);
    }
}
}  // namespace

Tensor Tensor::clone() const {
  Tensor out = uninitialized(dtype_, shape_);  // every element is written below
  uint8_t* dst = static_cast<uint8_t*>(out.mutable_raw());
  const std::size_t es = dtype_size(dtype_);
  if (is_contiguous()) {
    if (nbytes()) std::memcpy(dst, raw(), nbytes());
    return out;
  }
  const auto* src = static_cast<const uint8_t*>(raw());
  if (shape_.size() == 2 && (es == 2 || es == 4 || es == 8)) {  // e.g. a transposed weight matrix
    const int64_t rows = shape_[0], cols = shape_[1], rs = strides_[0], cs = strides_[1];
    if (es == 2) copy_strided_2d<uint16_t>(src, dst, rows, cols, rs, cs);
    else if (es == 4) copy_strided_2d<uint32_t>(src, dst, rows, cols, rs, cs);
    else copy_strided_2d<uint64_t>(src, dst, rows, cols, rs, cs);
    return out;
  }
  for_each_element(*this, [&](const uint8_t* p) { std::memcpy(dst, p, es); dst += es; });
  return out;
}

Tensor transposed_copy(const void* src, DType dtype, int64_t rows, int64_t cols) {
  Tensor out = Tensor::uninitialized(dtype, {cols, rows});  // every element is written below
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(out.mutable_raw());
  // out[c, r] = src[r, c]: a strided read of src with (row, col) strides (1, cols).
  switch (dtype_size(dtype)) {
    case 2: copy_strided_2d<uint16_t>(s, d, cols, rows, 1, cols); break;
    case 4: copy_strided_2d<uint32_t>(s, d, cols, rows, 1, cols); break;
    case 8: copy_strided_2d<uint64_t>(s, d, cols, rows, 1, cols); break;
    case 1: copy_strided_2d<uint8_t>(s, d, cols, rows, 1, cols); break;
    default: throw_error(ErrorKind::InvalidArgument, "transposed_copy: no " + std::string(to_string(dtype)) + " element copy");
  }
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype_) return contiguous();
  Tensor src = contiguous();
  Tensor out = zeros(target, shape_);
  const int64_t n = numel_;
  // Fast paths for the conversions models use.
  if (dtype_ == DType::F16 && target == DType::F32) {
    const uint16_t* s = src.data<uint16_t>(); float* o = out.mutable_data<float>();
    for (int64_t i = 0; i < n; ++i) o[i] = f16_to_f32(s[i]);
  } else if (dtype_ == DType::BF16 && target == DType::F32) {
    const uint16_t* s = src.data<uint16_t>(); float* o = out.mutable_data<float>();
    for (int64_t i = 0; i < n; ++i) o[i] = bf16_to_f32(s[i]);
  } else if (dtype_ == DType::F32 && target == DType::F16) {
    const float* s = src.data<float>(); uint16_t* o = out.mutable_data<uint16_t>();
    for (int64_t i = 0; i < n; ++i) o[i] = f32_to_f16(s[i]);
  } else if (dtype_ == DType::F32 && target == DType::BF16) {
    const float* s = src.data<float>(); uint16_t* o = out.mutable_data<uint16_t>();
    for (int64_t i = 0; i < n; ++i) o[i] = f32_to_bf16(s[i]);
  } else {
    const uint8_t* s = static_cast<const uint8_t*>(src.raw());
    uint8_t* o = static_cast<uint8_t*>(out.mutable_raw());
    const std::size_t is = dtype_size(dtype_), os = dtype_size(target);
    for (int64_t i = 0; i < n; ++i)
      store_from_double(target, o + static_cast<std::size_t>(i) * os,
                        load_as_double(dtype_, s + static_cast<std::size_t>(i) * is));
  }
  return out;
}

double Tensor::item(int64_t flat_index) const {
  if (flat_index < 0 || flat_index >= numel_)
    throw_error(ErrorKind::InvalidArgument, "item index out of range");
  Tensor c = contiguous();
  return load_as_double(dtype_, static_cast<const uint8_t*>(c.raw()) +
                                    static_cast<std::size_t>(flat_index) * dtype_size(dtype_));
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape())
    throw_error(ErrorKind::Mismatch, "max_abs_diff: shapes " + shape_str(a.shape()) + " vs " + shape_str(b.shape()));
  Tensor x = a.to(DType::F64), y = b.to(DType::F64);
  const double* p = x.data<double>();
  const double* q = y.data<double>();
  double m = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (std::isnan(p[i]) != std::isnan(q[i])) return std::numeric_limits<double>::infinity();
    if (std::isnan(p[i])) continue;
    m = std::max(m, std::abs(p[i] - q[i]));
  }
  return m;
}

}  // namespace hfx
