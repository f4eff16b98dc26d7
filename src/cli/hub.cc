// hfx download REPO_ID [FILES...] [--revision R]   (a *.index.json among FILES brings its shards)
//                     [--cache-dir D] [--local-files-only] [--force-download]
// hfx scan-cache [--cache-dir D]
// hfx push PATH REPO_ID [--private] [--commit-message M] [--create-pr] [--revision R] [--max-shard-size S]
#include "cli/hub.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "hfx/auto.h"
#include "hfx/hub.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "hfx/save.h"

namespace hfx::cli {

namespace {

namespace fs = std::filesystem;

struct State {
  CLI::App *download = nullptr, *scan = nullptr, *push = nullptr;
  std::string repo, path, revision, cache_dir, message, max_shard;
  std::vector<std::string> files;
  bool local_only = false, force = false, priv = false, create_pr = false, quiet = false;
};
State& st() {
  static State s;
  return s;
}

std::string human(uint64_t n) {
  const char* units[] = {"B", "K", "M", "G", "T"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{}{}", n, units[0]) : fmt::format("{:.1f}{}", v, units[u]);
}

int run_download() {
  State& s = st();
  HubOptions o;
  o.revision = s.revision.empty() ? "main" : s.revision;
  o.cache_dir = s.cache_dir;
  o.local_files_only = s.local_only;
  o.force_download = s.force;
  o.progress = !s.quiet;
  std::string snapshot;
  if (s.files.empty()) {
    snapshot = resolve_pretrained(s.repo, o);  // config.json + the weights from_pretrained would read
  } else {
    snapshot = download_files(s.repo, s.files, o);
    // A sharded checkpoint's index named: its shards too (like from_pretrained),
    // in parallel, from the same commit as the index.
    HubOptions pinned = o;
    pinned.revision = fs::path(snapshot).filename().string();
    std::vector<std::string> shards;
    for (const auto& f : s.files) {
      if (f.size() <= 11 || f.compare(f.size() - 11, 11, ".index.json") != 0) continue;
      const std::string index = (fs::path(snapshot) / f).string();
      const std::string dir = fs::path(f).parent_path().generic_string();  // shards sit beside their index
      for (const auto& shard : shard_index_files(index)) {
        const std::string path = dir.empty() ? shard : dir + "/" + shard;
        if (std::find(shards.begin(), shards.end(), path) == shards.end()) shards.push_back(path);
      }
    }
    if (!shards.empty()) download_files(s.repo, shards, pinned);
  }
  std::cout << snapshot << "\n";
  return 0;
}

int run_scan() {
  const CacheInfo info = scan_cache(st().cache_dir);
  fmt::print("{:<40} {:<9} {:>12} {:>8} {:<40} {}\n", "REPO ID", "REPO TYPE", "SIZE ON DISK", "NB FILES", "REVISION", "REFS");
  for (const auto& r : info.repos) {
    for (std::size_t i = 0; i < r.revisions.size(); ++i) {
      const auto& v = r.revisions[i];
      std::string refs;
      for (const auto& x : v.refs) refs += (refs.empty() ? "" : ", ") + x;
      fmt::print("{:<40} {:<9} {:>12} {:>8} {:<40} {}\n", i == 0 ? r.repo_id : "", i == 0 ? r.repo_type : "",
                 human(v.size_on_disk), v.files.size(), v.commit, refs);
    }
    if (r.revisions.empty()) fmt::print("{:<40} {:<9} {:>12} {:>8}\n", r.repo_id, r.repo_type, human(r.size_on_disk), r.nb_files);
  }
  fmt::print("\nDone in the cache at {}: {} repo(s), {} on disk.\n", hub_cache_dir([] {
               HubOptions o;
               o.cache_dir = st().cache_dir;
               return o;
             }()), info.repos.size(), human(info.size_on_disk));
  for (const auto& w : info.warnings) fmt::print(stderr, "warning: {}\n", w);
  return 0;
}

int run_push() {
  State& s = st();
  PushOptions p;
  p.private_repo = s.priv;
  p.commit_message = s.message;
  p.create_pr = s.create_pr;
  p.revision = s.revision;
  p.max_shard_size = s.max_shard;
  CommitInfo ci;
  if (!s.max_shard.empty()) {  // re-save with the requested sharding, like push_to_hub(max_shard_size=...)
    LoadedModel lm = load_pretrained(resolve_path_arg(s.path), "");
    ci = push_to_hub(*lm.model, s.repo, p);
  } else {
    if (p.commit_message.empty()) p.commit_message = "Upload model";
    ci = upload_folder(s.path, s.repo, p);
  }
  fmt::print("committed {} ({} regular file(s), {} LFS file(s))\n", ci.commit_url, ci.regular_files.size(), ci.lfs_files.size());
  if (!ci.pr_url.empty()) fmt::print("pull request: {}\n", ci.pr_url);
  return 0;
}

}  // namespace

void add_hub_commands(CLI::App& app) {
  State& s = st();
  s.download = app.add_subcommand("download", "Download a model from the hub into the shared huggingface_hub cache; prints the snapshot folder");
  s.download->add_option("repo_id", s.repo, "model id, e.g. bert-base-cased or org/name")->required();
  s.download->add_option("files", s.files, "files to fetch (default: config.json and the weights from_pretrained reads); "
                                           "a *.index.json brings its shards too");
  s.download->add_option("--revision", s.revision, "branch, tag or commit hash (default: main)");
  s.download->add_option("--cache-dir", s.cache_dir, "cache folder (default: HF_HUB_CACHE / HF_HOME/hub)");
  s.download->add_flag("--local-files-only", s.local_only, "never touch the network; resolve from the cache only");
  s.download->add_flag("--force-download", s.force, "download again even if cached");
  s.download->add_flag("--quiet", s.quiet, "no progress bars");

  s.scan = app.add_subcommand("scan-cache", "List the repos, revisions and sizes in the hub cache");
  s.scan->add_option("--cache-dir", s.cache_dir, "cache folder (default: HF_HUB_CACHE / HF_HOME/hub)");

  s.push = app.add_subcommand("push", "Upload a model folder to the hub (push_to_hub)");
  s.push->add_option("path", s.path, "model directory")->required();
  s.push->add_option("repo_id", s.repo, "target repo, e.g. org/name (created if needed)")->required();
  s.push->add_flag("--private", s.priv, "create the repo as private");
  s.push->add_option("--commit-message", s.message, "commit message (default: \"Upload model\")");
  s.push->add_flag("--create-pr", s.create_pr, "open a pull request instead of committing to the branch");
  s.push->add_option("--revision", s.revision, "branch to commit to (default: main)");
  s.push->add_option("--max-shard-size", s.max_shard, "re-save the model sharded at this size (e.g. 50KB) before uploading");
}

std::optional<int> run_hub_commands() {
  State& s = st();
  if (s.download && *s.download) return run_download();
  if (s.scan && *s.scan) return run_scan();
  if (s.push && *s.push) return run_push();
  return std::nullopt;
}

std::string resolve_path_arg(const std::string& path) { return resolve_pretrained(path); }

}  // namespace hfx::cli
