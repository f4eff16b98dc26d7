// The sharded-checkpoint index parser (open_sharded, src/io/checkpoint.cc):
// the input is a "*.index.json" placed in a directory that holds two small
// valid safetensors shards (a.safetensors, b.safetensors), so weight_map
// entries can name real shards, missing ones, or paths outside the directory.
#include <filesystem>

#include "fuzz_util.h"
#include "hfx/io.h"

namespace {
std::string shard_dir() {
  static std::string dir = [] {
    std::string d = "/tmp/hfx-fuzz-index-" + std::to_string(getpid());
    std::filesystem::create_directories(d);
    using hfx::DType;
    using hfx::Tensor;
    hfx::write_safetensors(d + "/a.safetensors", {{"x", Tensor::from_vector<float>(DType::F32, {2}, {1, 2})},
                                                  {"y", Tensor::zeros(DType::F16, {2, 3})}});
    hfx::write_safetensors(d + "/b.safetensors", {{"z", Tensor::from_vector<int64_t>(DType::I64, {1}, {7})}});
    return d;
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = shard_dir() + "/model.safetensors.index.json";
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  hfx::fuzz::run([&] {
    auto src = hfx::open_sharded(path);
    (void)src->format();
    (void)src->metadata();
    for (const auto& e : src->entries()) {
      (void)src->info(e.name);
      (void)hfx::fuzz::read_tensor(*src, e.name);  // get, touch the last element, bytes(), release()
    }
  });
  return 0;
}
