// Original TF1 checkpoints (checkpoint V2 "bundle"): <prefix>.index is a
// LevelDB-style sorted table whose entries are tensor name -> BundleEntryProto
// (the empty key holds the BundleHeaderProto); the tensors' bytes live in
// <prefix>.data-NNNNN-of-NNNNN, which are memory-mapped. Layout:
// ../shared/reference/formats.md §4 (from TF core/util/tensor_bundle and
// core/lib/io/{table,block,format}.cc).
//
// Everything in the index is validated before use: the footer magic, every
// block handle against the file size, every block's masked CRC32C, the
// restart array, prefix-compressed keys (strictly increasing, bounded in
// size), and every entry's shard/offset/size against its data file and its
// dtype x shape. Data blocks must follow each other without overlapping, so a
// garbage or cyclic index cannot make us read more than the file once. Each
// tensor's data CRC is checked when it is read (get()), not at open().
//
// What the reader lists: numeric tensors (every dtype in hfx's table). Entries
// it cannot represent — DT_STRING (optimizer/object-graph bookkeeping),
// other non-numeric dtypes, partitioned variables (non-empty `slices`) — are
// left out of entries() and contains(), listed in metadata()["unsupported"],
// and get() on one throws Unsupported saying why. The per-slice entries of a
// partitioned variable (binary keys starting with '\0') are not tensors of
// their own and are skipped silently. Compressed (snappy) blocks are rejected:
// TF's BundleWriter always writes the table uncompressed.
#include <cstring>
#include <map>

#include "core/varint.h"
#include "hfx/formats.h"
#include "io/indexed_source.h"
#include "io/tf1_crc32c.h"

namespace hfx {

namespace {

constexpr uint64_t kTableMagic = 0xdb4775248b80fb57ull;
constexpr std::size_t kFooterSize = 48;  // 2 handles padded to 40 bytes + 8-byte magic
constexpr std::size_t kBlockTrailer = 5;  // compression type byte + masked CRC32C
constexpr std::size_t kMaxKey = 64 * 1024;  // far above any variable name
constexpr std::size_t kMaxEntries = std::size_t{1} << 24;
// Prefix compression lets a few bytes of table expand to a long key; the keys
// of a real index add up to a small multiple of its size (each entry also
// carries a proto of >= ~12 bytes). Cap the total so that a hostile index
// cannot make us copy and compare gigabytes of keys.
constexpr uint64_t kKeyExpansion = 32;
constexpr uint64_t kKeySlack = uint64_t{1} << 20;
constexpr int64_t kMaxShards = 99999;  // DataFilename() prints %05d
constexpr std::size_t kMaxRank = 254;  // TensorShape::MaxDimensions()

struct Handle {
  uint64_t offset = 0, size = 0;
};

uint32_t load_u32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// ---- a minimal protobuf decoder -------------------------------------------
// The index holds two tiny messages (BundleHeaderProto, BundleEntryProto with
// TensorShapeProto inside); decoding them by hand — varint, fixed32/64 and
// length-delimited fields, unknown fields skipped — keeps hfx free of a
// protobuf dependency and of generated code. Groups (wire types 3/4) never
// occur in these messages and are rejected.
class Proto {
 public:
  Proto(const uint8_t* p, std::size_t n, const char* what, const std::string& file, const std::string& key)
      : p_(p), end_(p + n), what_(what), file_(file), key_(key) {}

  // Next field; false at the end of the message.
  bool next() {
    if (p_ == end_) return false;
    uint64_t tag;
    if (!read_varint64(p_, end_, tag)) fail("truncated or overlong field tag");
    field_ = tag >> 3;
    wire_ = static_cast<int>(tag & 7u);
    if (field_ == 0 || field_ > 0x1fffffffu) fail("invalid field number " + std::to_string(field_));
    return true;
  }
  uint64_t field() const { return field_; }
  int wire() const { return wire_; }

