// safetensors reader (mmap, zero-copy views) and writer.
// Layout and validation rules: ../shared/reference/formats.md §1 (from
// huggingface/safetensors tensor.rs). The JSON header is parsed by
// parse_json (core/json.h): bounded depth, duplicate keys refused (nlohmann
// would otherwise silently keep the last one), linear time.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <set>

#include <nlohmann/json.hpp>

#include "core/json.h"
#include "hfx/io.h"
#include "indexed_source.h"
#include "io/lazy_views.h"

namespace hfx {

namespace {
using json = nlohmann::json;
constexpr uint64_t kMaxHeader = 100'000'000;  // the reference's cap

class SafetensorsSource final : public io_internal::IndexedSource {
 public:
  explicit SafetensorsSource(const std::string& path) : IndexedSource(path) {
    file_ = MappedFile::open(path);
    const std::size_t fsize = file_->size();
    if (fsize < 8) throw_error(ErrorKind::Format, "file too small for a safetensors header (" + std::to_string(fsize) + " bytes)", path);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | file_->data()[i];
    if (n > kMaxHeader) throw_error(ErrorKind::Format, "header length " + std::to_string(n) + " exceeds the 100 MB limit", path);
    if (n > fsize - 8)
      throw_error(ErrorKind::Format, "header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(fsize) + " bytes)", path);
    const char* hdr = reinterpret_cast<const char*>(file_->data() + 8);
    if (n == 0 || hdr[0] != '{') throw_error(ErrorKind::Format, "header does not start with '{'", path);
    data_begin_ = 8 + n;
    const uint64_t data_size = fsize - data_begin_;

    // Bounded (64 levels) and linear: members are streamed out of the parser and
    // checked one at a time (no DOM of the whole header), then ordered by name as
    // the reference's keys() are, which puts duplicates (refused, as the
    // reference does) side by side.
    struct Parsed {
      std::string name;
      DType dtype;
      Shape shape;
      uint64_t b, e;
    };
    std::vector<Parsed> parsed;
    bool had_metadata = false;
    auto member = [&](std::string&& name, json&& v) {
      if (name == "__metadata__") {
        if (had_metadata) throw_error(ErrorKind::Format, "invalid JSON: duplicate key '__metadata__'", path);
        had_metadata = true;
        if (!v.is_object()) throw_error(ErrorKind::Format, "__metadata__ is not an object", path);
        for (auto m = v.begin(); m != v.end(); ++m) {
          if (!m->is_string()) throw_error(ErrorKind::Format, "__metadata__ value is not a string", path, m.key());
          metadata_[m.key()] = m->get<std::string>();
        }
        return;
      }
      if (!v.is_object()) throw_error(ErrorKind::Format, "entry is not an object", path, name);
      auto dt = v.find("dtype");
      auto sh = v.find("shape");
      auto off = v.find("data_offsets");
      if (dt == v.end() || !dt->is_string()) throw_error(ErrorKind::Format, "missing or non-string dtype", path, name);
      auto dtype = dtype_from_safetensors(dt->get<std::string>());
      if (!dtype) throw_error(ErrorKind::Unsupported, "unsupported dtype " + dt->get<std::string>(), path, name);
      if (sh == v.end() || !sh->is_array()) throw_error(ErrorKind::Format, "missing or invalid shape", path, name);
      Shape shape;
      for (const auto& d : *sh) {
        if (!d.is_number_unsigned()) throw_error(ErrorKind::Format, "shape has a non-integer or negative dimension", path, name);
        uint64_t x = d.get<uint64_t>();
        if (x > (uint64_t{1} << 62)) throw_error(ErrorKind::Format, "dimension too large", path, name);
        shape.push_back(static_cast<int64_t>(x));
      }
      if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
          !(*off)[1].is_number_unsigned())
        throw_error(ErrorKind::Format, "data_offsets must be two non-negative integers", path, name);
      uint64_t b = (*off)[0].get<uint64_t>(), e = (*off)[1].get<uint64_t>();
      if (b > e) throw_error(ErrorKind::Format, "data_offsets begin > end", path, name);
      if (e > data_size)
        throw_error(ErrorKind::Format, "data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                                           ") out of range (data section is " + std::to_string(data_size) + " bytes)", path, name);
      int64_t numel;
      try {
        numel = shape_numel(shape);
      } catch (const Error& err) {
        throw_error(ErrorKind::Format, err.message(), path, name);
      }
      const uint64_t es = dtype_size(*dtype);
      if (static_cast<uint64_t>(numel) > (uint64_t{1} << 62) / es || static_cast<uint64_t>(numel) * es != e - b)
        throw_error(ErrorKind::Format, "dtype " + std::string(to_string(*dtype)) + " x shape " + shape_str(shape) +
                                           " does not match byte length " + std::to_string(e - b), path, name);
      parsed.push_back({std::move(name), *dtype, std::move(shape), b, e});
    };
    parse_json_members(std::string_view(hdr, n), path, {.max_bytes = kMaxHeader}, member);
    // Sorted as (first 8 bytes of the name, big-endian; position) pairs, so
    // that most comparisons touch neither the names nor the 80-byte entries
    // (at 160k tensors those are cache misses: issue 24's linear-time bound).
    struct Key {
      uint64_t prefix;
      std::size_t idx;
    };
    std::vector<Key> order(parsed.size());
    for (std::size_t i = 0; i < parsed.size(); ++i) {
      uint64_t k = 0;
      const std::string& s = parsed[i].name;
      for (std::size_t c = 0; c < 8; ++c) k = (k << 8) | (c < s.size() ? static_cast<unsigned char>(s[c]) : 0u);
      order[i] = {k, i};
    }
    std::sort(order.begin(), order.end(), [&](const Key& x, const Key& y) {
      return x.prefix != y.prefix ? x.prefix < y.prefix : parsed[x.idx].name < parsed[y.idx].name;
    });
    for (std::size_t i = 1; i < order.size(); ++i)
      if (order[i].prefix == order[i - 1].prefix && parsed[order[i].idx].name == parsed[order[i - 1].idx].name)
        throw_error(ErrorKind::Format, "invalid JSON: duplicate key '" + parsed[order[i].idx].name + "'", path, parsed[order[i].idx].name);

