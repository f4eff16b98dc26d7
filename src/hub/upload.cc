// upload_folder: the HTTP calls huggingface_hub 0.36.2 makes
// (hf_api.create_repo, _commit_api._fetch_upload_modes, lfs.post_lfs_batch_info
// + lfs_upload, hf_api.create_commit's ndjson payload).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/base64.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/safe_open.h"
#include "hfx/error.h"
#include "hfx/hub.h"
#include "hfx/io.h"
#include "hub/http.h"
#include "hub/protocol.h"

namespace hfx {

[[noreturn]] void throw_http_error(const hub::HttpResponse& r, const std::string& what);  // download.cc

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct LocalFile {
  std::string path_in_repo, abs_path, sha256, sample;  // sample: first 512 bytes
  uint64_t size = 0;
  std::string mode;  // "lfs" | "regular"
};

std::vector<std::string> auth_headers(const HubOptions& o, const std::string& what) {
  auto t = hub_token(o);
  if (!t) throw_error(ErrorKind::Network, what + " needs a token: set HF_TOKEN or run `huggingface-cli login`");
  return {"authorization: Bearer " + *t};
}

hub::HttpResponse post_json(const std::string& url, const json& body, std::vector<std::string> headers,
                            const std::string& content_type = "application/json") {
  hub::HttpRequest req;
  req.method = "POST";
  req.url = url;
  req.headers = std::move(headers);
  req.headers.push_back("Content-Type: " + content_type);
  req.body = body.dump();
  req.read_timeout_s = 60;
  return hub::http(req);
}

json parse_answer(const hub::HttpResponse& r, const std::string& what) {
  try {
    return parse_json(r.body, what);
  } catch (const Error& e) {
    throw_error(ErrorKind::Network, "malformed JSON from " + what + ": " + e.message());
  }
}

// utils/_http.py http_backoff as lfs.py uses it for PUTs: connection errors and
// 500/502/503/504 are retried (the body is re-read from the file each time).
hub::HttpResponse http_backoff(const hub::HttpRequest& req) {
  constexpr int kMaxRetries = 5;
  for (int attempt = 0;; ++attempt) {
    hub::HttpResponse r = hub::http(req);
    const bool transient = (r.status == 0 && !r.transport_error.empty()) || r.status == 500 || r.status == 502 ||
                           r.status == 503 || r.status == 504;
    if (!transient || attempt >= kMaxRetries) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(8000, 250 << attempt)));
  }
}

// lfs.py _upload_multi_part: PUT each chunk_size slice of the file (streamed from
// disk) to its part URL, collect the ETags, then POST the completion payload
// {"oid", "parts": [{"partNumber", "etag"}]} to the upload action's href. Like
// huggingface_hub, neither carries the hub token (the part URLs are presigned).
void upload_multipart(const LocalFile& f, const hub::LfsAction& a, const std::string& endpoint, detail::ProgressBar& bar) {
  json parts = json::array();
  const std::size_t n = a.part_urls.size();
  for (std::size_t i = 0; i < n; ++i) {
    const std::string what = "uploading part " + std::to_string(i + 1) + "/" + std::to_string(n) + " of " + f.path_in_repo + " (LFS multipart)";
    hub::HttpRequest put;
    put.method = "PUT";
    put.url = a.part_urls[i];
    put.body_file = f.abs_path;
    put.body_offset = a.chunk_size * i;
    put.body_length = std::min<uint64_t>(a.chunk_size, f.size - put.body_offset);
    put.read_timeout_s = 60;
    put.progress = [&bar, &f, off = put.body_offset](uint64_t now, uint64_t) { bar.update(off + now, f.size); };
    const auto r = http_backoff(put);
    if (!r.ok()) throw_http_error(r, what);
    const std::string etag = r.header("etag").value_or("");
    if (etag.empty()) throw_error(ErrorKind::Network, what + ": the storage server sent no ETag for the part");
    parts.push_back({{"partNumber", i + 1}, {"etag", etag}});
  }
  const auto r = post_json(hub::resolve_url(endpoint + "/", a.upload_href), {{"oid", a.oid}, {"parts", parts}},
                           {"Accept: application/vnd.git-lfs+json"}, "application/vnd.git-lfs+json");
  if (!r.ok()) throw_http_error(r, "completing the multipart upload of " + f.path_in_repo + " (LFS)");
}

}  // namespace

