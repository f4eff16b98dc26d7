// Memory-mapped input and atomic output, shared by every format. Declared in
// hfx/io.h, but core: hub, tokenize and models read and write files too, and
// sit beside io, not above it (tests/layering/links.sh).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "hfx/io.h"
#include "core/safe_open.h"

namespace hfx {

namespace {
std::string errno_str() { return std::strerror(errno); }
}  // namespace

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  RegularFile f(path);
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->path_ = path;
  m->size_ = f.size();
  if (m->size_ > 0) {
    void* p = ::mmap(nullptr, m->size_, PROT_READ, MAP_PRIVATE, f.fd(), 0);
    if (p == MAP_FAILED) throw_error(ErrorKind::Io, "mmap failed: " + errno_str(), path);
    m->data_ = static_cast<const uint8_t*>(p);
  }
  return m;
}

RegularFile::RegularFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd_ < 0)
    throw_error(errno == ENOENT || errno == ENOTDIR ? ErrorKind::NotFound : ErrorKind::Io, "cannot open: " + errno_str(), path);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const std::string e = errno_str();
    ::close(fd_);
    throw_error(ErrorKind::Io, "cannot stat: " + e, path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw_error(ErrorKind::Format, S_ISDIR(st.st_mode) ? "is a directory, not a regular file" : "not a regular file", path);
  }
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
  size_ = static_cast<std::size_t>(st.st_size);
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string RegularFile::read_all(std::size_t max_bytes) {
  if (size_ > max_bytes)
    throw_error(ErrorKind::Format, "file is " + std::to_string(size_) + " bytes, over the " + std::to_string(max_bytes) +
                                       " bytes hfx accepts for it", path_);
  std::string out(size_, '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t r = ::read(fd_, out.data() + got, out.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_error(ErrorKind::Io, "read failed: " + errno_str(), path_);
    }
    if (r == 0) break;  // the file shrank under us: what was there
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

std::string read_regular_file(const std::string& path, std::size_t max_bytes) {
  return RegularFile(path).read_all(max_bytes);
}

void check_regular_file(const std::string& path) { RegularFile f(path); }

void MappedFile::release(const void* p, std::size_t n) const noexcept {
  if (!data_ || n == 0) return;
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t lo = std::max(reinterpret_cast<uintptr_t>(p), reinterpret_cast<uintptr_t>(data_)) & ~(page - 1);
  const uintptr_t hi = std::min(reinterpret_cast<uintptr_t>(p) + n, reinterpret_cast<uintptr_t>(data_) + size_);
  if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const char* hex = "0123456789abcdef";
  for (int attempt = 0; attempt < 16 && fd_ < 0; ++attempt) {
    std::string suffix;
    auto r = rng();
    for (int i = 0; i < 8; ++i) suffix += hex[(r >> (4 * i)) & 15];
    tmp_ = path_ + ".tmp-" + suffix;
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) throw_error(ErrorKind::Io, "cannot create temporary file: " + errno_str(), tmp_);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw_error(ErrorKind::Io, "write failed: " + errno_str(), tmp_);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) throw_error(ErrorKind::Io, "fsync failed: " + errno_str(), tmp_);
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw_error(ErrorKind::Io, "close failed: " + errno_str(), tmp_);
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0)
    throw_error(ErrorKind::Io, "rename to final name failed: " + errno_str(), path_);
  committed_ = true;
  std::string dir = std::filesystem::path(path_).parent_path().string();
  fsync_directory(dir.empty() ? "." : dir);
}

void fsync_directory(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::string& path, std::string_view content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

std::string read_text_file(const std::string& path) {
  // 1 GiB: the largest text file hfx reads (a tokenizer.json); callers with a tighter bound use read_regular_file.
  return read_regular_file(path, std::size_t{1} << 30);
}

}  // namespace hfx
