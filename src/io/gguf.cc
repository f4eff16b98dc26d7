// GGUF reader and writer (hfx/gguf.h). Written from ggml's docs/gguf.md, gguf-py's constants.py /
// quants.py and ggml/src/gguf.cpp's checks; no GGUF library exists in Debian, and gguf-py is Python.
// Every count is checked against the bytes left before anything is reserved, every tensor's type,
// shape, size, offset and alignment against the data section before it is read.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "hfx/dtype.h"
#include "hfx/gguf.h"
#include "indexed_source.h"

namespace hfx {

namespace {
using json = nlohmann::json;
constexpr uint32_t kVersion = 3;
constexpr uint32_t kMaxDims = 4;               // GGML_MAX_DIMS
constexpr uint64_t kMaxString = uint64_t{1} << 30;

struct TypeInfo {
  const char* name;
  int64_t block;  // elements per block
  int64_t bytes;  // bytes per block
};
// The ggml types hfx reads (gguf-py GGML_QUANT_SIZES); others are named in the error.
const TypeInfo* ggml_info(uint32_t t) {
  static const TypeInfo f32{"F32", 1, 4}, f16{"F16", 1, 2}, bf16{"BF16", 1, 2}, q8_0{"Q8_0", 32, 34}, q4_0{"Q4_0", 32, 18},
      q4_k{"Q4_K", 256, 144};
  switch (t) {
    case 0: return &f32;
    case 1: return &f16;
    case 30: return &bf16;
    case 8: return &q8_0;
    case 2: return &q4_0;
    case 12: return &q4_k;
    default: return nullptr;
  }
}
constexpr uint32_t kGgmlTypeCount = 42;  // GGML_TYPE_COUNT (ggml.h): values past it are not ggml types

std::size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
  }
}

// Bounds-checked little-endian cursor over the mapped file.
struct Cursor {
  const uint8_t* d;
  uint64_t n, pos = 0;
  const std::string& path;
  [[noreturn]] void fail(const std::string& what, const std::string& tensor = {}) const {
    throw_error(ErrorKind::Format, what + " (at byte " + std::to_string(pos) + ")", path, tensor);
  }
  uint64_t left() const { return n - pos; }
  const uint8_t* take(uint64_t k, const char* what) {
    if (k > left()) fail(std::string("file truncated: ") + what + " needs " + std::to_string(k) + " bytes, " + std::to_string(left()) + " left");
    const uint8_t* p = d + pos;
    pos += k;
    return p;
  }
  template <class T> T get(const char* what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what), sizeof(T));
    return v;
  }
  std::string str(const char* what) {
    const uint64_t len = get<uint64_t>(what);
    if (len > kMaxString) fail(std::string(what) + " length " + std::to_string(len) + " is over 1 GiB");
    const uint8_t* p = take(len, what);
    return std::string(reinterpret_cast<const char*>(p), len);
  }
};

json read_scalar(Cursor& c, GgufType t, const std::string& key) {
  switch (t) {
    case GgufType::U8: return c.get<uint8_t>("value");
    case GgufType::I8: return c.get<int8_t>("value");
    case GgufType::U16: return c.get<uint16_t>("value");
    case GgufType::I16: return c.get<int16_t>("value");
    case GgufType::U32: return c.get<uint32_t>("value");
    case GgufType::I32: return c.get<int32_t>("value");
    case GgufType::F32: return c.get<float>("value");
    case GgufType::U64: return c.get<uint64_t>("value");
    case GgufType::I64: return c.get<int64_t>("value");
    case GgufType::F64: return c.get<double>("value");
    case GgufType::Bool: {
      const uint8_t b = c.get<uint8_t>("value");
      if (b > 1) c.fail("metadata '" + key + "': bool value " + std::to_string(b) + " is neither 0 nor 1");
      return b == 1;
    }
    case GgufType::String: return json(c.str("string value"));  // bytes kept as they are
    default: c.fail("metadata '" + key + "': value type " + std::to_string(static_cast<uint32_t>(t)) + " is not a GGUF type");
  }
}

struct Parsed {
  std::vector<GgufKV> kvs;
  struct T {
    std::string name;
    uint32_t type;
    Shape shape;  // PyTorch order
    uint64_t offset, nbytes;
  };
  std::vector<T> tensors;
  uint64_t data_begin = 0;
};

