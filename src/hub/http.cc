// libcurl client for the hub code (see http.h).
#include "hub/http.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "hfx/error.h"
#include "core/safe_open.h"

namespace hfx::hub {

std::optional<std::string> HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

bool parse_header_line(const std::string& line, std::string& name, std::string& value) {
  const std::size_t colon = line.find(':');
  if (colon == std::string::npos || colon == 0) return false;
  name = line.substr(0, colon);
  for (char c : name)
    if (c <= ' ' || c >= 127) return false;  // a token (RFC 7230); rejects status lines
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t b = colon + 1, e = line.size();
  while (b < e && (line[b] == ' ' || line[b] == '\t')) ++b;
  while (e > b && (line[e - 1] == '\r' || line[e - 1] == '\n' || line[e - 1] == ' ' || line[e - 1] == '\t')) --e;
  value = line.substr(b, e - b);
  return true;
}

std::optional<uint64_t> parse_u64(const std::string& s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::optional<uint64_t> content_range_total(const std::string& v) {
  const std::size_t slash = v.rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  return parse_u64(v.substr(slash + 1));
}

std::string url_origin(const std::string& url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string::npos) return {};
  const std::size_t path = url.find_first_of("/?#", scheme + 3);
  return url.substr(0, path);
}

std::string resolve_url(const std::string& base, const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  if (location.rfind("//", 0) == 0) return base.substr(0, base.find("://") + 1) + location;
  if (!location.empty() && location[0] == '/') return url_origin(base) + location;
  std::string dir = base.substr(0, base.find_first_of("?#"));
  return dir.substr(0, dir.rfind('/') + 1) + location;
}

bool names_host(const std::string& location) {
  if (location.rfind("//", 0) == 0) return true;
  const std::size_t colon = location.find(':');
  if (colon == std::string::npos || colon == 0) return false;
  for (std::size_t i = 0; i < colon; ++i) {  // an RFC 3986 scheme before the first ':'
    const char c = location[i];
    if (!std::isalpha(static_cast<unsigned char>(c)) && !(i > 0 && (std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.')))
      return false;
  }
  return true;
}

namespace {
struct Origin {
  std::string scheme, host, port;
};
Origin origin_of(const std::string& url) {
  Origin o;
  const std::size_t sep = url.find("://");
  if (sep == std::string::npos) return o;
  o.scheme = url.substr(0, sep);
  std::string auth = url.substr(sep + 3, url.find_first_of("/?#", sep + 3) - (sep + 3));
  if (const std::size_t at = auth.rfind('@'); at != std::string::npos) auth = auth.substr(at + 1);  // userinfo
  const std::size_t colon = auth.rfind(':');
  const std::size_t bracket = auth.rfind(']');  // [v6]:port
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    o.port = auth.substr(colon + 1);
    auth = auth.substr(0, colon);
  }
  o.host = auth;
  for (std::string* f : {&o.scheme, &o.host})
    for (char& c : *f) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (o.port.empty()) o.port = o.scheme == "https" ? "443" : o.scheme == "http" ? "80" : "";
  return o;
}
bool is_credential(const std::string& header) {
  std::string name = header.substr(0, header.find(':'));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name == "authorization" || name == "cookie" || name == "proxy-authorization";
}
}  // namespace

bool same_origin(const std::string& a, const std::string& b) {
  const Origin x = origin_of(a), y = origin_of(b);
  return !x.scheme.empty() && x.scheme == y.scheme && x.host == y.host && x.port == y.port;
}

std::vector<std::string> redirect_headers(const std::vector<std::string>& headers, const std::string& from, const std::string& to) {
  if (same_origin(from, to)) return headers;
  std::vector<std::string> out;
  for (const auto& h : headers)
    if (!is_credential(h)) out.push_back(h);
  return out;
}

long hub_timeout_s(bool head) {
  const char* v = std::getenv(head ? "HF_HUB_ETAG_TIMEOUT" : "HF_HUB_DOWNLOAD_TIMEOUT");
  if (v && *v) {  // huggingface_hub's _as_int: an integer, else the default
    if (auto n = parse_u64(v); n && *n > 0 && *n < 86400) return static_cast<long>(*n);
  }
  return 10;  // DEFAULT_ETAG_TIMEOUT, DEFAULT_DOWNLOAD_TIMEOUT
}

std::string url_quote(const std::string& s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

namespace {

std::once_flag g_curl_once;

struct Ctx {
  const HttpRequest* req;
  HttpResponse* resp;
  CURL* curl;
  bool final_ok = false;  // the current response is 2xx (its body goes to the sink)
  bool aborted = false;
};

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* ctx = static_cast<Ctx*>(user);
  const std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (first, or after a redirect / 100-continue)
    ctx->resp->headers.clear();
    const std::size_t sp = line.find(' ');
    long status = 0;
    if (sp != std::string::npos) status = std::strtol(line.c_str() + sp + 1, nullptr, 10);
    ctx->final_ok = status >= 200 && status < 300;
    return size * n;
  }
  if ((line == "\r\n" || line == "\n") && ctx->final_ok && ctx->req->on_headers) {
    long status = 0;
    curl_easy_getinfo(ctx->curl, CURLINFO_RESPONSE_CODE, &status);
    ctx->req->on_headers(status, ctx->resp->headers);
  }
  std::string name, value;
  if (parse_header_line(line, name, value)) ctx->resp->headers[name] = value;
  return size * n;
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* ctx = static_cast<Ctx*>(user);
  const std::size_t len = size * n;
  if (ctx->req->sink && ctx->final_ok) {
    if (!ctx->req->sink(data, len)) {
      ctx->aborted = true;
      return 0;
    }
  } else {
    if (ctx->resp->body.size() + len > (64u << 20))  // error pages and API answers are small
      return 0;
    ctx->resp->body.append(data, len);
  }
  ctx->resp->received += len;
  return len;
}

int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
  auto* ctx = static_cast<Ctx*>(user);
  if (!ctx->req->progress) return 0;
  if (!ctx->req->body_file.empty())  // an upload: the bytes sent are the progress
    ctx->req->progress(static_cast<uint64_t>(ulnow), static_cast<uint64_t>(ultotal));
  else
    ctx->req->progress(static_cast<uint64_t>(dlnow), static_cast<uint64_t>(dltotal));
  return 0;
}

// A PUT body read from a file slice, never held in memory whole.
struct Upload {
  FILE* f = nullptr;
  uint64_t left = 0;
};
std::size_t on_read(char* buf, std::size_t size, std::size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  const std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(size * n, u->left));
  if (want == 0) return 0;
  const std::size_t got = std::fread(buf, 1, want, u->f);
  if (got == 0) return CURL_READFUNC_ABORT;  // the file shrank or cannot be read: never send a short body
  u->left -= got;
  return got;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct FileDeleter {
  void operator()(FILE* f) const { std::fclose(f); }
};

}  // namespace

namespace {
constexpr int kMaxRedirects = 10;

// One exchange, no redirect followed.
HttpResponse perform(const HttpRequest& req) {
  std::call_once(g_curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) throw_error(ErrorKind::Network, "cannot initialise libcurl");
  HttpResponse resp;
  CURL* c = curl.get();
  Ctx ctx{&req, &resp, c};
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &ctx);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ctx);
  const long env_timeout = hub_timeout_s(req.method == "HEAD");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, req.connect_timeout_s >= 0 ? req.connect_timeout_s : env_timeout);
  const long read_timeout = req.read_timeout_s >= 0 ? req.read_timeout_s : env_timeout;
  if (read_timeout > 0) {  // requests' read timeout: no byte for this long
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, read_timeout);
  }
  if (req.total_timeout_s > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT, req.total_timeout_s);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  // redirects: http() below, one policy
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "hfx/0.1; hf_hub/0.36.2");
  if (req.progress) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &ctx);
  }
  std::unique_ptr<FILE, FileDeleter> upload;
  Upload slice;
  if (req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (req.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (req.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    if (!req.body_file.empty()) {
      {  // opened as a regular file first: a FIFO is refused, never awaited
        RegularFile rf(req.body_file);
        const int fd = ::dup(rf.fd());
        if (fd >= 0) upload.reset(::fdopen(fd, "rb"));
        if (!upload) {
          if (fd >= 0) ::close(fd);
          throw_error(ErrorKind::Io, "cannot open for upload", req.body_file);
        }
      }
      struct stat stt {};
      if (::fstat(::fileno(upload.get()), &stt) != 0) throw_error(ErrorKind::Io, "cannot stat for upload", req.body_file);
      const uint64_t total = static_cast<uint64_t>(stt.st_size);
      if (req.body_offset > total || (req.body_length && *req.body_length > total - req.body_offset))
        throw_error(ErrorKind::InvalidArgument, "upload slice " + std::to_string(req.body_offset) + "+" +
                                                    std::to_string(req.body_length.value_or(0)) + " is past the end (" +
                                                    std::to_string(total) + " bytes)", req.body_file);
      if (::fseeko(upload.get(), static_cast<off_t>(req.body_offset), SEEK_SET) != 0)
        throw_error(ErrorKind::Io, "cannot seek for upload", req.body_file);
      slice.f = upload.get();
      slice.left = req.body_length.value_or(total - req.body_offset);
      curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt(c, CURLOPT_READDATA, &slice);
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(slice.left));
    } else {
      throw_error(ErrorKind::InvalidArgument, "PUT needs a body_file");
    }
  } else if (req.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  std::unique_ptr<curl_slist, SlistDeleter> hdrs;
  for (const auto& h : req.headers) {
    curl_slist* n = curl_slist_append(hdrs.get(), h.c_str());
    if (!n) throw_error(ErrorKind::Network, "out of memory building HTTP headers");
    (void)hdrs.release();
    hdrs.reset(n);
  }
  if (req.method == "PUT") {  // no "Expect: 100-continue" round trip
    curl_slist* n = curl_slist_append(hdrs.get(), "Expect:");
    if (n) {
      (void)hdrs.release();
      hdrs.reset(n);
    }
  }
  if (hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs.get());
  const CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  char* eff = nullptr;
  curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
  resp.url = eff ? eff : req.url;
  if (rc != CURLE_OK) resp.transport_error = ctx.aborted ? "aborted by the receiver" : curl_easy_strerror(rc);
  return resp;
}
}  // namespace

