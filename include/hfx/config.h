// hfx/config.h — config.json as a Config, and AutoConfig.
//
// A Config keeps every field of config.json exactly as read (unknown fields
// round-trip on save) and answers typed lookups, falling back to the defaults
// of transformers' config class for the model_type (the "typed view"). Caller
// overrides are applied on top, like `AutoConfig.from_pretrained(path, **kw)`.
//
// Errors: NotFound (no config.json; unknown model_type, listing the supported
// ones), Format (invalid JSON, wrong field types).
#pragma once

#include "hfx/export.h"

#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "hfx/error.h"

namespace hfx {

using json = nlohmann::json;

class HFX_API Config {
 public:
  Config() = default;
  // `defaults` are the config class defaults for the model type (may be empty).
  Config(json fields, json defaults, std::string source = {});

  // Parses config.json; the model_type's defaults are attached from the registry.
  static Config from_file(const std::string& path);
  static Config from_json(const json& fields, const std::string& source = {});

  const json& fields() const { return fields_; }   // what the file said (+ overrides)
  const json& defaults() const { return defaults_; }
  const std::string& source() const { return source_; }
  std::string model_type() const;

  bool has(const std::string& key) const;  // in the file or the defaults, and not null
  // Typed lookup: file value, else class default, else `fallback`.
  // Throws Format when the value exists with an incompatible type.
  template <class T> T get(const std::string& key, T fallback) const;
  template <class T> T require(const std::string& key) const;  // NotFound if absent
  const json* find(const std::string& key) const;               // nullptr if absent or null

  void set(const std::string& key, json value) { fields_[key] = std::move(value); }
  void apply_overrides(const json& overrides);
  // The merged view: defaults overlaid with the file's fields (what transformers' to_dict() shows).
  json merged() const;
  std::string to_json_string(int indent = 2) const;

  // Common PretrainedConfig derived values.
  int64_t num_labels() const;  // len(id2label) or num_labels or 2

 private:
  json fields_ = json::object();
  json defaults_ = json::object();
  std::string source_;
};

template <class T> T Config::get(const std::string& key, T fallback) const {
  const json* v = find(key);
  if (!v) return fallback;
  // Integer fields must be integers: nlohmann would truncate 32.5 to 32 and
  // read true as 1, where transformers fails (nn.Linear(32.5, ...) raises).
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    if (!v->is_number_integer())
      throw_error(ErrorKind::Format, "config field '" + key + "' must be an integer, not " + v->dump(), source_);
  try {
    return v->get<T>();
  } catch (const json::exception& e) {
    throw_error(ErrorKind::Format, "config field '" + key + "' has the wrong type: " + v->dump(), source_);
  }
}
template <class T> T Config::require(const std::string& key) const {
  if (!find(key)) throw_error(ErrorKind::NotFound, "config has no field '" + key + "'", source_);
  return get<T>(key, T{});
}

// AutoConfig.from_pretrained: `path` is a directory holding config.json or the file itself.
struct HFX_API AutoConfig {
  static Config from_pretrained(const std::string& path, const json& overrides = json::object());
};

}  // namespace hfx
