// Legacy (pre-1.6) torch.save files (formats.md §3, torch/serialization.py
// _legacy_load): five pickles — magic number, protocol version, sys_info,
// the state dict, the list of storage keys — then, per key, a u64 element
// count and the raw little-endian bytes. Read only; storages are viewed in
// place when aligned for their element type, else copied on get().
#include <cstring>
#include <set>

#include "hfx/formats.h"
#include "io/pickle.h"
#include "io/torch_common.h"

namespace hfx {

namespace {
using pickle::Kind;
// 0x1950a86a20f9469cfc6c, little-endian (as LONG1 pickles it).
constexpr uint8_t kMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kProtocolVersion = 1001;
}  // namespace

std::unique_ptr<TensorSource> open_torch_legacy(const std::string& path) {
  auto file = MappedFile::open(path);
  const uint8_t* d = file->data();
  const std::size_t n = file->size();
  if (n >= 262 && std::memcmp(d + 257, "ustar", 5) == 0)
    throw_error(ErrorKind::Unsupported, "tar-based torch.save file (PyTorch < 0.4); re-save it with a newer torch", path);
  std::size_t pos = 0;
  auto next = [&](const char* what) {
    pickle::Result r = pickle::unpickle(d + pos, n - pos, path, what);
    pos += r.end;
    return r;
  };
  {
    const pickle::Result magic = next("magic number pickle");
    const pickle::Object& m = magic.at(magic.root);
    if (m.kind != Kind::BigInt || m.s != std::string(reinterpret_cast<const char*>(kMagic), sizeof kMagic))
      throw_error(ErrorKind::Format, "not a legacy torch.save file: the first pickle is not the magic number", path);
  }
  {
    const pickle::Result proto = next("protocol version pickle");
    const pickle::Object& v = proto.at(proto.root);
    if (v.kind != Kind::Int || v.i != kProtocolVersion)
      throw_error(ErrorKind::Unsupported, "legacy torch.save protocol version is not 1001", path);
  }
  {
    const pickle::Result sys = next("sys_info pickle");
    const pickle::Object& s = sys.at(sys.root);
    if (s.kind != Kind::Dict) throw_error(ErrorKind::Format, "sys_info is not a dict", path);
    for (std::size_t k = 0; k + 1 < s.items.size(); k += 2) {
      const pickle::Object& key = sys.at(s.items[k]);
      const pickle::Object& val = sys.at(s.items[k + 1]);
      if (key.kind == Kind::Str && key.s == "little_endian" && !(val.kind == Kind::Bool && val.i))
        throw_error(ErrorKind::Unsupported, "big-endian legacy checkpoint", path);
    }
  }
  const pickle::Result r = next("state dict pickle");

  std::vector<torch_io::StorageInfo> storages;
  std::map<std::string, std::size_t> by_key;
  std::map<std::string, std::string> first_user;  // storage key -> a tensor using it (for messages)
  // ('storage', storage_type, root_key, location, size, view_metadata)
  auto pid = [&](const pickle::Result& res, const pickle::Object& t, const std::string& tensor) -> torch_io::Window {
    if (t.kind != Kind::Tuple || t.items.size() != 6 || res.at(t.items[0]).kind != Kind::Str || res.at(t.items[0]).s != "storage") {
      if (t.kind == Kind::Tuple && !t.items.empty() && res.at(t.items[0]).kind == Kind::Str && res.at(t.items[0]).s == "module")
        throw_error(ErrorKind::Security, "persistent id refers to pickled module source code; hfx reads state dicts only", path, tensor);
      throw_error(ErrorKind::Format, "persistent id is not ('storage', type, key, location, size, view_metadata)", path, tensor);
    }
    torch_io::StorageInfo s = torch_io::storage_type(res.at(t.items[1]), path, tensor);
    const pickle::Object& key = res.at(t.items[2]);
    const pickle::Object& size = res.at(t.items[4]);
    const pickle::Object& view = res.at(t.items[5]);
    if (key.kind != Kind::Str) throw_error(ErrorKind::Format, "storage key is not a string", path, tensor);
    if (size.kind != Kind::Int || size.i < 0) throw_error(ErrorKind::Format, "storage size is not a non-negative int", path, tensor);
    s.key = key.s;
    s.numel = static_cast<uint64_t>(size.i);
    const uint64_t es = dtype_size(s.dtype);
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(s.numel, es, &bytes)) throw_error(ErrorKind::Format, "storage size overflows", path, tensor);
    auto it = by_key.find(s.key);
    if (it == by_key.end()) {
      it = by_key.emplace(s.key, storages.size()).first;
      first_user.emplace(s.key, tensor);
      storages.push_back(std::move(s));
    } else if (storages[it->second].dtype != s.dtype || storages[it->second].numel != s.numel) {
      throw_error(ErrorKind::Format, "storage '" + s.key + "' is used with two different types or sizes", path, tensor);
    }
    torch_io::Window w{it->second, 0, bytes};
    if (view.kind == Kind::None) return w;
    // (view_key, offset, view_size), in elements of the root storage.
    if (view.kind != Kind::Tuple || view.items.size() != 3 || res.at(view.items[1]).kind != Kind::Int ||
        res.at(view.items[2]).kind != Kind::Int)
      throw_error(ErrorKind::Format, "view_metadata is not (key, offset, size)", path, tensor);
    const int64_t off = res.at(view.items[1]).i, len = res.at(view.items[2]).i;
    uint64_t ob = 0, lb = 0;
    if (off < 0 || len < 0 || __builtin_mul_overflow(static_cast<uint64_t>(off), es, &ob) ||
        __builtin_mul_overflow(static_cast<uint64_t>(len), es, &lb) || ob > bytes || lb > bytes - ob)
      throw_error(ErrorKind::Format,
                  "storage view [" + std::to_string(off) + ", +" + std::to_string(len) + ") is outside storage '" +
                      storages[it->second].key + "' of " + std::to_string(storages[it->second].numel) + " elements",
                  path, tensor);
    return {it->second, ob, lb};
  };
  auto plans = torch_io::plan_tensors(r, path, pid, storages);

