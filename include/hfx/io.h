// hfx/io.h — reading and writing tensors in checkpoint formats.
//
// A TensorSource lists a checkpoint's tensors (name, dtype, shape) without
// reading data, and hands out tensors as views of the mapped file wherever the
// layout allows (zero-copy), else as decoded buffers. Names are the format's
// own (framework) names; mapping them to canonical PyTorch names is naming/'s
// job, not the reader's. Every reader validates sizes, offsets, counts and
// dtypes against the file before it allocates or reads, and throws
// hfx::Error{Format} naming the file and tensor when something is off.
//
// Writers go through AtomicFile: data is written to "<path>.tmp-XXXXXX",
// fsynced and renamed into place, so an interrupted write never leaves a
// partial file under the final name.
#pragma once

#include "hfx/export.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hfx/tensor.h"

namespace hfx {

struct HFX_API TensorInfo {
  std::string name;
  DType dtype;
  Shape shape;
};

class HFX_API TensorSource {
 public:
  virtual ~TensorSource() = default;
  virtual std::string format() const = 0;      // "safetensors", "safetensors-sharded", ...
  virtual const std::string& path() const = 0;  // the file (or index) opened
  virtual const std::vector<TensorInfo>& entries() const = 0;  // file order
  virtual bool contains(const std::string& name) const;
  virtual const TensorInfo& info(const std::string& name) const;  // throws NotFound
  // The tensor's data; a zero-copy view of the file when possible.
  virtual Tensor get(const std::string& name) const = 0;
  virtual std::map<std::string, std::string> metadata() const { return {}; }
  // A hint that the caller is done with `name` (streaming conversions): a
  // mapped reader drops the pages of its data from this process (they are
  // read again from the file if the tensor is asked for later). No-op by default.
  virtual void release(const std::string& name) const { (void)name; }
  // The tensor's bytes where the file holds them in row-major order in one
  // mapped piece, aligned for the dtype or not (checked as get() checks
  // them), for a consumer that copies them anyway (a transpose reads them in
  // place instead of copying twice); else {} (use get()).
  struct Bytes {
    std::shared_ptr<const void> owner;  // keeps `data` alive
    const uint8_t* data = nullptr;
    std::size_t size = 0;
  };
  virtual Bytes bytes(const std::string& name) const { (void)name; return {}; }
};

// A read-only memory map of a whole file (shared so that views keep it alive).
class HFX_API MappedFile {
 public:
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  const std::string& path() const noexcept { return path_; }
  // madvise(MADV_DONTNEED) on the pages holding [p, p + n) (a range of this
  // map): they leave the process's resident set; a later read faults them in
  // again from the page cache. Best effort.
  void release(const void* p, std::size_t n) const noexcept;

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::string path_;
};

// Writes a file atomically: open() creates "<path>.tmp-XXXXXX" next to path;
// commit() fsyncs, renames it over path and fsyncs the directory. Destroying
// an uncommitted AtomicFile removes the temporary file.
class HFX_API AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void write(const void* data, std::size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void commit();
  const std::string& temp_path() const { return tmp_; }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

// fsyncs a directory so that renames in it are durable (best effort).
HFX_API void fsync_directory(const std::string& dir);
// Writes `content` to `path` atomically (temp file + fsync + rename).
HFX_API void write_file_atomic(const std::string& path, std::string_view content);
HFX_API std::string read_text_file(const std::string& path);

// ---- safetensors -----------------------------------------------------------
HFX_API std::unique_ptr<TensorSource> open_safetensors(const std::string& path);
// Tensors are laid out as the safetensors crate does (by dtype, widest first,
// then by name); the header is padded with spaces to a multiple of 8 bytes.
HFX_API void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// A tensor a streaming writer asks for when it reaches it: name, dtype and
// shape up front (for the header), the data from get(), then done() once it is
// written (e.g. TensorSource::release). get() must return that dtype and shape.
struct HFX_API LazyTensor {
  std::string name;
  DType dtype;
  Shape shape;
  std::function<Tensor()> get;
  std::function<void()> done = {};
  // torch.save writer only: the name of an earlier tensor in the list whose
  // storage this one views (a tied weight, stored once as torch.save stores a
  // shared Parameter); get() is then not called. Other writers ignore it.
  std::string shares = {};
  // Streaming safetensors writer only, optional: the tensor's row-major bytes
  // in place (TensorSource::bytes: a mapped file, aligned or not). When it
  // returns data, those bytes are written and get() is not called, so that
  // misaligned data is not copied before it is written.
  std::function<TensorSource::Bytes()> bytes = {};
};
// write_safetensors, byte for byte, holding at most two tensors: the one being
// written and, in files of 64 MB or more, the next one, which a second thread
// gets meanwhile (get() is called from that thread; never two at once).
HFX_API void write_safetensors(const std::string& path, const std::vector<LazyTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// ---- sharded checkpoints ---------------------------------------------------
// "*.index.json" with {"metadata": {...}, "weight_map": {tensor: shard file}}.
// Shards are opened with open_checkpoint() and must sit next to the index.
HFX_API std::unique_ptr<TensorSource> open_sharded(const std::string& index_path);

// Sniffs the file (magic bytes, name) and opens it with the right reader.
// Recognises formats hfx cannot read yet and says which; recognises Git LFS
// pointer files and says the weights were never pulled.
HFX_API std::unique_ptr<TensorSource> open_checkpoint(const std::string& path);

}  // namespace hfx
