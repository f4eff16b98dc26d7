// hf_hub_download and the from_pretrained resolve step, mirroring
// huggingface_hub 0.36.2 file_download.py (_hf_hub_download_to_cache_dir,
// _get_metadata_or_catch_error, http_get, _create_symlink) and transformers
// 4.46's weight-file order. See include/hfx/hub.h for the cache layout.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "core/progress.h"
#include "core/safe_open.h"
#include "hfx/error.h"
#include "hfx/hub.h"
#include "hfx/io.h"
#include "hub/http.h"
#include "hub/parallel.h"
#include "hub/protocol.h"

namespace hfx {

namespace fs = std::filesystem;
using hub::HttpRequest;
using hub::HttpResponse;

namespace {

constexpr int kMaxAttempts = 5;  // http_get's _nb_retries

// Opens (creating) a cache file for writing without blocking on a FIFO put
// there (O_NONBLOCK: open() fails with ENXIO instead of waiting for a reader)
// and refuses anything that is not a regular file (issue 24).
int open_cache_file(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
  if (fd < 0 && errno == ENXIO) throw_error(ErrorKind::Format, "not a regular file", path.string());
  if (fd < 0) throw_error(ErrorKind::Io, std::string("cannot open: ") + std::strerror(errno), path.string());
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw_error(ErrorKind::Format, "not a regular file", path.string());
  }
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

// flock() on <cache>/.locks/<repo folder>/<etag>.lock, like filelock's
// UnixFileLock that huggingface_hub uses, so hfx and Python processes exclude each other.
class BlobLock {
 public:
  explicit BlobLock(const fs::path& path) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    fd_ = open_cache_file(path, O_RDWR);
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(fd_);
        throw_error(ErrorKind::Io, "cannot lock", path.string());
      }
    }
  }
  ~BlobLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  BlobLock(const BlobLock&) = delete;
  BlobLock& operator=(const BlobLock&) = delete;

 private:
  int fd_ = -1;
};

// refs/<revision>: a FIFO or device put there is refused (Format), never awaited.
std::string read_small(const fs::path& p) { return read_regular_file(p.string(), hub::kMaxSmallFile); }

std::vector<std::string> base_headers(const HubOptions& o) {
  std::vector<std::string> h;
  if (auto t = hub_token(o)) h.push_back("authorization: Bearer " + *t);
  return h;
}

// The hub's error text: X-Error-Message, else a JSON {"error": ...} body, else the body's start.
std::string server_message(const HttpResponse& r) {
  if (auto m = r.header("x-error-message")) return *m;
  const std::string b = r.body.substr(0, 300);
  std::size_t p = b.find("\"error\"");
  if (p != std::string::npos) {
    std::size_t q1 = b.find('"', b.find(':', p) + 1);
    std::size_t q2 = q1 == std::string::npos ? q1 : b.find('"', q1 + 1);
    if (q2 != std::string::npos) return b.substr(q1 + 1, q2 - q1 - 1);
  }
  return b;
}

}  // namespace

// Shared with upload.cc: an hfx::Error for a failed exchange.
[[noreturn]] void throw_http_error(const HttpResponse& r, const std::string& what) {
  if (!r.transport_error.empty() && r.status == 0)
    throw_error(ErrorKind::Network, what + ": cannot reach the server (" + r.transport_error + ")");
  const std::string msg = server_message(r);
  const std::string code = r.header("x-error-code").value_or("");
  std::string text = what + ": HTTP " + std::to_string(r.status);
  if (!code.empty()) text += " " + code;
  if (!msg.empty()) text += " (" + msg + ")";
  if (r.status == 401 || r.status == 403)
    throw_error(ErrorKind::Network, text + "; the repository may be private or gated: pass a token (HF_TOKEN or "
                                           "`huggingface-cli login`) that may read it");
  if (r.status == 404) throw_error(ErrorKind::NotFound, text);
  if (!r.transport_error.empty()) text += " [" + r.transport_error + "]";
  throw_error(ErrorKind::Network, text);
}

