// Sharded checkpoints (*.index.json) and format sniffing.
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "core/json.h"
#include "core/strings.h"
#include "hfx/formats.h"
#include "hfx/gguf.h"
#include "hfx/io.h"

namespace hfx {

namespace {
using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr std::size_t kMaxIndexBytes = std::size_t{256} << 20;

class ShardedSource final : public TensorSource {
 public:
  explicit ShardedSource(const std::string& index_path) : path_(index_path) {
    // Real indices are a few MB at most; the cap bounds the JSON DOM's memory, the
    // depth limit the recursion of dump() on metadata values.
    json idx;
    try {
      idx = read_json_file(index_path, {.max_bytes = kMaxIndexBytes});
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Format) throw;
      throw_error(ErrorKind::Format, "invalid index JSON: " + e.message(), index_path);
    }
    if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
      throw_error(ErrorKind::Format, "index has no \"weight_map\" object", index_path);
    if (idx.contains("metadata") && idx["metadata"].is_object())
      for (auto it = idx["metadata"].begin(); it != idx["metadata"].end(); ++it)
        metadata_[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
    const fs::path dir = fs::path(index_path).parent_path();
    std::map<std::string, std::size_t> shard_of_file;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it->is_string()) throw_error(ErrorKind::Format, "weight_map value is not a file name", index_path, it.key());
      std::string file = it->get<std::string>();
      fs::path fp(file);
      if (file.empty() || fp.is_absolute() || fp.has_parent_path() || file == "." || file == ".." ||
          file.find('\0') != std::string::npos)
        throw_error(ErrorKind::Security, "shard file name '" + file + "' is not a plain file name next to the index",
                    index_path, it.key());
      // A shard that is itself an index would be opened recursively (an index naming itself never ends).
      if (ends_with(file, ".index.json") || ends_with(file, ".index"))
        throw_error(ErrorKind::Format, "shard file name '" + file + "' names an index, not a weights file", index_path, it.key());
      auto [pos, added] = shard_of_file.emplace(file, shard_paths_.size());
      if (added) shard_paths_.push_back((dir / fp).string());
      shard_index_[it.key()] = pos->second;
    }
    shards_.resize(shard_paths_.size());
    // Open every shard now so that entries() is complete and a missing shard
    // is reported up front; the data itself stays mapped, not read.
    std::set<std::string> listed;
    for (std::size_t s = 0; s < shard_paths_.size(); ++s) {
      shards_[s] = open_checkpoint(shard_paths_[s]);
      // transformers' TF shards store "a/b/w:0" as "b/w:0" (first component,
      // the model name, dropped unless the name has one component or "model.").
      std::map<std::string, std::string> tf_key;  // name in shard -> index key
      if (shards_[s]->format() == "tf_h5")
        for (const auto& [key, sh] : shard_index_) {
          const std::size_t slash = key.find('/');
          if (sh == s && slash != std::string::npos && key.find("model.") == std::string::npos)
            tf_key[key.substr(slash + 1)] = key;
        }
      for (auto e : shards_[s]->entries()) {
        if (auto k = tf_key.find(e.name); k != tf_key.end()) {
          local_name_[k->second] = e.name;
          e.name = k->second;
        }
        auto it = shard_index_.find(e.name);
        if (it == shard_index_.end() || it->second != s) continue;  // not assigned to this shard
        entries_.push_back(e);
        listed.insert(e.name);
      }
    }
    for (const auto& [name, s] : shard_index_)
      if (!listed.count(name))
        throw_error(ErrorKind::Format, "index maps tensor to shard '" + shard_paths_[s] + "' which does not contain it",
                    index_path, name);
  }
  std::string format() const override { return shards_.empty() ? "sharded" : shards_[0]->format() + "-sharded"; }
  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& entries() const override { return entries_; }
  bool contains(const std::string& name) const override { return shard_index_.count(name) > 0; }
  const TensorInfo& info(const std::string& name) const override {
    for (const auto& e : entries_)
      if (e.name == name) return e;
    return shard_for(name).info(name);
  }
  Tensor get(const std::string& name) const override {
    auto l = local_name_.find(name);
    return shard_for(name).get(l == local_name_.end() ? name : l->second);
  }
  void release(const std::string& name) const override {
    auto it = shard_index_.find(name);
    if (it == shard_index_.end()) return;
    auto l = local_name_.find(name);
    shards_[it->second]->release(l == local_name_.end() ? name : l->second);
  }
  Bytes bytes(const std::string& name) const override {
    auto l = local_name_.find(name);
    return shard_for(name).bytes(l == local_name_.end() ? name : l->second);
  }
  std::map<std::string, std::string> metadata() const override { return metadata_; }

 private:
  const TensorSource& shard_for(const std::string& name) const {
    auto it = shard_index_.find(name);
    if (it == shard_index_.end()) throw_error(ErrorKind::NotFound, "no such tensor in sharded checkpoint", path_, name);
    return *shards_[it->second];
  }
  std::string path_;
  std::vector<std::string> shard_paths_;
  std::vector<std::unique_ptr<TensorSource>> shards_;
  std::map<std::string, std::size_t> shard_index_;
  std::map<std::string, std::string> local_name_;  // index key -> name inside its shard, where they differ
  std::vector<TensorInfo> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace

std::unique_ptr<TensorSource> open_sharded(const std::string& index_path) {
  return std::make_unique<ShardedSource>(index_path);
}

std::unique_ptr<TensorSource> open_checkpoint(const std::string& path) {
  if (ends_with(path, ".index.json")) return open_sharded(path);
  if (ends_with(path, ".index")) return open_tf1_checkpoint(path.substr(0, path.size() - 6));
  {
    std::error_code ec;
    if (!fs::exists(path, ec) && fs::exists(path + ".index", ec)) return open_tf1_checkpoint(path);
  }
  auto m = MappedFile::open(path);
  const uint8_t* d = m->data();
  const std::size_t n = m->size();
  auto starts = [&](std::string_view magic) {
    return n >= magic.size() && std::memcmp(d, magic.data(), magic.size()) == 0;
  };
  if (starts("version https://git-lfs"))
    throw_error(ErrorKind::Format, "this is a Git LFS pointer file, not the weights: the LFS object was never pulled (run `git lfs pull`)", path);
  if (starts("PK\x03\x04")) return open_torch_zip(path);
  if (starts("GGUF")) return open_gguf(path);
  if (starts("\x89HDF\r\n\x1a\n")) return open_keras_h5(path);
  // Legacy torch.save: pickle protocol 2+ whose first object is the magic number (LONG1).
  if (n >= 3 && d[0] == 0x80 && d[1] >= 2 && d[1] <= 5 && d[2] == 0x8a) return open_torch_legacy(path);
  if (ends_with(path, ".msgpack")) return open_flax_msgpack(path);
  if (ends_with(path, ".safetensors") || (n >= 9 && d[8] == '{')) return open_safetensors(path);
  if (n >= 1 && ((d[0] >= 0x80 && d[0] <= 0x8f) || d[0] == 0xde || d[0] == 0xdf)) return open_flax_msgpack(path);
  throw_error(ErrorKind::Format, "unrecognised checkpoint format (no known magic bytes)", path);
}

}  // namespace hfx
