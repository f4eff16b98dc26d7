// Keras HDF5 weights (tf_model.h5) reader and writer over libhdf5's C API.
// Layout: ../shared/reference/formats.md §5 (keras saving/legacy/hdf5_format.py,
// transformers modeling_tf_utils.py).
//
// Reading. Two layouts are understood:
//  * Keras save_weights (what TF save_pretrained writes unsharded): root
//    attribute "layer_names" (or the chunked "layer_names0", "layer_names1",
//    ... when it would pass Keras' 64512-byte attribute limit); one group per
//    layer whose "weight_names" attribute (same chunking) lists dataset paths
//    relative to the group, e.g. "tf_bert_model/bert/embeddings/word_embeddings/weight:0".
//    Tensors are exposed under these full weight names; a weight listed by
//    several layers (shared embeddings) is exposed once.
//  * transformers' TF shards (tf_model-0000k-of-0000n.h5): root "layer_names"
//    lists dataset paths directly (the weight name minus its first component);
//    they are exposed under those paths (the sharded index maps them back).
//
// Security and validation, and the libhdf5 lock: io/h5/common.h.
//
// A contiguous, unfiltered dataset stored in the little-endian memory type
// (what Keras and h5py write) is handed out as a view of the mapped file at
// its H5Dget_offset (checked against the file size), without libhdf5 or its
// lock; chunked, filtered and big-endian datasets are read into owned
// buffers. No tensor data is read before get().
#include <algorithm>
#include <cstring>

#include "io/h5/common.h"
#include "io/indexed_source.h"