    struct Span { uint64_t b, e; std::size_t idx; };
    std::vector<Span> spans;
    spans.reserve(parsed.size());
    reserve(parsed.size());
    defer_index();
    for (const Key& k : order) {
      Parsed& p = parsed[k.idx];
      spans.push_back({p.b, p.e, entries_.size()});
      add_entry({std::move(p.name), p.dtype, std::move(p.shape)}, file_, {{data_begin_ + p.b, p.e - p.b}});
    }
    index_deferred();
    std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) {
      return x.b != y.b ? x.b < y.b : x.e < y.e;
    });
    uint64_t expect = 0;
    for (const auto& s : spans) {
      if (s.b != expect)
        throw_error(ErrorKind::Format, s.b < expect ? "data overlaps the previous tensor" : "hole in the data section before this tensor",
                    path, entries_[s.idx].name);
      expect = s.e;
    }
    if (expect != data_size)
      throw_error(ErrorKind::Format, std::to_string(data_size - expect) + " trailing bytes after the last tensor", path);
  }

  std::string format() const override { return "safetensors"; }
  std::map<std::string, std::string> metadata() const override { return metadata_; }

  Tensor get(const std::string& name) const override {
    const std::size_t i = find(name);
    const auto& [off, n] = ranges(i).front();
    return io_internal::view_or_copy(file_, file_->data() + off, n, entries_[i].dtype, entries_[i].shape);
  }

 private:
  std::shared_ptr<MappedFile> file_;
  uint64_t data_begin_ = 0;
  std::map<std::string, std::string> metadata_;
};

// The safetensors crate's dtype order (Dtype enum); data is sorted by it, widest first.
int st_rank(DType d) {
  switch (d) {
    case DType::Bool: return 0;
    case DType::U8: return 1;
    case DType::I8: return 2;
    case DType::I16: return 5;
    case DType::U16: return 6;
    case DType::F16: return 7;
    case DType::BF16: return 8;
    case DType::I32: return 9;
    case DType::U32: return 10;
    case DType::F32: return 11;
    case DType::F64: return 12;
    case DType::I64: return 13;
    case DType::U64: return 14;
  }
  return 0;
}
}  // namespace

std::unique_ptr<TensorSource> open_safetensors(const std::string& path) {
  return std::make_unique<SafetensorsSource>(path);
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_safetensors(path, io_internal::lazy_views(tensors), metadata);
}

