// config.json: the bounded JSON parser (core/json.h), the typed Config view and
// the model skeleton the config describes (every class of its model_type, as
// AutoModel would build it). Building declares parameters only (no buffers),
// bounded by ParamTable::declare, so a hostile size is an hfx::Error, never an
// out-of-memory or a crash (issue 24).
#include <filesystem>

#include "fuzz_util.h"
#include "hfx/auto.h"
#include "hfx/config.h"
#include "hfx/model.h"

namespace {
std::string config_dir() {
  static std::string dir = [] {
    std::string d = "/tmp/hfx-fuzz-config-" + std::to_string(getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = config_dir() + "/config.json";
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  hfx::fuzz::run([&] {
    hfx::Config c = hfx::AutoConfig::from_pretrained(config_dir());
    (void)c.merged().dump();
    (void)c.num_labels();
    const hfx::Architecture& arch = hfx::architecture(c.model_type());
    for (const auto& cls : arch.classes)
      hfx::fuzz::run([&] { (void)hfx::build_model(c, cls.first)->params().size(); });
  });
  return 0;
}
