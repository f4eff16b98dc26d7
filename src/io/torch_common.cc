// Shared by the PyTorch readers: state dict -> validated tensor plans, and
// the TensorSource over them (torch_common.h).
#include "io/torch_common.h"

#include <cstring>

namespace hfx::torch_io {

namespace {
// A tensor that repeats storage elements (stride 0, overlapping strides) is
// expanded when copied; beyond this many bytes that is refused rather than
// letting a few bytes of pickle ask for an enormous allocation.
constexpr uint64_t kMaxExpandedBytes = uint64_t{64} << 20;

bool mul_ok(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
bool add_ok(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }

void strided_copy(uint8_t* dst, const uint8_t* src, const Shape& size, const Shape& stride, std::size_t es) {
  const std::size_t nd = size.size();
  if (nd == 0) {
    std::memcpy(dst, src, es);
    return;
  }
  for (int64_t s : size)
    if (s == 0) return;
  const std::size_t inner = static_cast<std::size_t>(size[nd - 1]);
  const std::size_t istride = static_cast<std::size_t>(stride[nd - 1]) * es;
  std::vector<int64_t> idx(nd, 0);
  for (;;) {
    const uint8_t* p = src;
    for (std::size_t d = 0; d + 1 < nd; ++d) p += static_cast<std::size_t>(idx[d] * stride[d]) * es;
    if (istride == es) {
      std::memcpy(dst, p, inner * es);
    } else {
      for (std::size_t j = 0; j < inner; ++j) std::memcpy(dst + j * es, p + j * istride, es);
    }
    dst += inner * es;
    std::size_t d = nd - 1;  // advance the outer indices, last fastest
    for (;;) {
      if (d == 0) return;
      --d;
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
}

bool contiguous(const Shape& size, const Shape& stride) {
  int64_t expect = 1;
  for (std::size_t d = size.size(); d-- > 0;) {
    if (size[d] != 1 && stride[d] != expect) return false;
    expect *= size[d];
  }
  return true;
}
}  // namespace

StorageInfo storage_type(const pickle::Object& type, const std::string& file, const std::string& tensor) {
  if (type.kind != pickle::Kind::Global || type.global != pickle::Global::StorageType)
    throw_error(ErrorKind::Format, "persistent id names no torch storage type", file, tensor);
  if (!type.supported) throw_error(ErrorKind::Unsupported, "storage type " + type.s + " is not supported by hfx", file, tensor);
  StorageInfo s;
  s.dtype = type.dtype;
  s.untyped = type.untyped;
  return s;
}

std::vector<TensorPlan> plan_tensors(const pickle::Result& r, const std::string& file, const PidResolver& pid,
                                     const std::vector<StorageInfo>& storages, std::optional<uint32_t> root_index) {
  using pickle::Kind;
  const pickle::Object& root = r.at(root_index.value_or(r.root));
  if (root.kind != Kind::Dict)
    throw_error(ErrorKind::Unsupported, "the pickled object is not a state dict (a dict of tensors); hfx reads state dicts only", file);
  std::vector<TensorPlan> plans;
  std::map<std::string, bool> seen;
  for (std::size_t k = 0; k + 1 < root.items.size(); k += 2) {
    const pickle::Object& key = r.at(root.items[k]);
    const pickle::Object& val = r.at(root.items[k + 1]);
    if (key.kind != Kind::Str) throw_error(ErrorKind::Format, "state dict key is not a string", file);
    const std::string& name = key.s;
    if (!seen.emplace(name, true).second) throw_error(ErrorKind::Format, "duplicate key in the state dict", file, name);
    if (val.kind != Kind::Tensor)
      throw_error(ErrorKind::Unsupported, "state dict value is not a tensor (hfx reads dicts of tensors)", file, name);
    const pickle::TensorDesc& t = r.tensors[static_cast<std::size_t>(val.i)];
    const pickle::Object& pidobj = r.at(t.storage);
    const Window w = pid(r, r.at(pidobj.items.at(0)), name);
    const StorageInfo& st = storages.at(w.storage);
    TensorPlan p;
    p.name = name;
    p.storage = w.storage;
    p.dtype = t.dtype.value_or(st.dtype);
    p.size = t.size;
    p.stride = t.stride;
    const uint64_t es = dtype_size(p.dtype);
    if (t.dtype && !st.untyped && dtype_size(*t.dtype) != dtype_size(st.dtype))
      throw_error(ErrorKind::Format, "dtype " + std::string(to_string(*t.dtype)) + " does not fit its " +
                                         std::string(to_string(st.dtype)) + " storage", file, name);
    if (t.offset < 0) throw_error(ErrorKind::Format, "negative storage offset " + std::to_string(t.offset), file, name);
    for (std::size_t d = 0; d < p.size.size(); ++d) {
      if (p.size[d] < 0) throw_error(ErrorKind::Format, "negative dimension in size " + shape_str(p.size), file, name);
      if (p.stride[d] < 0) throw_error(ErrorKind::Format, "negative stride in " + shape_str(p.stride), file, name);
    }
    int64_t numel = 0;
    try {
      numel = shape_numel(p.size);
    } catch (const Error& e) {
      throw_error(ErrorKind::Format, e.message(), file, name);
    }
    uint64_t off_bytes = 0;
    if (!mul_ok(static_cast<uint64_t>(t.offset), es, off_bytes))
      throw_error(ErrorKind::Format, "storage offset overflows", file, name);
    if (numel > 0) {
      // Last element addressed: offset + sum((size-1) * stride), all in elements.
      uint64_t span = 1, term = 0;
      for (std::size_t d = 0; d < p.size.size(); ++d)
        if (!mul_ok(static_cast<uint64_t>(p.size[d] - 1), static_cast<uint64_t>(p.stride[d]), term) || !add_ok(span, term, span))
          throw_error(ErrorKind::Format, "size " + shape_str(p.size) + " with stride " + shape_str(p.stride) + " overflows", file, name);
      uint64_t span_bytes = 0, end = 0;
      if (!mul_ok(span, es, span_bytes) || !add_ok(off_bytes, span_bytes, end) || end > w.byte_size)
        throw_error(ErrorKind::Format,
                    "storage '" + st.key + "' is too small: offset " + std::to_string(t.offset) + ", size " + shape_str(p.size) +
                        ", stride " + shape_str(p.stride) + " need " + (end ? std::to_string(end) : std::string("more than 2^64")) +
                        " bytes, the storage has " + std::to_string(w.byte_size),
                    file, name);
      if (static_cast<uint64_t>(numel) > span && static_cast<uint64_t>(numel) * es > kMaxExpandedBytes)
        throw_error(ErrorKind::Format,
                    "size " + shape_str(p.size) + " with stride " + shape_str(p.stride) + " repeats storage elements and would expand to " +
                        std::to_string(static_cast<uint64_t>(numel) * es) + " bytes",
                    file, name);
    }
    p.byte_offset = w.byte_begin + off_bytes;
    plans.push_back(std::move(p));
  }
  return plans;
}

TorchSource::TorchSource(std::string path, std::string format, std::shared_ptr<MappedFile> file,
                         std::vector<StorageInfo> storages, std::vector<TensorPlan> plans)
    : IndexedSource(std::move(path)), format_(std::move(format)), file_(std::move(file)), storages_(std::move(storages)),
      plans_(std::move(plans)) {
  for (const auto& s : storages_)
    views_.push_back(Storage::borrow_mapped(file_, s.data, static_cast<std::size_t>(s.numel * dtype_size(s.dtype))));
  for (const TensorPlan& p : plans_) {
    // The bytes from element [0,...,0] to the last element (checked against the storage by plan_tensors).
    uint64_t last = 0;
    bool empty = false;
    for (std::size_t d = 0; d < p.size.size(); ++d) {
      empty |= p.size[d] == 0;
      if (p.size[d] > 0) last += static_cast<uint64_t>(p.size[d] - 1) * static_cast<uint64_t>(p.stride[d]);
    }
    Ranges r;
    const uint8_t* data = storages_[p.storage].data;
    if (!empty && data) r.emplace_back(static_cast<uint64_t>(data - file_->data()) + p.byte_offset, (last + 1) * dtype_size(p.dtype));
    add_entry({p.name, p.dtype, p.size}, file_, std::move(r), contiguous(p.size, p.stride));
  }
}

Tensor TorchSource::get(const std::string& name) const {
  const TensorPlan& p = plans_[find(name)];
  const std::size_t es = dtype_size(p.dtype);
  const uint8_t* src = storages_[p.storage].data + p.byte_offset;
  if (contiguous(p.size, p.stride)) {
    if (reinterpret_cast<uintptr_t>(src) % es == 0)  // one Storage per torch storage: tensors that share it share it here
      return Tensor::view_of(views_[p.storage], p.dtype, p.size, static_cast<std::size_t>(p.byte_offset));
    return io_internal::view_or_copy(file_, src, static_cast<std::size_t>(shape_numel(p.size)) * es, p.dtype, p.size);  // misaligned: a copy
  }
  Tensor t = Tensor::zeros(p.dtype, p.size);
  if (t.numel() > 0) strided_copy(static_cast<uint8_t*>(t.mutable_raw()), src, p.size, p.stride, es);
  release(name);  // the copy is all that is needed (see view_or_copy)
  return t;
}

}  // namespace hfx::torch_io
