// num_parameters / estimate_tokens / floating_point_ops for the architectures
// the full API fixtures do not cover (Mistral, OpenAI GPT, T5, BART and the issue-18 decoders Qwen2, Gemma,
// OLMo, StarCoder2, StableLM, Phi, Phi-3), against
// transformers 4.46 (tests/fixtures/api/counts/*.json, written by
// tools/fixtures/api_fixtures.py --counts).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "hfx/pretrained.h"
#include "test_util.h"

using namespace hfx;
namespace fs = std::filesystem;

TEST(ApiCounts, EqualTransformers) {
  int n = 0;
  for (const auto& f : fs::directory_iterator(hfx::testing::fixtures_dir() / "api" / "counts")) {
    const std::string name = f.path().filename().string();
    SCOPED_TRACE(name);
    const auto rec = nlohmann::json::parse(read_text_file(f.path().string()));
    const fs::path dir = hfx::testing::fixtures_dir() / rec["dir"].get<std::string>();
    LoadedModel lm = load_pretrained(dir.string(), rec["class"].get<std::string>());
    for (bool t : {false, true})
      for (bool e : {false, true}) {
        const std::string key = "only_trainable=" + std::to_string(int(t)) + ",exclude_embeddings=" + std::to_string(int(e));
        EXPECT_EQ(num_parameters(*lm.model, t, e), rec["num_parameters"][key].get<int64_t>()) << key;
      }
    const ModelInputs in = hfx::testing::read_fixture_inputs(dir / "inputs.safetensors", false);
    EXPECT_EQ(estimate_tokens(in), rec["estimate_tokens"].get<int64_t>());
    EXPECT_EQ(floating_point_ops(*lm.model, in), rec["floating_point_ops"].get<int64_t>());
    EXPECT_EQ(floating_point_ops(*lm.model, in, false), rec["floating_point_ops_with_embeddings"].get<int64_t>());
    ++n;
  }
  EXPECT_EQ(n, 11);
}
