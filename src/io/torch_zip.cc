// PyTorch torch.save zip archives (formats.md §2): reader over the mapped
// file (restricted unpickler for <prefix>/data.pkl, storages as zero-copy
// views of the stored <prefix>/data/<key> entries) and a writer whose output
// torch.load(weights_only=True) accepts.
#include <set>

#include "hfx/formats.h"
#include "io/lazy_views.h"
#include "io/pickle.h"
#include "io/torch_common.h"
#include "io/zip.h"

namespace hfx {

namespace {
using pickle::Kind;
using json = nlohmann::json;

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

namespace {

// Plain data of an unpickled object as JSON (json.dumps' view: int keys become
// strings); tensors and numpy placeholders are left out of dicts, as the XLM
// converter drops them.
json to_json(const pickle::Result& r, uint32_t i, int depth) {
  if (depth > 64) throw_error(ErrorKind::Format, "pickled object nested too deeply");
  const pickle::Object& o = r.at(i);
  switch (o.kind) {
    case Kind::None: return nullptr;
    case Kind::Bool: return o.i != 0;
    case Kind::Int: return o.i;
    case Kind::Float: return o.f;
    case Kind::Str: return o.s;
    case Kind::Tuple: case Kind::List: {
      json a = json::array();
      for (uint32_t x : o.items) a.push_back(to_json(r, x, depth + 1));
      return a;
    }
    case Kind::Dict: {
      json d = json::object();
      for (std::size_t k = 0; k + 1 < o.items.size(); k += 2) {
        const pickle::Object& key = r.at(o.items[k]);
        const Kind vk = r.at(o.items[k + 1]).kind;
        if (vk == Kind::Tensor || vk == Kind::Opaque) continue;
        std::string ks = key.kind == Kind::Str ? key.s : key.kind == Kind::Int ? std::to_string(key.i) : std::string();
        if (key.kind != Kind::Str && key.kind != Kind::Int) throw_error(ErrorKind::Unsupported, "dict key that is not a str or int");
        d[ks] = to_json(r, o.items[k + 1], depth + 1);
      }
      return d;
    }
    default: break;
  }
  throw_error(ErrorKind::Unsupported, "pickled value that has no JSON form");
}

std::unique_ptr<TensorSource> open_zip(const std::string& path, const std::string& state_key, json* rest);

}  // namespace

std::unique_ptr<TensorSource> open_torch_zip(const std::string& path) { return open_zip(path, "", nullptr); }

std::unique_ptr<TensorSource> open_torch_dump(const std::string& path, const std::string& state_key, json& rest) {
  return open_zip(path, state_key, &rest);
}

namespace {
std::unique_ptr<TensorSource> open_zip(const std::string& path, const std::string& state_key, json* rest) {
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
  pickle::Limits lim;
  lim.numpy_opaque = rest != nullptr;
  const pickle::Result r = pickle::unpickle(reinterpret_cast<const uint8_t*>(pkl.data()), pkl.size(), path, pkl_name, lim);
  std::optional<uint32_t> state;
  if (rest) {  // a dump {state_key: state dict, ...}: the rest as JSON
    const pickle::Object& root = r.at(r.root);
    if (root.kind != Kind::Dict) throw_error(ErrorKind::Format, "the pickled dump is not a dict", path);
    *rest = json::object();
    for (std::size_t k = 0; k + 1 < root.items.size(); k += 2) {
      const pickle::Object& key = r.at(root.items[k]);
      if (key.kind != Kind::Str) throw_error(ErrorKind::Format, "dump key is not a string", path);
      if (key.s == state_key) state = root.items[k + 1];
      else (*rest)[key.s] = to_json(r, root.items[k + 1], 0);
    }
    if (!state) throw_error(ErrorKind::Format, "the dump has no '" + state_key + "' entry", path);
  }

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
  auto plans = torch_io::plan_tensors(r, path, pid, storages, state);
  return std::make_unique<torch_io::TorchSource>(path, "pytorch", file, std::move(storages), std::move(plans));
}
}  // namespace

void write_torch_zip(const std::string& path, const NamedTensors& tensors) {
  for (const auto& nt : tensors)  // all refused before any check of the others, as before
    if (!nt.second.defined()) throw_error(ErrorKind::InvalidArgument, "undefined tensor", path, nt.first);
  write_torch_zip(path, io_internal::lazy_views(tensors));
}

void write_torch_zip(const std::string& path, const std::vector<LazyTensor>& tensors) {
  // Storage keys "0", "1", … in order of first use, as torch.save numbers them;
  // a tensor that shares an earlier one's storage reuses its key.
  std::map<std::string, std::size_t> index;  // name -> position in `tensors`
  std::vector<std::size_t> key(tensors.size());
  std::size_t storages = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const LazyTensor& t = tensors[i];
    if (!index.emplace(t.name, i).second) throw_error(ErrorKind::InvalidArgument, "duplicate tensor name", path, t.name);
    if (!t.get && t.shares.empty()) throw_error(ErrorKind::InvalidArgument, "undefined tensor", path, t.name);
    if (!storage_name(t.dtype))
      throw_error(ErrorKind::Unsupported, "dtype " + std::string(to_string(t.dtype)) + " has no PyTorch storage type", path, t.name);
    if (t.shares.empty()) {
      key[i] = storages++;
      continue;
    }
    auto it = index.find(t.shares);
    if (it == index.end() || it->second == i)
      throw_error(ErrorKind::InvalidArgument, "shares the storage of '" + t.shares + "', which is not an earlier tensor", path, t.name);
    const LazyTensor& o = tensors[it->second];
    if (o.dtype != t.dtype || o.shape != t.shape)
      throw_error(ErrorKind::Mismatch, "shares the storage of '" + t.shares + "' but differs in dtype or shape", path, t.name);
    key[i] = key[it->second];
  }
  // data.pkl: OrderedDict of _rebuild_tensor_v2(('storage', <T>Storage, '<n>', 'cpu', numel), 0, size, stride, False, OrderedDict())
  pickle::Writer w;
  w.global("collections", "OrderedDict");
  w.empty_tuple();
  w.reduce();
  w.mark();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const LazyTensor& t = tensors[i];
    w.str(t.name);
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.mark();
    w.mark();
    w.str("storage", true);
    w.global("torch", storage_name(t.dtype));
    w.str(std::to_string(key[i]));
    w.str("cpu", true);
    w.integer(shape_numel(t.shape));
    w.tuple_from_mark();
    w.binpersid();
    w.integer(0);
    w.int_tuple(t.shape);
    Shape stride(t.shape.size());
    int64_t acc = 1;
    for (std::size_t d = stride.size(); d-- > 0;) {
      stride[d] = acc;
      acc *= t.shape[d];
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
    if (!tensors[i].shares.empty()) continue;  // its storage is written with the tensor it shares
    const Tensor c = tensors[i].get().contiguous();
    if (c.dtype() != tensors[i].dtype || c.shape() != tensors[i].shape)
      throw_error(ErrorKind::Mismatch, "tensor is " + std::string(to_string(c.dtype())) + " " + shape_str(c.shape()) +
                                           ", announced as " + std::string(to_string(tensors[i].dtype)) + " " + shape_str(tensors[i].shape),
                  path, tensors[i].name);
    zw.add(prefix + "data/" + std::to_string(key[i]),
           std::string_view(c.nbytes() ? static_cast<const char*>(c.raw()) : "", c.nbytes()));
    total += c.nbytes();
    if (tensors[i].done) tensors[i].done();
  }
  zw.add(prefix + "version", "3\n");
  // torch writes a 40-digit id; ours is derived from the content so that saves are reproducible.
  std::string id = std::to_string((static_cast<uint64_t>(zip::crc32(pkl.data(), pkl.size())) << 32) ^ total);
  std::string count = std::to_string(storages + 4);
  id = std::string(20 - id.size(), '0') + id + std::string(20 - count.size(), '0') + count;
  zw.add(prefix + ".data/serialization_id", id);
  zw.finish();
  f.commit();
}

}  // namespace hfx
