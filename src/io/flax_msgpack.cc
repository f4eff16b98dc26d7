// Flax flax_model.msgpack reader (mmap) and writer.
//
// Wire format (google/flax flax/serialization.py, `to_bytes` / `msgpack_restore`):
//   - the file is one msgpack map: the parameter tree, string keys, nested maps;
//   - an array leaf is msgpack ext type 1 whose payload is itself msgpack
//     [shape (array of ints), dtype name (numpy spelling, "bfloat16" for jax's),
//      raw bytes (C order, little-endian)]; ext 3 is a numpy scalar (same
//     payload, shape []); ext 2 a Python complex (not a tensor: refused);
//   - an array over 2^30 bytes is a map {"__msgpack_chunked_array__": True,
//     "shape": {"0": d0, ...}, "chunks": {"0": <1-D ndarray>, ...}} whose
//     chunks concatenate (flat, C order) to the array.
// Names are the key paths joined with '/'.
//
// Reading. The outer tree is walked with msgpack-cxx's SAX parser
// (msgpack::parse + a visitor) straight over the mapped file: nothing is
// allocated for a container's claimed element count, only per item actually
// present (capped at kMaxNodes), nesting is capped at kMaxDepth, and every str/
// bin/ext is a pointer into the map. Each ndarray record is then decoded with
// msgpack::unpack under a tight unpack_limit (<= 64 dims, no maps, no exts,
// depth 2), referencing the file rather than copying. shape x dtype must equal
// the byte length before anything is allocated. Tensor bytes are msgpack bin
// payloads, which sit wherever the encoding put them: get() hands out a
// zero-copy view when the payload happens to be aligned for its element type,
// else (the usual case) a copy; chunked arrays are always a copy.
//
// Writing reproduces flax's bytes exactly (keys sorted at every level as jax's
// tree_map leaves them; smallest msgpack encodings as msgpack-python picks
// them; arrays over 2^30 bytes chunked like _chunk), through AtomicFile.
#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <string_view>

#include <msgpack.hpp>

#include "hfx/formats.h"

#include "indexed_source.h"

namespace hfx {

static_assert(std::endian::native == std::endian::little, "Flax msgpack bytes are little-endian");

namespace {

constexpr std::size_t kMaxDepth = 64;          // Flax trees are ~10 deep
constexpr std::size_t kMaxNodes = 1u << 22;    // items in the tree (a big model has ~1e5 leaves)
constexpr std::size_t kMaxDims = 64;
constexpr std::size_t kMaxNameLen = 1u << 16;  // one '/'-joined parameter path
constexpr std::size_t kMaxNameBytes = 256u << 20;  // all paths together
constexpr uint64_t kMaxChunkSize = uint64_t{1} << 30;  // flax MAX_CHUNK_SIZE
constexpr std::string_view kChunkedMarker = "__msgpack_chunked_array__";

// ---- the outer tree, as a flat node list built by a SAX visitor -----------
enum class Kind : uint8_t { Map, Array, Ext, Str, Bin, PosInt, NegInt, Bool, Nil, Float };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Map: return "map";
    case Kind::Array: return "array";
    case Kind::Ext: return "ext";
    case Kind::Str: return "str";
    case Kind::Bin: return "bin";
    case Kind::PosInt: case Kind::NegInt: return "integer";
    case Kind::Bool: return "bool";
    case Kind::Nil: return "nil";
    case Kind::Float: return "float";
  }
  return "?";
}

struct Node {
  uint32_t parent;          // index; the root is its own parent
  Kind kind;
  std::string_view key;     // into the file; empty for the root / array items
  const char* ptr = nullptr;  // Ext: payload (after the type byte); Str/Bin: data
  uint32_t size = 0;        // Ext: payload bytes; Str/Bin: bytes; Map/Array: count
  int8_t ext_type = 0;
  uint64_t u = 0;           // PosInt value; Bool
};

class TreeBuilder {
 public:
  explicit TreeBuilder(const char* base) : base_(base) {}
  std::vector<Node> nodes;
  std::string error;        // set when the visitor stopped the parse
  std::size_t error_offset = 0;
  bool truncated = false, malformed = false;

