// Internal: parsers for what the hub server sends back (untrusted input), kept
// apart so the fuzz target (fuzz/hub_fuzz.cc) reaches them. JSON via nlohmann.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hfx::hub {

// A path inside a repo ("config.json", "onnx/model.onnx"): relative, '/'-separated,
// no "", "." or ".." segments, no backslash or NUL. Throws Security naming `what`.
void check_repo_path(const std::string& path, const std::string& what);
// A name the server gives us that becomes one path component in the cache
// (ETag, commit hash): [A-Za-z0-9._-]+, not "." / "..". Throws Network.
void check_cache_name(const std::string& name, const std::string& what);
// The bound for the cache's small text files (refs/<revision>, the token
// file), which are read through read_regular_file: a FIFO or device put there
// is refused, never awaited (issue 24).
constexpr std::size_t kMaxSmallFile = 1 << 16;

// "*.index.json" of a sharded checkpoint -> the shard files, in first-use order.
std::vector<std::string> parse_shard_index(const std::string& text, const std::string& file);

// POST /api/models/{id}/preupload/{rev} answer -> path -> "lfs" | "regular".
std::map<std::string, std::string> parse_preupload_response(const std::string& text);

struct LfsAction {
  std::string oid;
  uint64_t size = 0;
  bool needs_upload = false;  // false: already stored upstream
  std::string upload_href, verify_href;
  std::map<std::string, std::string> upload_header, verify_header;
  // huggingface_hub's multipart transfer: upload header has "chunk_size" and one
  // URL per part under the keys "1".."N" (zero-padded: "00001"), N = ceil(size / chunk_size).
  bool multipart = false;
  uint64_t chunk_size = 0;
  std::vector<std::string> part_urls;  // part 1 first
};
struct LfsBatch {
  std::string transfer;  // the adapter the server chose ("basic", "multipart", "xet"); "" when it did not say
  std::vector<LfsAction> objects;
};
// POST {repo}.git/info/lfs/objects/batch answer. A multipart action is checked
// here: chunk_size a positive integer, the object's size given, exactly the part
// numbers 1..ceil(size / chunk_size), each an http(s) URL.
LfsBatch parse_lfs_batch_response(const std::string& text);

}  // namespace hfx::hub
