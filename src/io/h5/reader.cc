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
// Security and validation: plugin filters are never loaded
// (H5PLset_loading_state(0)); only HDF5's built-in filters are accepted; only
// hard links are followed (an external or soft link, external raw storage or a
// virtual dataset is refused with ErrorKind::Security); dataset type, rank,
// dims, byte size and allocated storage are checked before anything is
// allocated or read. Big-endian data is converted by HDF5 on read (the memory
// type is always little-endian native).
//
// A contiguous, unfiltered dataset stored in the little-endian memory type
// (what Keras and h5py write) is handed out as a view of the mapped file at
// its H5Dget_offset (checked against the file size), without libhdf5 or its
// lock; chunked, filtered and big-endian datasets are read into owned
// buffers. No tensor data is read before get().
//
// libhdf5 here is the serial (non thread-safe) build: every HDF5 call in this
// file runs under one process-wide mutex. HDF5's automatic error printing is
// switched off (errors become hfx::Error with HDF5's innermost message).
#include <hdf5.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <mutex>
#include <set>

#include "hfx/formats.h"
#include "io/indexed_source.h"

namespace hfx {

namespace {

std::mutex& h5_mutex() {
  static std::mutex m;
  return m;
}

// Variable-length strings -> an opaque type tagged kRawHeapIdTag: leaves the
// file form (heap IDs) as it is. See RawChecks below.
constexpr const char* kRawHeapIdTag = "hfx: variable-length heap IDs as stored";

herr_t raw_heap_id_conv(hid_t src, hid_t dst, H5T_cdata_t* cdata, size_t, size_t, size_t, void*, void*, hid_t) {
  switch (cdata->command) {
    case H5T_CONV_INIT: {
      cdata->need_bkg = H5T_BKG_NO;
      if (H5Tget_class(dst) != H5T_OPAQUE || H5Tis_variable_str(src) <= 0) return -1;
      char* tag = H5Tget_tag(dst);
      const bool ours = tag && std::strcmp(tag, kRawHeapIdTag) == 0;
      H5free_memory(tag);
      return ours ? 0 : -1;
    }
    case H5T_CONV_CONV:  // in place: the file form is the result, when the sizes agree
      return H5Tget_size(src) == H5Tget_size(dst) ? 0 : -1;
    default: return 0;
  }
}

// Called with the mutex held.
void h5_init() {
  static bool done = false;
  if (done) return;
  H5open();
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  H5PLset_loading_state(0);
  // Variable-length strings -> their heap IDs as stored (RawChecks below).
  hid_t str = H5Tcopy(H5T_C_S1), raw = H5Tcreate(H5T_OPAQUE, 16);
  H5Tset_size(str, H5T_VARIABLE);
  H5Tset_tag(raw, kRawHeapIdTag);
  H5Tregister(H5T_PERS_SOFT, "hfx raw heap IDs", str, raw, raw_heap_id_conv);
  H5Tclose(str);
  H5Tclose(raw);
  done = true;
}

herr_t innermost_cb(unsigned n, const H5E_error2_t* e, void* data) {
  if (n == 0 && e && e->desc) *static_cast<std::string*>(data) = e->desc;
  return 0;
}

// HDF5's innermost error message (where the problem was detected), cleared.
std::string h5_err() {
  std::string s;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_cb, &s);
  H5Eclear2(H5E_DEFAULT);
  return s.empty() ? std::string() : " (HDF5: " + s + ")";
}

// Owns one HDF5 identifier.
class H {
 public:
  H() = default;
  H(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  H(const H&) = delete;
  H& operator=(const H&) = delete;
  H(H&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  H& operator=(H&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  ~H() { reset(); }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }
  hid_t release() {
    hid_t id = id_;
    id_ = -1;
    return id;
  }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

herr_t close_object(hid_t id) { return H5Oclose(id); }

constexpr std::size_t kMaxNameLen = 1 << 16;      // Keras' per-name limit is 64512 bytes
// Names in one attribute: Keras splits a list once numpy's fixed-width array
// of it passes 64512 bytes, so no attribute it writes holds more than 64512.
// (A corrupt count makes libhdf5 walk the global heap per element: bound it.)
constexpr hsize_t kMaxListLen = 64512;
constexpr std::size_t kMaxAttrBytes = 64u << 20;  // one fixed-length string attribute
constexpr int kMaxRank = 32;                      // H5S_MAX_RANK

std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (true) {
    std::size_t e = p.find('/', b);
    out.push_back(p.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}

// A dataset/group path relative to a group: non-empty components, no '.'
// (HDF5 would resolve it to the current group), no leading '/' (that would
// escape to the root).
void check_rel_path(const std::string& p, const std::string& file, const std::string& what) {
  if (p.empty() || p.size() > kMaxNameLen)
    throw_error(ErrorKind::Format, what + " name is empty or longer than 64 KiB", file, p.substr(0, 200));
  for (const auto& c : split_path(p))
    if (c.empty() || c == ".")
      throw_error(ErrorKind::Format, what + " path has an empty or '.' component", file, p);
}

// Opens `rel` below `start` one component at a time, following only hard
// links (checked before each step, so an external link is never traversed).
// Returns the object and its identifier type. `check_group` runs on each
// group before a name is looked up in it (RawChecks::check_attributes, which
// also checks the group's local heap).
std::pair<H, H5I_type_t> open_rel(hid_t start, const std::string& rel, const std::string& file,
                                  const std::string& tensor, const std::function<void(hid_t, const std::string&)>& check_group) {
  H cur;
  hid_t at = start;
  const auto comps = split_path(rel);
  for (std::size_t i = 0; i < comps.size(); ++i) {
    const std::string& c = comps[i];
    check_group(at, "the group holding '" + c + "' on the path '" + rel + "'");
    htri_t ex = H5Lexists(at, c.c_str(), H5P_DEFAULT);
    if (ex < 0) throw_error(ErrorKind::Format, "cannot look up '" + c + "'" + h5_err(), file, tensor);
    if (ex == 0) throw_error(ErrorKind::Format, "no object named '" + c + "' on the path '" + rel + "'", file, tensor);
    H5L_info_t li;
    if (H5Lget_info(at, c.c_str(), &li, H5P_DEFAULT) < 0)
      throw_error(ErrorKind::Format, "cannot read link '" + c + "'" + h5_err(), file, tensor);
    if (li.type != H5L_TYPE_HARD)
      throw_error(ErrorKind::Security,
                  std::string("'") + c + "' is " + (li.type == H5L_TYPE_EXTERNAL ? "an external link" : li.type == H5L_TYPE_SOFT ? "a soft link" : "a user-defined link") +
                      "; only hard links inside the file are followed",
                  file, tensor);
    H next(H5Oopen(at, c.c_str(), H5P_DEFAULT), close_object);
    if (!next.ok()) throw_error(ErrorKind::Format, "cannot open '" + c + "'" + h5_err(), file, tensor);
    H5I_type_t t = H5Iget_type(next.get());
    if (i + 1 < comps.size() && t != H5I_GROUP)
      throw_error(ErrorKind::Format, "'" + c + "' on the path '" + rel + "' is not a group", file, tensor);
    cur = std::move(next);
    at = cur.get();
  }
  H5I_type_t t = H5Iget_type(cur.get());
  return {std::move(cur), t};
}

// ---- global heap: variable-length strings ------------------------------------
//
// Keras' layer_names / weight_names (and backend, keras_version) are
// variable-length strings. In the file such an attribute holds one heap ID
// per element — the string's length (4 bytes), the file address of a global
// heap collection ("GCOL") and the object's index in that collection (4
// bytes) — and the bytes live in the collection. libhdf5 1.10.8 (Debian 12)
// follows heap IDs without checking them:
//  * its collection parser (H5HG__cache_heap_deserialize) steps through the
//    objects by their decoded sizes: a free-space object (index 0) of size 0
//    never advances (the loop never ends); an object larger than the rest of
//    the collection is later copied out past the collection buffer;
//  * H5HG_read checks the object index only with assert() (compiled out): an
//    index past the collection's object table, or naming an unused slot, is
//    dereferenced;
//  * H5T__conv_vlen reads the object into a buffer sized from the heap ID's
//    length, while H5HG_read copies the object's own size.
// So before a variable-length attribute is converted, its heap IDs are read
// as stored and each one is checked against the collection it names, walked
// the way that parser walks it (collections as libhdf5 writes them: at least
// H5HG_MINSIZE bytes, not overlapping each other).
//
// Why by hand: the HDF5 API has no call that returns raw heap IDs (H5Aread
// always converts variable-length data through the heap). They are obtained
// through the API's own extension point instead of parsing object headers: a
// conversion function registered for variable-length string -> an opaque type
// (tagged kRawHeapIdTag) of the heap ID's size is handed the attribute's bytes
// in their file form, and leaves them as they are. libhdf5 stays the only
// parser of object headers and attribute storage (compact or dense), so the
// heap IDs checked are exactly those its own conversion would follow.
constexpr uint64_t kMinCollection = 4096;  // H5HG_MINSIZE: libhdf5 never writes a smaller collection

// Checks on the file's bytes that libhdf5 1.10.8 skips: global heap IDs
// (above) and attribute messages (check_attributes).
class RawChecks {
 public:
  // Called with the mutex held.
  RawChecks(const std::string& path, hid_t file, std::shared_ptr<MappedFile> map) : path_(path), map_(std::move(map)) {
    H fcpl(H5Fget_create_plist(file), H5Pclose);
    hsize_t userblock = 0;
    if (!fcpl.ok() || H5Pget_sizes(fcpl.get(), &sizeof_addr_, &sizeof_size_) < 0 || H5Pget_userblock(fcpl.get(), &userblock) < 0 ||
        sizeof_addr_ < 2 || sizeof_addr_ > 8 || sizeof_size_ < 2 || sizeof_size_ > 8)
      throw_error(ErrorKind::Format, "cannot read the file's address and size widths" + h5_err(), path);
    base_ = userblock;  // libhdf5 takes addresses relative to the superblock, which follows the user block
    raw_type_ = H(H5Tcreate(H5T_OPAQUE, 8 + sizeof_addr_), H5Tclose);
    if (!raw_type_.ok() || H5Tset_tag(raw_type_.get(), kRawHeapIdTag) < 0)
      throw_error(ErrorKind::Format, "cannot set up the heap ID type" + h5_err(), path);
  }

  // Checks the heap IDs of variable-length string attribute `attr` (n
  // elements) before libhdf5 follows them; `what` names it in errors.
  void check(hid_t attr, hsize_t n, const std::string& what) {
    const std::size_t id_size = 8 + sizeof_addr_;
    std::vector<uint8_t> raw(static_cast<std::size_t>(n) * id_size);
    if (H5Aread(attr, raw_type_.get(), raw.data()) < 0)
      throw_error(ErrorKind::Format, what + ": cannot read its heap IDs" + h5_err(), path_);
    for (std::size_t i = 0; i < n; ++i) {
      const uint8_t* e = raw.data() + i * id_size;
      const uint64_t len = le(e, 4), addr = le(e + 4, sizeof_addr_), idx = le(e + 4 + sizeof_addr_, 4);
      if (addr == 0) continue;  // a null string: nothing is read
      const Collection& c = collection(addr, what);
      const std::string elem = what + ", element " + std::to_string(i) + ": ";
      if (idx == 0 || idx >= c.size_of.size() || c.size_of[idx] == kUnused)
        throw_error(ErrorKind::Format, elem + "names object " + std::to_string(idx) + " of the global heap collection at offset " +
                                           std::to_string(c.offset) + ", which has no such object", path_);
      if (c.size_of[idx] != len)
        throw_error(ErrorKind::Format, elem + "string of " + std::to_string(len) + " bytes, but global heap object " +
                                           std::to_string(idx) + " at offset " + std::to_string(c.offset) + " holds " +
                                           std::to_string(c.size_of[idx]), path_);
    }
  }

  // Every attribute message in `obj`'s object header, checked before libhdf5
  // decodes any of them (H5Aexists and H5Aopen decode each one while looking
  // for a name). libhdf5 1.10.8's attribute decoder (H5O_attr_decode) copies
  // the name with strdup and the data (points x type size) from after the
  // datatype and dataspace without checking either against the message, and
  // its datatype and dataspace decoders trust the sizes they find: a field
  // that runs past the message reads past the object header chunk (found by
  // keras_h5_fuzz). So each attribute message must hold its NUL-terminated
  // name, a datatype of a class Keras attributes use (integer, float, string,
  // variable-length string or sequence of those) encoded within its field, a
  // dataspace of at most 32 dims within its field, and all of its data.
  // Attributes in dense storage (a fractal heap: v2 object headers with many
  // attributes; h5py's default format never writes them) and shared
  // attribute parts are refused. Object headers v1 and v2 ("OHDR") with their
  // continuation chunks are walked; what libhdf5 itself refuses (bad
  // signatures, versions, message sizes) may be refused here first.
  void check_attributes(hid_t obj, const std::string& where) {
    H5O_info_t oi;
    if (H5Oget_info2(obj, &oi, H5O_INFO_BASIC) < 0)
      throw_error(ErrorKind::Format, "cannot locate the object header of " + where + h5_err(), path_);
    if (!headers_.insert(oi.addr).second) return;
    const std::string at = where + " (object header at address " + std::to_string(oi.addr) + ")";
    const uint8_t* d = map_->data();
    const uint64_t n = map_->size();
    auto bad = [&](const std::string& why) { throw_error(ErrorKind::Format, at + ": " + why, path_); };
    // Link info and attribute info messages: version, flags, a maximum creation
    // index (`index_bytes`, when flag bit 0 is set), then the fractal heap
    // address, defined only for dense storage, which is refused.
    auto refuse_dense = [&](const uint8_t* m, uint64_t size, uint64_t index_bytes, const char* message, const char* what) {
      if (size < 2) bad(std::string("short ") + message + " message");
      const uint64_t off = 2 + ((m[1] & 0x01) ? index_bytes : 0);
      if (size < off + sizeof_addr_) bad(std::string("short ") + message + " message");
      if (le(m + off, sizeof_addr_) != undef_addr()) throw_error(ErrorKind::Unsupported, at + ": " + what, path_);
    };
    // A file range [addr, addr + len) (addr relative to the base), as offsets.
    auto range = [&](uint64_t addr, uint64_t len) {
      if (addr >= n || base_ > n - addr || len > n - (base_ + addr)) bad("a header chunk lies past the end of the file");
      return base_ + addr;
    };
    const uint64_t start = range(oi.addr, 16);
    bool v2 = false, crt_order = false;
    std::vector<std::pair<uint64_t, uint64_t>> chunks;  // message areas, [begin, end) in the file
    if (std::memcmp(d + start, "OHDR", 4) == 0) {
      v2 = true;
      const uint8_t flags = d[start + 5];
      if (d[start + 4] != 2) bad("object header version is not 2");
      crt_order = flags & 0x04;
      uint64_t p = start + 6 + ((flags & 0x20) ? 16 : 0) + ((flags & 0x10) ? 4 : 0);
      const std::size_t w = std::size_t{1} << (flags & 3);
      if (p + w > n) bad("object header past the end of the file");
      const uint64_t size = le(d + p, w);
      p += w;
      if (size > n - p) bad("object header past the end of the file");
      chunks.emplace_back(p, p + size);
    } else {
      if (d[start] != 1) bad("object header version is not 1");
      const uint64_t size = le(d + start + 8, 4);
      if (size > n - (start + 16)) bad("object header past the end of the file");
      chunks.emplace_back(start + 16, start + 16 + size);
    }
    const std::size_t mhdr = v2 ? (crt_order ? 6 : 4) : 8;
    uint64_t walked = 0;  // a header's chunks do not overlap: together they fit in the file
    for (std::size_t c = 0; c < chunks.size(); ++c) {
      const auto [b, e] = chunks[c];
      walked += e - b;
      if (c > 4096 || walked > n) bad("continuation chunks add up to more than the file");
      for (uint64_t p = b; e - p >= mhdr && p < e;) {
        const unsigned type = v2 ? d[p] : static_cast<unsigned>(le(d + p, 2));
        const uint64_t size = le(d + p + (v2 ? 1 : 2), 2);
        const uint8_t mflags = d[p + (v2 ? 3 : 4)];
        const uint64_t body = p + mhdr;
        if (size > e - body) bad("a message runs past its chunk");
        const uint8_t* m = d + body;
        if (type == 0x10) {  // continuation
          if (size < sizeof_addr_ + sizeof_size_) bad("short continuation message");
          const uint64_t caddr = le(m, sizeof_addr_), clen = le(m + sizeof_addr_, sizeof_size_);
          const uint64_t cb = range(caddr, clen);
          if (v2) {
            if (clen < 8 || std::memcmp(d + cb, "OCHK", 4) != 0) bad("continuation chunk without its signature");
            chunks.emplace_back(cb + 4, cb + clen - 4);
          } else {
            chunks.emplace_back(cb, cb + clen);
          }
        } else if (type == 0x0C) {
          if (mflags & 0x02) throw_error(ErrorKind::Unsupported, at + ": shared attribute message", path_);
          check_attribute_message(m, size, at);
        } else if (type == 0x11) {  // symbol table: the group's B-tree and local heap (link names)
          if (size < 2 * sizeof_addr_) bad("short symbol table message");
          check_local_heap(le(m + sizeof_addr_, sizeof_addr_), at);
        } else if (type == 0x02) {  // link info: the group's links in dense storage when its fractal heap address is defined
          // libhdf5 1.10.8 then looks names up through a v2 B-tree whose header it
          // reads without checking (keras_h5_fuzz: a memcpy from address 0 in
          // H5F__accum_read under H5B2_open; link_info_dense.h5). h5py's default
          // file format keeps links in symbol tables (message 0x11, checked above).
          refuse_dense(m, size, 8, "link info", "links in dense storage (a fractal heap and v2 B-tree; h5py's default file format never writes it)");
        } else if (type == 0x15) {  // attribute info: dense storage when its fractal heap address is defined
          refuse_dense(m, size, 2, "attribute info", "attributes in dense storage (a fractal heap; h5py's default file format never writes it)");
        }
        p = body + size;
      }
    }
  }

 private:
  static constexpr uint64_t kUnused = ~uint64_t{0};

  uint64_t undef_addr() const { return sizeof_addr_ == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * sizeof_addr_)) - 1; }

  // A group's local heap, before libhdf5 1.10.8 loads it to look a name up:
  // H5HL__fl_deserialize follows the free list without a loop check,
  // allocating a block per step (keras_h5_fuzz: 1.4 GB in 44M blocks;
  // local_heap_free_loop.h5). Walked as it walks it, plus the loop check.
  void check_local_heap(uint64_t addr, const std::string& at) {
    if (!heaps_.insert(addr).second) return;
    const uint8_t* d = map_->data();
    const uint64_t n = map_->size();
    const std::string where = at + ", local heap at address " + std::to_string(addr);
    auto bad = [&](const std::string& why) { throw_error(ErrorKind::Format, where + ": " + why, path_); };
    const uint64_t hdr = 8 + 2 * sizeof_size_ + sizeof_addr_;
    if (addr >= n || base_ > n - addr || n - (base_ + addr) < hdr) bad("past the end of the file");
    const uint8_t* h = d + base_ + addr;
    if (std::memcmp(h, "HEAP", 4) != 0 || h[4] != 0) bad("no local heap signature/version 0");
    const uint64_t dsize = le(h + 8, sizeof_size_), head = le(h + 8 + sizeof_size_, sizeof_size_);
    const uint64_t daddr = le(h + 8 + 2 * sizeof_size_, sizeof_addr_);
    if (daddr >= n || base_ > n - daddr || dsize > n - (base_ + daddr)) bad("data segment past the end of the file");
    const uint8_t* seg = d + base_ + daddr;
    std::set<uint64_t> seen;
    for (uint64_t fb = head; fb != 1;) {  // H5HL_FREE_NULL
      if (fb >= dsize || dsize - fb < 2 * sizeof_size_) bad("free list entry " + std::to_string(fb) + " outside the heap");
      if (!seen.insert(fb).second) bad("free list loops");
      const uint64_t next = le(seg + fb, sizeof_size_), size = le(seg + fb + sizeof_size_, sizeof_size_);
      if (next == 0 || size > dsize - fb) bad("bad free list entry at " + std::to_string(fb));
      fb = next;
    }
  }

  void check_attribute_message(const uint8_t* m, uint64_t size, const std::string& at) {
    auto bad = [&](const std::string& why) {
      throw_error(ErrorKind::Format, at + ": attribute message " + why + " (libhdf5 1.10.8 would read past it)", path_);
    };
    if (size < 9) bad("shorter than its header");
    const unsigned version = m[0];
    if (version < 1 || version > 3) bad("of unknown version " + std::to_string(version));
    if (version >= 2 && (m[1] & 0x03)) throw_error(ErrorKind::Unsupported, at + ": attribute with a shared datatype or dataspace", path_);
    const uint64_t name_size = le(m + 2, 2), dt_size = le(m + 4, 2), ds_size = le(m + 6, 2);
    uint64_t off = version == 3 ? 9 : 8;
    auto field = [&](uint64_t len, const char* what) {
      const uint64_t padded = version == 1 ? (len + 7) & ~uint64_t{7} : len;
      if (padded > size - off) bad(std::string("whose ") + what + " runs past it");
      const uint64_t f = off;
      off += padded;
      return f;
    };
    const uint64_t name = field(name_size, "name");
    if (name_size == 0 || m[name + name_size - 1] != 0) bad("whose name is not NUL-terminated");
    const std::string aname(reinterpret_cast<const char*>(m + name));
    const uint64_t dt = field(dt_size, "datatype");
    const uint64_t ds = field(ds_size, "dataspace");
    const uint64_t elem = datatype_element(m + dt, dt_size, 0, at, aname);
    const uint64_t points = dataspace_points(m + ds, ds_size, at, aname);
    if (elem != 0 && points > (size - off) / elem) bad("for '" + aname + "' whose data runs past it");
  }

  // On-disk element size of an attribute's datatype; only classes a Keras
  // attribute has, whose encodings libhdf5 decodes at fixed sizes.
  uint64_t datatype_element(const uint8_t* t, uint64_t len, int depth, const std::string& at, const std::string& aname) {
    auto bad = [&](const std::string& why) {
      throw_error(ErrorKind::Format, at + ": attribute '" + aname + "': datatype " + why + " (libhdf5 1.10.8 would read past it)", path_);
    };
    if (len < 8) bad("shorter than its header");
    const unsigned cls = t[0] & 0x0f, version = t[0] >> 4;
    if (version < 1 || version > 3) bad("of unknown version " + std::to_string(version));
    const uint64_t size = le(t + 4, 4);
    switch (cls) {
      case 0:  // integer: bit offset, precision
        if (len < 12) bad("runs past its field");
        return size;
      case 1:  // float: bit offset, precision, exponent and mantissa fields, bias
        if (len < 20) bad("runs past its field");
        return size;
      case 3: return size;  // fixed-length string
      case 9:               // variable-length sequence or string: a base type, then heap IDs on disk
        if (depth > 0) break;
        (void)datatype_element(t + 8, len - 8, depth + 1, at, aname);
        if (size != 8 + sizeof_addr_) bad("of variable length with an element size other than " + std::to_string(8 + sizeof_addr_));
        return size;
      default: break;
    }
    throw_error(ErrorKind::Unsupported, at + ": attribute '" + aname + "' has HDF5 type class " + std::to_string(cls) +
                                            (depth ? " inside a variable-length type" : "") + ", which hfx does not read", path_);
  }

  uint64_t dataspace_points(const uint8_t* s, uint64_t len, const std::string& at, const std::string& aname) {
    auto bad = [&](const std::string& why) {
      throw_error(ErrorKind::Format, at + ": attribute '" + aname + "': dataspace " + why + " (libhdf5 1.10.8 would read past it)", path_);
    };
    if (len < 4) bad("shorter than its header");
    const unsigned version = s[0], rank = s[1], flags = s[2];
    if (version != 1 && version != 2) bad("of unknown version " + std::to_string(version));
    if (rank > 32) bad("of rank " + std::to_string(rank));
    if (flags & ~1u) bad("with a permutation or unknown flags");
    const uint64_t hdr = version == 1 ? 8 : 4;
    const unsigned kind = version == 1 ? (rank ? 1 : 0) : s[3];  // 0 scalar, 1 simple, 2 null
    if (kind > 2) bad("of unknown kind");
    if (hdr + uint64_t{rank} * sizeof_size_ * ((flags & 1) ? 2 : 1) > len) bad("runs past its field");
    if (kind == 2) return 0;
    uint64_t points = 1;
    for (unsigned i = 0; i < rank; ++i) {
      const uint64_t dim = le(s + hdr + i * sizeof_size_, sizeof_size_);
      if (dim != 0 && points > (uint64_t{1} << 62) / dim) bad("with too many points");
      points *= dim;
    }
    return points;
  }

  struct Collection {
    uint64_t offset = 0, end = 0;   // in the file
    std::vector<uint64_t> size_of;  // by object index: its size, or kUnused
  };

  uint64_t le(const uint8_t* p, std::size_t bytes) const {
    uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v |= uint64_t{p[i]} << (8 * i);
    return v;
  }

  // The collection at file address `addr`, walked (once) as libhdf5 1.10.8's
  // H5HG__cache_heap_deserialize walks it: object table by index (the last
  // object with an index wins), free space as index 0.
  const Collection& collection(uint64_t addr, const std::string& what) {
    if (auto it = by_addr_.find(addr); it != by_addr_.end()) return it->second;
    const uint8_t* d = map_->data();
    const uint64_t n = map_->size();
    const uint64_t hdr = 8 + sizeof_size_, objhdr = 8 + sizeof_size_;
    if (addr >= n || base_ > n - addr || n - (base_ + addr) < hdr)
      throw_error(ErrorKind::Format, what + ": names a global heap collection at address " + std::to_string(addr) +
                                         ", past the end of the file", path_);
    const uint64_t start = base_ + addr;
    const std::string at = what + ": global heap collection at offset " + std::to_string(start);
    if (std::memcmp(d + start, "GCOL", 4) != 0 || d[start + 4] != 1)
      throw_error(ErrorKind::Format, at + " is not a version-1 global heap collection", path_);
    const uint64_t size = le(d + start + 8, sizeof_size_);
    if (size < kMinCollection || size > n - start)
      throw_error(ErrorKind::Format, at + " claims " + std::to_string(size) + " bytes (at least " + std::to_string(kMinCollection) +
                                         ", within the file)", path_);
    const uint64_t end = start + size;
    // Collections libhdf5 writes never overlap (this also bounds the work to one pass over the file).
    if (auto next = spans_.upper_bound(start); (next != spans_.end() && next->first < end) ||
                                               (next != spans_.begin() && std::prev(next)->second > start))
      throw_error(ErrorKind::Format, at + " overlaps another collection", path_);
    Collection c;
    c.offset = start;
    c.end = end;
    for (uint64_t p = start + hdr; p < end;) {
      if (end - p < objhdr) break;  // tail too small for an object header: free space
      const uint64_t idx = le(d + p, 2), osize = le(d + p + 8, sizeof_size_);
      uint64_t need;
      if (idx > 0) {
        if (osize > end - p - objhdr)
          throw_error(ErrorKind::Format, at + ": object " + std::to_string(idx) + " is larger than its collection", path_);
        need = objhdr + ((osize + 7) & ~uint64_t{7});
        if (idx >= c.size_of.size()) c.size_of.resize(idx + 1, kUnused);
        c.size_of[idx] = osize;
      } else {
        need = osize;
        if (need == 0 || need > end - p)
          throw_error(ErrorKind::Format, at + ": free-space object of size " + std::to_string(osize) +
                                             " (libhdf5 would loop or read past the collection)", path_);
      }
      p += need;
    }
    spans_.emplace(start, end);
    return by_addr_.emplace(addr, std::move(c)).first->second;
  }

  std::string path_;
  std::size_t sizeof_addr_ = 8, sizeof_size_ = 8;
  uint64_t base_ = 0;
  std::shared_ptr<MappedFile> map_;
  H raw_type_;
  std::map<uint64_t, Collection> by_addr_;  // by heap-ID address
  std::map<uint64_t, uint64_t> spans_;       // file offset -> end of each collection walked
  std::set<uint64_t> headers_;               // object headers whose attribute messages were checked
  std::set<uint64_t> heaps_;                 // local heaps whose free lists were checked
};

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

// One stage of a chunked dataset's filter pipeline that hfx decodes itself.
struct Filter {
  H5Z_filter_t id;
  unsigned cd0;  // first client value (shuffle: the element size)
};

struct DsInfo {
  DType dtype;
  Shape shape;
  H memtype;  // little-endian native type to read into
  // Chunked datasets are read by read_chunked, not H5Dread.
  H filetype;
  std::vector<Filter> filters;      // pipeline order (as written)
  std::vector<hsize_t> chunk;       // chunk dims (chunked layout only)
  std::vector<uint8_t> fill;        // one element of the user fill value in the file type; empty = zeros
  // Contiguous, unfiltered and stored exactly as read (little-endian): where
  // the data lies in the file, for a zero-copy view; else nullopt (H5Dread).
  std::optional<uint64_t> offset;
};

// Checks a dataset before anything is read: type, layout and storage (no
// external or virtual data), filters (built-ins only), rank, dims and byte
// size against the allocated storage and the file size.
DsInfo inspect(hid_t ds, uint64_t file_size, const std::string& file, const std::string& tensor) {
  // The type first: for a variable-length type H5Dget_create_plist would convert
  // the fill value through the global heap (unchecked heap IDs, see RawChecks).
  H type(H5Dget_type(ds), H5Tclose);
  if (!type.ok()) throw_error(ErrorKind::Format, "cannot read the dataset's type" + h5_err(), file, tensor);
  const H5T_class_t cls = H5Tget_class(type.get());
  const std::size_t tsize = H5Tget_size(type.get());
  DsInfo out{DType::F32, {}, {}, {}, {}, {}, {}, std::nullopt};
  if (cls == H5T_FLOAT) {
    if (tsize == 4) {
      out.dtype = DType::F32;
      out.memtype = H(H5Tcopy(H5T_NATIVE_FLOAT), H5Tclose);
    } else if (tsize == 8) {
      out.dtype = DType::F64;
      out.memtype = H(H5Tcopy(H5T_NATIVE_DOUBLE), H5Tclose);
    } else if (tsize == 2) {
      // numpy float16 as h5py writes it: IEEE binary16.
      std::size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
      H5Tget_fields(type.get(), &spos, &epos, &esize, &mpos, &msize);
      if (spos != 15 || epos != 10 || esize != 5 || mpos != 0 || msize != 10 || H5Tget_ebias(type.get()) != 15)
        throw_error(ErrorKind::Unsupported, "16-bit float dataset is not IEEE float16 (bfloat16 or custom layout)", file, tensor);
      out.dtype = DType::F16;
      out.memtype = H(H5Tcopy(type.get()), H5Tclose);
      H5Tset_order(out.memtype.get(), H5T_ORDER_LE);
    } else {
      throw_error(ErrorKind::Unsupported, std::to_string(tsize * 8) + "-bit float dataset", file, tensor);
    }
  } else if (cls == H5T_INTEGER) {
    const bool sgn = H5Tget_sign(type.get()) == H5T_SGN_2;
    hid_t native = -1;
    switch (tsize) {
      case 1: out.dtype = sgn ? DType::I8 : DType::U8; native = sgn ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8; break;
      case 2: out.dtype = sgn ? DType::I16 : DType::U16; native = sgn ? H5T_NATIVE_INT16 : H5T_NATIVE_UINT16; break;
      case 4: out.dtype = sgn ? DType::I32 : DType::U32; native = sgn ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT32; break;
      case 8: out.dtype = sgn ? DType::I64 : DType::U64; native = sgn ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64; break;
      default: throw_error(ErrorKind::Unsupported, std::to_string(tsize * 8) + "-bit integer dataset", file, tensor);
    }
    out.memtype = H(H5Tcopy(native), H5Tclose);
  } else {
    const char* what = cls == H5T_STRING ? "string" : cls == H5T_COMPOUND ? "compound" : cls == H5T_ENUM ? "enum (e.g. bool)"
                     : cls == H5T_ARRAY ? "array" : cls == H5T_VLEN ? "variable-length" : cls == H5T_REFERENCE ? "reference"
                     : cls == H5T_OPAQUE ? "opaque" : cls == H5T_BITFIELD ? "bitfield" : "unknown";
    throw_error(ErrorKind::Format, std::string("dataset has HDF5 type class ") + what +
                                       "; weights must be float16/32/64 or integers", file, tensor);
  }
  if (!out.memtype.ok()) throw_error(ErrorKind::Format, "cannot set up the memory type" + h5_err(), file, tensor);
  H dcpl(H5Dget_create_plist(ds), H5Pclose);
  if (!dcpl.ok()) throw_error(ErrorKind::Format, "cannot read dataset properties" + h5_err(), file, tensor);
  const int next = H5Pget_external_count(dcpl.get());
  if (next != 0) throw_error(ErrorKind::Security, "dataset keeps its data in external files; refused", file, tensor);
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout == H5D_VIRTUAL) throw_error(ErrorKind::Security, "virtual dataset (maps other files); refused", file, tensor);
  if (layout != H5D_COMPACT && layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED)
    throw_error(ErrorKind::Format, "dataset has an unknown storage layout" + h5_err(), file, tensor);
  const int nfilters = H5Pget_nfilters(dcpl.get());
  if (nfilters < 0) throw_error(ErrorKind::Format, "cannot read the dataset's filters" + h5_err(), file, tensor);
  if (nfilters > 0 && layout != H5D_CHUNKED) throw_error(ErrorKind::Format, "filters on a dataset that is not chunked", file, tensor);
  int ndeflate = 0;
  for (int i = 0; i < nfilters; ++i) {
    unsigned flags = 0, fconf = 0, cd[8] = {0};
    std::size_t nelem = 8;
    char fname[64] = {0};
    H5Z_filter_t id = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &nelem, cd, sizeof fname, fname, &fconf);
    const bool builtin = id == H5Z_FILTER_DEFLATE || id == H5Z_FILTER_SHUFFLE || id == H5Z_FILTER_FLETCHER32 ||
                         id == H5Z_FILTER_SZIP || id == H5Z_FILTER_NBIT || id == H5Z_FILTER_SCALEOFFSET;
    if (!builtin || H5Zfilter_avail(id) <= 0)
      throw_error(ErrorKind::Unsupported, "dataset uses HDF5 filter " + std::to_string(id) +
                                              " which is not a built-in filter available here (plugins are never loaded)", file, tensor);
    // hfx decodes the pipeline itself (read_chunked): only these three.
    if (id != H5Z_FILTER_DEFLATE && id != H5Z_FILTER_SHUFFLE && id != H5Z_FILTER_FLETCHER32)
      throw_error(ErrorKind::Unsupported, std::string("dataset uses HDF5 filter ") +
                                              (id == H5Z_FILTER_SZIP ? "szip" : id == H5Z_FILTER_NBIT ? "nbit" : "scaleoffset") + " (id " +
                                              std::to_string(id) + "); hfx decodes only deflate, shuffle and fletcher32", file, tensor);
    if (id == H5Z_FILTER_DEFLATE && ++ndeflate > 1)
      throw_error(ErrorKind::Unsupported, "dataset applies deflate twice", file, tensor);
    out.filters.push_back({id, nelem > 0 ? cd[0] : 0u});
  }
  if (layout == H5D_CHUNKED) {
    out.filetype = H(H5Tcopy(type.get()), H5Tclose);
    if (!out.filetype.ok()) throw_error(ErrorKind::Format, "cannot copy the dataset's type" + h5_err(), file, tensor);
    // What libhdf5 reads for a chunk never written: the user's fill value, else zeros.
    H5D_fill_value_t fv = H5D_FILL_VALUE_UNDEFINED;
    if (H5Pfill_value_defined(dcpl.get(), &fv) < 0) throw_error(ErrorKind::Format, "cannot read the fill value" + h5_err(), file, tensor);
    if (fv == H5D_FILL_VALUE_USER_DEFINED) {
      out.fill.assign(tsize, 0);
      if (H5Pget_fill_value(dcpl.get(), out.filetype.get(), out.fill.data()) < 0)
        throw_error(ErrorKind::Format, "cannot read the fill value" + h5_err(), file, tensor);
      if (std::all_of(out.fill.begin(), out.fill.end(), [](uint8_t b) { return b == 0; })) out.fill.clear();
    }
  }


