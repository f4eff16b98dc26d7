#include "arrays.h"

#include <memory>
#include <vector>

#include "hfx/dtype.h"
#include "hfx/error.h"

namespace hfxpy {
namespace {
constexpr const char* kCapsuleName = "hfx.Tensor";
}

py::object to_numpy(const hfx::Tensor& in) {
  if (!in.defined()) return py::none();
  hfx::Tensor t = in.dtype() == hfx::DType::BF16 ? in.to(hfx::DType::F32) : in;
  const std::size_t item = hfx::dtype_size(t.dtype());
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
  for (int64_t s : t.strides()) strides.push_back(static_cast<py::ssize_t>(s * static_cast<int64_t>(item)));
  const bool writable = t.storage()->owned();
  const void* data = t.numel() > 0 ? t.raw() : nullptr;
  auto* keep = new hfx::Tensor(t);
  py::capsule base(keep, kCapsuleName, [](PyObject* cap) {
    delete static_cast<hfx::Tensor*>(PyCapsule_GetPointer(cap, kCapsuleName));
  });
  py::array a(py::dtype(std::string(hfx::to_string(t.dtype()))), shape, strides, data, base);
  if (!writable) a.attr("setflags")(py::arg("write") = false);
  return a;
}

bool is_tensor_capsule(const py::handle& capsule) {
  return PyCapsule_CheckExact(capsule.ptr()) && PyCapsule_IsValid(capsule.ptr(), kCapsuleName);
}

hfx::Tensor from_numpy(const py::handle& obj, const std::string& what) {
  py::array a = py::array::ensure(obj);
  if (!a) throw hfx::Error(hfx::ErrorKind::InvalidArgument, what + ": not convertible to an array");
  std::optional<hfx::DType> dt = hfx::dtype_from_numpy(py::str(a.dtype().attr("name")).cast<std::string>());
  if (!dt) {
    // Python ints and floats give int64 / float64 arrays; anything else hfx has no dtype for is refused.
    throw hfx::Error(hfx::ErrorKind::InvalidArgument,
                     what + ": unsupported dtype " + py::str(a.dtype()).cast<std::string>());
  }
  const int flags = py::detail::array_proxy(a.ptr())->flags;
  const bool usable = (flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) && (flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_);
  if (!usable) a = py::array::ensure(a, py::array::c_style | py::array::forcecast);
  hfx::Shape shape(a.shape(), a.shape() + a.ndim());
  // The array's owner: one Python reference, dropped with the GIL held (the
  // Tensor may be released on a thread that does not hold it).
  auto* ref = new py::object(a);
  std::shared_ptr<const void> owner(ref, [](const void* p) {
    py::gil_scoped_acquire gil;
    delete static_cast<const py::object*>(p);
  });
  const std::size_t nbytes = static_cast<std::size_t>(a.nbytes());
  auto storage = hfx::Storage::borrow(std::move(owner), a.data(), nbytes);
  return hfx::Tensor::view_of(std::move(storage), *dt, std::move(shape));
}

}  // namespace hfxpy
