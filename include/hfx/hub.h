// hfx/hub.h — the Hugging Face Hub: model ids, the shared cache, downloads, push_to_hub.
//
// hfx reads and writes the same on-disk cache as huggingface_hub 0.36 (and so
// transformers), so a model a Python user already downloaded is found by hfx
// and the reverse:
//
//   <cache>/models--org--name/blobs/<etag>            file contents (etag: git sha1, or sha256 for LFS)
//   <cache>/models--org--name/snapshots/<commit>/<f>  relative symlink -> ../../blobs/<etag>
//   <cache>/models--org--name/refs/<revision>         the commit a branch/tag pointed to
//   <cache>/models--org--name/.no_exist/<commit>/<f>  "this file is not in that commit"
//   <cache>/.locks/models--org--name/<etag>.lock      flock() held while a blob is written
//
// The cache folder is, first found: HubOptions::cache_dir, TRANSFORMERS_CACHE,
// PYTORCH_TRANSFORMERS_CACHE, HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE,
// $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub.
// The endpoint is HF_ENDPOINT (default https://huggingface.co); the token is
// HubOptions::token, else HF_TOKEN / HUGGING_FACE_HUB_TOKEN, else the file
// HF_TOKEN_PATH or $HF_HOME/token. Offline (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE
// set to 1/ON/YES/TRUE, or local_files_only) resolves from the cache only.
//
// Downloads: HEAD {endpoint}/{repo}/resolve/{revision}/{file} (relative
// redirects followed, X-Repo-Commit / X-Linked-Etag / X-Linked-Size read),
// then GET of the announced location into blobs/<etag>.incomplete, resumed with
// a Range request after a dropped connection, checked against the announced
// size and (LFS blobs) sha256, and only then renamed to its final name. A
// truncated or wrong-hash response is never left under the final name.
//
// A Xet-backed file (the resolve answer carries X-Xet-Hash) is downloaded over
// plain HTTP, as huggingface_hub does without hf_xet; where that is impossible
// the error is Unsupported and names Xet (hfx does not implement Xet storage).
//
// Errors: hfx::Error of kind Network (HTTP 401/403/5xx, connection failures,
// size/hash mismatches) or NotFound (404s, offline misses); the message names
// the repo, revision and file.
#pragma once

#include "hfx/export.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hfx {

struct HFX_API HubOptions {
  std::string revision = "main";  // branch, tag or full commit hash
  std::string cache_dir;          // empty: from the environment (see above)
  std::string endpoint;           // empty: HF_ENDPOINT or https://huggingface.co
  std::optional<std::string> token;  // empty: HF_TOKEN or the token file
  bool local_files_only = false;  // also implied by HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE
  bool force_download = false;
  bool progress = true;           // progress bars, drawn only when stderr is a terminal
  int max_workers = 8;            // parallel shard downloads
  // transformers' from_tf / from_flax: which weights resolve_pretrained fetches.
  bool from_tf = false;
  bool from_flax = false;
  // Called by resolve_pretrained with the local path of config.json as soon as it is fetched, before any
  // weight file is requested: from_pretrained checks the model_type there, so that a model hfx cannot
  // build fails (Unsupported) without its weights being downloaded. Empty: no check.
  std::function<void(const std::string& config_path)> check_config;
};

// ---- environment ----------------------------------------------------------
HFX_API std::string hub_cache_dir(const HubOptions& opts = {});
HFX_API std::string hub_endpoint(const HubOptions& opts = {});
HFX_API std::optional<std::string> hub_token(const HubOptions& opts = {});
HFX_API bool hub_offline(const HubOptions& opts = {});

// "org/name" -> "models--org--name" (huggingface_hub's repo_folder_name).
HFX_API std::string repo_folder_name(const std::string& repo_id, const std::string& repo_type = "model");
// A valid hub model id ("bert-base-cased", "org/name"); never true for a path
// that starts with '/', '.', '~' or has more than one '/'.
HFX_API bool is_repo_id(const std::string& s);
HFX_API bool is_commit_hash(const std::string& s);