CommitInfo upload_folder(const std::string& folder, const std::string& repo_id, const PushOptions& push, const HubOptions& opts) {
  if (!is_repo_id(repo_id)) throw_error(ErrorKind::InvalidArgument, "'" + repo_id + "' is not a valid repo id (org/name)");
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw_error(ErrorKind::NotFound, "no such directory", folder);
  if (hub_offline(opts)) throw_error(ErrorKind::Network, "cannot push to " + repo_id + " in offline mode (HF_HUB_OFFLINE)");
  const std::string endpoint = hub_endpoint(opts);
  const auto headers = auth_headers(opts, "pushing to " + repo_id);
  const std::string revision = push.revision.empty() ? "main" : push.revision;
  const std::string qrev = hub::url_quote(revision, false);

  // Files, in sorted order (like upload_folder's glob), .git and caches left out.
  std::vector<LocalFile> files;
  for (auto it = fs::recursive_directory_iterator(folder, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) throw_error(ErrorKind::Io, "cannot list (" + ec.message() + ")", folder);
    const std::string rel = fs::relative(it->path(), folder).generic_string();
    if (rel == ".git" || rel.rfind(".git/", 0) == 0 || rel.rfind(".cache/huggingface", 0) == 0) continue;
    if (it->is_directory(ec) || !fs::exists(it->path(), ec)) continue;  // a dangling link: skipped, as upload_folder's is_file()
    // Anything else is opened as a regular file: a FIFO, socket or device in the
    // folder is refused (Format, "not a regular file") rather than skipped or awaited.
    LocalFile f;
    f.path_in_repo = rel;
    f.abs_path = it->path().string();
    RegularFile in(f.abs_path);
    f.size = in.size();
    f.sha256 = hub::sha256_file(f.abs_path);
    f.sample.resize(std::min<uint64_t>(512, f.size));
    std::size_t got = 0;
    while (got < f.sample.size()) {
      const ssize_t r = ::read(in.fd(), f.sample.data() + got, f.sample.size() - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw_error(ErrorKind::Io, "cannot read", f.abs_path);
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    f.sample.resize(got);
    files.push_back(std::move(f));
  }
  std::sort(files.begin(), files.end(), [](const LocalFile& a, const LocalFile& b) { return a.path_in_repo < b.path_in_repo; });
  if (files.empty()) throw_error(ErrorKind::InvalidArgument, "nothing to upload: the folder is empty", folder);

  // 1. create_repo(exist_ok=True): 409 means it is already there.
  {
    const std::size_t slash = repo_id.find('/');
    json body = {{"name", slash == std::string::npos ? repo_id : repo_id.substr(slash + 1)},
                 {"organization", slash == std::string::npos ? json(nullptr) : json(repo_id.substr(0, slash))},
                 {"private", push.private_repo},
                 {"type", "model"}};
    const auto r = post_json(endpoint + "/api/repos/create", body, headers);
    if (!r.ok() && r.status != 409) throw_http_error(r, "creating repo " + repo_id);
  }
  // 2. preupload: which files go through LFS.
  const std::string pr_param = push.create_pr ? "?create_pr=1" : "";
  for (std::size_t start = 0; start < files.size(); start += 256) {
    json payload = {{"files", json::array()}};
    for (std::size_t i = start; i < std::min(files.size(), start + 256); ++i)
      payload["files"].push_back({{"path", files[i].path_in_repo}, {"sample", base64_encode(files[i].sample)}, {"size", files[i].size}});
    const auto r = post_json(endpoint + "/api/models/" + repo_id + "/preupload/" + qrev + pr_param, payload, headers);
    if (!r.ok()) throw_http_error(r, "preupload for " + repo_id);
    const auto modes = hub::parse_preupload_response(r.body);
    for (std::size_t i = start; i < std::min(files.size(), start + 256); ++i) {
      auto it = modes.find(files[i].path_in_repo);
      if (it == modes.end()) throw_error(ErrorKind::Network, "preupload answer has no upload mode for " + files[i].path_in_repo);
      files[i].mode = it->second;
    }
  }
  // 3. LFS: batch, then PUT each object the server does not have yet (+ verify).
  std::vector<const LocalFile*> lfs;
  for (const auto& f : files)
    if (f.mode == "lfs") lfs.push_back(&f);
  if (!lfs.empty()) {
    // huggingface_hub offers "xet" too when hf_xet is installed; hfx does not implement Xet.
    json payload = {{"operation", "upload"}, {"transfers", {"basic", "multipart"}}, {"objects", json::array()}, {"hash_algo", "sha256"}};
    for (const auto* f : lfs) payload["objects"].push_back({{"oid", f->sha256}, {"size", f->size}});
    if (!push.create_pr) payload["ref"] = {{"name", revision}};
    auto h = headers;
    h.push_back("Accept: application/vnd.git-lfs+json");
    const auto r = post_json(endpoint + "/" + repo_id + ".git/info/lfs/objects/batch", payload, h, "application/vnd.git-lfs+json");
    if (!r.ok()) throw_http_error(r, "LFS batch for " + repo_id);
    const hub::LfsBatch batch = hub::parse_lfs_batch_response(r.body);
    if (batch.transfer == "xet")
      throw_error(ErrorKind::Unsupported, "the hub wants the LFS files of " + repo_id + " uploaded with Xet storage (transfer \"xet\" in the "
                                          "LFS batch answer, not offered by hfx); hfx does not implement Xet (huggingface_hub's hf_xet), "
                                          "only the basic and multipart LFS transfers");
    for (const auto& a : batch.objects) {
      if (!a.needs_upload) continue;
      auto f = std::find_if(lfs.begin(), lfs.end(), [&](const LocalFile* x) { return x->sha256 == a.oid; });
      if (f == lfs.end()) throw_error(ErrorKind::Network, "LFS batch answered for an object hfx did not ask about: " + a.oid);
      // One bar per LFS file, as huggingface_hub's upload shows them (TTY only, HubOptions::progress).
      detail::ProgressBar bar((*f)->path_in_repo, opts.progress);
      if (a.multipart) {
        if (a.size != (*f)->size)
          throw_error(ErrorKind::Network, "malformed LFS batch response: multipart plan for " + (*f)->path_in_repo + " is for " +
                                              std::to_string(a.size) + " bytes, the file has " + std::to_string((*f)->size));
        upload_multipart(**f, a, endpoint, bar);
      } else {
        hub::HttpRequest put;
        put.method = "PUT";
        put.url = hub::resolve_url(endpoint + "/", a.upload_href);
        put.body_file = (*f)->abs_path;
        put.read_timeout_s = 60;
        for (const auto& [k, v] : a.upload_header) put.headers.push_back(k + ": " + v);
        put.progress = [&bar, size = (*f)->size](uint64_t now, uint64_t) { bar.update(now, size); };
        const auto pr = http_backoff(put);
        if (!pr.ok()) throw_http_error(pr, "uploading " + (*f)->path_in_repo + " (LFS)");
      }
      if (!a.verify_href.empty()) {
        auto vh = headers;
        for (const auto& [k, v] : a.verify_header) vh.push_back(k + ": " + v);
        const auto vr = post_json(hub::resolve_url(endpoint + "/", a.verify_href), {{"oid", a.oid}, {"size", (*f)->size}}, vh);
        if (!vr.ok()) throw_http_error(vr, "verifying the LFS upload of " + (*f)->path_in_repo);
      }
    }
  }
  // 4. The commit: ndjson header + one line per file.
  const std::string message = push.commit_message.empty() ? "Upload folder using huggingface_hub" : push.commit_message;
  std::string ndjson = json({{"key", "header"}, {"value", {{"summary", message}, {"description", push.commit_description}}}}).dump() + "\n";
  CommitInfo info;
  for (const auto& f : files) {
    if (f.mode == "lfs") {
      ndjson += json({{"key", "lfsFile"}, {"value", {{"path", f.path_in_repo}, {"algo", "sha256"}, {"oid", f.sha256}, {"size", f.size}}}}).dump() + "\n";
      info.lfs_files.push_back(f.path_in_repo);
    } else {
      ndjson += json({{"key", "file"}, {"value", {{"content", base64_encode(read_text_file(f.abs_path))}, {"path", f.path_in_repo}, {"encoding", "base64"}}}}).dump() + "\n";
      info.regular_files.push_back(f.path_in_repo);
    }
  }
  hub::HttpRequest req;
  req.method = "POST";
  req.url = endpoint + "/api/models/" + repo_id + "/commit/" + qrev + pr_param;
  req.headers = headers;
  req.headers.push_back("Content-Type: application/x-ndjson");
  req.body = std::move(ndjson);
  req.read_timeout_s = 120;
  const auto r = hub::http(req);
  if (!r.ok()) throw_http_error(r, "commit to " + repo_id);
  const json j = parse_answer(r, "the commit endpoint");
  if (!j.is_object() || !j.contains("commitUrl") || !j["commitUrl"].is_string() || !j.contains("commitOid") || !j["commitOid"].is_string())
    throw_error(ErrorKind::Network, "the commit answer lacks commitUrl/commitOid");
  info.commit_url = j["commitUrl"].get<std::string>();
  info.commit_oid = j["commitOid"].get<std::string>();
  if (push.create_pr && j.contains("pullRequestUrl") && j["pullRequestUrl"].is_string()) info.pr_url = j["pullRequestUrl"].get<std::string>();
  return info;
}

}  // namespace hfx
