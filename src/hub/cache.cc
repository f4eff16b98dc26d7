// The cache folder, endpoint, token and offline switches as huggingface_hub
// 0.36 (constants.py) and transformers 4.46 (utils/hub.py) read them, and
// scan_cache (huggingface_hub's utils/_cache_manager.py scan_cache_dir).
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "core/regex.h"
#include "core/safe_open.h"
#include "hfx/error.h"
#include "hfx/hub.h"
#include "hub/protocol.h"

namespace hfx {

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool env_true(const char* name) {  // constants._is_true
  std::string v = env(name);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

std::string expand_user(const std::string& p) {
  if (p.rfind("~", 0) == 0 && (p.size() == 1 || p[1] == '/')) return env("HOME") + p.substr(1);
  return p;
}

std::string hf_home() {
  if (std::string h = env("HF_HOME"); !h.empty()) return expand_user(h);
  std::string xdg = env("XDG_CACHE_HOME");
  if (xdg.empty()) xdg = expand_user("~/.cache");
  return (fs::path(xdg) / "huggingface").string();
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

}  // namespace

std::string hub_cache_dir(const HubOptions& opts) {
  if (!opts.cache_dir.empty()) return expand_user(opts.cache_dir);
  // transformers: TRANSFORMERS_CACHE > PYTORCH_TRANSFORMERS_CACHE > PYTORCH_PRETRAINED_BERT_CACHE > HF_HUB_CACHE;
  // huggingface_hub: HF_HUB_CACHE > HUGGINGFACE_HUB_CACHE > $HF_HOME/hub.
  for (const char* v : {"TRANSFORMERS_CACHE", "PYTORCH_TRANSFORMERS_CACHE", "PYTORCH_PRETRAINED_BERT_CACHE",
                        "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"})
    if (std::string d = env(v); !d.empty()) return expand_user(d);
  return (fs::path(hf_home()) / "hub").string();
}

std::string hub_endpoint(const HubOptions& opts) {
  std::string e = !opts.endpoint.empty() ? opts.endpoint : env("HF_ENDPOINT");
  if (e.empty()) e = "https://huggingface.co";
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

std::optional<std::string> hub_token(const HubOptions& opts) {
  if (opts.token) return opts.token->empty() ? std::nullopt : opts.token;
  for (const char* v : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"})
    if (std::string t = trim(env(v)); !t.empty()) return t;
  std::string path = env("HF_TOKEN_PATH");
  path = path.empty() ? (fs::path(hf_home()) / "token").string() : expand_user(path);
  std::string t;
  try {  // never blocks on a FIFO; a missing file means no token (huggingface_hub's get_token)
    t = trim(read_regular_file(path, hub::kMaxSmallFile));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::NotFound) return std::nullopt;
    throw;
  }
  if (t.empty()) return std::nullopt;
  return t;
}

bool hub_offline(const HubOptions& opts) {
  return opts.local_files_only || env_true("HF_HUB_OFFLINE") || env_true("TRANSFORMERS_OFFLINE");
}

std::string repo_folder_name(const std::string& repo_id, const std::string& repo_type) {
  std::string out = repo_type + "s";
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = repo_id.find('/', start);
    out += "--" + repo_id.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

bool is_repo_id(const std::string& s) {
  // huggingface_hub's validate_repo_id: [\w\-.]{1,96} with at most one '/', no "--" or "..",
  // not starting or ending with '-' or '.'.
  static const Regex re(R"(^(\b[\w\-.]+\b/)?\b[\w\-.]{1,96}\b$)");
  if (s.empty() || s.size() > 200 || s.find("--") != std::string::npos || s.find("..") != std::string::npos) return false;
  if (s[0] == '.' || s[0] == '/' || s[0] == '~' || s[0] == '-' || s.back() == '.' || s.back() == '-') return false;
  return re.full_match(s);
}

bool is_commit_hash(const std::string& s) {
  if (s.size() != 40) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

CacheInfo scan_cache(const std::string& cache_dir) {
  HubOptions o;
  o.cache_dir = cache_dir;
  const fs::path root = hub_cache_dir(o);
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw_error(ErrorKind::NotFound, "cache directory not found; set HF_HUB_CACHE or pass --cache-dir", root.string());
  CacheInfo info;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root, ec)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& repo_path : dirs) {
    const std::string name = repo_path.filename().string();
    if (name == ".locks" || name == "CACHEDIR.TAG" || name == "version.txt") continue;
    if (!fs::is_directory(repo_path, ec)) {
      info.warnings.push_back("not a directory: " + repo_path.string());
      continue;
    }
    const std::size_t sep = name.find("--");
    if (sep == std::string::npos) {
      info.warnings.push_back("not a valid Hugging Face cache directory (" + name + ")");
      continue;
    }
    std::string type = name.substr(0, sep);
    if (type != "models" && type != "datasets" && type != "spaces") {
      info.warnings.push_back("repo type must be models, datasets or spaces, found " + type + " (" + name + ")");
      continue;
    }
    CachedRepo repo;
    repo.repo_type = type.substr(0, type.size() - 1);
    repo.path = repo_path.string();
    std::string id = name.substr(sep + 2);
    for (std::size_t p = id.find("--"); p != std::string::npos; p = id.find("--", p + 1)) id.replace(p, 2, "/");
    repo.repo_id = id;
    const fs::path snaps = repo_path / "snapshots";
    if (!fs::is_directory(snaps, ec)) {
      info.warnings.push_back("snapshots folder missing in " + repo_path.string());
      continue;
    }
    std::map<std::string, std::vector<std::string>> refs_by_commit;
    const fs::path refs = repo_path / "refs";
    if (fs::is_directory(refs, ec))
      for (auto it = fs::recursive_directory_iterator(refs, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec || it->is_directory(ec)) continue;
        std::string commit;
        try {  // a ref swapped for a FIFO after the check above is refused, not awaited
          commit = read_regular_file(it->path().string(), hub::kMaxSmallFile);
        } catch (const Error& e) {
          info.warnings.push_back(e.what());
          continue;
        }
        refs_by_commit[trim(commit)].push_back(fs::relative(it->path(), refs).generic_string());
      }
    std::map<std::string, uint64_t> blob_sizes;  // resolved blob path -> size
    std::vector<fs::path> commits;
    for (const auto& e : fs::directory_iterator(snaps, ec)) commits.push_back(e.path());
    std::sort(commits.begin(), commits.end());
    for (const fs::path& snap : commits) {
      CachedRevision rev;
      rev.commit = snap.filename().string();
      std::set<std::string> seen;
      for (auto it = fs::recursive_directory_iterator(snap, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (it->is_directory()) continue;
        rev.files.push_back(fs::relative(it->path(), snap).generic_string());
        const fs::path blob = fs::weakly_canonical(it->path(), ec);
        const uint64_t sz = fs::file_size(blob, ec);
        if (ec) {
          info.warnings.push_back("broken link " + it->path().string());
          ec.clear();
          continue;
        }
        blob_sizes[blob.string()] = sz;
        if (seen.insert(blob.string()).second) rev.size_on_disk += sz;
      }
      std::sort(rev.files.begin(), rev.files.end());
      if (auto r = refs_by_commit.find(rev.commit); r != refs_by_commit.end()) rev.refs = r->second;
      std::sort(rev.refs.begin(), rev.refs.end());
      repo.revisions.push_back(std::move(rev));
    }
    for (const auto& [b, sz] : blob_sizes) repo.size_on_disk += sz;
    repo.nb_files = blob_sizes.size();
    info.size_on_disk += repo.size_on_disk;
    info.repos.push_back(std::move(repo));
  }
  return info;
}

}  // namespace hfx