// ---- download -------------------------------------------------------------
// huggingface_hub's hf_hub_download: the path of `filename` in the snapshot
// folder (a symlink into blobs/). Throws NotFound when the file is not in the
// repo (and records a .no_exist marker) or when offline and not cached.
HFX_API std::string hf_hub_download(const std::string& repo_id, const std::string& filename, const HubOptions& opts = {});
// As above but returns nullopt where hf_hub_download would throw NotFound for a
// missing *file* (the repo and revision exist); other errors still throw.
HFX_API std::optional<std::string> try_hf_hub_download(const std::string& repo_id, const std::string& filename,
                                               const HubOptions& opts = {});
// Downloads several files, `max_workers` at a time; returns the snapshot folder.
HFX_API std::string download_files(const std::string& repo_id, const std::vector<std::string>& filenames,
                           const HubOptions& opts = {});

// The one resolve step of from_pretrained: a local directory or file is
// returned unchanged; a repo id is resolved like transformers 4.46 does —
// config.json (handed to opts.check_config), then the first of model.safetensors, model.safetensors.index.json,
// pytorch_model.bin, pytorch_model.bin.index.json (tf_model.h5 / flax_model.msgpack
// and their indexes with from_tf / from_flax), then every shard an index names,
// fetched in parallel — and the snapshot folder holding them is returned.
HFX_API std::string resolve_pretrained(const std::string& id_or_path, const HubOptions& opts = {});

// ---- cache scan (huggingface_hub's scan_cache_dir) -------------------------
struct HFX_API CachedRevision {
  std::string commit;
  std::vector<std::string> refs;  // branches/tags pointing here
  std::vector<std::string> files; // relative paths in the snapshot
  uint64_t size_on_disk = 0;      // of the blobs these files point to
};
struct HFX_API CachedRepo {
  std::string repo_id, repo_type, path;
  uint64_t size_on_disk = 0;      // all blobs
  std::size_t nb_files = 0;       // blobs
  std::vector<CachedRevision> revisions;
};
struct HFX_API CacheInfo {
  std::vector<CachedRepo> repos;
  uint64_t size_on_disk = 0;
  std::vector<std::string> warnings;  // folders that are not valid cached repos
};
HFX_API CacheInfo scan_cache(const std::string& cache_dir = {});

// The shard files a downloaded "*.index.json" names (its weight_map values),
// each once, in first-use order, each checked as a path inside a repo (Format /
// Security otherwise); they sit beside the index (src/hub/protocol.cc).
HFX_API std::vector<std::string> shard_index_files(const std::string& index_path);

// ---- upload ---------------------------------------------------------------
struct HFX_API PushOptions {
  bool private_repo = false;
  std::string commit_message;   // empty: "Upload model" (transformers' default) / "Upload folder"
  std::string commit_description;
  bool create_pr = false;
  std::string revision;         // empty: main
  std::string max_shard_size;   // push_to_hub(Model): save_pretrained's max_shard_size
};
struct HFX_API CommitInfo {
  std::string commit_url, commit_oid, pr_url;
  std::vector<std::string> lfs_files, regular_files;  // how each file travelled
};
// The calls huggingface_hub's create_repo(exist_ok=True) + upload_folder make:
// POST /api/repos/create, POST /api/models/{id}/preupload/{rev}, the LFS batch
// API (transfers "basic" and "multipart") + upload for files the server wants in
// LFS, POST /api/models/{id}/commit/{rev} (ndjson). Every regular file under
// `folder` is uploaded (paths relative to it). A multipart answer (chunk_size and
// part URLs "00001".."N") is followed like lfs.py's _upload_multi_part: each
// chunk streamed from disk to its part URL (5xx retried), the ETags posted to the
// completion href; a malformed one is an Error{Network} naming the object. The
// token goes to the hub only, never to part or CDN URLs. A server that answers
// with the "xet" transfer gets Error{Unsupported} (hfx does not implement Xet).
HFX_API CommitInfo upload_folder(const std::string& folder, const std::string& repo_id, const PushOptions& push = {},
                         const HubOptions& opts = {});

// push_to_hub(Model) (save_pretrained, then upload_folder) is declared in hfx/save.h.

}  // namespace hfx