  // The path of the item being parsed, for error messages.
  std::string current_path() const {
    std::string p;
    for (const auto& f : stack_) {
      if (f.node != 0 && !nodes[f.node].key.empty()) p += (p.empty() ? "" : "/") + std::string(nodes[f.node].key);
    }
    if (!stack_.empty() && stack_.back().is_map && !stack_.back().in_key && stack_.back().have_key)
      p += (p.empty() ? "" : "/") + std::string(stack_.back().pending_key);
    return p;
  }

  // -- msgpack visitor interface --
  bool visit_nil() { return add(Kind::Nil); }
  bool visit_boolean(bool v) { return add(Kind::Bool, nullptr, 0, v ? 1 : 0); }
  bool visit_positive_integer(uint64_t v) { return add(Kind::PosInt, nullptr, 0, v); }
  bool visit_negative_integer(int64_t) { return add(Kind::NegInt); }
  bool visit_float32(float) { return add(Kind::Float); }
  bool visit_float64(double) { return add(Kind::Float); }
  bool visit_str(const char* v, uint32_t size) {
    if (!stack_.empty() && stack_.back().is_map && stack_.back().in_key) {
      stack_.back().pending_key = std::string_view(v, size);
      stack_.back().have_key = true;
      return true;
    }
    return add(Kind::Str, v, size);
  }
  bool visit_bin(const char* v, uint32_t size) { return add(Kind::Bin, v, size); }
  bool visit_ext(const char* v, uint32_t size) {
    // v[0] is the type byte; size counts it.
    if (size == 0) return fail("ext record without a type byte", v);
    const std::size_t idx = nodes.size();
    if (!add(Kind::Ext, v + 1, size - 1)) return false;
    nodes[idx].ext_type = static_cast<int8_t>(v[0]);
    return true;
  }
  bool start_array(uint32_t n) { return open(Kind::Array, n, false); }
  bool start_array_item() { return true; }
  bool end_array_item() { return true; }
  bool end_array() { stack_.pop_back(); return true; }
  bool start_map(uint32_t n) { return open(Kind::Map, n, true); }
  bool start_map_key() {
    stack_.back().in_key = true;
    stack_.back().have_key = false;
    return true;
  }
  bool end_map_key() {
    stack_.back().in_key = false;
    if (!stack_.back().have_key) return fail("map key is not a string (Flax parameter trees have string keys)", nullptr);
    return true;
  }
  bool start_map_value() { return true; }
  bool end_map_value() { stack_.back().have_key = false; return true; }
  bool end_map() { stack_.pop_back(); return true; }
  void parse_error(std::size_t, std::size_t at) { malformed = true; error_offset_ = at; }
  void insufficient_bytes(std::size_t, std::size_t) { truncated = true; }
  bool referenced() const { return false; }
  void set_referenced(bool) {}
  std::size_t parse_error_offset() const { return error_offset_; }

 private:
  struct Frame {
    uint32_t node;
    bool is_map, in_key = false, have_key = false;
    std::string_view pending_key;
  };

  bool fail(std::string msg, const char* at) {
    error = std::move(msg);
    error_offset = at ? static_cast<std::size_t>(at - base_) : 0;
    return false;
  }

  bool add(Kind kind, const char* ptr = nullptr, uint32_t size = 0, uint64_t u = 0) {
    if (!stack_.empty() && stack_.back().is_map && stack_.back().in_key)
      return fail(std::string("map key is a msgpack ") + kind_name(kind) + ", not a string", ptr);
    if (nodes.size() >= kMaxNodes)
      return fail("more than " + std::to_string(kMaxNodes) + " items in the parameter tree", ptr);
    Node n;
    n.parent = stack_.empty() ? 0 : stack_.back().node;
    n.kind = kind;
    if (!stack_.empty() && stack_.back().is_map) n.key = stack_.back().pending_key;
    n.ptr = ptr;
    n.size = size;
    n.u = u;
    nodes.push_back(n);
    return true;
  }

  bool open(Kind kind, uint32_t n, bool is_map) {
    if (stack_.size() >= kMaxDepth)
      return fail("nesting deeper than " + std::to_string(kMaxDepth) + " levels", nullptr);
    const std::size_t idx = nodes.size();
    if (!add(kind, nullptr, n)) return false;
    stack_.push_back(Frame{static_cast<uint32_t>(idx), is_map, false, false, {}});
    return true;
  }