namespace {

struct Metadata {
  std::string url, etag, commit;
  uint64_t size = 0;
  std::string where;  // "repo (revision r)", for messages
  bool xet = false;  // X-Xet-Hash: the file lives in Xet storage (downloaded over HTTP, as huggingface_hub does without hf_xet)
};

// huggingface_hub without hf_xet falls back to a plain HTTP download of a Xet-backed
// file; when that is not possible, say so instead of a bare HTTP/metadata error.
Error xet_unsupported(const std::string& filename, const std::string& where, const std::string& why) {
  return Error(ErrorKind::Unsupported, filename + " of " + where + " is stored with Xet (the hub sent X-Xet-Hash) and " + why +
                                           "; hfx does not implement Xet storage (huggingface_hub's hf_xet), only plain HTTP downloads");
}

// get_hf_file_metadata: HEAD with relative redirects followed, nothing else.
HttpResponse head_following_relative(std::string url, const HubOptions& o) {
  for (int hop = 0; hop < 10; ++hop) {
    HttpRequest req;
    req.method = "HEAD";
    req.url = url;
    req.headers = base_headers(o);
    req.headers.push_back("Accept-Encoding: identity");
    HttpResponse r;
    for (int attempt = 0;; ++attempt) {  // http_backoff: retry connection errors and 5xx a little
      r = hub::http(req);
      const bool transient = (r.status == 0 && !r.transport_error.empty()) || (r.status >= 500 && r.status <= 504);
      if (!transient || attempt >= 2) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
    }
    if (r.status >= 300 && r.status <= 399 && r.transport_error.empty()) {
      const auto loc = r.header("location");
      if (loc && !loc->empty() && (*loc)[0] == '/' && !hub::names_host(*loc)) {  // never "//otherhost/..."
        url = hub::resolve_url(url, *loc);
        continue;
      }
    }
    r.url = url;
    return r;
  }
  throw_error(ErrorKind::Network, "too many redirects", url);
}

std::string strip_etag(std::string e) {  // _normalize_etag: lstrip("W/").strip('"')
  std::size_t b = 0;
  while (b < e.size() && (e[b] == 'W' || e[b] == '/')) ++b;
  e = e.substr(b);
  while (!e.empty() && e.front() == '"') e.erase(0, 1);
  while (!e.empty() && e.back() == '"') e.pop_back();
  return e;
}

void write_ref(const fs::path& storage, const std::string& revision, const std::string& commit) {
  if (revision == commit) return;
  const fs::path ref = storage / "refs" / revision;
  std::error_code ec;
  if (fs::exists(ref, ec) && read_small(ref) == commit) return;
  fs::create_directories(ref.parent_path(), ec);
  write_file_atomic(ref.string(), commit);
}

// A relative symlink pointer -> blob, created under a temporary name and renamed
// (so a reader never sees a half-made pointer, and two writers do not collide).
void create_pointer(const fs::path& blob, const fs::path& pointer) {
  const fs::path abs_blob = fs::absolute(blob).lexically_normal();
  const fs::path abs_ptr = fs::absolute(pointer).lexically_normal();
  const fs::path rel = abs_blob.lexically_relative(abs_ptr.parent_path());
  std::error_code ec;
  fs::create_directories(abs_ptr.parent_path(), ec);
  const fs::path tmp = abs_ptr.string() + ".tmp-link-" + std::to_string(::getpid()) + "-" +
                       std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()) % 1000000);
  fs::remove(tmp, ec);
  fs::create_symlink(rel, tmp, ec);
  if (ec) throw_error(ErrorKind::Io, "cannot create symlink (" + ec.message() + ")", tmp.string());
  fs::rename(tmp, abs_ptr, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw_error(ErrorKind::Io, "cannot rename symlink into place", abs_ptr.string());
  }
}

// One line per file being downloaded (core/progress.h: tqdm's layout, rate and ETA, TTY only,
// HF_HUB_DISABLE_PROGRESS_BARS honoured; parallel downloads each keep their own line).
using Progress = detail::ProgressBar;

