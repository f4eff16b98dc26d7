// Config::from_json / from_file and AutoConfig: they attach the config class
// defaults of the model_type from the registry, so they live in the models
// layer (config/ knows no architecture).
#include <filesystem>

#include "core/json.h"
#include "hfx/config.h"
#include "hfx/io.h"
#include "hfx/model.h"

namespace hfx {

Config Config::from_json(const json& fields, const std::string& source) {
  if (!fields.is_object()) throw_error(ErrorKind::Format, "config is not a JSON object", source);
  auto mt = fields.find("model_type");
  if (mt == fields.end() || !mt->is_string())
    throw_error(ErrorKind::Format, "config.json has no string \"model_type\"", source);
  const Architecture& arch = architecture(mt->get<std::string>());
  return Config(fields, arch.config_defaults, source);
}

Config Config::from_file(const std::string& path) {
  return from_json(read_json_file(path), path);
}

Config AutoConfig::from_pretrained(const std::string& path, const json& overrides) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string file = fs::is_directory(path, ec) ? (fs::path(path) / "config.json").string() : path;
  if (!fs::exists(file, ec)) throw_error(ErrorKind::NotFound, "no config.json", file);
  Config c = Config::from_file(file);
  c.apply_overrides(overrides);
  return c;
}

}  // namespace hfx