  const char* base_;
  std::vector<Frame> stack_;
  std::size_t error_offset_ = 0;
};

// ---- one ndarray record ------------------------------------------------------
struct Array {
  DType dtype;
  Shape shape;
  const char* data;
  uint64_t nbytes;
};

bool reference_everything(msgpack::type::object_type, std::size_t, void*) { return true; }

Array decode_ndarray(const Node& n, const std::string& file, const std::string& name) {
  if (n.ext_type == 2) throw_error(ErrorKind::Unsupported, "a complex scalar (msgpack ext type 2) is not a tensor", file, name);
  if (n.ext_type != 1 && n.ext_type != 3)
    throw_error(ErrorKind::Format, "unknown msgpack ext type " + std::to_string(n.ext_type) + " (Flax arrays are ext type 1)", file, name);
  msgpack::object_handle oh;
  std::size_t off = 0;
  try {
    // [shape, dtype, bytes]: at most kMaxDims dims, no maps, no nested exts, depth 2.
    oh = msgpack::unpack(n.ptr, n.size, off, &reference_everything, nullptr,
                         msgpack::unpack_limit(kMaxDims, 0, 64, n.size, 0, 2));
  } catch (const std::exception& e) {
    throw_error(ErrorKind::Format, std::string("malformed ndarray record: ") + e.what(), file, name);
  }
  if (off != n.size)
    throw_error(ErrorKind::Format, "ndarray record has " + std::to_string(n.size - off) + " trailing bytes", file, name);
  const msgpack::object& o = oh.get();
  if (o.type != msgpack::type::ARRAY || o.via.array.size != 3)
    throw_error(ErrorKind::Format, "ndarray record is not a [shape, dtype, bytes] triple", file, name);
  const msgpack::object& sh = o.via.array.ptr[0];
  const msgpack::object& dt = o.via.array.ptr[1];
  const msgpack::object& by = o.via.array.ptr[2];
  if (sh.type != msgpack::type::ARRAY) throw_error(ErrorKind::Format, "ndarray shape is not an array", file, name);
  Array a;
  for (uint32_t i = 0; i < sh.via.array.size; ++i) {
    const msgpack::object& d = sh.via.array.ptr[i];
    if (d.type == msgpack::type::NEGATIVE_INTEGER)
      throw_error(ErrorKind::Format, "negative dimension " + std::to_string(d.via.i64) + " in shape", file, name);
    if (d.type != msgpack::type::POSITIVE_INTEGER) throw_error(ErrorKind::Format, "shape has a non-integer dimension", file, name);
    if (d.via.u64 > (uint64_t{1} << 62)) throw_error(ErrorKind::Format, "dimension " + std::to_string(d.via.u64) + " too large", file, name);
    a.shape.push_back(static_cast<int64_t>(d.via.u64));
  }
  std::string_view dname;
  if (dt.type == msgpack::type::STR) dname = std::string_view(dt.via.str.ptr, dt.via.str.size);
  else if (dt.type == msgpack::type::BIN) dname = std::string_view(dt.via.bin.ptr, dt.via.bin.size);
  else throw_error(ErrorKind::Format, "ndarray dtype is not a string", file, name);
  auto dtype = dtype_from_numpy(dname);
  if (!dtype) throw_error(ErrorKind::Unsupported, "unsupported dtype '" + std::string(dname) + "'", file, name);
  a.dtype = *dtype;
  if (by.type == msgpack::type::BIN) { a.data = by.via.bin.ptr; a.nbytes = by.via.bin.size; }
  else if (by.type == msgpack::type::STR) { a.data = by.via.str.ptr; a.nbytes = by.via.str.size; }
  else throw_error(ErrorKind::Format, "ndarray data is not a byte string", file, name);
  int64_t numel;
  try {
    numel = shape_numel(a.shape);
  } catch (const Error& e) {
    throw_error(ErrorKind::Format, e.message(), file, name);
  }
  const uint64_t es = dtype_size(a.dtype);
  if (static_cast<uint64_t>(numel) > (uint64_t{1} << 62) / es || static_cast<uint64_t>(numel) * es != a.nbytes)
    throw_error(ErrorKind::Format, "dtype " + std::string(dname) + " x shape " + shape_str(a.shape) +
                                       " does not match byte length " + std::to_string(a.nbytes), file, name);
  return a;
}

