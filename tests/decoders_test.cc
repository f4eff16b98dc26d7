// Issue 18 decoders (Gemma, OLMo, StarCoder2, StableLM, Phi, GPT-NeoX): configs transformers 4.46 refuses or
// cannot run are refused by hfx with typed errors naming the config, before any weight is allocated; the
// fixtures (parity, generate, formats) are checked by the registry-driven suites.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/config.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "test_util.h"

using namespace hfx;
using hfx::testing::expect_error;

namespace {
Config fixture_config(const std::string& dir) {
  return AutoConfig::from_pretrained((hfx::testing::fixtures_dir() / dir).string());
}
}  // namespace

TEST(Decoders, PartialRotaryWidthMustBeEvenAndPositive) {
  // GPT-NeoX: 6-dim heads; rotary_pct 0.5 -> 3 rotated dims (rotate_half cannot split 3), 0.1 -> 0.
  for (double pct : {0.5, 0.1}) {
    Config c = fixture_config("gpt_neox/tiny/GPTNeoXModel");
    c.set("rotary_pct", pct);
    expect_error([&] { (void)build_model(c, "GPTNeoXModel"); }, ErrorKind::InvalidArgument, {"rotary width", "config.json"});
  }
  Config c = fixture_config("gpt_neox/tiny/GPTNeoXModel");
  c.set("rotary_pct", 1.5);
  expect_error([&] { (void)build_model(c, "GPTNeoXModel"); }, ErrorKind::InvalidArgument, {"rotary fraction"});
  Config s = fixture_config("stablelm/tiny/StableLmModel");
  s.set("partial_rotary_factor", 0.5);  // 6-dim heads -> 3
  expect_error([&] { (void)build_model(s, "StableLmModel"); }, ErrorKind::InvalidArgument, {"rotary width"});
}

TEST(Decoders, HiddenSizeMustSplitIntoHeads) {
  Config c = fixture_config("gpt_neox/tiny/GPTNeoXModel");
  c.set("num_attention_heads", 5);  // 36 / 5
  expect_error([&] { (void)build_model(c, "GPTNeoXModel"); }, ErrorKind::InvalidArgument, {"num_attention_heads"});
}

TEST(Decoders, PhiQkLayernormIsRefused) {
  Config c = fixture_config("phi/tiny/PhiModel");
  c.set("qk_layernorm", true);
  expect_error([&] { (void)build_model(c, "PhiModel"); }, ErrorKind::Unsupported, {"qk_layernorm"});
}

TEST(Decoders, OlmoNegativeClipIsRefused) {
  Config c = fixture_config("olmo/tiny/OlmoModel");
  c.set("clip_qkv", -1.0);
  expect_error([&] { (void)build_model(c, "OlmoModel"); }, ErrorKind::InvalidArgument, {"clip_qkv"});
}

TEST(Decoders, HeadsPerFamilyAsTransformers) {
  // Gemma and StarCoder2 have no *ForQuestionAnswering in 4.46, OLMo no classification head either.
  for (const char* bad : {"GemmaForQuestionAnswering", "Starcoder2ForQuestionAnswering", "StableLmForQuestionAnswering",
                          "PhiForQuestionAnswering", "OlmoForSequenceClassification", "OlmoForTokenClassification"}) {
    const std::string arch = std::string(bad).rfind("Gemma", 0) == 0        ? "gemma/tiny/GemmaModel"
                             : std::string(bad).rfind("Starcoder2", 0) == 0 ? "starcoder2/tiny/Starcoder2Model"
                             : std::string(bad).rfind("StableLm", 0) == 0   ? "stablelm/tiny/StableLmModel"
                             : std::string(bad).rfind("Phi", 0) == 0        ? "phi/tiny/PhiModel"
                                                                            : "olmo/tiny/OlmoModel";
    EXPECT_ANY_THROW((void)build_model(fixture_config(arch), bad)) << bad;
  }
  EXPECT_NO_THROW((void)build_model(fixture_config("gpt_neox/tiny/GPTNeoXModel"), "GPTNeoXForQuestionAnswering"));
}

// GemmaMLP reads config.hidden_activation only: null means gelu_pytorch_tanh whatever hidden_act says (the tiny
// fixture was made with hidden_activation "gelu_pytorch_tanh"), and a different hidden_activation changes the
// outputs (so the override is really read).
TEST(Decoders, GemmaHiddenActivationNullIsGeluTanh) {
  const auto dir = hfx::testing::fixtures_dir() / "gemma/tiny/GemmaModel";
  const ModelInputs in = hfx::testing::read_fixture_inputs(dir / "inputs.safetensors");
  LoadOptions o;
  o.config_overrides = {{"hidden_activation", nullptr}, {"hidden_act", "silu"}};
  auto m = load_pretrained(dir.string(), "GemmaModel", o).model;
  hfx::testing::expect_outputs_match_reference(m->forward(in), dir / "outputs.safetensors", "gemma hidden_activation null");
  o.config_overrides = {{"hidden_activation", "silu"}};
  auto silu = load_pretrained(dir.string(), "GemmaModel", o).model;
  const Tensor want = open_safetensors((dir / "outputs.safetensors").string())->get("last_hidden_state");
  EXPECT_GT(max_abs_diff(silu->forward(in).get("last_hidden_state"), want), 1e-3);
}

// A partial rotary needs an even rotated width, not an even head: Phi with 3 heads of 9 dims and
// partial_rotary_factor 0.5 rotates int(4.5) = 4 dims, and builds (transformers builds it too).
TEST(Decoders, OddHeadDimWithEvenRotaryWidthBuilds) {
  Config c = fixture_config("phi/awkward/PhiModel");
  c.set("hidden_size", 27);
  c.set("num_key_value_heads", 3);
  c.set("partial_rotary_factor", 0.5);
  EXPECT_NO_THROW((void)build_model(c, "PhiModel"));
}

// Phi-3's rope_scaling: only "longrope" (Phi3Attention raises ValueError for any other type), with head_dim / 2
// positive factors in each list.
TEST(Decoders, Phi3RopeScalingIsChecked) {
  Config c = fixture_config("phi3/tiny/Phi3Model");
  c.set("rope_scaling", {{"type", "longrope"}, {"short_factor", {1.0, 1.0}}, {"long_factor", {1.0, 1.0, 1.0}}});
  expect_error([&] { (void)build_model(c, "Phi3Model"); }, ErrorKind::InvalidArgument, {"short_factor", "3"});
  c.set("rope_scaling", {{"type", "longrope"}, {"short_factor", {1.0, 1.0, 1.0}}, {"long_factor", {1.0, -2.0, 1.0}}});
  expect_error([&] { (void)build_model(c, "Phi3Model"); }, ErrorKind::InvalidArgument, {"long_factor", "positive"});
  c.set("rope_scaling", {{"type", "yarn"}, {"factor", 2.0}});
  expect_error([&] { (void)build_model(c, "Phi3Model"); }, ErrorKind::Unsupported, {"yarn"});
  c.set("rope_scaling", nullptr);
  EXPECT_NO_THROW((void)build_model(c, "Phi3Model"));
}
