// Flax msgpack reader: every tensor of an accepted file must be readable to
// its last byte, and writing the accepted tensors back must round-trip.
#include <cstring>

#include "fuzz_util.h"
#include "hfx/formats.h"
#include "hfx/io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = hfx::fuzz::temp_file(data, size, ".msgpack");
  hfx::fuzz::run([&] {
    auto src = hfx::open_flax_msgpack(path);
    hfx::NamedTensors all;
    for (const auto& e : src->entries()) {
      hfx::Tensor t = hfx::fuzz::read_tensor(*src, e.name);  // get, touch the last element, bytes(), release()
      all.emplace_back(e.name, t);
    }
    if (all.size() > 64) return;
    const std::string out = path + ".out";
    hfx::write_flax_msgpack(out, all);
    auto back = hfx::open_flax_msgpack(out);
    if (back->entries().size() != all.size()) __builtin_trap();
    for (const auto& [name, t] : all) {
      hfx::Tensor b = back->get(name);
      if (b.dtype() != t.dtype() || b.shape() != t.shape()) __builtin_trap();
      if (t.nbytes() > 0 && std::memcmp(b.raw(), t.raw(), t.nbytes()) != 0) __builtin_trap();
    }
  });
  return 0;
}