namespace hfx {
namespace h5 {
namespace {

// A string-list attribute (fixed- or variable-length strings); nullopt when
// absent. An empty attribute of any type (Keras writes `[]` as float64) is an
// empty list.
std::optional<std::vector<std::string>> read_string_attr(hid_t obj, const std::string& name, const std::string& file,
                                                         const std::string& where, RawChecks& raw) {
  raw.check_attributes(obj, where);
  htri_t ex = H5Aexists(obj, name.c_str());
  if (ex < 0) throw_error(ErrorKind::Format, "cannot look up attribute '" + name + "' of " + where + h5_err(), file);
  if (ex == 0) return std::nullopt;
  H attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) throw_error(ErrorKind::Format, "cannot open attribute '" + name + "' of " + where + h5_err(), file);
  H space(H5Aget_space(attr.get()), H5Sclose);
  H type(H5Aget_type(attr.get()), H5Tclose);
  if (!space.ok() || !type.ok()) throw_error(ErrorKind::Format, "cannot read attribute '" + name + "' of " + where + h5_err(), file);
  hsize_t n = 0;
  switch (H5Sget_simple_extent_type(space.get())) {
    case H5S_SCALAR: n = 1; break;
    case H5S_NULL: n = 0; break;
    case H5S_SIMPLE: {
      if (H5Sget_simple_extent_ndims(space.get()) != 1)
        throw_error(ErrorKind::Format, "attribute '" + name + "' of " + where + " is not a 1-D list", file);
      if (H5Sget_simple_extent_dims(space.get(), &n, nullptr) < 0)
        throw_error(ErrorKind::Format, "attribute '" + name + "' of " + where + ": bad dataspace" + h5_err(), file);
      break;
    }
    default: throw_error(ErrorKind::Format, "attribute '" + name + "' of " + where + ": bad dataspace" + h5_err(), file);
  }
  std::vector<std::string> out;
  if (n == 0) return out;
  if (n > kMaxListLen) throw_error(ErrorKind::Format, "attribute '" + name + "' of " + where + " has too many entries", file);
  if (H5Tget_class(type.get()) != H5T_STRING)
    throw_error(ErrorKind::Format, "attribute '" + name + "' of " + where + " is not a list of strings", file);
  htri_t vlen = H5Tis_variable_str(type.get());
  if (vlen < 0) throw_error(ErrorKind::Format, "attribute '" + name + "' of " + where + ": bad string type" + h5_err(), file);
  out.reserve(static_cast<std::size_t>(n));
  if (vlen) {
    // The characters' type as the file declares it: H5T__conv_vlen sizes (and
    // zeroes) its buffer as length x that size, so a "character" of megabytes
    // would cost gigabytes. Strings are of 1-byte characters.
    H base(H5Tget_super(type.get()), H5Tclose);
    if (!base.ok() || H5Tget_size(base.get()) != 1)
      throw_error(ErrorKind::Format, "attribute '" + name + "' of " + where + ": variable-length strings whose characters are not 1 byte" + h5_err(), file);
    raw.check(attr.get(), n, "attribute '" + name + "' of " + where);
    H mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    std::vector<char*> buf(static_cast<std::size_t>(n), nullptr);
    if (H5Aread(attr.get(), mem.get(), buf.data()) < 0)
      throw_error(ErrorKind::Format, "cannot read attribute '" + name + "' of " + where + h5_err(), file);
    bool too_long = false;
    for (char* s : buf) {
      std::string v = s ? std::string(s, strnlen(s, kMaxNameLen + 1)) : std::string();
      too_long |= v.size() > kMaxNameLen;
      out.push_back(std::move(v));
    }
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, buf.data());
    if (too_long) throw_error(ErrorKind::Format, "attribute '" + name + "' of " + where + " holds a name longer than 64 KiB", file);
  } else {
    const std::size_t size = H5Tget_size(type.get());
    if (size == 0 || size > kMaxNameLen || static_cast<std::size_t>(n) > kMaxAttrBytes / size)
      throw_error(ErrorKind::Format, "attribute '" + name + "' of " + where + " is too large", file);
    H mem(H5Tcopy(type.get()), H5Tclose);
    std::vector<char> buf(static_cast<std::size_t>(n) * size);
    if (H5Aread(attr.get(), mem.get(), buf.data()) < 0)
      throw_error(ErrorKind::Format, "cannot read attribute '" + name + "' of " + where + h5_err(), file);
    const bool spacepad = H5Tget_strpad(type.get()) == H5T_STR_SPACEPAD;
    for (std::size_t i = 0; i < n; ++i) {
      const char* s = buf.data() + i * size;
      std::string v(s, strnlen(s, size));
      if (spacepad)
        while (!v.empty() && v.back() == ' ') v.pop_back();
      out.push_back(std::move(v));
    }
  }
  return out;
}

// Keras' load_attributes_from_hdf5_group: `name`, else `name0`, `name1`, ...
std::optional<std::vector<std::string>> read_name_list(hid_t obj, const std::string& name, const std::string& file,
                                                       const std::string& where, RawChecks& raw) {
  if (auto v = read_string_attr(obj, name, file, where, raw)) return v;
  std::optional<std::vector<std::string>> out;
  for (std::size_t k = 0;; ++k) {
    auto part = read_string_attr(obj, name + std::to_string(k), file, where, raw);
    if (!part) break;
    if (!out) out.emplace();
    if (out->size() + part->size() > (std::size_t{1} << 24)) throw_error(ErrorKind::Format, "'" + name + "' lists too many names", file);
    out->insert(out->end(), part->begin(), part->end());
  }
  return out;
}

class KerasH5Source final : public io_internal::IndexedSource {
 public:
  explicit KerasH5Source(const std::string& path) : IndexedSource(path) {
    std::lock_guard<std::mutex> lock(h5_mutex());
    // On a refused file everything opened so far is closed here, under the
    // mutex (members are destroyed only after the lock is released).
    try {
      load(path);
    } catch (...) {
      datasets_.clear();
      file_.reset();
      throw;
    }
  }

  ~KerasH5Source() override {
    std::lock_guard<std::mutex> lock(h5_mutex());
    datasets_.clear();
    file_.reset();
  }

  std::string format() const override { return "tf_h5"; }
  std::map<std::string, std::string> metadata() const override { return metadata_; }