  H space(H5Dget_space(ds), H5Sclose);
  if (!space.ok()) throw_error(ErrorKind::Format, "cannot read the dataset's shape" + h5_err(), file, tensor);
  switch (H5Sget_simple_extent_type(space.get())) {
    case H5S_SCALAR: break;
    case H5S_SIMPLE: {
      int rank = H5Sget_simple_extent_ndims(space.get());
      if (rank < 0 || rank > kMaxRank) throw_error(ErrorKind::Format, "bad dataset rank", file, tensor);
      std::vector<hsize_t> dims(static_cast<std::size_t>(rank)), maxdims(static_cast<std::size_t>(rank));
      if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), maxdims.data()) < 0)
        throw_error(ErrorKind::Format, "cannot read the dataset's dims" + h5_err(), file, tensor);
      for (hsize_t d : dims) {
        if (d > (hsize_t{1} << 62)) throw_error(ErrorKind::Format, "dimension too large", file, tensor);
        out.shape.push_back(static_cast<int64_t>(d));
      }
      if (layout == H5D_CHUNKED) {
        // libhdf5 1.10.8 reads a whole chunk's bytes (chunk dims x type size)
        // out of whatever a chunk decompresses to: a chunk larger than the
        // dataset could ever be is a corrupt chunk size (libhdf5 itself
        // refuses to create one), read past the decompressed buffer.
        std::vector<hsize_t> chunk(static_cast<std::size_t>(rank));
        if (H5Pget_chunk(dcpl.get(), rank, chunk.data()) != rank)
          throw_error(ErrorKind::Format, "cannot read the dataset's chunk dims" + h5_err(), file, tensor);
        for (int i = 0; i < rank; ++i)
          if (chunk[i] == 0 || (maxdims[i] != H5S_UNLIMITED && chunk[i] > maxdims[i]))
            throw_error(ErrorKind::Format, "chunk dim " + std::to_string(chunk[i]) + " does not fit the dataset's dim " +
                                               std::to_string(maxdims[i]) + " (corrupt chunk size)", file, tensor);
        uint64_t chunk_bytes = tsize;
        for (int i = 0; i < rank; ++i) {
          if (chunk[i] > (uint64_t{1} << 32) || chunk_bytes * chunk[i] > (uint64_t{1} << 32))  // libhdf5: chunks < 4 GiB
            throw_error(ErrorKind::Format, "chunk of more than 4 GiB (corrupt chunk size)", file, tensor);
          chunk_bytes *= chunk[i];
        }
        out.chunk = chunk;
      }
      break;
    }
    default: throw_error(ErrorKind::Format, "dataset has no data (null dataspace)", file, tensor);
  }
  if (layout == H5D_CHUNKED && out.chunk.empty()) throw_error(ErrorKind::Format, "chunked dataset without chunk dims", file, tensor);
  int64_t numel;
  try {
    numel = shape_numel(out.shape);
  } catch (const Error& e) {
    throw_error(ErrorKind::Format, e.message(), file, tensor);
  }
  const uint64_t es = dtype_size(out.dtype);
  if (static_cast<uint64_t>(numel) > (uint64_t{1} << 62) / es)
    throw_error(ErrorKind::Format, "dtype x shape " + shape_str(out.shape) + " overflows", file, tensor);
  const uint64_t nbytes = static_cast<uint64_t>(numel) * es;
  if (nbytes > 0) {
    const uint64_t stored = H5Dget_storage_size(ds);
    if (stored > file_size)
      throw_error(ErrorKind::Format, "dataset claims " + std::to_string(stored) + " bytes of storage in a " +
                                         std::to_string(file_size) + "-byte file", file, tensor);
    if (stored == 0) throw_error(ErrorKind::Format, "dataset " + shape_str(out.shape) + " has no data written", file, tensor);
    // Without filters the stored bytes hold every element (chunked storage may
    // round up to whole chunks); with filters, deflate's best ratio is ~1032:1.
    const bool ok = nfilters == 0 ? (layout == H5D_CHUNKED ? stored >= nbytes : stored == nbytes)
                                  : nbytes / 1100 <= stored;
    if (!ok)
      throw_error(ErrorKind::Format, "dtype " + std::string(to_string(out.dtype)) + " x shape " + shape_str(out.shape) + " (" +
                                         std::to_string(nbytes) + " bytes) does not fit the " + std::to_string(stored) +
                                         " bytes stored", file, tensor);
    // Keras and h5py write contiguous little-endian datasets: those bytes are
    // exactly what H5Dread would copy out, so they are read in place.
    if (layout == H5D_CONTIGUOUS && H5Tequal(type.get(), out.memtype.get()) > 0) {
      const haddr_t at = H5Dget_offset(ds);  // absolute (user block included)
      if (at == HADDR_UNDEF || at > file_size || nbytes > file_size - at)
        throw_error(ErrorKind::Format, "dataset data (" + std::to_string(nbytes) + " bytes at offset " +
                                           (at == HADDR_UNDEF ? std::string("undefined") : std::to_string(at)) +
                                           ") does not lie within the " + std::to_string(file_size) + "-byte file", file, tensor);
      out.offset = at;
    }
  }
  return out;
}

