// The commit point of save_pretrained (docs/atomic-save.md): the new contents
// of a model folder are assembled in a sibling staging folder and swapped with
// the folder in one renameat2(RENAME_EXCHANGE), so that config.json, the index
// and the shards change together — under SIGKILL at any instruction the
// folder holds the old model or the new one, never a mix.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace hfx::detail {

class FolderSwap {
 public:
  // Creates `dir` if needed, then removes what killed earlier saves of `dir`
  // left next to it (restoring any subfolder a kill left in their staging
  // folder), then creates this save's staging folder. supported() is false
  // when the file system cannot exchange two folders (or `dir` is a mount
  // point): the caller then writes in place.
  explicit FolderSwap(const std::filesystem::path& dir);
  // Without commit(): the staging folder is removed (every failure path).
  ~FolderSwap();
  FolderSwap(const FolderSwap&) = delete;
  FolderSwap& operator=(const FolderSwap&) = delete;

  bool supported() const { return supported_; }
  const std::filesystem::path& staging() const { return staging_; }
  // Carries over every entry of the folder that carry(name) accepts (files
  // hard-linked, else copied; subfolders moved), fsyncs, and swaps. The
  // previous contents are then removed.
  void commit(const std::function<bool(const std::string&)>& carry);

  // The prefix of staging folders next to `dir` (".<name>.hfx-save-").
  static std::string staging_prefix(const std::filesystem::path& dir);

 private:
  std::filesystem::path dir_, staging_;
  int lock_fd_ = -1;  // flock on the staging folder while it is ours: recovery skips it
  bool supported_ = false, committed_ = false;
};

}  // namespace hfx::detail