  uint64_t varint() {
    expect(0);
    uint64_t v;
    if (!read_varint64(p_, end_, v)) fail("truncated or overlong varint");
    return v;
  }
  int64_t int64() { return static_cast<int64_t>(varint()); }
  int32_t int32(const char* name) {  // int32/enum: sign-extended varint
    const int64_t v = int64();
    if (v < INT32_MIN || v > INT32_MAX) fail(std::string(name) + " out of int32 range");
    return static_cast<int32_t>(v);
  }
  uint32_t fixed32() {
    expect(5);
    if (end_ - p_ < 4) fail("truncated fixed32");
    const uint32_t v = load_u32(p_);
    p_ += 4;
    return v;
  }
  std::pair<const uint8_t*, std::size_t> bytes() {
    expect(2);
    uint64_t n;
    if (!read_varint64(p_, end_, n)) fail("truncated or overlong length");
    if (n > static_cast<uint64_t>(end_ - p_)) fail("length-delimited field runs past the end of the message");
    const uint8_t* b = p_;
    p_ += n;
    return {b, static_cast<std::size_t>(n)};
  }
  void skip() {
    switch (wire_) {
      case 0: (void)varint(); return;
      case 1:
        if (end_ - p_ < 8) fail("truncated fixed64");
        p_ += 8;
        return;
      case 2: (void)bytes(); return;
      case 5: (void)fixed32(); return;
      default: fail("unsupported wire type " + std::to_string(wire_));
    }
  }
  [[noreturn]] void fail(const std::string& msg) const {
    throw_error(ErrorKind::Format, std::string("malformed ") + what_ + ": " + msg, file_, key_);
  }

 private:
  void expect(int wire) {
    if (wire_ != wire)
      fail("field " + std::to_string(field_) + " has wire type " + std::to_string(wire_) + ", expected " +
           std::to_string(wire));
  }
  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t field_ = 0;
  int wire_ = 0;
  const char* what_;
  const std::string& file_;
  const std::string& key_;
};

// TF DataType enum -> TF spelling understood by dtype_from_tf() (types.proto).
const char* tf_dtype_name(int32_t v) {
  switch (v) {
    case 1: return "DT_FLOAT";
    case 2: return "DT_DOUBLE";
    case 3: return "DT_INT32";
    case 4: return "DT_UINT8";
    case 5: return "DT_INT16";
    case 6: return "DT_INT8";
    case 7: return "DT_STRING";
    case 8: return "DT_COMPLEX64";
    case 9: return "DT_INT64";
    case 10: return "DT_BOOL";
    case 11: return "DT_QINT8";
    case 12: return "DT_QUINT8";
    case 13: return "DT_QINT32";
    case 14: return "DT_BFLOAT16";
    case 15: return "DT_QINT16";
    case 16: return "DT_QUINT16";
    case 17: return "DT_UINT16";
    case 18: return "DT_COMPLEX128";
    case 19: return "DT_HALF";
    case 20: return "DT_RESOURCE";
    case 21: return "DT_VARIANT";
    case 22: return "DT_UINT32";
    case 23: return "DT_UINT64";
    case 24: return "DT_FLOAT8_E5M2";
    case 25: return "DT_FLOAT8_E4M3FN";
    case 29: return "DT_INT4";
    case 30: return "DT_UINT4";
    default: return nullptr;
  }
}

struct Entry {
  int64_t shard = 0;
  uint64_t offset = 0, size = 0;
  uint32_t crc = 0;  // unmasked
};

class Tf1Source final : public io_internal::IndexedSource {
 public:
  explicit Tf1Source(const std::string& prefix) : IndexedSource(prefix + ".index"), prefix_(prefix) {
    index_file_ = MappedFile::open(path_);
    read_table();
    if (!have_header_) bad("no bundle header (the table has no entry with the empty key)");
    open_shards();
    index_file_.reset();  // everything needed from the index has been copied out
  }

  std::string format() const override { return "tf1"; }
  std::map<std::string, std::string> metadata() const override {
    std::map<std::string, std::string> m{{"num_shards", std::to_string(num_shards_)},
                                         {"version", std::to_string(producer_)}};
    std::string u;
    for (const auto& [name, why] : unsupported_) u += (u.empty() ? "" : "\n") + name + ": " + why;
    if (!u.empty()) m["unsupported"] = u;
    return m;
  }

