// PyTorch torch.save zip archives (formats.md §2): reader over the mapped
// file (restricted unpickler for <prefix>/data.pkl, storages as zero-copy
// views of the stored <prefix>/data/<key> entries) and a writer whose output
// torch.load(weights_only=True) accepts.
#include <set>

#include "hfx/formats.h"
#include "io/pickle.h"
#include "io/torch_common.h"
#include "io/zip.h"

namespace hfx {

namespace {
using pickle::Kind;

const char* storage_name(DType d) {
  switch (d) {
    case DType::F32: return "FloatStorage";
    case DType::F16: return "HalfStorage";
    case DType::BF16: return "BFloat16Storage";
    case DType::F64: return "DoubleStorage";
    case DType::I64: return "LongStorage";
    case DType::I32: return "IntStorage";
    case DType::I16: return "ShortStorage";
    case DType::I8: return "CharStorage";
    case DType::U8: return "ByteStorage";
    case DType::Bool: return "BoolStorage";
    case DType::U16: case DType::U32: case DType::U64: return nullptr;  // torch has no typed storage for these
  }
  return nullptr;
}
}  // namespace

std::unique_ptr<TensorSource> open_torch_zip(const std::string& path) {
  auto file = MappedFile::open(path);
  zip::ZipReader z(file);
  if (z.entries().empty()) throw_error(ErrorKind::Format, "zip archive has no entries (not a torch.save checkpoint)", path);
  // torch names every entry "<archive name>/..." and takes the name from the first entry.
  const std::string& first = z.entries().front().name;
  const std::size_t slash = first.find('/');
  if (slash == std::string::npos || slash == 0)
    throw_error(ErrorKind::Format, "zip entry '" + first + "' is not inside an archive folder (not a torch.save checkpoint)", path);
  const std::string prefix = first.substr(0, slash + 1);
  if (z.find(prefix + "constants.pkl") || z.find(prefix + "code/__torch__.py"))
    throw_error(ErrorKind::Unsupported, "this is a TorchScript archive (torch.jit.save), not a torch.save state dict", path);
  const std::string pkl_name = prefix + "data.pkl";
  if (!z.find(pkl_name)) throw_error(ErrorKind::Format, "no '" + pkl_name + "' in the archive (not a torch.save checkpoint)", path);
  if (z.find(prefix + "byteorder")) {
    std::string_view bo = z.stored(prefix + "byteorder");
    if (bo != "little") throw_error(ErrorKind::Unsupported, "byteorder '" + std::string(bo.substr(0, 16)) + "': only little-endian checkpoints are supported", path);
  }
  const std::string_view pkl = z.stored(pkl_name);
  // The pickle is read whole anyway, so its CRC-32 is checked (storages are
  // mapped lazily and left to their bounds checks: hashing them would read the
  // whole checkpoint up front).
  if (const uint32_t crc = zip::crc32(pkl.data(), pkl.size()); crc != z.find(pkl_name)->crc)
    throw_error(ErrorKind::Format, "CRC-32 mismatch in '" + pkl_name + "' (corrupt archive)", path, pkl_name);
  const pickle::Result r = pickle::unpickle(reinterpret_cast<const uint8_t*>(pkl.data()), pkl.size(), path, pkl_name);

  std::vector<torch_io::StorageInfo> storages;
  std::map<std::string, std::size_t> by_key;
  // ('storage', storage_type, key, location, numel)
  auto pid = [&](const pickle::Result& res, const pickle::Object& t, const std::string& tensor) -> torch_io::Window {
    if (t.kind != Kind::Tuple || t.items.size() != 5 || res.at(t.items[0]).kind != Kind::Str || res.at(t.items[0]).s != "storage")
      throw_error(ErrorKind::Format, "persistent id is not ('storage', type, key, location, numel)", path, tensor);
    torch_io::StorageInfo s = torch_io::storage_type(res.at(t.items[1]), path, tensor);
    const pickle::Object& key = res.at(t.items[2]);
    const pickle::Object& numel = res.at(t.items[4]);
    if (key.kind != Kind::Str) throw_error(ErrorKind::Format, "storage key is not a string", path, tensor);
    if (numel.kind != Kind::Int || numel.i < 0) throw_error(ErrorKind::Format, "storage size is not a non-negative int", path, tensor);
    s.key = key.s;
    s.numel = static_cast<uint64_t>(numel.i);
    auto it = by_key.find(s.key);
    if (it != by_key.end()) {
      const auto& have = storages[it->second];
      if (have.dtype != s.dtype || have.numel != s.numel)
        throw_error(ErrorKind::Format, "storage '" + s.key + "' is used with two different types or sizes", path, tensor);
    } else {
      const std::string entry = prefix + "data/" + s.key;
      if (!z.find(entry)) throw_error(ErrorKind::Format, "storage entry '" + entry + "' is missing from the archive", path, tensor);
      std::string_view bytes;
      try {
        bytes = z.stored(entry);
      } catch (const Error& e) {
        throw_error(e.kind(), e.message(), path, tensor);
      }
      uint64_t need = 0;
      if (__builtin_mul_overflow(s.numel, static_cast<uint64_t>(dtype_size(s.dtype)), &need) || need > bytes.size())
        throw_error(ErrorKind::Format,
                    "storage entry '" + entry + "' holds " + std::to_string(bytes.size()) + " bytes, fewer than its " +
                        std::to_string(s.numel) + " x " + std::to_string(dtype_size(s.dtype)) + "-byte elements",
                    path, tensor);
      s.data = reinterpret_cast<const uint8_t*>(bytes.data());
      it = by_key.emplace(s.key, storages.size()).first;
      storages.push_back(std::move(s));
    }
    const auto& st = storages[it->second];
    return {it->second, 0, st.numel * dtype_size(st.dtype)};
  };
  auto plans = torch_io::plan_tensors(r, path, pid, storages);
  return std::make_unique<torch_io::TorchSource>(path, "pytorch", file, std::move(storages), std::move(plans));
}

void write_torch_zip(const std::string& path, const NamedTensors& tensors) {
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    if (!names.insert(name).second) throw_error(ErrorKind::InvalidArgument, "duplicate tensor name", path, name);
    if (!t.defined()) throw_error(ErrorKind::InvalidArgument, "undefined tensor", path, name);
    if (!storage_name(t.dtype()))
      throw_error(ErrorKind::Unsupported, "dtype " + std::string(to_string(t.dtype())) + " has no PyTorch storage type", path, name);
  }
  // data.pkl: OrderedDict of _rebuild_tensor_v2(('storage', <T>Storage, '<n>', 'cpu', numel), 0, size, stride, False, OrderedDict())
  pickle::Writer w;
  w.global("collections", "OrderedDict");
  w.empty_tuple();
  w.reduce();
  w.mark();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i].second;
    w.str(tensors[i].first);
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.mark();
    w.mark();
    w.str("storage", true);
    w.global("torch", storage_name(t.dtype()));
    w.str(std::to_string(i));
    w.str("cpu", true);
    w.integer(t.numel());
    w.tuple_from_mark();
    w.binpersid();
    w.integer(0);
    w.int_tuple(t.shape());
    Shape stride(t.shape().size());
    int64_t acc = 1;
    for (std::size_t d = stride.size(); d-- > 0;) {
      stride[d] = acc;
      acc *= t.shape()[d];
    }
    w.int_tuple(stride);
    w.boolean(false);
    w.global("collections", "OrderedDict");
    w.empty_tuple();
    w.reduce();
    w.tuple_from_mark();
    w.reduce();
  }
  w.setitems();
  const std::string pkl = w.finish();

  AtomicFile f(path);
  zip::ZipWriter zw(f);
  const std::string prefix = "archive/";
  zw.add(prefix + "data.pkl", pkl);
  zw.add(prefix + "byteorder", "little");
  uint64_t total = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor c = tensors[i].second.contiguous();
    zw.add(prefix + "data/" + std::to_string(i),
           std::string_view(c.nbytes() ? static_cast<const char*>(c.raw()) : "", c.nbytes()));
    total += c.nbytes();
  }
  zw.add(prefix + "version", "3\n");
  // torch writes a 40-digit id; ours is derived from the content so that saves are reproducible.
  std::string id = std::to_string((static_cast<uint64_t>(zip::crc32(pkl.data(), pkl.size())) << 32) ^ total);
  std::string count = std::to_string(tensors.size() + 4);
  id = std::string(20 - id.size(), '0') + id + std::string(20 - count.size(), '0') + count;
  zw.add(prefix + ".data/serialization_id", id);
  zw.finish();
  f.commit();
}

}  // namespace hfx