bool is_sha256(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// _download_to_tmp_and_move + http_get: GET into blob.incomplete, resuming with
// Range after a dropped connection; size and (LFS) sha256 checked before the rename.
void download_blob(const Metadata& m, const fs::path& blob, const std::string& filename, const HubOptions& o) {
  const fs::path incomplete = blob.string() + ".incomplete";
  std::error_code ec;
  if (o.force_download) fs::remove(incomplete, ec);
  Progress bar(filename, o.progress);
  int fd = open_cache_file(incomplete, O_WRONLY | O_APPEND);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  auto current_size = [&] { return static_cast<uint64_t>(::lseek(fd, 0, SEEK_END)); };
  if (current_size() > m.size && ::ftruncate(fd, 0) != 0) throw_error(ErrorKind::Io, "cannot truncate", incomplete.string());
  int failures = 0;
  std::string last_error;
  while (current_size() < m.size || m.size == 0) {
    const uint64_t resume = current_size();
    HttpRequest req;
    req.url = m.url;
    req.follow_redirects = true;
    // Like huggingface_hub: the token goes to the hub only, never to a CDN on another host.
    if (hub::url_origin(m.url) == hub::url_origin(hub_endpoint(o))) req.headers = base_headers(o);
    req.headers.push_back("Accept-Encoding: identity");
    if (resume > 0) req.headers.push_back("Range: bytes=" + std::to_string(resume) + "-");
    bool write_failed = false, bad_range = false;
    int write_errno = 0;
    req.on_headers = [&](long status, const std::map<std::string, std::string>& h) {
      if (resume > 0 && status == 200) {  // the server ignored Range: start over
        if (::ftruncate(fd, 0) != 0) write_failed = true, write_errno = errno;
      } else if (status == 206) {
        auto cr = h.find("content-range");
        const std::string want = "bytes " + std::to_string(resume) + "-";
        if (cr == h.end() || cr->second.rfind(want, 0) != 0) bad_range = true;
      }
    };
    req.sink = [&](const char* p, std::size_t n) {
      if (bad_range) return false;
      if (current_size() + n > m.size) return false;  // more than announced: refuse
      while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
          if (errno == EINTR) continue;
          write_failed = true;
          write_errno = errno;
          return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
      }
      return true;
    };
    req.progress = [&](uint64_t now, uint64_t total) { bar.update(resume + now, total ? resume + total : m.size); };
    const HttpResponse r = hub::http(req);
    if (write_failed) throw_error(ErrorKind::Io, std::string("cannot write: ") + std::strerror(write_errno), incomplete.string());
    if (r.status == 416 && current_size() == m.size) break;
    if (r.status >= 400 && r.status < 500) {
      if (!m.xet) throw_http_error(r, "GET " + m.url);
      try {
        throw_http_error(r, "GET " + m.url);
      } catch (const Error& e) {
        throw xet_unsupported(filename, m.where, "the plain HTTP download failed (" + e.message() + ")");
      }
    }
    if (r.ok() && !bad_range && m.size == 0) break;
    if (r.ok() && !bad_range && current_size() == m.size) break;
    if (current_size() > m.size) break;  // caught by the size check below
    // A dropped connection, a 5xx, a short body: resume, a few times if no progress is made.
    last_error = !r.transport_error.empty() ? r.transport_error : "HTTP " + std::to_string(r.status);
    if (bad_range) {
      last_error = "bad Content-Range in the answer to a Range request";
      if (::ftruncate(fd, 0) != 0) throw_error(ErrorKind::Io, "cannot truncate", incomplete.string());
    }
    if (current_size() == resume && ++failures >= kMaxAttempts) break;
    if (r.ok() && current_size() == resume) break;  // the server ends the body early every time
    std::this_thread::sleep_for(std::chrono::milliseconds(current_size() > resume ? 0 : 100 * failures));
  }
  ::fsync(fd);
  const uint64_t got = current_size();
  if (got != m.size) {
    if (got > m.size) fs::remove(incomplete, ec);
    throw_error(ErrorKind::Network,
                "consistency check failed: file should be of size " + std::to_string(m.size) + " but has size " +
                    std::to_string(got) + (last_error.empty() ? "" : " (" + last_error + ")") +
                    "; the partial download is kept as .incomplete and resumed next time",
                filename);
  }
  if (is_sha256(m.etag)) {
    const std::string h = hub::sha256_file(incomplete.string());
    if (h != m.etag) {
      fs::remove(incomplete, ec);
      throw_error(ErrorKind::Network, "sha256 mismatch: the hub announced " + m.etag + " but the downloaded bytes hash to " + h +
                                          "; the download was discarded", filename);
    }
  }
  ::fchmod(fd, 0644);
  fs::rename(incomplete, blob, ec);
  if (ec) throw_error(ErrorKind::Io, "cannot rename into place (" + ec.message() + ")", blob.string());
  fsync_directory(blob.parent_path().string());
}