// ---- chunked datasets -------------------------------------------------------
//
// Chunked datasets are read here, not by H5Dread: libhdf5 1.10.8 does not
// compare what a chunk holds - after its filter pipeline, or as stored when
// there is none - with the chunk's size, and copies a whole chunk out of a
// shorter buffer (a heap over-read in H5Dread -> H5D__select_read ->
// H5VM_memcpyvv; reproducers fuzz/corpus/keras_h5/short_chunk.h5, a deflate
// chunk that decodes short, and unfiltered_short_chunk.h5, compressed chunks
// whose filter message is gone; both found by keras_h5_fuzz). So each chunk
// is read raw (H5Dread_chunk copies only the stored bytes) and its pipeline -
// deflate, shuffle, fletcher32; inspect() refuses any other - is undone with
// every size checked, as H5Z_filter_deflate / _shuffle / _fletcher32 would.
// Contiguous and compact datasets still go through H5Dread.

// H5_checksum_fletcher32 (libhdf5 H5checksum.c): 16-bit big-endian words.
uint32_t fletcher32(const uint8_t* data, std::size_t n) {
  uint32_t sum1 = 0, sum2 = 0;
  std::size_t len = n / 2;
  while (len) {
    std::size_t tlen = len > 360 ? 360 : len;
    len -= tlen;
    do {
      sum1 += static_cast<uint32_t>(data[0]) << 8 | data[1];
      data += 2;
      sum2 += sum1;
    } while (--tlen);
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  if (n % 2) {
    sum1 += static_cast<uint32_t>(*data) << 8;
    sum2 += sum1;
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  sum1 = (sum1 & 0xffff) + (sum1 >> 16);
  sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  return sum2 << 16 | sum1;
}

// Undoes the pipeline of one chunk (`mask` bit i set: filter i was skipped)
// into exactly `chunk_bytes` bytes; `where` names the chunk in errors.
std::vector<uint8_t> decode_chunk(std::vector<uint8_t> buf, uint32_t mask, const std::vector<Filter>& filters, std::size_t es,
                                  uint64_t chunk_bytes, const std::string& where, const std::string& file, const std::string& tensor) {
  auto bad = [&](const std::string& what) { throw_error(ErrorKind::Format, where + ": " + what, file, tensor); };
  for (std::size_t k = filters.size(); k-- > 0;) {
    if (k < 32 && (mask >> k & 1u)) continue;
    const Filter& f = filters[k];
    if (f.id == H5Z_FILTER_FLETCHER32) {
      if (buf.size() < 4) bad("too short for its fletcher32 checksum");
      const std::size_t n = buf.size() - 4;
      const uint32_t stored = static_cast<uint32_t>(buf[n]) | static_cast<uint32_t>(buf[n + 1]) << 8 |
                              static_cast<uint32_t>(buf[n + 2]) << 16 | static_cast<uint32_t>(buf[n + 3]) << 24;
      const uint32_t sum = fletcher32(buf.data(), n);
      // libhdf5 before 1.6.3 stored it with the bytes of each half swapped; H5Z accepts both.
      const uint32_t swapped = (sum & 0x00ff00ffu) << 8 | (sum & 0xff00ff00u) >> 8;
      if (stored != sum && stored != swapped) bad("fletcher32 checksum mismatch (corrupt data)");
      buf.resize(n);
    } else if (f.id == H5Z_FILTER_SHUFFLE) {
      if (f.cd0 != es) bad("shuffle filter for " + std::to_string(f.cd0) + "-byte elements on " + std::to_string(es) + "-byte data");
      const std::size_t n = buf.size() / es;
      if (es > 1 && n > 1) {
        std::vector<uint8_t> out(buf.size());
        for (std::size_t j = 0; j < es; ++j)
          for (std::size_t i = 0; i < n; ++i) out[i * es + j] = buf[j * n + i];
        std::copy(buf.begin() + static_cast<std::ptrdiff_t>(n * es), buf.end(), out.begin() + static_cast<std::ptrdiff_t>(n * es));
        buf.swap(out);
      }
    } else {  // deflate: to exactly what the filters before it made of chunk_bytes
      uint64_t want = chunk_bytes;
      for (std::size_t j = 0; j < k; ++j)
        if (!(j < 32 && (mask >> j & 1u)) && filters[j].id == H5Z_FILTER_FLETCHER32) want += 4;
      if (buf.size() > UINT32_MAX) bad("chunk too large");
      std::vector<uint8_t> out(want);
      z_stream zs{};
      if (inflateInit(&zs) != Z_OK) bad("cannot start zlib");
      zs.next_in = buf.data();
      zs.avail_in = static_cast<uInt>(buf.size());
      zs.next_out = out.data();
      zs.avail_out = static_cast<uInt>(want);
      const int r = inflate(&zs, Z_FINISH);
      const std::string msg = zs.msg ? zs.msg : "";
      const uint64_t got = zs.total_out;
      const uInt left = zs.avail_in;
      inflateEnd(&zs);
      if (r == Z_STREAM_END && left != 0) bad("deflate data followed by " + std::to_string(left) + " stray bytes");
      if (r == Z_STREAM_END && got != want)
        bad("decompresses to " + std::to_string(got) + " bytes, not the chunk's " + std::to_string(want));
      if (r == Z_BUF_ERROR && got == want) bad("decompresses to more than the chunk's " + std::to_string(want) + " bytes");
      if (r != Z_STREAM_END) bad("corrupt deflate data" + (msg.empty() ? std::string() : " (zlib: " + msg + ")"));
      buf.swap(out);
    }
  }
  if (buf.size() != chunk_bytes)
    bad("holds " + std::to_string(buf.size()) + " bytes after its filters, not the chunk's " + std::to_string(chunk_bytes));
  return buf;
}

// Reads chunked dataset `ds` (checked by inspect) into `dst`
// (shape's elements, memtype). Called with the mutex held.
void read_chunked(hid_t ds, const DsInfo& di, uint8_t* dst, uint64_t file_size, const std::string& file, const std::string& tensor) {
  const std::size_t rank = di.chunk.size(), es = dtype_size(di.dtype);
  if (rank == 0 || rank != di.shape.size()) throw_error(ErrorKind::Format, "chunk rank does not match the dataset's", file, tensor);
  const uint64_t numel = static_cast<uint64_t>(shape_numel(di.shape));
  uint64_t chunk_bytes = es;
  for (hsize_t c : di.chunk) chunk_bytes *= c;  // < 4 GiB: inspect()
  if (!di.fill.empty())
    for (uint64_t i = 0; i < numel; ++i) std::memcpy(dst + i * es, di.fill.data(), es);
  const bool deflate = std::any_of(di.filters.begin(), di.filters.end(), [](const Filter& f) { return f.id == H5Z_FILTER_DEFLATE; });
  std::vector<hsize_t> grid(rank), idx(rank, 0), off(rank);
  for (std::size_t d = 0; d < rank; ++d) grid[d] = (static_cast<hsize_t>(di.shape[d]) + di.chunk[d] - 1) / di.chunk[d];
  while (true) {
    std::string where = "chunk at (";
    for (std::size_t d = 0; d < rank; ++d) {
      off[d] = idx[d] * di.chunk[d];
      where += (d ? "," : "") + std::to_string(off[d]);
    }
    where += ")";
    hsize_t stored = 0;
    haddr_t addr = HADDR_UNDEF;
    unsigned fmask = 0;
    if (H5Dget_chunk_info_by_coord(ds, off.data(), &fmask, &addr, &stored) < 0)
      throw_error(ErrorKind::Format, where + ": cannot look it up" + h5_err(), file, tensor);
    if (addr != HADDR_UNDEF) {  // else never written: reads as the fill value (already there)
      if (stored > file_size || addr > file_size - stored)
        throw_error(ErrorKind::Format, where + ": " + std::to_string(stored) + " bytes at offset " + std::to_string(addr) +
                                           " do not fit the " + std::to_string(file_size) + "-byte file", file, tensor);
      // deflate's best ratio is ~1032:1; without it the filters add bytes, never remove them.
      if (deflate ? chunk_bytes / 1100 > stored : chunk_bytes > stored)
        throw_error(ErrorKind::Format, where + ": " + std::to_string(stored) + " stored bytes cannot hold the chunk's " +
                                           std::to_string(chunk_bytes), file, tensor);
      std::vector<uint8_t> raw(stored);
      uint32_t mask = 0;
      if (H5Dread_chunk(ds, H5P_DEFAULT, off.data(), &mask, raw.data()) < 0)
        throw_error(ErrorKind::Format, where + ": cannot read it" + h5_err(), file, tensor);
      const std::vector<uint8_t> c = decode_chunk(std::move(raw), mask, di.filters, es, chunk_bytes, where, file, tensor);
      // Copy the part inside the dataset (edge chunks are clipped), row by row along the last dim.
      const std::size_t last = rank - 1;
      const uint64_t row = std::min<uint64_t>(di.chunk[last], static_cast<uint64_t>(di.shape[last]) - off[last]) * es;
      std::vector<hsize_t> in(rank, 0);  // position inside the chunk (last dim stays 0)
      while (true) {
        uint64_t src = 0, dsti = 0;
        for (std::size_t d = 0; d < rank; ++d) {
          src = src * di.chunk[d] + in[d];
          dsti = dsti * static_cast<uint64_t>(di.shape[d]) + off[d] + in[d];
        }
        std::memcpy(dst + dsti * es, c.data() + src * es, row);
        std::size_t d = last;
        while (d-- > 0) {
          if (++in[d] < di.chunk[d] && off[d] + in[d] < static_cast<uint64_t>(di.shape[d])) break;
          in[d] = 0;
        }
        if (d == static_cast<std::size_t>(-1)) break;
      }
    }
    std::size_t d = rank;
    while (d-- > 0) {
      if (++idx[d] < grid[d]) break;
      idx[d] = 0;
    }
    if (d == static_cast<std::size_t>(-1)) break;
  }
  if (!H5Tequal(di.filetype.get(), di.memtype.get()) &&
      H5Tconvert(di.filetype.get(), di.memtype.get(), numel, dst, nullptr, H5P_DEFAULT) < 0)
    throw_error(ErrorKind::Format, "cannot convert the data to native byte order" + h5_err(), file, tensor);
}

H make_fapl() {
  H fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
  H5Pset_file_locking(fapl.get(), false, true);  // read-only mounts, no flock support
#endif
  return fapl;
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

// ---- writing ---------------------------------------------------------------

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

std::unique_ptr<TensorSource> open_keras_h5(const std::string& path) {
  return std::make_unique<KerasH5Source>(path);
}

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
