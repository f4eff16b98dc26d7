// The small JSON files next to a model: tokenizer_config.json (+ vocab.txt, so
// AutoTokenizer builds a BERT WordPiece tokenizer from it and encodes a text)
// and generation_config.json (read by GenerationConfig::from_model). The input
// is both files, split at the first NUL byte (none: the same text for both).
#include <filesystem>

#include "fuzz_util.h"
#include "hfx/auto.h"
#include "hfx/generate.h"
#include "hfx/tokenizer.h"

namespace {
namespace fs = std::filesystem;
struct Dir {
  std::string path;
  std::unique_ptr<hfx::Model> model;
};
Dir& dir() {
  static Dir d = [] {
    Dir r;
    r.path = "/tmp/hfx-fuzz-side-" + std::to_string(getpid());
    fs::create_directories(r.path);
    if (FILE* f = std::fopen((r.path + "/vocab.txt").c_str(), "wb")) {
      std::fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n,\n!\n", f);
      std::fclose(f);
    }
    if (FILE* f = std::fopen((r.path + "/config.json").c_str(), "wb")) {
      std::fputs(R"({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 8, "n_head": 2, "n_layer": 1,
                   "n_positions": 16, "vocab_size": 10, "bos_token_id": 0, "eos_token_id": 0})", f);
      std::fclose(f);
    }
    hfx::Config c = hfx::AutoConfig::from_pretrained(r.path);
    r.model = hfx::build_model(c, "GPT2LMHeadModel");
    return r;
  }();
  return d;
}
void write(const std::string& path, std::string_view bytes) {
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view tok_cfg = in, gen_cfg = in;
  if (auto nul = in.find('\0'); nul != std::string_view::npos) {
    tok_cfg = in.substr(0, nul);
    gen_cfg = in.substr(nul + 1);
  }
  Dir& d = dir();
  write(d.path + "/tokenizer_config.json", tok_cfg);
  write(d.path + "/generation_config.json", gen_cfg);
  hfx::fuzz::run([&] {
    hfx::Tokenizer tok = hfx::AutoTokenizer::from_pretrained(d.path);
    hfx::fuzz::run([&] {
      hfx::Encoding e = tok.encode("hello worlds, hello!", std::string_view("world"));
      (void)tok.decode(e.ids, true);
    });
  });
  hfx::fuzz::run([&] { (void)hfx::GenerationConfig::from_model(*d.model); });
  return 0;
}