class FlaxSource final : public io_internal::IndexedSource {
 public:
  explicit FlaxSource(const std::string& path) : IndexedSource(path) {
    file_ = MappedFile::open(path);
    const char* base = reinterpret_cast<const char*>(file_->data());
    const std::size_t size = file_->size();
    if (size == 0) throw_error(ErrorKind::Format, "empty file (a Flax checkpoint is a msgpack map)", path);
    TreeBuilder tb(base);
    std::size_t off = 0;
    bool ok = false;
    try {
      ok = msgpack::parse(base, size, off, tb);
    } catch (const std::exception& e) {  // msgpack-cxx may throw on its own limits
      throw_error(ErrorKind::Format, std::string("malformed msgpack: ") + e.what(), path, tb.current_path());
    }
    if (!ok) {
      if (!tb.error.empty()) throw_error(ErrorKind::Format, tb.error, path, tb.current_path());
      if (tb.truncated)
        throw_error(ErrorKind::Format, "truncated: the file (" + std::to_string(size) + " bytes) ends inside a msgpack object",
                    path, tb.current_path());
      throw_error(ErrorKind::Format, "malformed msgpack at byte " + std::to_string(tb.parse_error_offset()), path,
                  tb.current_path());
    }
    if (off != size)
      throw_error(ErrorKind::Format, std::to_string(size - off) + " trailing bytes after the msgpack object", path);
    std::vector<Node>& nodes = tb.nodes;
    if (nodes.empty() || nodes[0].kind != Kind::Map)
      throw_error(ErrorKind::Format, std::string("top level is a msgpack ") + (nodes.empty() ? "?" : kind_name(nodes[0].kind)) +
                                         ", not a map (a Flax checkpoint is a map of parameters)", path);
    // Children lists (CSR), in file order; then a duplicate-key check per map.
    const std::size_t n = nodes.size();
    std::vector<uint32_t> first(n + 1, 0), child(n > 0 ? n - 1 : 0);
    for (std::size_t i = 1; i < n; ++i) ++first[nodes[i].parent + 1];
    for (std::size_t i = 0; i < n; ++i) first[i + 1] += first[i];
    {
      std::vector<uint32_t> fill(first.begin(), first.end() - 1);
      for (std::size_t i = 1; i < n; ++i) child[fill[nodes[i].parent]++] = static_cast<uint32_t>(i);
    }
    nodes_ = &nodes;
    first_ = &first;
    child_ = &child;
    std::string name;
    walk(0, name);
    nodes_ = nullptr;
    first_ = child_ = nullptr;
    // Parsing touched pages all over the file (every array's header); the
    // tensors fault in again what they read.
    file_->release(file_->data(), file_->size());
  }

  std::string format() const override { return "flax"; }

  Tensor get(const std::string& name) const override {
    const std::size_t i = find(name);
    const TensorInfo& e = entries_[i];
    const Ranges& pieces = ranges(i);
    uint64_t total = 0;
    for (const auto& p : pieces) total += p.second;
    if (total == 0) return Tensor::zeros(e.dtype, e.shape);
    const uint8_t* base = file_->data();
    if (pieces.size() == 1) return io_internal::view_or_copy(file_, base + pieces[0].first, pieces[0].second, e.dtype, e.shape);
    Tensor t = Tensor::zeros(e.dtype, e.shape);
    uint8_t* out = static_cast<uint8_t*>(t.mutable_raw());
    for (const auto& p : pieces) {
      std::memcpy(out, base + p.first, p.second);
      out += p.second;
    }
    return t;
  }

 private:
  std::pair<const uint32_t*, const uint32_t*> children(uint32_t i) const {
    return {child_->data() + (*first_)[i], child_->data() + (*first_)[i + 1]};
  }
  const Node* child_named(uint32_t i, std::string_view key) const {
    auto [b, e] = children(i);
    for (auto* c = b; c != e; ++c)
      if ((*nodes_)[*c].key == key) return &(*nodes_)[*c];
    return nullptr;
  }
  uint64_t offset_of(const char* p) const { return static_cast<uint64_t>(p - reinterpret_cast<const char*>(file_->data())); }

