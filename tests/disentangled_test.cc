// nn/disentangled.h: DeBERTa-v2's relative positions equal transformers' build_relative_position
// (tools/fixtures/deberta_buckets.py wrote tests/fixtures/deberta_buckets.json), including DeBERTa-v3's
// 256 buckets over 1024 tokens, where every log bucket comes from float32 log / ceil steps.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hfx/io.h"
#include "nn/disentangled.h"
#include "test_util.h"

TEST(Disentangled, RelativePositionsMatchTransformers) {
  const auto ref = nlohmann::json::parse(hfx::read_text_file((hfx::testing::fixtures_dir() / "deberta_buckets.json").string()));
  ASSERT_GE(ref["cases"].size(), 6u);
  for (const auto& c : ref["cases"]) {
    const int64_t S = c["seq"].get<int64_t>(), bucket = c["position_buckets"].get<int64_t>(),
                  max_pos = c["max_relative_positions"].get<int64_t>();
    const auto& by_offset = c["by_offset"];
    ASSERT_EQ(static_cast<int64_t>(by_offset.size()), 2 * S - 1);
    const std::vector<int64_t> rel = hfx::nn::deberta_relative_positions(S, S, bucket, max_pos);
    int64_t bad = 0;
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < S; ++j)
        if (rel[static_cast<std::size_t>(i * S + j)] != by_offset[static_cast<std::size_t>(i - j + S - 1)].get<int64_t>()) ++bad;
    EXPECT_EQ(bad, 0) << "buckets " << bucket << ", max " << max_pos << ", seq " << S;
  }
}