HttpResponse http(const HttpRequest& req) {
  if (!req.follow_redirects) return perform(req);
  HttpRequest hop = req;
  for (int n = 0;; ++n) {
    HttpResponse r = perform(hop);
    const auto loc = r.header("location");
    if (!r.transport_error.empty() || r.status < 300 || r.status > 399 || r.status == 304 || !loc || loc->empty()) return r;
    const std::string next = resolve_url(hop.url, *loc);
    if (n >= kMaxRedirects || (next.rfind("http://", 0) != 0 && next.rfind("https://", 0) != 0)) {
      r.transport_error = n >= kMaxRedirects ? "too many redirects" : "redirect to a non-HTTP URL";
      return r;
    }
    hop.headers = redirect_headers(hop.headers, hop.url, next);
    hop.url = next;
  }
}

namespace {
struct MdDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
std::string hex(const unsigned char* p, unsigned n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}
}  // namespace

std::string sha256_hex(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (!EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr))
    throw_error(ErrorKind::Io, "sha256 failed");
  return hex(md, n);
}

std::string sha256_file(const std::string& path) {
  std::unique_ptr<EVP_MD_CTX, MdDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || !EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr)) throw_error(ErrorKind::Io, "sha256 init failed", path);
  RegularFile f(path);  // never blocks on a FIFO
  std::string buf(1 << 20, '\0');
  while (true) {
    const ssize_t got = ::read(f.fd(), buf.data(), buf.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw_error(ErrorKind::Io, std::string("read error: ") + std::strerror(errno), path);
    if (got == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(got));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &n);
  return hex(md, n);
}

}  // namespace hfx::hub