Parsed parse(const uint8_t* d, uint64_t n, const std::string& path) {
  Cursor c{d, n, 0, path};
  if (n < 4 || std::memcmp(d, "GGUF", 4) != 0) throw_error(ErrorKind::Format, "not a GGUF file (bad magic)", path);
  c.pos = 4;
  const uint32_t version = c.get<uint32_t>("version");
  if (version != kVersion) {
    // A big-endian file shows its version byte-swapped (gguf.cpp says so too).
    if (version == (kVersion << 24)) throw_error(ErrorKind::Unsupported, "big-endian GGUF files are not supported", path);
    throw_error(version == 1 || version == 2 ? ErrorKind::Unsupported : ErrorKind::Format,
                "GGUF version " + std::to_string(version) + " is not supported (only version 3)", path);
  }
  const uint64_t n_tensors = c.get<uint64_t>("tensor count");
  const uint64_t n_kv = c.get<uint64_t>("metadata count");
  // The smallest metadata entry is 13 bytes (empty key, type, u8), the smallest tensor info 28.
  if (n_kv > c.left() / 13) c.fail("metadata count " + std::to_string(n_kv) + " is more than the file can hold");
  if (n_tensors > c.left() / 28) c.fail("tensor count " + std::to_string(n_tensors) + " is more than the file can hold");
  Parsed p;
  p.kvs.reserve(n_kv);
  std::set<std::string> keys;
  uint32_t alignment = 32;
  for (uint64_t i = 0; i < n_kv; ++i) {
    GgufKV kv;
    kv.key = c.str("metadata key");
    if (!keys.insert(kv.key).second) c.fail("duplicate metadata key '" + kv.key + "'");
    const uint32_t t = c.get<uint32_t>("metadata type");
    if (t > 12) c.fail("metadata '" + kv.key + "': type " + std::to_string(t) + " is not a GGUF type");
    kv.type = static_cast<GgufType>(t);
    if (kv.type == GgufType::Array) {
      const uint32_t et = c.get<uint32_t>("array type");
      if (et > 12) c.fail("metadata '" + kv.key + "': array element type " + std::to_string(et) + " is not a GGUF type");
      kv.elem = static_cast<GgufType>(et);
      if (kv.elem == GgufType::Array) c.fail("metadata '" + kv.key + "': nested arrays are not supported");
      const uint64_t count = c.get<uint64_t>("array count");
      const std::size_t es = kv.elem == GgufType::String ? 8 : scalar_size(kv.elem);
      if (count > c.left() / es) c.fail("metadata '" + kv.key + "': array count " + std::to_string(count) + " runs past the end of the file");
      kv.value = json::array();
      kv.value.get_ref<json::array_t&>().reserve(count);
      for (uint64_t k = 0; k < count; ++k) kv.value.push_back(read_scalar(c, kv.elem, kv.key));
    } else {
      kv.value = read_scalar(c, kv.type, kv.key);
    }
    if (kv.key == "general.alignment") {
      if (kv.type != GgufType::U32) c.fail("general.alignment must be a u32");
      alignment = kv.value.get<uint32_t>();
      if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        c.fail("general.alignment " + std::to_string(alignment) + " is not a power of two");
    }
    p.kvs.push_back(std::move(kv));
  }
  p.tensors.reserve(n_tensors);
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Parsed::T t;
    t.name = c.str("tensor name");
    if (t.name.size() >= 64) c.fail("tensor name is " + std::to_string(t.name.size()) + " bytes (GGML_MAX_NAME is 64)", t.name);
    if (!names.insert(t.name).second) c.fail("duplicate tensor name", t.name);
    const uint32_t nd = c.get<uint32_t>("n_dims");
    if (nd == 0 || nd > kMaxDims) c.fail("n_dims " + std::to_string(nd) + " is not between 1 and 4", t.name);
    std::vector<uint64_t> ne(nd);
    for (auto& e : ne) e = c.get<uint64_t>("dimension");
    t.type = c.get<uint32_t>("tensor type");
    t.offset = c.get<uint64_t>("tensor offset");
    if (t.type >= kGgmlTypeCount) c.fail("ggml type " + std::to_string(t.type) + " is not a ggml type", t.name);
    const TypeInfo* ti = ggml_info(t.type);
    if (!ti) throw_error(ErrorKind::Unsupported, "ggml type " + std::to_string(t.type) + " is not one hfx reads (F32, F16, BF16, Q8_0, Q4_0, Q4_K)", path, t.name);
    uint64_t numel = 1;
    for (uint64_t e : ne) {
      if (e > (uint64_t{1} << 40) || (e != 0 && numel > (uint64_t{1} << 40) / e)) c.fail("tensor shape is too large", t.name);
      numel *= e;
    }
    if (ne[0] % static_cast<uint64_t>(ti->block) != 0)
      c.fail("row length " + std::to_string(ne[0]) + " is not a multiple of the " + ti->name + " block size " + std::to_string(ti->block), t.name);
    t.nbytes = numel / static_cast<uint64_t>(ti->block) * static_cast<uint64_t>(ti->bytes);
    if (t.offset % alignment != 0)
      c.fail("offset " + std::to_string(t.offset) + " is not a multiple of the alignment " + std::to_string(alignment), t.name);
    for (auto it = ne.rbegin(); it != ne.rend(); ++it) t.shape.push_back(static_cast<int64_t>(*it));
    p.tensors.push_back(std::move(t));
  }
  p.data_begin = (c.pos + alignment - 1) / alignment * alignment;
  if (p.data_begin > n) c.fail("file truncated: the data section would start at byte " + std::to_string(p.data_begin));
  const uint64_t data_size = n - p.data_begin;
  std::vector<const Parsed::T*> by_offset;
  for (const auto& t : p.tensors) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      throw_error(ErrorKind::Format, "data [" + std::to_string(t.offset) + ", +" + std::to_string(t.nbytes) + ") runs past the data section (" +
                                         std::to_string(data_size) + " bytes; file truncated?)", path, t.name);
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->offset < by_offset[i - 1]->offset + by_offset[i - 1]->nbytes)
      throw_error(ErrorKind::Format, "data overlaps tensor '" + by_offset[i - 1]->name + "'", path, by_offset[i]->name);
  return p;
}

