// The one way hfx parses JSON (config.json, tokenizer.json, tokenizer_config.json,
// special_tokens_map.json, generation_config.json, *.index.json, safetensors
// headers, hub API responses): bounded in size and nesting depth, with an
// optional duplicate-key check, and every failure an hfx::Error of kind Format
// naming the source.
//
// Why not json::parse: nlohmann's DOM parser has no depth limit, and although
// it parses iteratively, copying or dumping a DOM recurses once per level, so
// a 100k-deep value under an unused key overflows the stack later (issue 24,
// defect 1). Its callback parser can refuse depth, but on every closing brace
// it scans the parent object for discarded values — quadratic in the number
// of keys (10k safetensors tensors 0.29 s, 40k 7.6 s). Here a SAX handler
// builds the DOM and stops at the first level past the limit, so a nesting
// bomb never becomes a value, and each key costs one map lookup.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace hfx {

struct JsonLimits {
  std::size_t max_bytes = std::size_t{64} << 20;  // config files are KBs; tokenizer.json passes its own
  int max_depth = 64;                              // real files nest < 10 levels
  bool reject_duplicate_keys = false;              // Python's json keeps the last; safetensors refuses
};

// Parses `text`; `source` (a path or URL) names the input in errors.
nlohmann::json parse_json(std::string_view text, const std::string& source, const JsonLimits& limits = {});

// Parses a JSON object member by member: `member(key, value)` is called for
// each in file order as soon as its value is complete, so that no DOM of the
// whole object is built (a safetensors header of 160k tensors: linear time,
// duplicates found with a hash set when limits.reject_duplicate_keys; a caller
// that sorts the members anyway finds them as neighbours). Format when the
// text is not an object.
void parse_json_members(std::string_view text, const std::string& source, const JsonLimits& limits,
                        const std::function<void(std::string&& key, nlohmann::json&& value)>& member);

// Reads the regular file `path` (refusing FIFOs, devices and files larger than
// limits.max_bytes before reading) and parses it.
nlohmann::json read_json_file(const std::string& path, const JsonLimits& limits = {});

}  // namespace hfx
