// Internal: a small libcurl client for the hub code (not a public API).
// One request per call, no shared state beyond curl_global_init; safe to use
// from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hfx::hub {

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, POST, PUT
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // POST/PUT body
  std::string body_file;             // PUT: stream this file instead of `body`
  uint64_t body_offset = 0;          // PUT of body_file: start here ...
  std::optional<uint64_t> body_length;  // ... and send this many bytes (none: to the end)
  // Follow redirects (GET of a file) under the one redirect policy (redirect_headers):
  // credentials never go to another origin. HEAD callers follow relative ones themselves.
  bool follow_redirects = false;
  // -1: huggingface_hub's, from the environment: HF_HUB_ETAG_TIMEOUT for HEAD,
  // HF_HUB_DOWNLOAD_TIMEOUT otherwise (10 s each by default; hub_timeout_s).
  long connect_timeout_s = -1;
  long read_timeout_s = -1;          // abort when no byte arrives for this long
  long total_timeout_s = 0;          // 0: none
  // Receives the body in pieces instead of HttpResponse::body; return false to abort.
  // Called only for the final response (after redirects) and only for 2xx statuses.
  std::function<bool(const char*, std::size_t)> sink;
  // Called once the headers of a 2xx response are in (status, lower-cased headers),
  // before its first body byte reaches the sink.
  std::function<void(long, const std::map<std::string, std::string>&)> on_headers;
  // Called with (bytes so far, total or 0) as data arrives, or as body_file is sent for an upload.
  std::function<void(uint64_t, uint64_t)> progress;
};

struct HttpResponse {
  long status = 0;                            // 0: no HTTP response at all
  std::map<std::string, std::string> headers;  // last response's, names lower-cased
  std::string body;                           // unless a sink took it
  std::string url;                            // effective URL (after redirects)
  std::string transport_error;                // curl's error text; empty when the exchange completed
  uint64_t received = 0;                      // body bytes delivered (to body or sink)
  bool ok() const { return transport_error.empty() && status >= 200 && status < 300; }
  std::optional<std::string> header(const std::string& lower_name) const;
};

// Performs the request. Never throws for HTTP or network failures (they are in
// the response); throws hfx::Error{Network} only when curl cannot be set up.
HttpResponse http(const HttpRequest& req);

// Parses one raw header line ("Name: value\r\n") into a lower-cased name and a
// trimmed value; false for status lines, blank lines and malformed lines.
bool parse_header_line(const std::string& line, std::string& name, std::string& value);
// "bytes 100-199/1000" -> 1000; nullopt when malformed.
std::optional<uint64_t> content_range_total(const std::string& v);
// Strict non-negative decimal (no sign, no spaces, fits in 63 bits).
std::optional<uint64_t> parse_u64(const std::string& s);

// Resolves `location` (absolute or relative, RFC 7231) against `base`.
std::string resolve_url(const std::string& base, const std::string& location);
// True when `location` names a host of its own ("scheme://..." or the
// protocol-relative "//host/..."): huggingface_hub follows a HEAD redirect only
// when it does not (urlparse(location).netloc == "").
bool names_host(const std::string& location);
// Same scheme, host (case-insensitive) and port (the scheme's default when absent).
bool same_origin(const std::string& a, const std::string& b);
// The one redirect policy: the headers a redirect from `from` to `to` carries.
// Credentials (Authorization, Cookie) only to the same origin, as requests'
// rebuild_auth strips them; once stripped they stay stripped.
std::vector<std::string> redirect_headers(const std::vector<std::string>& headers, const std::string& from, const std::string& to);
// HF_HUB_ETAG_TIMEOUT (HEAD) / HF_HUB_DOWNLOAD_TIMEOUT (everything else) in
// seconds; huggingface_hub's constants.py defaults both to 10.
long hub_timeout_s(bool head);
// scheme://host[:port] of a URL ("" when it has none).
std::string url_origin(const std::string& url);
// Percent-encodes a revision or path segment like urllib.parse.quote(safe="") (or keeping '/').
std::string url_quote(const std::string& s, bool keep_slash);

// Hex sha256 of a file / of bytes (OpenSSL EVP).
std::string sha256_file(const std::string& path);
std::string sha256_hex(const std::string& bytes);

}  // namespace hfx::hub
