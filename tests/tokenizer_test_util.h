// Helpers shared by the tokenizer tests: the fixture folder, its JSON files and the string corpus.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "hfx/tokenizer.h"
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

// The fixtures' truncation / padding settings (tokenizers' enable_truncation / enable_padding arguments).
inline TruncationParams truncation_from(const nlohmann::json& tj) {
  TruncationParams p;
  p.max_length = tj["max_length"].get<int64_t>();
  p.stride = tj.value("stride", int64_t{0});
  const std::string s = tj.value("strategy", std::string("longest_first"));
  p.strategy = s == "only_first"    ? TruncationStrategy::OnlyFirst
               : s == "only_second" ? TruncationStrategy::OnlySecond
                                    : TruncationStrategy::LongestFirst;
  p.direction = tj.value("direction", std::string("right")) == "left" ? Side::Left : Side::Right;
  return p;
}

inline PaddingParams padding_from(const nlohmann::json& pj, const std::string& pad_token, const Tokenizer& tok) {
  PaddingParams p;
  if (pj.contains("length")) p.length = pj["length"].get<int64_t>();
  p.pad_to_multiple_of = pj.value("pad_to_multiple_of", int64_t{0});
  p.direction = pj.value("direction", std::string("right")) == "left" ? Side::Left : Side::Right;
  p.pad_token = pad_token;
  p.pad_id = *tok.token_to_id(pad_token);
  return p;
}

}  // namespace hfx::testing
