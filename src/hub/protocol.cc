// Parsers for hub server answers (see protocol.h). Every field is type-checked;
// malformed input throws hfx::Error{Network} naming what was wrong.
#include "core/json.h"
#include "hub/protocol.h"

#include <nlohmann/json.hpp>

#include <set>

#include "hfx/error.h"
#include "hub/http.h"

namespace hfx::hub {

using json = nlohmann::json;

void check_repo_path(const std::string& path, const std::string& what) {
  bool ok = !path.empty() && path.size() <= 1024 && path[0] != '/' && path.find('\\') == std::string::npos &&
            path.find('\0') == std::string::npos;
  std::size_t start = 0;
  while (ok) {
    const std::size_t slash = path.find('/', start);
    const std::string seg = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..") ok = false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (!ok) throw_error(ErrorKind::Security, "refusing unsafe repo path '" + path + "' (" + what + ")");
}

void check_cache_name(const std::string& name, const std::string& what) {
  bool ok = !name.empty() && name.size() <= 255 && name != "." && name != "..";
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-');
  if (!ok) throw_error(ErrorKind::Network, "the server sent an unusable " + what + " '" + name.substr(0, 80) + "'");
}

namespace {
json parse(const std::string& text, const std::string& what) {
  try {
    return parse_json(text, what);
  } catch (const Error& e) {
    throw_error(ErrorKind::Network, "malformed JSON in " + what + ": " + e.message());
  }
}
[[noreturn]] void bad(const std::string& what, const std::string& why) {
  throw_error(ErrorKind::Network, "malformed " + what + ": " + why);
}
std::map<std::string, std::string> string_map(const json& j, const std::string& what) {
  std::map<std::string, std::string> m;
  if (j.is_null()) return m;
  if (!j.is_object()) bad(what, "header is not an object");
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) m[k] = v.get<std::string>();
    else if (v.is_number_integer()) m[k] = std::to_string(v.get<int64_t>());
    else bad(what, "header value of '" + k + "' is not a string");
  }
  return m;
}
}  // namespace

std::vector<std::string> parse_shard_index(const std::string& text, const std::string& file) {
  json j = parse_json(text, file, {.max_bytes = std::size_t{256} << 20});
  const json* wm = j.is_object() && j.contains("weight_map") ? &j["weight_map"] : nullptr;
  if (!wm || !wm->is_object()) throw_error(ErrorKind::Format, "index has no \"weight_map\" object", file);
  std::vector<std::string> shards;
  std::set<std::string> seen;
  for (const auto& [tensor, shard] : wm->items()) {
    if (!shard.is_string()) throw_error(ErrorKind::Format, "weight_map value is not a string", file, tensor);
    const std::string s = shard.get<std::string>();
    check_repo_path(s, "shard named by " + file);
    if (seen.insert(s).second) shards.push_back(s);
  }
  return shards;
}

std::map<std::string, std::string> parse_preupload_response(const std::string& text) {
  const json j = parse(text, "preupload response");
  if (!j.is_object() || !j.contains("files") || !j["files"].is_array()) bad("preupload response", "no \"files\" list");
  std::map<std::string, std::string> modes;
  for (const auto& f : j["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("uploadMode") ||
        !f["uploadMode"].is_string())
      bad("preupload response", "a file entry lacks path/uploadMode");
    const std::string mode = f["uploadMode"].get<std::string>();
    if (mode != "lfs" && mode != "regular") bad("preupload response", "unknown uploadMode '" + mode + "'");
    modes[f["path"].get<std::string>()] = mode;
  }
  return modes;
}

