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

// Gemma-2: alternating windows read config.sliding_window; negative softcaps / windows and a non-positive
// query_pre_attn_scalar are typed errors naming the config; a window longer than the sequence changes nothing
// on the global layers only, so the sliding layers really use it (outputs differ from the fixture without it).
TEST(Decoders, Gemma2ConfigIsChecked) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"attn_logit_softcapping", -1.0}, {"final_logit_softcapping", -2.0}, {"query_pre_attn_scalar", 0},
           {"sliding_window", -3}}) {
    Config c = fixture_config("gemma2/tiny/Gemma2Model");
    c.set(key, value);
    expect_error([&] { (void)build_model(c, "Gemma2Model"); }, ErrorKind::InvalidArgument, {"config.json"});
  }
  Config c = fixture_config("gemma2/tiny/Gemma2Model");
  c.set("attn_logit_softcapping", nullptr);
  c.set("sliding_window", nullptr);
  EXPECT_NO_THROW((void)build_model(c, "Gemma2Model"));
}

TEST(Decoders, Gemma2WindowAndSoftcapsAreApplied) {
  const auto dir = hfx::testing::fixtures_dir() / "gemma2/tiny/Gemma2ForCausalLM";
  const ModelInputs in = hfx::testing::read_fixture_inputs(dir / "inputs.safetensors");
  const Tensor want = open_safetensors((dir / "outputs.safetensors").string())->get("logits");
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"sliding_window", 64}, {"attn_logit_softcapping", nullptr}, {"final_logit_softcapping", nullptr}}) {
    LoadOptions o;
    o.config_overrides = {{key, value}};
    auto m = load_pretrained(dir.string(), "Gemma2ForCausalLM", o).model;
    EXPECT_GT(max_abs_diff(m->forward(in).get("logits"), want), 1e-3) << key;
  }
}

// Mixture of experts: top-k within the expert count, a positive sparse step; Qwen2-MoE with num_experts 0 is
// all dense layers (Qwen2MoeDecoderLayer's condition) and builds.
TEST(Decoders, MoeConfigIsChecked) {
  Config m = fixture_config("mixtral/tiny/MixtralModel");
  m.set("num_experts_per_tok", 6);  // 5 experts
  expect_error([&] { (void)build_model(m, "MixtralModel"); }, ErrorKind::InvalidArgument, {"num_experts_per_tok", "config.json"});
  m.set("num_experts_per_tok", 2);
  m.set("num_local_experts", 0);
  expect_error([&] { (void)build_model(m, "MixtralModel"); }, ErrorKind::InvalidArgument, {"experts"});
  Config q = fixture_config("qwen2_moe/tiny/Qwen2MoeModel");
  q.set("decoder_sparse_step", 0);
  expect_error([&] { (void)build_model(q, "Qwen2MoeModel"); }, ErrorKind::InvalidArgument, {"decoder_sparse_step"});
  q.set("decoder_sparse_step", 1);
  q.set("num_experts", 0);
  EXPECT_NO_THROW((void)build_model(q, "Qwen2MoeModel"));
}

// Without output_router_logits the MoE models output no router logits and no aux_loss (transformers' default),
// and the hidden states stay those of the fixture.
TEST(Decoders, RouterLogitsFollowTheConfig) {
  const auto dir = hfx::testing::fixtures_dir() / "mixtral/tiny/MixtralForCausalLM";
  const ModelInputs in = hfx::testing::read_fixture_inputs(dir / "inputs.safetensors");
  LoadOptions o;
  o.config_overrides = {{"output_router_logits", false}};
  auto m = load_pretrained(dir.string(), "MixtralForCausalLM", o).model;
  const Outputs out = m->forward(in);
  EXPECT_FALSE(out.has("aux_loss"));
  EXPECT_FALSE(out.has("router_logits.0"));
  const Tensor want = open_safetensors((dir / "outputs.safetensors").string())->get("logits");
  EXPECT_LE(max_abs_diff(out.get("logits"), want), 1e-5);
}

TEST(Decoders, FalconBloomGptjConfigsAreChecked) {
  Config f = fixture_config("falcon/tiny/FalconModel");
  f.set("num_kv_heads", 4);  // 6 heads
  expect_error([&] { (void)build_model(f, "FalconModel"); }, ErrorKind::InvalidArgument, {"num_kv_heads"});
  Config b = fixture_config("bloom/tiny/BloomModel");
  b.set("pretraining_tp", 2);
  b.set("slow_but_exact", true);
  expect_error([&] { (void)build_model(b, "BloomModel"); }, ErrorKind::Unsupported, {"slow_but_exact"});
  Config g = fixture_config("gptj/tiny/GPTJModel");
  g.set("rotary_dim", 3);
  expect_error([&] { (void)build_model(g, "GPTJModel"); }, ErrorKind::InvalidArgument, {"rotary_dim"});
  g.set("rotary_dim", nullptr);
  expect_error([&] { (void)build_model(g, "GPTJModel"); }, ErrorKind::Unsupported, {"rotary_dim"});
}

// Falcon with ALiBi follows the path transformers 4.46 takes: asked for attentions (the fixture's eager run) the
// alibi enters twice (scores and the alibi-filled mask), without them (SDPA, the default, and generation) once —
// the two differ by ~0.17 on this model, so the plain forward must NOT equal the fixture's logits; the generation
// fixture (falcon/left_pad, beam 3) checks the SDPA path against transformers.
TEST(Decoders, FalconAlibiTakesTheReferencePath) {
  const auto dir = hfx::testing::fixtures_dir() / "falcon/awkward/FalconForCausalLM";
  ModelInputs in = hfx::testing::read_fixture_inputs(dir / "inputs.safetensors");
  auto m = load_pretrained(dir.string(), "FalconForCausalLM").model;
  const Tensor want = open_safetensors((dir / "outputs.safetensors").string())->get("logits");
  in.output_attentions = true;
  EXPECT_LE(max_abs_diff(m->forward(in).get("logits"), want), 1e-5);
  in.output_attentions = false;
  EXPECT_GT(max_abs_diff(m->forward(in).get("logits"), want), 1e-2);
}