  Tensor get(const std::string& name) const override {
    const std::size_t i = find(name);
    const Entry& e = data_[i];
    const TensorInfo& t = entries_[i];
    const uint8_t* p = checked_data(i);
    if (e.size == 0) return Tensor::zeros(t.dtype, t.shape);
    // Bundles pack tensors without padding: a tensor after an odd-sized one may be misaligned (then copied).
    return io_internal::view_or_copy(shards_[static_cast<std::size_t>(e.shard)], p, e.size, t.dtype, t.shape);
  }

  Bytes bytes(const std::string& name) const override {
    (void)checked_data(find(name));
    return IndexedSource::bytes(name);
  }

 private:
  // Entry i's data, its checksum verified (as TF's BundleReader does on every read).
  const uint8_t* checked_data(std::size_t i) const {
    const Entry& e = data_[i];
    const MappedFile& shard = *shards_[static_cast<std::size_t>(e.shard)];
    const uint8_t* p = shard.data() + e.offset;  // range checked at open()
    const uint32_t crc = internal::crc32c(p, e.size);
    if (crc != e.crc)
      throw_error(ErrorKind::Format, "data checksum mismatch (crc32c " + hex(crc) + ", index says " + hex(e.crc) +
                                         ") for " + std::to_string(e.size) + " bytes at offset " + std::to_string(e.offset),
                  shard.path(), entries_[i].name);
    return p;
  }

  static std::string hex(uint32_t v) {
    static const char* d = "0123456789abcdef";
    std::string s = "0x";
    for (int i = 28; i >= 0; i -= 4) s += d[(v >> i) & 15u];
    return s;
  }

  [[noreturn]] void bad(const std::string& msg, const std::string& tensor = {}) const {
    throw_error(ErrorKind::Format, msg, path_, tensor);
  }

  [[noreturn]] void missing(const std::string& name) const override {
    auto u = unsupported_.find(name);
    if (u != unsupported_.end()) throw_error(ErrorKind::Unsupported, u->second, path_, name);
    IndexedSource::missing(name);
  }

  // ---- the table ----------------------------------------------------------
  Handle decode_handle(const uint8_t*& p, const uint8_t* end, const char* what) const {
    Handle h;
    if (!read_varint64(p, end, h.offset) || !read_varint64(p, end, h.size))
      bad(std::string("malformed ") + what + " block handle (bad varint)");
    return h;
  }

  // The contents of the block at `h`, after checking that it and its trailer
  // lie before the footer, that the CRC matches and that it is uncompressed.
  std::pair<const uint8_t*, std::size_t> read_block(const Handle& h, const std::string& what) const {
    const uint64_t limit = index_file_->size() - kFooterSize;
    if (h.offset > limit || h.size > limit - h.offset || kBlockTrailer > limit - h.offset - h.size)
      bad(what + " block handle (offset " + std::to_string(h.offset) + ", size " + std::to_string(h.size) +
          ") runs past the end of the table (" + std::to_string(limit) + " bytes before the footer)");
    const uint8_t* b = index_file_->data() + h.offset;
    const std::size_t n = static_cast<std::size_t>(h.size);
    const uint32_t stored = internal::crc32c_unmask(load_u32(b + n + 1));
    const uint32_t actual = internal::crc32c(b, n + 1);  // contents + compression type byte
    if (stored != actual)
      bad(what + " block at offset " + std::to_string(h.offset) + ": checksum mismatch (crc32c " + hex(actual) +
          ", trailer says " + hex(stored) + ")");
    if (b[n] == 1)
      throw_error(ErrorKind::Unsupported,
                  what + " block is snappy-compressed; TF writes checkpoint indexes uncompressed and hfx does not "
                         "decompress snappy",
                  path_);
    if (b[n] != 0) bad(what + " block has unknown compression type " + std::to_string(b[n]));
    return {b, n};
  }