  Tensor get(const std::string& name) const override {
    const std::size_t i = find(name);
    const TensorInfo& e = entries_[i];
    const Ds& d = datasets_[i];
    if (d.info.offset)  // in place, without libhdf5 (range checked by inspect())
      return io_internal::view_or_copy(map_, map_->data() + *d.info.offset, ranges(i).front().second, e.dtype, e.shape);
    Tensor t = Tensor::uninitialized(e.dtype, e.shape);  // validated size: see inspect(); H5Dread fills it or throws
    if (t.numel() == 0) return t;
    std::lock_guard<std::mutex> lock(h5_mutex());
    if (!d.info.chunk.empty())
      read_chunked(d.ds.get(), d.info, static_cast<uint8_t*>(t.mutable_raw()), fsize_, path_, name);
    else if (H5Dread(d.ds.get(), d.info.memtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.mutable_raw()) < 0)
      throw_error(ErrorKind::Format, "cannot read dataset" + h5_err(), path_, name);
    return t;
  }

 private:
  // Called with the mutex held.
  void load(const std::string& path) {
    h5_init();
    map_ = MappedFile::open(path);  // what the tensors are viewed from; its size bounds every offset
    const uint64_t fsize = fsize_ = map_->size();
    if (H5Fis_hdf5(path.c_str()) <= 0) {
      h5_err();
      throw_error(ErrorKind::Format, "not an HDF5 file", path);
    }
    H fapl = make_fapl();
    file_ = H(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
    if (!file_.ok()) throw_error(ErrorKind::Format, "cannot open HDF5 file (truncated or corrupt?)" + h5_err(), path);
    RawChecks raw(path, file_.get(), map_);
    auto check_group = [&raw](hid_t g, const std::string& where) { raw.check_attributes(g, where); };
    H root(H5Gopen2(file_.get(), "/", H5P_DEFAULT), H5Gclose);
    if (!root.ok()) throw_error(ErrorKind::Format, "cannot open the root group" + h5_err(), path);
    auto layers = read_name_list(root.get(), "layer_names", path, "the root group", raw);
    if (!layers)
      throw_error(ErrorKind::Format, "no 'layer_names' attribute on the root group: not Keras/transformers TF weights", path);
    for (const auto& a : {"backend", "keras_version"})
      if (auto v = read_string_attr(root.get(), a, path, "the root group", raw); v && v->size() == 1) metadata_[a] = v->front();

    std::set<std::string> seen_layers;
    for (const auto& layer : *layers) {
      check_rel_path(layer, path, "layer");
      if (!seen_layers.insert(layer).second) throw_error(ErrorKind::Format, "layer listed twice in layer_names", path, layer);
      auto [obj, t] = open_rel(root.get(), layer, path, layer, check_group);
      if (t == H5I_DATASET) {  // transformers TF shard: the layer name is the dataset
        add(layer, std::move(obj), fsize);
        continue;
      }
      if (t != H5I_GROUP) throw_error(ErrorKind::Format, "layer is neither a group nor a dataset", path, layer);
      auto weights = read_name_list(obj.get(), "weight_names", path, "layer group '" + layer + "'", raw);
      if (!weights) throw_error(ErrorKind::Format, "layer group has no 'weight_names' attribute", path, layer);
      for (const auto& w : *weights) {
        check_rel_path(w, path, "weight");
        auto [ds, wt] = open_rel(obj.get(), w, path, w, check_group);
        if (wt != H5I_DATASET) throw_error(ErrorKind::Format, "weight_names of layer '" + layer + "' names a non-dataset", path, w);
        if (index_.count(w)) {  // the same variable listed by another layer (shared embeddings)
          (void)inspect(ds.get(), fsize, path, w);
          continue;
        }
        add(w, std::move(ds), fsize);
      }
    }
  }

  struct Ds {
    H ds;
    DsInfo info;
  };
  void add(const std::string& name, H ds, uint64_t fsize) {
    DsInfo di = inspect(ds.get(), fsize, path_, name);
    Ranges r;
    if (di.offset) r.emplace_back(*di.offset, static_cast<uint64_t>(shape_numel(di.shape)) * dtype_size(di.dtype));
    add_entry({name, di.dtype, di.shape}, map_, std::move(r));
    datasets_.push_back({std::move(ds), std::move(di)});
  }
  uint64_t fsize_ = 0;
  std::shared_ptr<MappedFile> map_;
  H file_;
  std::vector<Ds> datasets_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace
}  // namespace h5

std::unique_ptr<TensorSource> open_keras_h5(const std::string& path) {
  return std::make_unique<h5::KerasH5Source>(path);
}

}  // namespace hfx
