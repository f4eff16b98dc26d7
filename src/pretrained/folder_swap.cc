// See folder_swap.h and docs/atomic-save.md for the protocol and its argument.
#include "pretrained/folder_swap.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "hfx/error.h"
#include "hfx/io.h"

namespace hfx::detail {

namespace fs = std::filesystem;

namespace {

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const char* hex = "0123456789abcdef";
  std::string s;
  const auto r = rng();
  for (int i = 0; i < 12; ++i) s += hex[(r >> (4 * i)) & 15];
  return s;
}

bool exchange(const fs::path& a, const fs::path& b) {
  return ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0;
}

// Removes a staging folder a killed save left: before its swap it holds the
// new files and perhaps subfolders moved out of `dir` (moved back when `dir`
// lacks them); after its swap it holds the previous contents, all garbage.
void recover(const fs::path& dir, const fs::path& left) {
  const int fd = ::open(left.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {  // a save in progress holds it
    ::close(fd);
    return;
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(left, ec))
    if (e.is_directory(ec) && !e.is_symlink(ec) && !fs::exists(dir / e.path().filename(), ec))
      fs::rename(e.path(), dir / e.path().filename(), ec);
  fs::remove_all(left, ec);
  ::close(fd);
}

}  // namespace

std::string FolderSwap::staging_prefix(const fs::path& dir) { return "." + dir.filename().string() + ".hfx-save-"; }

FolderSwap::FolderSwap(const fs::path& dir_in) {
  std::error_code ec;
  // The folder itself, not a symlink to it (the swap renames the entry it names).
  dir_ = fs::weakly_canonical(fs::absolute(dir_in), ec);
  if (ec || dir_.filename().empty()) dir_ = fs::absolute(dir_in).lexically_normal();
  if (dir_.filename().empty()) dir_ = dir_.parent_path();
  fs::create_directories(dir_, ec);
  if (ec) throw_error(ErrorKind::Io, "cannot create directory: " + ec.message(), dir_in.string());
  const fs::path parent = dir_.parent_path();
  const std::string prefix = staging_prefix(dir_);
  for (const auto& e : fs::directory_iterator(parent, ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0) recover(dir_, e.path());

  struct stat sd {}, sp {};
  if (::stat(dir_.c_str(), &sd) != 0 || ::stat(parent.c_str(), &sp) != 0 || sd.st_dev != sp.st_dev) return;  // a mount point
  staging_ = parent / (prefix + random_suffix());
  if (::mkdir(staging_.c_str(), 0755) != 0) {  // e.g. the parent is not writable: write in place
    staging_.clear();
    return;
  }
  lock_fd_ = ::open(staging_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lock_fd_ >= 0) ::flock(lock_fd_, LOCK_EX);
  // Can this file system exchange two folders? Probe with two of our own.
  const fs::path probe = parent / (prefix + random_suffix());
  if (::mkdir(probe.c_str(), 0755) == 0) {
    supported_ = exchange(staging_, probe) && exchange(staging_, probe);
    ::rmdir(probe.c_str());
  }
  if (!supported_) {
    fs::remove_all(staging_, ec);
    staging_.clear();
  }
  // Directory modes follow the folder's (mkdir applied the umask).
  if (supported_) ::chmod(staging_.c_str(), sd.st_mode & 07777);
}

FolderSwap::~FolderSwap() {
  if (!staging_.empty() && !committed_) {
    std::error_code ec;
    // A failure between moving subfolders and the swap: put them back first.
    for (const auto& e : fs::directory_iterator(staging_, ec))
      if (e.is_directory(ec) && !e.is_symlink(ec) && !fs::exists(dir_ / e.path().filename(), ec))
        fs::rename(e.path(), dir_ / e.path().filename(), ec);
    fs::remove_all(staging_, ec);
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void FolderSwap::commit(const std::function<bool(const std::string&)>& carry) {
  std::error_code ec;
  std::vector<fs::path> subfolders;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string name = e.path().filename().string();
    if (!carry(name) || fs::exists(staging_ / name, ec)) continue;
    if (e.is_directory(ec) && !e.is_symlink(ec)) {
      subfolders.push_back(e.path());
      continue;
    }
    std::error_code lec;
    if (e.is_symlink(lec)) fs::copy_symlink(e.path(), staging_ / name, lec);
    else fs::create_hard_link(e.path(), staging_ / name, lec);
    if (lec) fs::copy(e.path(), staging_ / name, fs::copy_options::copy_symlinks, lec);
    if (lec) throw_error(ErrorKind::Io, "cannot carry over " + name + ": " + lec.message(), dir_.string());
  }
  if (ec) throw_error(ErrorKind::Io, "cannot list the folder: " + ec.message(), dir_.string());
  fsync_directory(staging_.string());
  // Subfolders (e.g. a .git of a cloned model repo) are moved, not copied; a
  // kill before the swap leaves them in the staging folder, and the next save
  // (recover) or the destructor moves them back.
  for (const auto& s : subfolders) {
    fs::rename(s, staging_ / s.filename(), ec);
    if (ec) throw_error(ErrorKind::Io, "cannot move subfolder into the new contents: " + ec.message(), s.string());
  }
  // The commit point.
  if (!exchange(staging_, dir_))
    throw_error(ErrorKind::Io, std::string("cannot swap in the new contents: ") + std::strerror(errno), dir_.string());
  committed_ = true;
  fsync_directory(dir_.parent_path().string());
  fs::remove_all(staging_, ec);  // now the previous contents
  fsync_directory(dir_.parent_path().string());
}

}  // namespace hfx::detail