  void add_array(const std::string& name, DType dtype, Shape shape, std::vector<std::pair<uint64_t, uint64_t>> pieces) {
    name_bytes_ += name.size();
    if (name_bytes_ > kMaxNameBytes) throw_error(ErrorKind::Format, "parameter names exceed 256 MiB in total", path_, name);
    add_entry({name, dtype, std::move(shape)}, file_, std::move(pieces));
  }

  void walk(uint32_t m, std::string& prefix) {
    const std::vector<Node>& nodes = *nodes_;
    auto [b, e] = children(m);
    // Duplicate keys: msgpack-python would keep the last silently; refuse.
    {
      std::vector<std::string_view> keys;
      keys.reserve(static_cast<std::size_t>(e - b));
      for (auto* c = b; c != e; ++c) keys.push_back(nodes[*c].key);
      std::sort(keys.begin(), keys.end());
      auto d = std::adjacent_find(keys.begin(), keys.end());
      if (d != keys.end())
        throw_error(ErrorKind::Format, "duplicate key '" + std::string(*d) + "' in a map", path_, prefix);
    }
    for (auto* c = b; c != e; ++c) {
      const Node& ch = nodes[*c];
      if (ch.key.empty()) throw_error(ErrorKind::Format, "empty map key", path_, prefix);
      if (ch.key.find('/') != std::string_view::npos)
        throw_error(ErrorKind::Format, "map key '" + std::string(ch.key) + "' contains '/', the name separator", path_, prefix);
      const std::size_t keep = prefix.size();
      if (!prefix.empty()) prefix += '/';
      prefix.append(ch.key.data(), ch.key.size());
      if (prefix.size() > kMaxNameLen)
        throw_error(ErrorKind::Format, "parameter path longer than " + std::to_string(kMaxNameLen) + " bytes", path_,
                    prefix.substr(0, 200) + "...");
      if (ch.kind == Kind::Map) {
        if (child_named(*c, kChunkedMarker)) chunked(*c, prefix);
        else walk(*c, prefix);  // an empty map holds no parameters (flatten_dict drops it)
      } else if (ch.kind == Kind::Ext) {
        Array a = decode_ndarray(ch, path_, prefix);
        add_array(prefix, a.dtype, a.shape, {{offset_of(a.data), a.nbytes}});
      } else {
        throw_error(ErrorKind::Format, std::string("leaf is a msgpack ") + kind_name(ch.kind) + ", not an array", path_, prefix);
      }
      prefix.resize(keep);
    }
  }

  // {"0": x0, "1": x1, ...} -> x0, x1, ... (flax _dict_to_tuple: exactly these keys).
  std::vector<const Node*> as_tuple(const Node* m, const char* what, const std::string& name) const {
    if (!m) throw_error(ErrorKind::Format, std::string("chunked array has no '") + what + "'", path_, name);
    if (m->kind != Kind::Map) throw_error(ErrorKind::Format, std::string("chunked array '") + what + "' is not a map", path_, name);
    const uint32_t idx = static_cast<uint32_t>(m - nodes_->data());
    auto [b, e] = children(idx);
    const std::size_t cnt = static_cast<std::size_t>(e - b);
    std::vector<const Node*> out(cnt, nullptr);
    for (auto* c = b; c != e; ++c) {
      const Node& ch = (*nodes_)[*c];
      std::size_t k = 0;
      bool ok = !ch.key.empty() && ch.key.size() <= 9 && (ch.key == "0" || ch.key[0] != '0');
      for (char x : ch.key) ok = ok && x >= '0' && x <= '9';
      if (ok) for (char x : ch.key) k = k * 10 + static_cast<std::size_t>(x - '0');
      if (!ok || k >= cnt || out[k])
        throw_error(ErrorKind::Format, std::string("chunked array '") + what + "' has key '" + std::string(ch.key) +
                                           "'; expected \"0\"..\"" + std::to_string(cnt - 1) + "\"", path_, name);
      out[k] = &ch;
    }
    return out;
  }