float h2f(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// Dequantization as gguf-py's quants.py / ggml-quants.c dequantize_row_*.
void dequant(uint32_t type, const uint8_t* src, float* out, int64_t numel) {
  if (type == 8) {  // Q8_0: f16 d, int8 qs[32]
    for (int64_t b = 0; b < numel / 32; ++b, src += 34, out += 32) {
      const float d = h2f(src);
      for (int j = 0; j < 32; ++j) out[j] = d * static_cast<float>(static_cast<int8_t>(src[2 + j]));
    }
  } else if (type == 2) {  // Q4_0: f16 d, qs[16]; low nibbles are elements 0..15, high 16..31, minus 8
    for (int64_t b = 0; b < numel / 32; ++b, src += 18, out += 32) {
      const float d = h2f(src);
      for (int j = 0; j < 16; ++j) {
        out[j] = d * static_cast<float>((src[2 + j] & 0x0F) - 8);
        out[j + 16] = d * static_cast<float>((src[2 + j] >> 4) - 8);
      }
    }
  } else if (type == 12) {  // Q4_K: f16 d, f16 dmin, scales[12] (8 x 6-bit scale/min), qs[128]
    for (int64_t b = 0; b < numel / 256; ++b, src += 144) {
      const float d = h2f(src), dmin = h2f(src + 2);
      const uint8_t* sc = src + 4;
      const uint8_t* q = src + 16;
      auto scale_min = [sc](int j, int& s, int& m) {
        if (j < 4) {
          s = sc[j] & 63;
          m = sc[j + 4] & 63;
        } else {
          s = (sc[j + 4] & 0x0F) | ((sc[j - 4] >> 6) << 4);
          m = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
        }
      };
      for (int j = 0; j < 256; j += 64, q += 32) {
        int s1, m1, s2, m2;
        scale_min(j / 32, s1, m1);
        scale_min(j / 32 + 1, s2, m2);
        const float d1 = d * static_cast<float>(s1), mm1 = dmin * static_cast<float>(m1);
        const float d2 = d * static_cast<float>(s2), mm2 = dmin * static_cast<float>(m2);
        for (int l = 0; l < 32; ++l) *out++ = d1 * static_cast<float>(q[l] & 0x0F) - mm1;
        for (int l = 0; l < 32; ++l) *out++ = d2 * static_cast<float>(q[l] >> 4) - mm2;
      }
    }
  }
}

class GgufSource final : public io_internal::IndexedSource {
 public:
  explicit GgufSource(const std::string& path) : IndexedSource(path) {
    file_ = MappedFile::open(path);
    Parsed p = parse(file_->data(), file_->size(), path);
    for (const auto& kv : p.kvs)
      if (kv.type != GgufType::Array) metadata_[kv.key] = kv.value.is_string() ? kv.value.get<std::string>() : kv.value.dump();
    reserve(p.tensors.size());
    for (auto& t : p.tensors) {
      const DType dt = t.type == 1 ? DType::F16 : t.type == 30 ? DType::BF16 : DType::F32;
      types_.push_back(t.type);
      add_entry({t.name, dt, t.shape}, file_, {{p.data_begin + t.offset, t.nbytes}}, t.type == 0 || t.type == 1 || t.type == 30);
    }
  }
  std::string format() const override { return "gguf"; }
  std::map<std::string, std::string> metadata() const override { return metadata_; }
  Tensor get(const std::string& name) const override {
    const std::size_t i = find(name);
    const auto& [off, n] = ranges(i).front();
    const TensorInfo& e = entries_[i];
    if (types_[i] == 0 || types_[i] == 1 || types_[i] == 30) return io_internal::view_or_copy(file_, file_->data() + off, n, e.dtype, e.shape);
    Tensor t = Tensor::uninitialized(DType::F32, e.shape);
    dequant(types_[i], file_->data() + off, t.mutable_data<float>(), t.numel());
    return t;
  }

 private:
  std::shared_ptr<MappedFile> file_;
  std::vector<uint32_t> types_;
  std::map<std::string, std::string> metadata_;
};

// ---- writing ----------------------------------------------------------------
void put_u32(std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }
void put_u64(std::string& s, uint64_t v) { s.append(reinterpret_cast<const char*>(&v), 8); }
void put_str(std::string& s, const std::string& v) {
  put_u64(s, v.size());
  s += v;
}
void put_scalar(std::string& s, GgufType t, const json& v, const std::string& key) {
  auto num = [&](auto x) { s.append(reinterpret_cast<const char*>(&x), sizeof(x)); };
  try {
    switch (t) {
      case GgufType::U8: num(v.get<uint8_t>()); break;
      case GgufType::I8: num(v.get<int8_t>()); break;
      case GgufType::U16: num(v.get<uint16_t>()); break;
      case GgufType::I16: num(v.get<int16_t>()); break;
      case GgufType::U32: num(v.get<uint32_t>()); break;
      case GgufType::I32: num(v.get<int32_t>()); break;
      case GgufType::F32: num(v.get<float>()); break;
      case GgufType::U64: num(v.get<uint64_t>()); break;
      case GgufType::I64: num(v.get<int64_t>()); break;
      case GgufType::F64: num(v.get<double>()); break;
      case GgufType::Bool: num(static_cast<uint8_t>(v.get<bool>() ? 1 : 0)); break;
      case GgufType::String: put_str(s, v.get<std::string>()); break;
      default: throw_error(ErrorKind::InvalidArgument, "metadata '" + key + "': not a scalar type");
    }
  } catch (const json::exception&) {
    throw_error(ErrorKind::InvalidArgument, "metadata '" + key + "': value " + v.dump(-1, ' ', false, json::error_handler_t::replace) + " does not fit its GGUF type");
  }
}

uint16_t f2h(float f) { return f32_to_f16(f); }

// ggml's quantize_row_q8_0_ref: d = max|x| / 127 (f32, stored as f16), q = round(x / d), ties away from zero.
void quantize_q8_0(const float* x, int64_t numel, uint8_t* out) {
  for (int64_t b = 0; b < numel / 32; ++b, x += 32, out += 34) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = f2h(d);
    std::memcpy(out, &h, 2);
    for (int j = 0; j < 32; ++j) out[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::roundf(x[j] * id)));
  }
}

}  // namespace

