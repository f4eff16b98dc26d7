// Parsers for hub server answers (see protocol.h). Every field is type-checked;
// malformed input throws hfx::Error{Network} naming what was wrong.
#include "hub/protocol.h"

#include <nlohmann/json.hpp>

#include <set>

#include "hfx/error.h"

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
    return json::parse(text);
  } catch (const json::exception& e) {
    throw_error(ErrorKind::Network, "malformed JSON in " + what + ": " + e.what());
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
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw_error(ErrorKind::Format, std::string("invalid JSON: ") + e.what(), file);
  }
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

std::vector<LfsAction> parse_lfs_batch_response(const std::string& text) {
  const json j = parse(text, "LFS batch response");
  if (!j.is_object() || !j.contains("objects") || !j["objects"].is_array()) bad("LFS batch response", "no \"objects\" list");
  std::vector<LfsAction> out;
  for (const auto& o : j["objects"]) {
    if (!o.is_object() || !o.contains("oid") || !o["oid"].is_string()) bad("LFS batch response", "an object has no oid");
    LfsAction a;
    a.oid = o["oid"].get<std::string>();
    if (o.contains("size") && o["size"].is_number_unsigned()) a.size = o["size"].get<uint64_t>();
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
      a.multipart = a.upload_header.count("chunk_size") > 0;
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
  return out;
}

}  // namespace hfx::hub