  void chunked(uint32_t m, const std::string& name) {
    std::vector<const Node*> dims = as_tuple(child_named(m, "shape"), "shape", name);
    std::vector<const Node*> chunks = as_tuple(child_named(m, "chunks"), "chunks", name);
    if (dims.size() > kMaxDims) throw_error(ErrorKind::Format, "chunked array has more than 64 dimensions", path_, name);
    Shape shape;
    for (const Node* d : dims) {
      if (d->kind == Kind::NegInt) throw_error(ErrorKind::Format, "negative dimension in chunked array shape", path_, name);
      if (d->kind != Kind::PosInt) throw_error(ErrorKind::Format, "chunked array shape has a non-integer dimension", path_, name);
      if (d->u > (uint64_t{1} << 62)) throw_error(ErrorKind::Format, "dimension too large", path_, name);
      shape.push_back(static_cast<int64_t>(d->u));
    }
    int64_t numel;
    try {
      numel = shape_numel(shape);
    } catch (const Error& e) {
      throw_error(ErrorKind::Format, e.message(), path_, name);
    }
    if (chunks.empty()) throw_error(ErrorKind::Format, "chunked array has no chunks", path_, name);
    std::vector<std::pair<uint64_t, uint64_t>> pieces;
    DType dtype = DType::F32;
    uint64_t elems = 0;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      const Node* c = chunks[i];
      const std::string cname = name + " (chunk " + std::to_string(i) + ")";
      if (c->kind != Kind::Ext) throw_error(ErrorKind::Format, "chunk is not an array", path_, cname);
      Array a = decode_ndarray(*c, path_, cname);
      if (a.shape.size() != 1) throw_error(ErrorKind::Format, "chunk is not 1-D: " + shape_str(a.shape), path_, cname);
      if (i == 0) dtype = a.dtype;
      else if (a.dtype != dtype)
        throw_error(ErrorKind::Format, "chunk dtype " + std::string(to_string(a.dtype)) + " differs from " +
                                           std::string(to_string(dtype)), path_, cname);
      elems += static_cast<uint64_t>(a.shape[0]);  // each <= 2^62 and bounded by the file size
      if (a.nbytes) pieces.emplace_back(offset_of(a.data), a.nbytes);
    }
    if (elems != static_cast<uint64_t>(numel))
      throw_error(ErrorKind::Format, "chunks hold " + std::to_string(elems) + " elements but shape " + shape_str(shape) +
                                         " needs " + std::to_string(numel) + " (missing or extra chunks)", path_, name);
    add_array(name, dtype, std::move(shape), std::move(pieces));
  }

  std::shared_ptr<MappedFile> file_;
  std::size_t name_bytes_ = 0;
  // Parse-time only.
  const std::vector<Node>* nodes_ = nullptr;
  const std::vector<uint32_t>* first_ = nullptr;
  const std::vector<uint32_t>* child_ = nullptr;
};

// ---- writer -----------------------------------------------------------------
// Buffers small writes; big tensor bodies go straight to the file.
class Out {
 public:
  explicit Out(AtomicFile& f) : f_(f) {}
  void write(const char* p, std::size_t n) {
    if (n >= kDirect) {
      flush();
      f_.write(p, n);
      return;
    }
    buf_.append(p, n);
    if (buf_.size() >= kFlush) flush();
  }
  void flush() {
    if (!buf_.empty()) f_.write(buf_.data(), buf_.size());
    buf_.clear();
  }

 private:
  static constexpr std::size_t kDirect = 1 << 16, kFlush = 1 << 20;
  AtomicFile& f_;
  std::string buf_;
};

struct WNode {
  std::map<std::string, WNode> children;  // bytewise order == Python's sorted str order (UTF-8)
  const Tensor* leaf = nullptr;
};

// One ndarray ext record: ext header, [shape, dtype, bin header], then the bytes.
void pack_ndarray(msgpack::packer<Out>& pk, Out& out, DType dtype, const Shape& shape, const uint8_t* data, uint64_t nbytes) {
  msgpack::sbuffer head;
  msgpack::packer<msgpack::sbuffer> hp(head);
  hp.pack_array(3);
  hp.pack_array(static_cast<uint32_t>(shape.size()));
  for (int64_t d : shape) hp.pack_uint64(static_cast<uint64_t>(d));
  const std::string_view name = info(dtype).numpy;
  hp.pack_str(static_cast<uint32_t>(name.size()));
  hp.pack_str_body(name.data(), static_cast<uint32_t>(name.size()));
  hp.pack_bin(static_cast<uint32_t>(nbytes));
  pk.pack_ext(head.size() + nbytes, 1);
  out.write(head.data(), head.size());
  if (nbytes) out.write(reinterpret_cast<const char*>(data), nbytes);
}