  // Calls f(key, value_ptr, value_size) for every entry of a block, checking
  // the restart array and the prefix-compressed key encoding.
  template <class F>
  void scan_block(std::pair<const uint8_t*, std::size_t> blk, const std::string& what, F&& f) {
    const uint8_t* b = blk.first;
    const std::size_t n = blk.second;
    if (n < 4) bad(what + " block is too small (" + std::to_string(n) + " bytes) for its restart count");
    const uint32_t num_restarts = load_u32(b + n - 4);
    if (num_restarts == 0 || num_restarts > (n - 4) / 4)
      bad(what + " block has an impossible restart count " + std::to_string(num_restarts));
    const std::size_t data_end = n - 4 - 4 * std::size_t{num_restarts};
    const uint64_t key_budget = kKeyExpansion * index_file_->size() + kKeySlack;
    std::vector<uint32_t> restarts(num_restarts);
    for (uint32_t r = 0; r < num_restarts; ++r) {
      restarts[r] = load_u32(b + data_end + 4 * std::size_t{r});
      if ((r > 0 && restarts[r] <= restarts[r - 1]) || (restarts[r] >= data_end && !(data_end == 0 && r == 0)))
        bad(what + " block has an invalid restart point " + std::to_string(restarts[r]));
    }
    std::string key;
    std::size_t next_restart = 0;
    const uint8_t* p = b;
    const uint8_t* end = b + data_end;
    while (p < end) {
      const auto at = static_cast<std::size_t>(p - b);
      uint32_t shared, non_shared, value_len;
      if (!read_varint32(p, end, shared) || !read_varint32(p, end, non_shared) || !read_varint32(p, end, value_len))
        bad(what + " block: bad varint in the entry at offset " + std::to_string(at));
      const bool is_restart = next_restart < restarts.size() && restarts[next_restart] == at;
      if (next_restart < restarts.size() && restarts[next_restart] < at)
        bad(what + " block: restart point " + std::to_string(restarts[next_restart]) + " is not at an entry");
      if (is_restart) ++next_restart;
      if ((is_restart || at == 0) && shared != 0)
        bad(what + " block: the entry at restart point " + std::to_string(at) + " shares a key prefix");
      if (shared > key.size())
        bad(what + " block: entry at offset " + std::to_string(at) + " shares " + std::to_string(shared) +
            " bytes of a " + std::to_string(key.size()) + "-byte previous key");
      if (uint64_t{non_shared} + value_len > static_cast<uint64_t>(end - p))
        bad(what + " block: entry at offset " + std::to_string(at) + " runs past the end of the block");
      if (uint64_t{shared} + non_shared > kMaxKey)
        bad(what + " block: key of " + std::to_string(uint64_t{shared} + non_shared) + " bytes exceeds the " +
            std::to_string(kMaxKey) + "-byte limit");
      key.resize(shared);
      key.append(reinterpret_cast<const char*>(p), non_shared);
      key_bytes_ += key.size();
      if (key_bytes_ > key_budget)
        bad("the table's prefix-compressed keys expand to more than " + std::to_string(key_budget) +
            " bytes (" + std::to_string(kKeyExpansion) + "x the file size): not a checkpoint index");
      p += non_shared;
      f(key, p, std::size_t{value_len});
      p += value_len;
    }
    if (next_restart != restarts.size() && data_end != 0)
      bad(what + " block: restart point " + std::to_string(restarts[next_restart]) + " is not at an entry");
  }

  void read_table() {
    const std::size_t fsize = index_file_->size();
    if (fsize < kFooterSize)
      bad("file too small (" + std::to_string(fsize) + " bytes) for a table footer (" + std::to_string(kFooterSize) +
          " bytes)");
    const uint8_t* footer = index_file_->data() + fsize - kFooterSize;
    const uint64_t magic = uint64_t{load_u32(footer + 40)} | uint64_t{load_u32(footer + 44)} << 32;
    if (magic != kTableMagic) bad("bad table magic number in the footer: not a TF checkpoint index (or truncated)");
    const uint8_t* fp = footer;
    const Handle meta = decode_handle(fp, footer + 40, "metaindex");
    const Handle index = decode_handle(fp, footer + 40, "index");
    (void)read_block(meta, "metaindex");  // unused by bundles (no filters), but checksummed like the rest
    const auto index_block = read_block(index, "index");

    uint64_t next_free = 0;  // data blocks must be in file order and must not overlap
    std::string prev_key;
    bool first = true;
    std::size_t count = 0;
    scan_block(index_block, "index", [&](const std::string& sep, const uint8_t* v, std::size_t vn) {
      const uint8_t* vend = v + vn;
      const Handle h = decode_handle(v, vend, "data");
      if (v != vend) bad("index block entry holds " + std::to_string(vend - v) + " bytes after its block handle");
      if (h.offset < next_free)
        bad("data block at offset " + std::to_string(h.offset) + " overlaps or precedes the previous block");
      const auto blk = read_block(h, "data");
      next_free = h.offset + h.size + kBlockTrailer;
      scan_block(blk, "data", [&](const std::string& key, const uint8_t* val, std::size_t n) {
        if (!first && key <= prev_key) bad("table keys are not strictly increasing", key);
        if (key > sep) bad("key sorts after its index block separator", key);
        if (++count > kMaxEntries) bad("more than " + std::to_string(kMaxEntries) + " entries");
        first = false;
        prev_key = key;
        on_entry(key, val, n);
      });
    });
  }

