// What a hub server sends back: header lines, Content-Range, shard indexes,
// preupload and LFS batch answers (src/hub/protocol.h, src/hub/http.h).
// The first byte picks the parser; the rest is the input.
#include "fuzz_util.h"
#include "hub/http.h"
#include "hub/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  hfx::fuzz::run([&] {
    switch (data[0] % 6) {
      case 0: {
        std::string name, value;
        (void)hfx::hub::parse_header_line(text, name, value);
        (void)hfx::hub::content_range_total(text);
        (void)hfx::hub::parse_u64(text);
        break;
      }
      case 1: (void)hfx::hub::parse_shard_index(text, "index.json"); break;
      case 2: (void)hfx::hub::parse_preupload_response(text); break;
      case 3: (void)hfx::hub::parse_lfs_batch_response(text); break;
      case 4: hfx::hub::check_repo_path(text, "fuzz"); break;
      default: (void)hfx::hub::resolve_url("http://127.0.0.1:1/a/b", text); hfx::hub::check_cache_name(text, "fuzz"); break;
    }
  });
  return 0;
}
