// Keras HDF5 writer (write_keras_h5): the layout keras' save_weights gives a subclassed model, as
// transformers' TF save_pretrained writes it (see the comment on write_keras_h5).
#include <set>

#include "io/h5/common.h"

namespace hfx {
namespace h5 {
namespace {

constexpr std::size_t kKerasAttrLimit = 64512;  // keras HDF5_OBJECT_HEADER_LIMIT

void check(herr_t r, const std::string& what, const std::string& file, const std::string& tensor = {}) {
  if (r < 0) throw_error(ErrorKind::Io, "HDF5 write failed: " + what + h5_err(), file, tensor);
}
H checked(hid_t id, herr_t (*close)(hid_t), const std::string& what, const std::string& file, const std::string& tensor = {}) {
  if (id < 0) throw_error(ErrorKind::Io, "HDF5 write failed: " + what + h5_err(), file, tensor);
  return H(id, close);
}

// A scalar variable-length ASCII string attribute (h5py's spelling of bytes).
void write_scalar_str(hid_t obj, const char* name, const std::string& value, const std::string& file) {
  H type = checked(H5Tcopy(H5T_C_S1), H5Tclose, "string type", file);
  check(H5Tset_size(type.get(), H5T_VARIABLE), "string type", file);
  H space = checked(H5Screate(H5S_SCALAR), H5Sclose, "dataspace", file);
  H attr = checked(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, std::string("attribute ") + name, file);
  const char* p = value.c_str();
  check(H5Awrite(attr.get(), type.get(), &p), std::string("attribute ") + name, file);
}

// keras save_attributes_to_hdf5_group: one attribute of variable-length
// strings, or, when numpy's fixed-width array of the names would pass 64512
// bytes, np.array_split chunks as fixed-length strings `name0`, `name1`, ...
// An empty list is written as Keras does: an empty float64 array.
void write_name_list(hid_t obj, const std::string& name, const std::vector<std::string>& names, const std::string& file) {
  if (names.empty()) {
    hsize_t zero = 0;
    H space = checked(H5Screate_simple(1, &zero, nullptr), H5Sclose, "dataspace", file);
    H attr = checked(H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, "attribute " + name, file);
    return;
  }
  std::size_t width = 1;
  for (const auto& s : names) {
    if (s.size() > kKerasAttrLimit) throw_error(ErrorKind::InvalidArgument, "name longer than Keras' 64512-byte attribute limit", file, s.substr(0, 200));
    width = std::max(width, s.size());
  }
  const std::size_t n = names.size();
  std::size_t chunks = 1;
  auto largest = [&](std::size_t k) { return (n / k + (n % k ? 1 : 0)) * width; };
  while (largest(chunks) > kKerasAttrLimit) ++chunks;
  if (chunks == 1) {
    H type = checked(H5Tcopy(H5T_C_S1), H5Tclose, "string type", file);
    check(H5Tset_size(type.get(), H5T_VARIABLE), "string type", file);
    hsize_t dim = n;
    H space = checked(H5Screate_simple(1, &dim, nullptr), H5Sclose, "dataspace", file);
    H attr = checked(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, "attribute " + name, file);
    std::vector<const char*> ptrs;
    for (const auto& s : names) ptrs.push_back(s.c_str());
    check(H5Awrite(attr.get(), type.get(), ptrs.data()), "attribute " + name, file);
    return;
  }
  H type = checked(H5Tcopy(H5T_C_S1), H5Tclose, "string type", file);
  check(H5Tset_size(type.get(), width), "string type", file);
  check(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), "string type", file);
  std::size_t pos = 0;
  for (std::size_t k = 0; k < chunks; ++k) {  // np.array_split: the first n % chunks parts get one more
    const std::size_t len = n / chunks + (k < n % chunks ? 1 : 0);
    std::vector<char> buf(len * width, '\0');
    for (std::size_t i = 0; i < len; ++i) std::memcpy(buf.data() + i * width, names[pos + i].data(), names[pos + i].size());
    pos += len;
    hsize_t dim = len;
    const std::string an = name + std::to_string(k);
    H space = checked(H5Screate_simple(1, &dim, nullptr), H5Sclose, "dataspace", file);
    H attr = checked(H5Acreate2(obj, an.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, "attribute " + an, file);
    check(H5Awrite(attr.get(), type.get(), buf.data()), "attribute " + an, file);
  }
}

hid_t file_type_for(DType d, const std::string& file, const std::string& tensor) {
  switch (d) {
    case DType::F32: return H5T_IEEE_F32LE;
    case DType::F64: return H5T_IEEE_F64LE;
    case DType::I8: return H5T_STD_I8LE;
    case DType::U8: return H5T_STD_U8LE;
    case DType::I16: return H5T_STD_I16LE;
    case DType::U16: return H5T_STD_U16LE;
    case DType::I32: return H5T_STD_I32LE;
    case DType::U32: return H5T_STD_U32LE;
    case DType::I64: return H5T_STD_I64LE;
    case DType::U64: return H5T_STD_U64LE;
    default: break;
  }
  throw_error(ErrorKind::Unsupported, "Keras h5 cannot hold dtype " + std::string(to_string(d)), file, tensor);
}

// numpy float16 as h5py stores it (IEEE binary16, little-endian).
H f16_type(const std::string& file) {
  H t = checked(H5Tcopy(H5T_IEEE_F32LE), H5Tclose, "float16 type", file);
  check(H5Tset_fields(t.get(), 15, 10, 5, 0, 10), "float16 type", file);
  check(H5Tset_size(t.get(), 2), "float16 type", file);
  check(H5Tset_ebias(t.get(), 15), "float16 type", file);
  return t;
}

// Creates (or opens) the groups on `rel`'s path below `at` and returns the
// innermost, plus the last component (the dataset's own name).
std::pair<H, std::string> make_parents(hid_t at, const std::string& rel, const std::string& file) {
  auto comps = split_path(rel);
  H cur(H5Gopen2(at, ".", H5P_DEFAULT), H5Gclose);
  for (std::size_t i = 0; i + 1 < comps.size(); ++i) {
    const char* c = comps[i].c_str();
    htri_t ex = H5Lexists(cur.get(), c, H5P_DEFAULT);
    H next = ex > 0 ? H(H5Gopen2(cur.get(), c, H5P_DEFAULT), H5Gclose) : H(H5Gcreate2(cur.get(), c, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!next.ok()) throw_error(ErrorKind::Io, "HDF5 write failed: group '" + comps[i] + "'" + h5_err(), file, rel);
    cur = std::move(next);
  }
  return {std::move(cur), comps.back()};
}

}  // namespace
}  // namespace h5

using namespace h5;  // common.h and the helpers above, in this file only

// Layout of keras' save_weights for a subclassed model (what TF
// save_pretrained writes): root attributes layer_names, backend, keras_version;
// one group per layer — the second component of the weight name, i.e. the
// model's direct sub-layer ("bert", "mlm___cls", "classifier") — whose
// weight_names lists its weights' full names and which holds each dataset at
// that path; an empty "top_level_model_weights" group. Names with fewer than
// three components form a layer of their own (their first component).
// Datasets are contiguous, uncompressed, little-endian.
void write_keras_h5(const std::string& path, const NamedTensors& tensors) {
  std::vector<std::string> layer_order;
  std::map<std::string, std::vector<std::size_t>> by_layer;
  std::set<std::string> names;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, t] = tensors[i];
    check_rel_path(name, path, "weight");
    if (!names.insert(name).second) throw_error(ErrorKind::InvalidArgument, "duplicate tensor name", path, name);
    if (!t.defined()) throw_error(ErrorKind::InvalidArgument, "undefined tensor", path, name);
    if (t.dtype() != DType::F16) (void)file_type_for(t.dtype(), path, name);
    auto comps = split_path(name);
    // The Keras layer that owns the weight: "<model>/<layer>/..." as Keras
    // names them; a weight transformers' TF classes create outside their own
    // scope belongs to the top-level layer that made it: "model.shared/..."
    // (BART's shared embedding, built by the main layer "model" under the scope
    // "model.shared") to "model"; a top-level "final_logits_bias:0" to the
    // BiasLayer "final_logits_bias".
    std::string layer = comps.size() >= 3 ? comps[1] : comps[0];
    if (comps.size() >= 3 && comps[0] == comps[1] && comps[0].find('.') != std::string::npos)
      layer = comps[0].substr(0, comps[0].find('.'));
    if (comps.size() == 1 && layer.size() > 2 && layer.compare(layer.size() - 2, 2, ":0") == 0) layer.resize(layer.size() - 2);
    if (layer == "top_level_model_weights") throw_error(ErrorKind::InvalidArgument, "reserved layer name", path, name);
    if (!by_layer.count(layer)) layer_order.push_back(layer);
    by_layer[layer].push_back(i);
  }
  // A weight path must not run through another weight's dataset.
  for (const auto& n : names)
    for (std::size_t p = n.find('/'); p != std::string::npos; p = n.find('/', p + 1))
      if (names.count(n.substr(0, p))) throw_error(ErrorKind::InvalidArgument, "weight name is a prefix of another", path, n);

