// What a task needs from a repo beside config.json and the weights (tokenizer,
// generation config, sentence-transformers modules), repo listings and
// snapshot_download with include/exclude patterns — huggingface_hub 0.36's
// model_info / filter_repo_objects / snapshot_download, transformers 4.46's
// tokenizer file names (tokenization_utils_base.py, models' VOCAB_FILES_NAMES)
// and sentence-transformers 3.3's module folders (SentenceTransformer._load_sbert_model).
#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/json.h"
#include "core/safe_open.h"
#include "hfx/error.h"
#include "hfx/hub.h"
#include "hfx/hub_files.h"
#include "hfx/io.h"
#include "hub/http.h"
#include "hub/parallel.h"
#include "hub/protocol.h"

namespace hfx {

[[noreturn]] void throw_http_error(const hub::HttpResponse& r, const std::string& what);  // download.cc

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string> kTokenizerFiles = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.txt",
    "vocab.json",     "merges.txt",            "spiece.model",            "tokenizer.model",   "sentencepiece.bpe.model"};
const std::vector<std::string> kSentenceFiles = {"modules.json", "config_sentence_transformers.json",
                                                  "sentence_bert_config.json"};

// try_hf_hub_download of each name, `max_workers` at a time; the paths found (nullopt: not in the repo).
std::vector<std::optional<std::string>> try_download_all(const std::string& repo, const std::vector<std::string>& names,
                                                         const HubOptions& o) {
  std::vector<std::optional<std::string>> out(names.size());
  hub::parallel_for(names.size(), o.max_workers, [&](std::size_t i) { out[i] = try_hf_hub_download(repo, names[i], o); });
  return out;
}

// modules.json's module folders (paths other than "" — the root is the transformer itself).
std::vector<std::string> module_folders(const std::string& modules_json) {
  const json j = read_json_file(modules_json);  // bounded depth and size, refuses a FIFO (core/json.h)
  if (!j.is_array()) throw_error(ErrorKind::Format, "modules.json is not a list of modules", modules_json);
  std::vector<std::string> out;
  for (const auto& m : j) {
    if (!m.is_object() || !m.contains("path") || !m["path"].is_string())
      throw_error(ErrorKind::Format, "a module without a string \"path\"", modules_json);
    std::string p = m["path"].get<std::string>();
    while (!p.empty() && p.back() == '/') p.pop_back();
    if (p.empty()) continue;
    hub::check_repo_path(p, "module path in modules.json");
    out.push_back(p);
  }
  return out;
}

}  // namespace

std::string resolve_pretrained(const std::string& id_or_path, const HubOptions& opts, const RepoFiles& files) {
  std::error_code ec;
  if (fs::exists(id_or_path, ec)) return id_or_path;
  if (!is_repo_id(id_or_path)) throw_error(ErrorKind::NotFound, "no such file or directory", id_or_path);
  std::string dir;
  if (files.weights) {
    dir = resolve_pretrained(id_or_path, opts);
  } else {  // config.json pins the commit the other files come from (it may be absent: a tokenizer-only repo)
    const auto config = try_hf_hub_download(id_or_path, "config.json", opts);
    if (config) dir = fs::path(*config).parent_path().string();
  }
  HubOptions pinned = opts;
  if (!dir.empty()) pinned.revision = fs::path(dir).filename().string();
  std::vector<std::string> names;
  if (files.tokenizer) names.insert(names.end(), kTokenizerFiles.begin(), kTokenizerFiles.end());
  if (files.generation_config) names.push_back("generation_config.json");
  if (files.sentence_transformers) names.insert(names.end(), kSentenceFiles.begin(), kSentenceFiles.end());
  const auto found = try_download_all(id_or_path, names, pinned);
  std::optional<std::string> any;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!found[i]) continue;
    if (!any) any = found[i];
    if (names[i] == "modules.json") {
      std::vector<std::string> more;
      for (const auto& m : module_folders(*found[i]))
        for (const char* f : {"config.json", "model.safetensors", "pytorch_model.bin"}) more.push_back(m + "/" + f);
      const auto got = try_download_all(id_or_path, more, pinned);
      (void)got;  // a module folder holds what its module needs; Pooling/Normalize have no weights
    }
  }
  if (dir.empty()) {
    if (!any) throw_error(ErrorKind::NotFound, id_or_path + " has none of the files asked for (config.json, tokenizer files)" +
                                                   std::string(hub_offline(opts) ? " in the local cache (offline mode)" : ""));
    fs::path p(*any);  // every name above is at the top of the repo
    dir = p.parent_path().string();
  }
  return dir;
}

