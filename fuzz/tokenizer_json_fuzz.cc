// tokenizer.json parsing + encode/decode. The input is the JSON; a few fixed texts (and, after a NUL byte in
// the input, the rest of it as text) run through the parsed pipeline.
#include <cstring>

#include "fuzz_util.h"
#include "hfx/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view json = in, extra;
  if (auto nul = in.find('\0'); nul != std::string_view::npos) {
    json = in.substr(0, nul);
    extra = in.substr(nul + 1);
  }
  hfx::fuzz::run([&] {
    hfx::Tokenizer tok = hfx::Tokenizer::from_json(json, "fuzz.json");
    for (std::string_view text : {std::string_view("Hello, world! café  漢字 😀\t\n"), std::string_view(""), extra}) {
      hfx::fuzz::run([&] {
        hfx::Encoding e = tok.encode(text, std::string_view("pair text"));
        (void)tok.decode(e.ids, true);
        (void)tok.decode(e.ids, false);
      });
    }
  });
  return 0;
}