  AtomicFile out(path);
  {
    std::lock_guard<std::mutex> lock(h5_mutex());
    h5_init();
    H fapl = make_fapl();
    H file = checked(H5Fcreate(out.temp_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose, "create", out.temp_path());
    const std::string& fp = out.temp_path();
    H root = checked(H5Gopen2(file.get(), "/", H5P_DEFAULT), H5Gclose, "root group", fp);
    write_name_list(root.get(), "layer_names", layer_order, fp);
    write_scalar_str(root.get(), "backend", "tensorflow", fp);
    write_scalar_str(root.get(), "keras_version", "2.15.0", fp);
    std::vector<std::string> sorted = layer_order;
    std::sort(sorted.begin(), sorted.end());  // keras creates the groups in name order
    for (const auto& layer : sorted) {
      H g = checked(H5Gcreate2(root.get(), layer.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, "group " + layer, fp);
      std::vector<std::string> wn;
      for (std::size_t i : by_layer[layer]) wn.push_back(tensors[i].first);
      write_name_list(g.get(), "weight_names", wn, fp);
      for (std::size_t i : by_layer[layer]) {
        const std::string& name = tensors[i].first;
        Tensor t = tensors[i].second.contiguous();
        H ftype = t.dtype() == DType::F16 ? f16_type(fp) : checked(H5Tcopy(file_type_for(t.dtype(), fp, name)), H5Tclose, "type", fp, name);
        std::vector<hsize_t> dims(t.shape().begin(), t.shape().end());
        H space = dims.empty() ? checked(H5Screate(H5S_SCALAR), H5Sclose, "dataspace", fp, name)
                               : checked(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose, "dataspace", fp, name);
        auto [parent, leaf] = make_parents(g.get(), name, fp);
        H ds = checked(H5Dcreate2(parent.get(), leaf.c_str(), ftype.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                       H5Dclose, "dataset", fp, name);
        if (t.numel() > 0) check(H5Dwrite(ds.get(), ftype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw()), "data", fp, name);
      }
    }
    H top = checked(H5Gcreate2(root.get(), "top_level_model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, "group", fp);
    write_name_list(top.get(), "weight_names", {}, fp);
    top.reset();
    root.reset();
    if (H5Fclose(file.release()) < 0) throw_error(ErrorKind::Io, "HDF5 close failed" + h5_err(), fp);
  }
  out.commit();
}

}  // namespace hfx