enum class Miss { Throw, Report };

std::optional<std::string> download(const std::string& repo_id, const std::string& filename, const HubOptions& o, Miss miss) {
  if (!is_repo_id(repo_id)) throw_error(ErrorKind::InvalidArgument, "'" + repo_id + "' is not a valid repo id (org/name)");
  hub::check_repo_path(filename, "file requested from " + repo_id);
  const std::string revision = o.revision.empty() ? "main" : o.revision;
  hub::check_repo_path(revision, "revision");
  const fs::path cache = hub_cache_dir(o);
  const fs::path storage = cache / repo_folder_name(repo_id);
  const std::string where = repo_id + " (revision " + revision + ")";
  if (is_commit_hash(revision) && !o.force_download) {
    const fs::path p = storage / "snapshots" / revision / filename;
    if (fs::exists(p)) return p.string();
  }
  // Metadata from the server, or the reason there is none.
  std::optional<Metadata> meta;
  std::optional<Error> head_error;
  const bool offline = hub_offline(o);
  if (offline) {
    head_error = Error(ErrorKind::NotFound, std::string(o.local_files_only ? "local_files_only is set" : "offline mode (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE)") +
                                                " and " + filename + " of " + where + " is not in the cache at " + cache.string());
  } else {
    const std::string url = hub_endpoint(o) + "/" + repo_id + "/resolve/" + hub::url_quote(revision, false) + "/" +
                            hub::url_quote(filename, true);
    const HttpResponse r = head_following_relative(url, o);
    const std::string code = r.header("x-error-code").value_or("");
    if (r.status == 404 && code == "EntryNotFound") {
      if (auto c = r.header("x-repo-commit"); c && is_commit_hash(*c)) {
        std::error_code ec;
        const fs::path marker = storage / ".no_exist" / *c / filename;
        fs::create_directories(marker.parent_path(), ec);
        if (!ec) std::ofstream(marker).flush();
        write_ref(storage, revision, *c);
      }
      if (miss == Miss::Report) return std::nullopt;
      throw_error(ErrorKind::NotFound, filename + " is not in " + where + " (" + hub_endpoint(o) + ")");
    }
    if (r.status == 404 && code == "RevisionNotFound")
      throw_error(ErrorKind::NotFound, "revision " + revision + " not found in " + repo_id + " (" + hub_endpoint(o) + ")");
    if (r.status >= 200 && r.status < 400 && r.transport_error.empty()) {
      Metadata m;
      m.commit = r.header("x-repo-commit").value_or("");
      m.etag = strip_etag(r.header("x-linked-etag").value_or(r.header("etag").value_or("")));
      const auto size = hub::parse_u64(r.header("x-linked-size").value_or(r.header("content-length").value_or("")));
      const auto loc = r.header("location");
      m.url = (r.status >= 300 && loc) ? hub::resolve_url(r.url, *loc) : r.url;
      m.xet = r.header("x-xet-hash").has_value();
      m.where = where;
      if (m.xet && !m.commit.empty() && (m.etag.empty() || !size))
        head_error = xet_unsupported(filename, where, "the server offers no plain HTTP download of it (no " +
                                                          std::string(m.etag.empty() ? "ETag" : "size") + ")");
      else if (m.commit.empty())
        head_error = Error(ErrorKind::Network, "the server at " + hub_endpoint(o) + " sent no X-Repo-Commit for " + filename + ": is it a Hugging Face hub?");
      else if (m.etag.empty())
        head_error = Error(ErrorKind::Network, "the server sent no ETag for " + filename + " of " + where);
      else if (!size)
        head_error = Error(ErrorKind::Network, "the server sent no usable size for " + filename + " of " + where);
      else {
        m.size = *size;
        hub::check_cache_name(m.commit, "commit hash");
        hub::check_cache_name(m.etag, "ETag");
        meta = m;
      }
    } else {
      try {
        throw_http_error(r, "HEAD " + url);
      } catch (const Error& e) {
        head_error = e;
      }
    }
  }
  if (!meta) {  // the cache may still have it
    if (!o.force_download) {
      std::string commit = is_commit_hash(revision) ? revision : "";
      if (commit.empty() && fs::exists(storage / "refs" / revision)) commit = read_small(storage / "refs" / revision);
      if (!commit.empty()) {
        const fs::path p = storage / "snapshots" / commit / filename;
        if (fs::exists(p)) return p.string();
        if (offline && miss == Miss::Report && fs::exists(storage / ".no_exist" / commit / filename)) return std::nullopt;
      }
    }
    if (offline && miss == Miss::Report) return std::nullopt;
    if (o.force_download && offline) throw_error(ErrorKind::InvalidArgument, "force_download cannot be combined with offline mode / local_files_only");
    if (offline) throw *head_error;
    throw Error(head_error->kind(), head_error->message() + "; and " + filename + " of " + where + " is not in the local cache");
  }
  const fs::path blob = storage / "blobs" / meta->etag;
  const fs::path pointer = storage / "snapshots" / meta->commit / filename;
  std::error_code ec;
  fs::create_directories(blob.parent_path(), ec);
  fs::create_directories(pointer.parent_path(), ec);
  write_ref(storage, revision, meta->commit);
  const fs::path lock_path = cache / ".locks" / repo_folder_name(repo_id) / (meta->etag + ".lock");
  if (!o.force_download && fs::exists(pointer)) return pointer.string();
  if (!o.force_download && fs::exists(blob)) {
    BlobLock lock(lock_path);
    if (!fs::exists(pointer)) create_pointer(blob, pointer);
    return pointer.string();
  }
  BlobLock lock(lock_path);
  if (o.force_download || !fs::exists(blob)) download_blob(*meta, blob, filename, o);  // another process may have finished it
  if (o.force_download || !fs::exists(pointer)) create_pointer(blob, pointer);
  return pointer.string();
}

}  // namespace

