// Opening an input file without hanging on it: every file hfx reads (weights,
// configs, tokenizers, indexes, hub metadata) goes through open_regular(),
// which opens with O_NONBLOCK — so a FIFO or a device named as a shard or a
// config cannot block open() — and refuses anything fstat() does not call a
// regular file before a single byte is read (issue 24, defect 4). The
// descriptor is switched back to blocking mode for reading (O_NONBLOCK has no
// effect on regular files anyway).
#pragma once

#include <cstddef>
#include <string>

namespace hfx {

// An open read-only descriptor of a regular file, closed on destruction.
class RegularFile {
 public:
  explicit RegularFile(const std::string& path);  // NotFound, Io, or Format ("not a regular file")
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  int fd() const { return fd_; }
  std::size_t size() const { return size_; }
  // Reads the whole file; Format when it is larger than max_bytes (checked before reading).
  std::string read_all(std::size_t max_bytes);

 private:
  std::string path_;
  int fd_ = -1;
  std::size_t size_ = 0;
};

// RegularFile(path).read_all(max_bytes).
std::string read_regular_file(const std::string& path, std::size_t max_bytes);

// Throws unless `path` can be opened as a regular file: for third-party
// loaders that take a path (libhdf5, sentencepiece), called just before them.
void check_regular_file(const std::string& path);

}  // namespace hfx