  const pickle::Result keys = next("storage key list pickle");
  const pickle::Object& list = keys.at(keys.root);
  if (list.kind != Kind::List) throw_error(ErrorKind::Format, "the storage key pickle is not a list", path);
  std::set<std::string> listed;
  for (uint32_t k : list.items) {
    const pickle::Object& key = keys.at(k);
    if (key.kind != Kind::Str) throw_error(ErrorKind::Format, "storage key list holds a non-string", path);
    auto it = by_key.find(key.s);
    if (it == by_key.end()) throw_error(ErrorKind::Format, "storage key '" + key.s + "' is listed but no tensor uses it", path);
    if (!listed.insert(key.s).second) throw_error(ErrorKind::Format, "storage key '" + key.s + "' is listed twice", path);
    torch_io::StorageInfo& s = storages[it->second];
    const std::string& who = first_user[key.s];
    if (n - pos < 8)
      throw_error(ErrorKind::Format, "file ends before the element count of storage '" + key.s + "' (truncated)", path, who);
    uint64_t count = 0;
    for (int b = 7; b >= 0; --b) count = (count << 8) | d[pos + static_cast<std::size_t>(b)];
    pos += 8;
    if (count != s.numel)
      throw_error(ErrorKind::Format,
                  "storage '" + key.s + "' has " + std::to_string(count) + " elements in the file but " +
                      std::to_string(s.numel) + " in the pickle",
                  path, who);
    const uint64_t bytes = s.numel * dtype_size(s.dtype);  // no overflow: checked in pid()
    if (bytes > n - pos)
      throw_error(ErrorKind::Format,
                  "storage '" + key.s + "' needs " + std::to_string(bytes) + " bytes at offset " + std::to_string(pos) +
                      ", the file has " + std::to_string(n - pos) + " left (truncated)",
                  path, who);
    s.data = d + pos;
    pos += static_cast<std::size_t>(bytes);
  }
  for (const auto& s : storages)
    if (!s.data) throw_error(ErrorKind::Format, "storage '" + s.key + "' has no data (missing from the key list)", path, first_user[s.key]);
  return std::make_unique<torch_io::TorchSource>(path, "pytorch", file, std::move(storages), std::move(plans));
}

}  // namespace hfx
