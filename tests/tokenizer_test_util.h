// Helpers shared by the tokenizer tests: the fixture folder, its JSON files and the string corpus.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"

namespace hfx::testing {

inline std::filesystem::path tok_dir() { return fixtures_dir() / "tokenizers"; }

inline nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream f(p);
  EXPECT_TRUE(f.good()) << p;
  return nlohmann::json::parse(f);
}

// tools/fixtures/tokenizer_fixtures.py's corpus (>= 2,000 strings).
inline const std::vector<std::string>& corpus() {
  static const std::vector<std::string> c = read_json(tok_dir() / "corpus.json").get<std::vector<std::string>>();
  return c;
}

// Offsets [(start, end), …] as [start, end, start, end, …], the fixtures' layout.
inline std::vector<int64_t> flat_offsets(const std::vector<std::pair<int64_t, int64_t>>& offsets) {
  std::vector<int64_t> v;
  for (const auto& [a, b] : offsets) {
    v.push_back(a);
    v.push_back(b);
  }
  return v;
}

}  // namespace hfx::testing