namespace {
// lfs.py _get_sorted_parts_urls, stricter: the part numbers must be exactly 1..N
// (the completion payload numbers the ETags 1..N in that order).
void parse_multipart(LfsAction& a, bool has_size) {
  const std::string what = "LFS batch response";
  const std::string obj = "object " + a.oid.substr(0, 64);
  const std::string cs = a.upload_header.at("chunk_size");
  const auto chunk = parse_u64(cs);
  if (!chunk || *chunk == 0) bad(what, obj + ": multipart chunk_size '" + cs.substr(0, 40) + "' is not a positive integer");
  if (!has_size) bad(what, obj + ": a multipart upload without the object's size");
  if (a.size == 0) bad(what, obj + ": a multipart upload of an empty object");
  const uint64_t parts = a.size / *chunk + (a.size % *chunk != 0 ? 1 : 0);
  std::map<uint64_t, std::string> urls;
  for (const auto& [k, v] : a.upload_header) {
    if (k.empty() || k.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto n = parse_u64(k.size() > 12 ? std::string("x") : k);
    if (!n || *n == 0 || *n > parts)
      bad(what, obj + ": multipart part number " + k.substr(0, 20) + " is outside 1.." + std::to_string(parts) + " (size " +
                    std::to_string(a.size) + ", chunk_size " + std::to_string(*chunk) + ")");
    if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0)
      bad(what, obj + ": multipart part " + k + " has no http(s) upload URL");
    if (!urls.emplace(*n, v).second) bad(what, obj + ": multipart part " + std::to_string(*n) + " is given twice");
  }
  if (urls.size() != parts)
    bad(what, obj + ": " + std::to_string(urls.size()) + " multipart part URL(s) for " + std::to_string(parts) + " part(s) (size " +
                  std::to_string(a.size) + ", chunk_size " + std::to_string(*chunk) + ")");
  a.multipart = true;
  a.chunk_size = *chunk;
  for (auto& [n, url] : urls) a.part_urls.push_back(std::move(url));
}
}  // namespace

LfsBatch parse_lfs_batch_response(const std::string& text) {
  const json j = parse(text, "LFS batch response");
  if (!j.is_object() || !j.contains("objects") || !j["objects"].is_array()) bad("LFS batch response", "no \"objects\" list");
  LfsBatch batch;
  if (j.contains("transfer") && j["transfer"].is_string()) batch.transfer = j["transfer"].get<std::string>();
  std::vector<LfsAction>& out = batch.objects;
  for (const auto& o : j["objects"]) {
    if (!o.is_object() || !o.contains("oid") || !o["oid"].is_string()) bad("LFS batch response", "an object has no oid");
    LfsAction a;
    a.oid = o["oid"].get<std::string>();
    const bool has_size = o.contains("size") && o["size"].is_number_unsigned();
    if (has_size) a.size = o["size"].get<uint64_t>();
    if (o.contains("error")) {
      std::string msg = o["error"].is_object() && o["error"].contains("message") && o["error"]["message"].is_string()
                            ? o["error"]["message"].get<std::string>()
                            : o["error"].dump();
      throw_error(ErrorKind::Network, "LFS batch refused object " + a.oid + ": " + msg);
    }
    if (o.contains("actions") && !o["actions"].is_null()) {
      const json& acts = o["actions"];
      if (!acts.is_object() || !acts.contains("upload") || !acts["upload"].is_object() ||
          !acts["upload"].contains("href") || !acts["upload"]["href"].is_string())
        bad("LFS batch response", "object " + a.oid + " has no upload href");
      a.needs_upload = true;
      a.upload_href = acts["upload"]["href"].get<std::string>();
      if (acts["upload"].contains("header")) a.upload_header = string_map(acts["upload"]["header"], "LFS batch response");
      if (a.upload_header.count("chunk_size")) parse_multipart(a, has_size);
      if (acts.contains("verify")) {
        const json& v = acts["verify"];
        if (!v.is_object() || !v.contains("href") || !v["href"].is_string())
          bad("LFS batch response", "object " + a.oid + " has a verify action without href");
        a.verify_href = v["href"].get<std::string>();
        if (v.contains("header")) a.verify_header = string_map(v["header"], "LFS batch response");
      }
    }
    out.push_back(std::move(a));
  }
  return batch;
}

}  // namespace hfx::hub