RepoListing list_repo_files(const std::string& repo_id, const HubOptions& o) {
  if (!is_repo_id(repo_id)) throw_error(ErrorKind::InvalidArgument, "'" + repo_id + "' is not a valid repo id (org/name)");
  const std::string revision = o.revision.empty() ? "main" : o.revision;
  hub::check_repo_path(revision, "revision");
  RepoListing out;
  if (hub_offline(o)) {  // huggingface_hub's snapshot_download offline: the cached snapshot of that revision
    const fs::path storage = fs::path(hub_cache_dir(o)) / repo_folder_name(repo_id);
    out.commit = is_commit_hash(revision) ? revision : "";
    std::error_code ec;
    if (out.commit.empty() && fs::exists(storage / "refs" / revision, ec)) {
      out.commit = read_regular_file((storage / "refs" / revision).string(), hub::kMaxSmallFile);  // never awaits a FIFO
      out.commit = out.commit.substr(0, out.commit.find('\n'));
    }
    const fs::path snap = storage / "snapshots" / out.commit;
    if (out.commit.empty() || !fs::is_directory(snap, ec))
      throw_error(ErrorKind::NotFound, "offline mode and " + repo_id + " (revision " + revision + ") is not in the cache at " +
                                           hub_cache_dir(o));
    for (auto it = fs::recursive_directory_iterator(snap, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (!it->is_directory(ec)) out.files.push_back(it->path().lexically_relative(snap).generic_string());  // not fs::relative: it follows the blob symlinks
    std::sort(out.files.begin(), out.files.end());
    return out;
  }
  hub::HttpRequest req;
  req.url = hub_endpoint(o) + "/api/models/" + repo_id + "/revision/" + hub::url_quote(revision, false);
  if (auto t = hub_token(o)) req.headers.push_back("authorization: Bearer " + *t);
  req.follow_redirects = true;
  const hub::HttpResponse r = hub::http(req);
  if (!r.ok()) throw_http_error(r, "listing the files of " + repo_id + " (revision " + revision + ")");
  try {
    const json j = parse_json(r.body, "listing of " + repo_id);
    out.commit = j.at("sha").get<std::string>();
    for (const auto& s : j.at("siblings")) {
      std::string f = s.at("rfilename").get<std::string>();
      hub::check_repo_path(f, "file listed by " + repo_id);
      out.files.push_back(std::move(f));
    }
  } catch (const json::exception& e) {
    throw_error(ErrorKind::Network, "malformed answer listing the files of " + repo_id + ": " + e.what());
  }
  hub::check_cache_name(out.commit, "commit hash");
  if (!is_commit_hash(out.commit)) throw_error(ErrorKind::Network, "the listing of " + repo_id + " names no commit hash");
  return out;
}

std::vector<std::string> filter_repo_files(const std::vector<std::string>& files, const std::vector<std::string>& include,
                                           const std::vector<std::string>& exclude) {
  auto norm = [](std::string p) { return (!p.empty() && p.back() == '/') ? p + "*" : p; };
  auto any_match = [&](const std::vector<std::string>& patterns, const std::string& f) {
    for (const auto& p : patterns)
      if (::fnmatch(norm(p).c_str(), f.c_str(), 0) == 0) return true;  // flags 0: '*' crosses '/', as Python's fnmatch
    return false;
  };
  std::vector<std::string> out;
  for (const auto& f : files)
    if ((include.empty() || any_match(include, f)) && !any_match(exclude, f)) out.push_back(f);
  return out;
}

std::string snapshot_download(const std::string& repo_id, const HubOptions& opts, const std::vector<std::string>& include,
                              const std::vector<std::string>& exclude) {
  const RepoListing listing = list_repo_files(repo_id, opts);
  const auto files = filter_repo_files(listing.files, include, exclude);
  HubOptions pinned = opts;
  pinned.revision = listing.commit;
  const fs::path snap = fs::path(hub_cache_dir(opts)) / repo_folder_name(repo_id) / "snapshots" / listing.commit;
  if (files.empty()) {
    std::error_code ec;
    fs::create_directories(snap, ec);
    return snap.string();
  }
  download_files(repo_id, files, pinned);
  if (!hub_offline(opts) && opts.revision != listing.commit) {  // refs/<revision> as huggingface_hub writes it
    const fs::path ref = fs::path(hub_cache_dir(opts)) / repo_folder_name(repo_id) / "refs" / (opts.revision.empty() ? "main" : opts.revision);
    std::error_code ec;
    fs::create_directories(ref.parent_path(), ec);
    std::ofstream(ref) << listing.commit;
  }
  return snap.string();
}

}  // namespace hfx
