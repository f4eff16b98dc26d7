// hfx download REPO_ID [FILES...] [--revision R]   (a *.index.json among FILES brings its shards)
//                     [--include GLOB...] [--exclude GLOB...]  (snapshot_download's allow/ignore patterns)
//                     [--cache-dir D] [--local-files-only] [--force-download]
// hfx scan-cache [--cache-dir D]
// hfx push PATH REPO_ID [--private] [--commit-message M] [--create-pr] [--revision R] [--max-shard-size S]
#include "cli/hub.h"

#include <nlohmann/json.hpp>

#include "cli/command.h"

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
  std::string repo, path, revision, cache_dir, message, max_shard;
  std::vector<std::string> files, include, exclude;
  bool local_only = false, force = false, priv = false, create_pr = false;
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
  o.progress = !globals().no_progress;
  std::string snapshot;
  if (!s.include.empty() || !s.exclude.empty()) {
    if (!s.files.empty()) throw_error(ErrorKind::InvalidArgument, "give FILES or --include/--exclude patterns, not both");
    snapshot = snapshot_download(s.repo, o, s.include, s.exclude);  // huggingface-cli download --include/--exclude
  } else if (s.files.empty()) {
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
  if (globals().json) {
    std::cout << nlohmann::json({{"repo_id", s.repo}, {"snapshot", snapshot}}).dump() << "\n";
    return 0;
  }
  std::cout << snapshot << "\n";
  return 0;
}

int run_scan() {
  const CacheInfo info = scan_cache(st().cache_dir);
  if (globals().json) {
    nlohmann::json repos = nlohmann::json::array();
    for (const auto& r : info.repos) {
      nlohmann::json revs = nlohmann::json::array();
      for (const auto& v : r.revisions)
        revs.push_back({{"commit", v.commit}, {"refs", v.refs}, {"files", v.files}, {"size_on_disk", v.size_on_disk}});
      repos.push_back({{"repo_id", r.repo_id}, {"repo_type", r.repo_type}, {"path", r.path}, {"size_on_disk", r.size_on_disk},
                       {"nb_files", r.nb_files}, {"revisions", revs}});
    }
    std::cout << nlohmann::json({{"repos", repos}, {"size_on_disk", info.size_on_disk}, {"warnings", info.warnings}}).dump() << "\n";
    return 0;
  }
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
  HubOptions ho;
  ho.progress = !globals().no_progress;  // --no-progress silences the upload (and re-save) bars too
  CommitInfo ci;
  if (!s.max_shard.empty()) {  // re-save with the requested sharding, like push_to_hub(max_shard_size=...)
    LoadedModel lm = load_pretrained(resolve_path_arg(s.path), "", load_options());
    ci = push_to_hub(*lm.model, s.repo, p, ho);
  } else {
    if (p.commit_message.empty()) p.commit_message = "Upload model";
    ci = upload_folder(s.path, s.repo, p, ho);
  }
  if (globals().json) {
    std::cout << nlohmann::json({{"commit_url", ci.commit_url}, {"commit_oid", ci.commit_oid}, {"pr_url", ci.pr_url},
                                 {"regular_files", ci.regular_files}, {"lfs_files", ci.lfs_files}}).dump() << "\n";
    return 0;
  }
  fmt::print("committed {} ({} regular file(s), {} LFS file(s))\n", ci.commit_url, ci.regular_files.size(), ci.lfs_files.size());
  if (!ci.pr_url.empty()) fmt::print("pull request: {}\n", ci.pr_url);
  return 0;
}

}  // namespace

void add_hub_commands(CommandTable& table) {
  State& s = st();
  auto* download = table.add("download", "Download a model from the hub into the shared huggingface_hub cache; prints the snapshot folder", run_download);
  download->add_option("repo_id", s.repo, "model id, e.g. bert-base-cased or org/name")->required();
  download->add_option("files", s.files, "files to fetch (default: config.json and the weights from_pretrained reads); "
                                         "a *.index.json brings its shards too");
  download->add_option("--include", s.include, "glob patterns of the files to fetch (fnmatch, as huggingface-cli download: "
                                               "'*' also matches '/'); every file of the revision is listed and filtered");
  download->add_option("--exclude", s.exclude, "glob patterns of files not to fetch");
  download->add_option("--revision", s.revision, "branch, tag or commit hash (default: main)");
  download->add_option("--cache-dir", s.cache_dir, "cache folder (default: HF_HUB_CACHE / HF_HOME/hub)");
  download->add_flag("--local-files-only", s.local_only, "never touch the network; resolve from the cache only");
  download->add_flag("--force-download", s.force, "download again even if cached");

  auto* scan = table.add("scan-cache", "List the repos, revisions and sizes in the hub cache", run_scan);
  scan->add_option("--cache-dir", s.cache_dir, "cache folder (default: HF_HUB_CACHE / HF_HOME/hub)");

  auto* push = table.add("push", "Upload a model folder to the hub (push_to_hub)", run_push);
  push->add_option("path", s.path, "model directory")->required();
  push->add_option("repo_id", s.repo, "target repo, e.g. org/name (created if needed)")->required();
  push->add_flag("--private", s.priv, "create the repo as private");
  push->add_option("--commit-message", s.message, "commit message (default: \"Upload model\")");
  push->add_flag("--create-pr", s.create_pr, "open a pull request instead of committing to the branch");
  push->add_option("--revision", s.revision, "branch to commit to (default: main)");
  push->add_option("--max-shard-size", s.max_shard, "re-save the model sharded at this size (e.g. 50KB) before uploading");
}

std::string resolve_path_arg(const std::string& path, const RepoFiles& files) {
  HubOptions o;
  o.progress = !globals().no_progress;
  o.from_tf = globals().from_tf;
  o.from_flax = globals().from_flax;
  // An unknown model_type is Unsupported as soon as config.json is read, before any weight request (issue 18).
  if (files.weights) o.check_config = [](const std::string& config_path) { (void)Config::from_file(config_path); };
  try {
    return resolve_pretrained(path, o, files);
  } catch (const Error& e) {
    // The auto-detection of cli/command.h for repo ids: a repo without PyTorch weights brings its TF, else
    // its Flax weights (the snapshot then holds only those, and load_options_for picks them).
    std::error_code ec;
    if (e.kind() != ErrorKind::NotFound || o.from_tf || o.from_flax || !files.weights || fs::exists(path, ec) || !is_repo_id(path)) throw;
    for (bool tf : {true, false}) {
      HubOptions p = o;
      (tf ? p.from_tf : p.from_flax) = true;
      try {
        return resolve_pretrained(path, p, files);
      } catch (const Error& again) {
        if (again.kind() != ErrorKind::NotFound) throw;
      }
    }
    throw;
  }
}

}  // namespace hfx::cli
