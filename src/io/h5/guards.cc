// RawChecks (common.h): the bytes of a Keras HDF5 file that libhdf5 1.10.8 would follow without
// checking, checked first.
#include <cstring>
#include <iterator>

#include "io/h5/common.h"

namespace hfx::h5 {

// ---- global heap: variable-length strings ----
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

RawChecks::RawChecks(const std::string& path, hid_t file, std::shared_ptr<MappedFile> map) : path_(path), map_(std::move(map)) {
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

void RawChecks::check(hid_t attr, hsize_t n, const std::string& what) {
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

void RawChecks::check_attributes(hid_t obj, const std::string& where) {
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

void RawChecks::check_local_heap(uint64_t addr, const std::string& at) {
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

void RawChecks::check_attribute_message(const uint8_t* m, uint64_t size, const std::string& at) {
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

uint64_t RawChecks::datatype_element(const uint8_t* t, uint64_t len, int depth, const std::string& at, const std::string& aname) {
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

uint64_t RawChecks::dataspace_points(const uint8_t* s, uint64_t len, const std::string& at, const std::string& aname) {
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

const RawChecks::Collection& RawChecks::collection(uint64_t addr, const std::string& what) {
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

}  // namespace hfx::h5