void pack_tree(msgpack::packer<Out>& pk, Out& out, const WNode& n) {
  pk.pack_map(static_cast<uint32_t>(n.children.size()));
  for (const auto& [key, ch] : n.children) {
    pk.pack_str(static_cast<uint32_t>(key.size()));
    pk.pack_str_body(key.data(), static_cast<uint32_t>(key.size()));
    if (!ch.leaf) {
      pack_tree(pk, out, ch);
      continue;
    }
    const Tensor t = ch.leaf->contiguous();
    const auto* data = static_cast<const uint8_t*>(t.raw());
    const uint64_t nbytes = t.nbytes();
    if (nbytes <= kMaxChunkSize) {
      pack_ndarray(pk, out, t.dtype(), t.shape(), data, nbytes);
      continue;
    }
    // flax _chunk: {"__msgpack_chunked_array__": True, "shape": {"0": d0..}, "chunks": {"0": flat[i:i+cs]..}}
    const uint64_t es = dtype_size(t.dtype());
    const uint64_t cs = std::max<uint64_t>(1, kMaxChunkSize / es);
    const uint64_t numel = static_cast<uint64_t>(t.numel());
    pk.pack_map(3);
    pk.pack_str(static_cast<uint32_t>(kChunkedMarker.size()));
    pk.pack_str_body(kChunkedMarker.data(), static_cast<uint32_t>(kChunkedMarker.size()));
    pk.pack_true();
    pk.pack_str(5);
    pk.pack_str_body("shape", 5);
    pk.pack_map(static_cast<uint32_t>(t.shape().size()));
    for (std::size_t i = 0; i < t.shape().size(); ++i) {
      const std::string k = std::to_string(i);
      pk.pack_str(static_cast<uint32_t>(k.size()));
      pk.pack_str_body(k.data(), static_cast<uint32_t>(k.size()));
      pk.pack_uint64(static_cast<uint64_t>(t.shape()[i]));
    }
    pk.pack_str(6);
    pk.pack_str_body("chunks", 6);
    const uint64_t nchunks = (numel + cs - 1) / cs;
    pk.pack_map(static_cast<uint32_t>(nchunks));
    for (uint64_t c = 0; c < nchunks; ++c) {
      const std::string k = std::to_string(c);
      pk.pack_str(static_cast<uint32_t>(k.size()));
      pk.pack_str_body(k.data(), static_cast<uint32_t>(k.size()));
      const uint64_t len = std::min(cs, numel - c * cs);
      pack_ndarray(pk, out, t.dtype(), {static_cast<int64_t>(len)}, data + c * cs * es, len * es);
    }
  }
}

}  // namespace

std::unique_ptr<TensorSource> open_flax_msgpack(const std::string& path) {
  return std::make_unique<FlaxSource>(path);
}

void write_flax_msgpack(const std::string& path, const NamedTensors& tensors) {
  WNode root;
  for (const auto& [name, t] : tensors) {
    if (!t.defined()) throw_error(ErrorKind::InvalidArgument, "undefined tensor", path, name);
    WNode* n = &root;
    std::size_t b = 0;
    while (true) {
      const std::size_t e = name.find('/', b);
      const std::string key = name.substr(b, e == std::string::npos ? std::string::npos : e - b);
      if (key.empty()) throw_error(ErrorKind::InvalidArgument, "empty component in a Flax parameter path", path, name);
      if (n->leaf) throw_error(ErrorKind::InvalidArgument, "a parameter path runs through another parameter", path, name);
      n = &n->children[key];
      if (e == std::string::npos) break;
      b = e + 1;
    }
    if (n->leaf) throw_error(ErrorKind::InvalidArgument, "duplicate tensor name", path, name);
    if (!n->children.empty()) throw_error(ErrorKind::InvalidArgument, "a parameter is also a prefix of other parameters", path, name);
    n->leaf = &t;
  }
  AtomicFile f(path);
  Out out(f);
  msgpack::packer<Out> pk(out);
  pack_tree(pk, out, root);
  out.flush();
  f.commit();
}

}  // namespace hfx