std::string hf_hub_download(const std::string& repo_id, const std::string& filename, const HubOptions& opts) {
  return *download(repo_id, filename, opts, Miss::Throw);
}

std::optional<std::string> try_hf_hub_download(const std::string& repo_id, const std::string& filename, const HubOptions& opts) {
  return download(repo_id, filename, opts, Miss::Report);
}

std::string download_files(const std::string& repo_id, const std::vector<std::string>& filenames, const HubOptions& opts) {
  std::vector<std::string> paths(filenames.size());
  hub::parallel_for(filenames.size(), opts.max_workers, [&](std::size_t i) { paths[i] = hf_hub_download(repo_id, filenames[i], opts); });
  if (paths.empty()) return {};
  // The snapshot folder: paths[0] minus the file's own relative path.
  fs::path p(paths[0]);
  for (std::size_t k = 0, segs = std::count(filenames[0].begin(), filenames[0].end(), '/') + 1; k < segs; ++k) p = p.parent_path();
  return p.string();
}

std::string resolve_pretrained(const std::string& id_or_path, const HubOptions& opts) {
  std::error_code ec;
  if (fs::exists(id_or_path, ec)) return id_or_path;
  if (!is_repo_id(id_or_path)) throw_error(ErrorKind::NotFound, "no such file or directory", id_or_path);
  const std::string repo = id_or_path;
  const fs::path config = hf_hub_download(repo, "config.json", opts);
  if (opts.check_config) opts.check_config(config.string());  // before any weight request (issue 18)
  const fs::path dir = config.parent_path();
  HubOptions pinned = opts;  // the rest from the same commit as config.json
  pinned.revision = dir.filename().string();
  std::vector<std::string> candidates;
  if (opts.from_tf) candidates = {"tf_model.h5", "tf_model.h5.index.json"};
  else if (opts.from_flax) candidates = {"flax_model.msgpack", "flax_model.msgpack.index.json"};
  else candidates = {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"};
  for (const auto& name : candidates) {
    const auto p = try_hf_hub_download(repo, name, pinned);
    if (!p) continue;
    if (name.size() > 11 && name.compare(name.size() - 11, 11, ".index.json") == 0)
      download_files(repo, shard_index_files(*p), pinned);
    return dir.string();
  }
  std::string names;
  for (const auto& n : candidates) names += (names.empty() ? "" : ", ") + n;
  throw_error(ErrorKind::NotFound, repo + " (revision " + opts.revision + ") has none of " + names +
                                       (hub_offline(opts) ? " in the local cache (offline mode)" : ""));
}

std::vector<std::string> shard_index_files(const std::string& index_path) {
  return hub::parse_shard_index(read_text_file(index_path), index_path);
}

}  // namespace hfx
