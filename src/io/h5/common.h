// Internals of the Keras HDF5 reader and writer (src/io/h5/), shared by its files; not installed.
//
//   handles.cc  owning HDF5 identifiers, the libhdf5 lock and set-up, hard-link-only path walking
//   guards.cc   RawChecks: checks on the file's bytes that libhdf5 1.10.8 skips (heap IDs, attribute
//               messages, local heaps) before libhdf5 decodes them
//   dataset.cc  a dataset's type, layout, filters and size checked before a read; chunked datasets
//               decoded here (deflate, shuffle, fletcher32) with every size checked
//   reader.cc   open_keras_h5: Keras' name lists and the TensorSource
//   writer.cc   write_keras_h5
//
// Security and validation: plugin filters are never loaded
// (H5PLset_loading_state(0)); only HDF5's built-in filters are accepted; only
// hard links are followed (an external or soft link, external raw storage or a
// virtual dataset is refused with ErrorKind::Security); dataset type, rank,
// dims, byte size and allocated storage are checked before anything is
// allocated or read. Big-endian data is converted by HDF5 on read (the memory
// type is always little-endian native).
//
// libhdf5 here is the serial (non thread-safe) build: every HDF5 call in these
// files runs under one process-wide mutex (h5_mutex). HDF5's automatic error
// printing is switched off (errors become hfx::Error with HDF5's innermost message).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hfx/formats.h"

namespace hfx::h5 {

std::mutex& h5_mutex();
// Called with the mutex held: libhdf5 opened once, error printing and plugins off, the raw heap ID
// conversion registered (RawChecks).
void h5_init();
// HDF5's innermost error message (where the problem was detected), cleared.
std::string h5_err();

// Variable-length strings -> an opaque type tagged kRawHeapIdTag: leaves the
// file form (heap IDs) as it is. See RawChecks.
constexpr const char* kRawHeapIdTag = "hfx: variable-length heap IDs as stored";

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

herr_t close_object(hid_t id);

constexpr std::size_t kMaxNameLen = 1 << 16;      // Keras' per-name limit is 64512 bytes
// Names in one attribute: Keras splits a list once numpy's fixed-width array
// of it passes 64512 bytes, so no attribute it writes holds more than 64512.
// (A corrupt count makes libhdf5 walk the global heap per element: bound it.)
constexpr hsize_t kMaxListLen = 64512;
constexpr std::size_t kMaxAttrBytes = 64u << 20;  // one fixed-length string attribute
constexpr int kMaxRank = 32;                      // H5S_MAX_RANK

std::vector<std::string> split_path(const std::string& p);
// A dataset/group path relative to a group: non-empty components, no '.'
// (HDF5 would resolve it to the current group), no leading '/' (that would
// escape to the root).
void check_rel_path(const std::string& p, const std::string& file, const std::string& what);
// Opens `rel` below `start` one component at a time, following only hard
// links (checked before each step, so an external link is never traversed).
// Returns the object and its identifier type. `check_group` runs on each
// group before a name is looked up in it (RawChecks::check_attributes, which
// also checks the group's local heap).
std::pair<H, H5I_type_t> open_rel(hid_t start, const std::string& rel, const std::string& file,
                                  const std::string& tensor, const std::function<void(hid_t, const std::string&)>& check_group);
// File access: strong close, no file locking (read-only mounts).
H make_fapl();

// Checks on the file's bytes that libhdf5 1.10.8 skips: global heap IDs
// (guards.cc) and attribute messages (check_attributes).
class RawChecks {
 public:
  // Called with the mutex held.
  RawChecks(const std::string& path, hid_t file, std::shared_ptr<MappedFile> map);

  // Checks the heap IDs of variable-length string attribute `attr` (n
  // elements) before libhdf5 follows them; `what` names it in errors.
  void check(hid_t attr, hsize_t n, const std::string& what);

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
  void check_attributes(hid_t obj, const std::string& where);

 private:
  static constexpr uint64_t kUnused = ~uint64_t{0};

  uint64_t undef_addr() const { return sizeof_addr_ == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * sizeof_addr_)) - 1; }

  // A group's local heap, before libhdf5 1.10.8 loads it to look a name up:
  // H5HL__fl_deserialize follows the free list without a loop check,
  // allocating a block per step (keras_h5_fuzz: 1.4 GB in 44M blocks;
  // local_heap_free_loop.h5). Walked as it walks it, plus the loop check.
  void check_local_heap(uint64_t addr, const std::string& at);
  void check_attribute_message(const uint8_t* m, uint64_t size, const std::string& at);

  // On-disk element size of an attribute's datatype; only classes a Keras
  // attribute has, whose encodings libhdf5 decodes at fixed sizes.
  uint64_t datatype_element(const uint8_t* t, uint64_t len, int depth, const std::string& at, const std::string& aname);
  uint64_t dataspace_points(const uint8_t* s, uint64_t len, const std::string& at, const std::string& aname);

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
  const Collection& collection(uint64_t addr, const std::string& what);

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
DsInfo inspect(hid_t ds, uint64_t file_size, const std::string& file, const std::string& tensor);
// A chunked dataset read chunk by chunk, its filters undone here (dataset.cc says why).
void read_chunked(hid_t ds, const DsInfo& di, uint8_t* dst, uint64_t file_size, const std::string& file, const std::string& tensor);

}  // namespace hfx::h5