  // ---- protos ---------------------------------------------------------------
  void on_entry(const std::string& key, const uint8_t* v, std::size_t n) {
    if (key.empty()) return parse_header(v, n);
    if (!have_header_) bad("table entry before the bundle header", key);
    if (key[0] == '\0') return;  // a slice of a partitioned variable (see the file comment)

    Proto pr(v, n, "BundleEntryProto", path_, key);
    int32_t dtype = 0;
    Shape shape;
    bool unknown_rank = false;
    int64_t shard = 0, offset = 0, size = 0;
    uint32_t crc = 0;
    std::size_t slices = 0;
    while (pr.next()) {
      switch (pr.field()) {
        case 1: dtype = pr.int32("dtype"); break;
        case 2: {
          auto [sp, sn] = pr.bytes();
          parse_shape(sp, sn, key, shape, unknown_rank);
          break;
        }
        case 3: shard = pr.int32("shard_id"); break;
        case 4: offset = pr.int64(); break;
        case 5: size = pr.int64(); break;
        case 6: crc = pr.fixed32(); break;
        case 7:
          (void)pr.bytes();
          ++slices;
          break;
        default: pr.skip();
      }
    }
    const char* tf_name = tf_dtype_name(dtype);
    const auto dt = tf_name ? dtype_from_tf(tf_name) : std::nullopt;
    if (slices > 0) {
      unsupported_[key] = "partitioned variable (" + std::to_string(slices) +
                          " slices): hfx does not reassemble sliced TF1 variables";
      return;
    }
    if (!dt) {
      unsupported_[key] = std::string("dtype ") + (tf_name ? tf_name : "enum " + std::to_string(dtype)) +
                          (dtype == 7 ? " (string tensor, e.g. optimizer or object-graph bookkeeping)" : "") +
                          " is not a numeric type hfx reads";
      return;
    }
    if (unknown_rank) bad("shape has unknown rank", key);
    if (shard < 0 || shard >= num_shards_)
      bad("shard_id " + std::to_string(shard) + " outside [0, " + std::to_string(num_shards_) + ")", key);
    if (offset < 0 || size < 0)
      bad("negative offset " + std::to_string(offset) + " or size " + std::to_string(size), key);
    int64_t numel;
    try {
      numel = shape_numel(shape);
    } catch (const Error& err) {
      bad(err.message(), key);
    }
    const uint64_t es = dtype_size(*dt);
    if (static_cast<uint64_t>(numel) > (uint64_t{1} << 62) / es || static_cast<uint64_t>(numel) * es != static_cast<uint64_t>(size))
      bad("dtype " + std::string(tf_name) + " x shape " + shape_str(shape) + " does not match byte size " +
              std::to_string(size),
          key);
    add_entry({key, *dt, std::move(shape)});  // where its data lies is set by open_shards()
    data_.push_back({shard, static_cast<uint64_t>(offset), static_cast<uint64_t>(size), internal::crc32c_unmask(crc)});
  }

  void parse_shape(const uint8_t* p, std::size_t n, const std::string& key, Shape& shape, bool& unknown_rank) const {
    Proto pr(p, n, "TensorShapeProto", path_, key);
    while (pr.next()) {
      if (pr.field() == 2) {
        auto [dp, dn] = pr.bytes();
        Proto dim(dp, dn, "TensorShapeProto.Dim", path_, key);
        int64_t size = 0;
        while (dim.next()) {
          if (dim.field() == 1) size = dim.int64();
          else dim.skip();
        }
        if (size < 0) bad("shape has an unknown or negative dimension (" + std::to_string(size) + ")", key);
        if (shape.size() >= kMaxRank) bad("shape has more than " + std::to_string(kMaxRank) + " dimensions", key);
        shape.push_back(size);
      } else if (pr.field() == 3) {
        unknown_rank = pr.varint() != 0;
      } else {
        pr.skip();
      }
    }
  }