void write_safetensors(const std::string& path, const std::vector<LazyTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const LazyTensor*> order;
  std::set<std::string> names;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__") throw_error(ErrorKind::InvalidArgument, "reserved tensor name", path, t.name);
    if (!names.insert(t.name).second) throw_error(ErrorKind::InvalidArgument, "duplicate tensor name", path, t.name);
    if (!t.get) throw_error(ErrorKind::InvalidArgument, "undefined tensor", path, t.name);
    order.push_back(&t);
  }
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
    int ra = st_rank(a->dtype), rb = st_rank(b->dtype);
    return ra != rb ? ra > rb : a->name < b->name;
  });
  // Build the header by hand to keep key order: __metadata__ first, then
  // tensors in data order (as the crate serialises it).
  std::string hdr = "{";
  bool first = true;
  if (!metadata.empty()) {
    hdr += "\"__metadata__\":" + json(metadata).dump();
    first = false;
  }
  uint64_t off = 0;
  for (auto* t : order) {
    const uint64_t nbytes = static_cast<uint64_t>(shape_numel(t->shape)) * dtype_size(t->dtype);
    json shape = json::array();
    for (auto d : t->shape) shape.push_back(d);
    if (!first) hdr += ",";
    first = false;
    hdr += json(t->name).dump() + ":{\"dtype\":\"" + std::string(info(t->dtype).safetensors) +
           "\",\"shape\":" + shape.dump() + ",\"data_offsets\":[" + std::to_string(off) + "," +
           std::to_string(off + nbytes) + "]}";
    off += nbytes;
  }
  hdr += "}";
  while (hdr.size() % 8) hdr += ' ';
  AtomicFile f(path);
  uint8_t len[8];
  uint64_t n = hdr.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  f.write(len, 8);
  f.write(hdr);
  // Large files: the next tensor is read and converted (checksums, transposes)
  // on a second thread while this one is written, so at most two are alive.
  const bool overlap = off >= (uint64_t{64} << 20);
  // What is written for one tensor: a Tensor, or bytes in place (LazyTensor::bytes).
  struct Piece {
    Tensor t;
    TensorSource::Bytes b;
    const void* data() const { return b.data ? static_cast<const void*>(b.data) : t.raw(); }
    std::size_t size() const { return b.data ? b.size : t.nbytes(); }
  };
  auto produce = [&path, overlap](const LazyTensor* t) {
    Piece p;
    const uint64_t nbytes = static_cast<uint64_t>(shape_numel(t->shape)) * dtype_size(t->dtype);
    if (t->bytes) p.b = t->bytes();
    if (p.b.data && p.b.size != nbytes)
      throw_error(ErrorKind::InvalidArgument, "tensor to write has " + std::to_string(p.b.size) + " bytes, not the " +
                                                  std::to_string(nbytes) + " of the " + std::string(to_string(t->dtype)) + " " +
                                                  shape_str(t->shape) + " announced", path, t->name);
    if (!p.b.data) {
      p.t = t->get();
      if (!p.t.defined() || p.t.dtype() != t->dtype || p.t.shape() != t->shape)
        throw_error(ErrorKind::InvalidArgument, "tensor to write is not the " + std::string(to_string(t->dtype)) + " " +
                                                    shape_str(t->shape) + " announced", path, t->name);
      p.t = p.t.contiguous();
    }
#ifdef MADV_POPULATE_READ
    // A view of a mapped file: fault its pages in here, on the preparing
    // thread, rather than one by one inside write(). Best effort (Linux >= 5.14).
    if (overlap && p.size() > 0 && (p.b.data || (p.t.storage() && !p.t.storage()->owned()))) {
      static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
      const uintptr_t at = reinterpret_cast<uintptr_t>(p.data()), lo = at & ~(page - 1);
      ::madvise(reinterpret_cast<void*>(lo), at + p.size() - lo, MADV_POPULATE_READ);
    }
#endif
    return p;
  };
  std::future<Piece> next;
  for (std::size_t k = 0; k < order.size(); ++k) {
    {
      Piece c = next.valid() ? next.get() : produce(order[k]);
      if (overlap && k + 1 < order.size()) next = std::async(std::launch::async, produce, order[k + 1]);
      f.write(c.data(), c.size());
    }
    if (order[k]->done) order[k]->done();
  }
  f.commit();
}

}  // namespace hfx
