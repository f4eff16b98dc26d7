// The original OpenAI GPT release: a folder with parameters_names.json,
// params_shapes.json and params_0.npy .. params_9.npy, one flat vector split
// in pieces (transformers' load_tf_weights_in_openai_gpt reads it with
// np.load + np.concatenate + np.split). Hand-written: the .npy header is a
// Python dict literal with three keys (numpy's format.py, versions 1-3); no
// Debian C/C++ library reads it.
//
// Names: parameters_names.json may list fewer names than params_shapes.json
// has shapes (the release names the position and token tables together
// "model/we:0"); the first name then covers the first k+1 arrays, which are
// named "<name>[0]" .. "<name>[k]". The reader knows no model.
#include <filesystem>
#include <cstring>
#include <map>

#include <nlohmann/json.hpp>

#include "core/json.h"
#include "hfx/formats.h"
#include "io/npy.h"

namespace hfx {

using json = nlohmann::json;

namespace fs = std::filesystem;

namespace internal {

NpyHeader parse_npy_header(const uint8_t* p, std::size_t n, const std::string& file) {
  auto bad = [&](const std::string& why) -> void { throw_error(ErrorKind::Format, "not a valid .npy file: " + why, file); };
  static const uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (n < 10 || std::memcmp(p, magic, 6) != 0) bad("wrong magic");
  const uint8_t major = p[6];
  std::size_t hlen = 0, start = 0;
  if (major == 1) {
    hlen = static_cast<std::size_t>(p[8]) | static_cast<std::size_t>(p[9]) << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (n < 12) bad("truncated header length");
    hlen = static_cast<std::size_t>(p[8]) | static_cast<std::size_t>(p[9]) << 8 | static_cast<std::size_t>(p[10]) << 16 |
           static_cast<std::size_t>(p[11]) << 24;
    start = 12;
  } else {
    bad("unsupported version " + std::to_string(major));
  }
  if (hlen > n - start || hlen > (1u << 20)) bad("header length " + std::to_string(hlen) + " past the end of the file");
  const std::string h(reinterpret_cast<const char*>(p + start), hlen);
  auto value_of = [&](const std::string& key) -> std::string {
    const std::size_t k = h.find("'" + key + "'");
    if (k == std::string::npos) bad("header has no '" + key + "'");
    std::size_t c = h.find(':', k);
    if (c == std::string::npos) bad("header key '" + key + "' has no value");
    ++c;
    while (c < h.size() && h[c] == ' ') ++c;
    return h.substr(c);
  };
  NpyHeader out;
  std::string d = value_of("descr");
  if (d.empty() || d[0] != '\'') bad("descr is not a string");
  const std::size_t q = d.find('\'', 1);
  if (q == std::string::npos) bad("descr string not terminated");
  const std::string descr = d.substr(1, q - 1);
  static const std::map<std::string, DType> dtypes = {
      {"<f4", DType::F32}, {"<f8", DType::F64}, {"<f2", DType::F16}, {"<i8", DType::I64}, {"<i4", DType::I32},
      {"<i2", DType::I16}, {"|i1", DType::I8},  {"|u1", DType::U8},  {"|b1", DType::Bool}};
  auto it = dtypes.find(descr);
  if (it == dtypes.end()) bad("dtype '" + descr + "' not supported (little-endian numeric types only)");
  out.dtype = it->second;
  if (value_of("fortran_order").compare(0, 5, "False") != 0) bad("fortran_order arrays are not supported");
  std::string s = value_of("shape");
  if (s.empty() || s[0] != '(') bad("shape is not a tuple");
  const std::size_t close = s.find(')');
  if (close == std::string::npos) bad("shape tuple not terminated");
  s = s.substr(1, close - 1);
  int64_t numel = 1;
  std::size_t b = 0;
  while (b < s.size()) {
    std::size_t e = s.find(',', b);
    std::string tok = s.substr(b, e == std::string::npos ? std::string::npos : e - b);
    tok.erase(0, tok.find_first_not_of(' '));
    tok.erase(tok.find_last_not_of(' ') + 1);
    if (!tok.empty()) {
      if (tok.size() > 18 || tok.find_first_not_of("0123456789") != std::string::npos) bad("shape entry '" + tok + "'");
      const int64_t dim = std::stoll(tok);
      if (dim != 0 && numel > (int64_t{1} << 50) / dim) bad("shape too large");
      numel *= dim;
      out.shape.push_back(dim);
      if (out.shape.size() > 32) bad("too many dimensions");
    }
    if (e == std::string::npos) break;
    b = e + 1;
  }
  out.data_offset = start + hlen;
  const std::size_t need = static_cast<std::size_t>(numel) * dtype_size(out.dtype);
  if (need > n - out.data_offset) bad("data (" + std::to_string(need) + " bytes) runs past the end of the file");
  out.nbytes = need;
  return out;
}

}  // namespace internal

namespace {

class OpenAINpySource final : public TensorSource {
 public:
  explicit OpenAINpySource(const std::string& dir) : path_(dir) {
    const json names = parse_json(dir + "/parameters_names.json");
    const json shapes = parse_json(dir + "/params_shapes.json");
    if (!names.is_array() || !shapes.is_array() || names.empty() || names.size() > shapes.size() || shapes.size() > 100000)
      throw_error(ErrorKind::Format, "parameters_names.json and params_shapes.json must be lists, no more names than shapes", dir);
    // One flat vector, concatenated from params_0.npy, params_1.npy, ... (the release has 10).
    std::vector<std::shared_ptr<MappedFile>> files;
    std::vector<internal::NpyHeader> heads;
    std::size_t total = 0;
    for (int k = 0; fs::exists(dir + "/params_" + std::to_string(k) + ".npy"); ++k) {
      files.push_back(MappedFile::open(dir + "/params_" + std::to_string(k) + ".npy"));
      heads.push_back(internal::parse_npy_header(files.back()->data(), files.back()->size(), files.back()->path()));
      if (heads.back().dtype != heads.front().dtype)
        throw_error(ErrorKind::Unsupported, "params_*.npy pieces have different dtypes", files.back()->path());
      total += heads.back().nbytes;
    }
    if (files.empty()) throw_error(ErrorKind::NotFound, "no params_0.npy in the folder", dir);
    dtype_ = heads.front().dtype;
    const std::size_t es = dtype_size(dtype_);
    std::size_t need = 0;
    std::vector<Shape> shp;
    for (const auto& s : shapes) {
      if (!s.is_array() || s.size() > 32) throw_error(ErrorKind::Format, "params_shapes.json: an entry is not a shape", dir);
      Shape sh;
      for (const auto& d : s) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > (int64_t{1} << 40))
          throw_error(ErrorKind::Format, "params_shapes.json: bad dimension " + d.dump(), dir);
        sh.push_back(d.get<int64_t>());
      }
      const int64_t numel = shape_numel(sh);
      if (numel < 0 || static_cast<std::size_t>(numel) > total / es) throw_error(ErrorKind::Format, "params_shapes.json: shape larger than the data", dir);
      need += static_cast<std::size_t>(numel) * es;
      if (need > total)
        throw_error(ErrorKind::Format, "params_shapes.json needs " + std::to_string(need) + "+ bytes, params_*.npy hold " +
                    std::to_string(total), dir);
      shp.push_back(sh);
    }
    flat_ = Storage::allocate(total);
    std::size_t off = 0;
    for (std::size_t k = 0; k < files.size(); ++k) {
      std::memcpy(flat_->mutable_data() + off, files[k]->data() + heads[k].data_offset, heads[k].nbytes);
      off += heads[k].nbytes;
    }
    const std::size_t extra = shapes.size() - names.size();
    off = 0;
    for (std::size_t i = 0; i < shp.size(); ++i) {
      std::string name;
      const json& nm = names[i <= extra ? 0 : i - extra];
      if (!nm.is_string()) throw_error(ErrorKind::Format, "parameters_names.json: a name is not a string", dir);
      name = nm.get<std::string>();
      if (extra > 0 && i <= extra) name += "[" + std::to_string(i) + "]";
      entries_.push_back({name, dtype_, shp[i]});
      offsets_[name] = off;
      off += static_cast<std::size_t>(shape_numel(shp[i])) * es;
    }
  }
  std::string format() const override { return "openai-npy"; }
  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& entries() const override { return entries_; }
  Tensor get(const std::string& name) const override {
    auto it = offsets_.find(name);
    if (it == offsets_.end()) throw_error(ErrorKind::NotFound, "no array named '" + name + "'", path_);
    return Tensor::view_of(flat_, dtype_, info(name).shape, it->second);
  }

 private:
  static json parse_json(const std::string& p) {
    try {
      return read_json_file(p);
    } catch (const json::exception& e) {
      throw_error(ErrorKind::Format, std::string("invalid JSON: ") + e.what(), p);
    }
  }
  std::string path_;
  DType dtype_ = DType::F32;
  std::shared_ptr<Storage> flat_;
  std::vector<TensorInfo> entries_;
  std::map<std::string, std::size_t> offsets_;
};

}  // namespace

std::unique_ptr<TensorSource> open_openai_npy_folder(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw_error(ErrorKind::NotFound, "not a directory (the OpenAI GPT numpy release is a folder)", dir);
  return std::make_unique<OpenAINpySource>(dir);
}

}  // namespace hfx