  void parse_header(const uint8_t* v, std::size_t n) {
    static const std::string kHeader = "(bundle header)";
    Proto pr(v, n, "BundleHeaderProto", path_, kHeader);
    int32_t endianness = 0, min_consumer = 0;
    num_shards_ = 0;
    while (pr.next()) {
      if (pr.field() == 1) {
        num_shards_ = pr.int32("num_shards");
      } else if (pr.field() == 2) {
        endianness = pr.int32("endianness");
      } else if (pr.field() == 3) {  // VersionDef {producer = 1, min_consumer = 2, bad_consumers = 3}
        auto [vp, vn] = pr.bytes();
        Proto ver(vp, vn, "VersionDef", path_, kHeader);
        while (ver.next()) {
          if (ver.field() == 1) producer_ = ver.int32("producer");
          else if (ver.field() == 2) min_consumer = ver.int32("min_consumer");
          else ver.skip();
        }
      } else {
        pr.skip();
      }
    }
    if (num_shards_ < 1 || num_shards_ > kMaxShards)
      bad("bundle header has num_shards " + std::to_string(num_shards_) + " (expected 1.." +
          std::to_string(kMaxShards) + ")");
    if (endianness != 0)
      throw_error(ErrorKind::Unsupported, "big-endian bundle (header endianness " + std::to_string(endianness) + ")",
                  path_);
    if (min_consumer > 1)  // kTensorBundleVersion == 1
      throw_error(ErrorKind::Unsupported,
                  "bundle format version needs a reader >= " + std::to_string(min_consumer) + " (hfx reads version 1)",
                  path_);
    have_header_ = true;
  }

  // ---- data files -------------------------------------------------------------
  static std::string data_name(const std::string& prefix, int64_t i, int64_t n) {
    auto pad5 = [](int64_t v) {  // %05d, as TF's DataFilename() prints it
      std::string s = std::to_string(v);
      return s.size() < 5 ? std::string(5 - s.size(), '0') + s : s;
    };
    return prefix + ".data-" + pad5(i) + "-of-" + pad5(n);
  }

  void open_shards() {
    shards_.resize(static_cast<std::size_t>(num_shards_));
    for (int64_t s = 0; s < num_shards_; ++s) {
      const std::string dp = data_name(prefix_, s, num_shards_);
      try {
        shards_[static_cast<std::size_t>(s)] = MappedFile::open(dp);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::NotFound) throw;
        throw_error(ErrorKind::NotFound,
                    "data shard " + std::to_string(s + 1) + " of " + std::to_string(num_shards_) + " is missing (index " +
                        path_ + ")",
                    dp);
      }
    }
    for (std::size_t i = 0; i < data_.size(); ++i) {
      const Entry& e = data_[i];
      const MappedFile& f = *shards_[static_cast<std::size_t>(e.shard)];
      if (e.offset > f.size() || e.size > f.size() - e.offset)
        throw_error(ErrorKind::Format,
                    "data [" + std::to_string(e.offset) + ", +" + std::to_string(e.size) + ") runs past the end of the data file (" +
                        std::to_string(f.size()) + " bytes)",
                    f.path(), entries_[i].name);
      set_ranges(i, shards_[static_cast<std::size_t>(e.shard)], {{e.offset, e.size}});
    }
  }

  std::string prefix_;
  std::shared_ptr<MappedFile> index_file_;
  uint64_t key_bytes_ = 0;  // total reconstructed key bytes (see kKeyExpansion)
  bool have_header_ = false;
  int64_t num_shards_ = 0;
  int32_t producer_ = 0;
  std::vector<Entry> data_;  // parallel to entries_
  std::map<std::string, std::string> unsupported_;  // name -> why get() refuses it
  std::vector<std::shared_ptr<MappedFile>> shards_;
};

}  // namespace

std::unique_ptr<TensorSource> open_tf1_checkpoint(const std::string& prefix) {
  return std::make_unique<Tf1Source>(prefix);
}

}  // namespace hfx
