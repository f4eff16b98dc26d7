// Tokens per second of hfx::Tokenizer: every corpus string encoded one by one ("single") and as one
// encode_batch call ("batch"), best of --repeats runs. Prints one JSON line per tokenizer.
//   hfx_tokenize_bench CORPUS.json TOKENIZER_DIR... [--repeats N]
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "hfx/error.h"
#include "hfx/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: hfx_tokenize_bench CORPUS.json TOKENIZER_DIR... [--repeats N]\n";
    return 2;
  }
  int repeats = 3;
  std::vector<std::string> dirs;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--repeats" && i + 1 < argc) {
      repeats = std::max(1, std::atoi(argv[++i]));
    } else {
      dirs.push_back(a);
    }
  }
  try {
    std::ifstream f(argv[1]);
    auto corpus = nlohmann::json::parse(f).get<std::vector<std::string>>();
    using clock = std::chrono::steady_clock;
    for (const auto& dir : dirs) {
      hfx::Tokenizer tok = hfx::AutoTokenizer::from_pretrained(dir);
      tok.set_truncation(std::nullopt);
      tok.set_padding(std::nullopt);
      std::size_t tokens = 0;
      double single = 1e30, batch = 1e30;
      for (int r = 0; r < repeats; ++r) {
        auto t0 = clock::now();
        std::size_t n = 0;
        for (const auto& s : corpus) n += tok.encode(s).ids.size();
        single = std::min(single, std::chrono::duration<double>(clock::now() - t0).count());
        tokens = n;
        t0 = clock::now();
        auto encs = tok.encode_batch(corpus);
        batch = std::min(batch, std::chrono::duration<double>(clock::now() - t0).count());
      }
      nlohmann::json out = {{"impl", "hfx"},        {"tokenizer", dir},           {"strings", corpus.size()},
                            {"tokens", tokens},      {"single_s", single},         {"batch_s", batch},
                            {"single_tok_per_s", tokens / single}, {"batch_tok_per_s", tokens / batch}};
      std::cout << out.dump() << std::endl;
    }
  } catch (const hfx::Error& e) {
    std::cerr << "hfx_tokenize_bench: " << e.what() << "\n";
    return e.exit_code();
  }
  return 0;
}