bool is_gguf_file(const std::string& path) {
  std::error_code ec;  // a FIFO or device is never opened here (open_checkpoint refuses it with a typed error)
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  return f.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

std::vector<GgufKV> read_gguf_metadata(const std::string& path) {
  auto m = MappedFile::open(path);
  return parse(m->data(), m->size(), path).kvs;
}

std::unique_ptr<TensorSource> open_gguf(const std::string& path) { return std::make_unique<GgufSource>(path); }

void write_gguf(const std::string& path, const std::vector<GgufKV>& kvs, const std::vector<GgufTensorOut>& tensors, uint32_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) throw_error(ErrorKind::InvalidArgument, "alignment must be a power of two", path);
  std::string h = "GGUF";
  put_u32(h, kVersion);
  put_u64(h, tensors.size());
  std::vector<GgufKV> all = kvs;
  const bool has_align = std::any_of(all.begin(), all.end(), [](const GgufKV& k) { return k.key == "general.alignment"; });
  if (alignment != 32 && !has_align) all.push_back({"general.alignment", GgufType::U32, alignment});
  put_u64(h, all.size());
  std::set<std::string> keys;
  for (const auto& kv : all) {
    if (!keys.insert(kv.key).second) throw_error(ErrorKind::InvalidArgument, "duplicate metadata key '" + kv.key + "'", path);
    put_str(h, kv.key);
    put_u32(h, static_cast<uint32_t>(kv.type));
    if (kv.type == GgufType::Array) {
      if (!kv.value.is_array() || kv.elem == GgufType::Array)
        throw_error(ErrorKind::InvalidArgument, "metadata '" + kv.key + "': an array of scalars is expected", path);
      put_u32(h, static_cast<uint32_t>(kv.elem));
      put_u64(h, kv.value.size());
      for (const auto& v : kv.value) put_scalar(h, kv.elem, v, kv.key);
    } else {
      put_scalar(h, kv.type, kv.value, kv.key);
    }
  }
  std::vector<uint64_t> sizes;
  uint64_t off = 0;
  std::set<std::string> names;
  for (const auto& t : tensors) {
    if (!names.insert(t.name).second) throw_error(ErrorKind::InvalidArgument, "duplicate tensor name", path, t.name);
    if (t.shape.empty() || t.shape.size() > kMaxDims) throw_error(ErrorKind::InvalidArgument, "GGUF tensors have 1 to 4 dimensions", path, t.name);
    const TypeInfo* ti = ggml_info(static_cast<uint32_t>(t.type));
    if (!ti || t.type == GgmlType::Q4_0 || t.type == GgmlType::Q4_K)
      throw_error(ErrorKind::Unsupported, "hfx writes F32, F16, BF16 and Q8_0 GGUF tensors", path, t.name);
    const int64_t numel = shape_numel(t.shape);
    if (t.shape.back() % ti->block != 0)
      throw_error(ErrorKind::InvalidArgument, std::string("row length is not a multiple of the ") + ti->name + " block size", path, t.name);
    put_str(h, t.name);
    put_u32(h, static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) put_u64(h, static_cast<uint64_t>(*it));
    put_u32(h, static_cast<uint32_t>(t.type));
    put_u64(h, off);
    const uint64_t nb = static_cast<uint64_t>(numel / ti->block * ti->bytes);
    sizes.push_back(nb);
    off = (off + nb + alignment - 1) / alignment * alignment;
  }
  h.resize((h.size() + alignment - 1) / alignment * alignment, '\0');
  AtomicFile f(path);
  f.write(h);
  const std::string pad(alignment, '\0');
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensorOut& t = tensors[i];
    Tensor x = t.get ? t.get() : Tensor();
    if (!x.defined() || x.shape() != t.shape)
      throw_error(ErrorKind::InvalidArgument, "tensor to write is not the " + shape_str(t.shape) + " announced", path, t.name);
    if (t.type == GgmlType::Q8_0) {
      Tensor xf = x.to(DType::F32).contiguous();
      std::string q(sizes[i], '\0');
      quantize_q8_0(xf.data<float>(), xf.numel(), reinterpret_cast<uint8_t*>(q.data()));
      f.write(q);
    } else {
      const DType dt = t.type == GgmlType::F16 ? DType::F16 : t.type == GgmlType::BF16 ? DType::BF16 : DType::F32;
      Tensor c = x.to(dt).contiguous();
      f.write(c.raw(), c.nbytes());
    }
    const uint64_t rem = sizes[i] % alignment;
    if (rem) f.write(pad.data(), alignment - rem);
  }
  f.commit();
}

}  // namespace hfx
