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

// transformers 5 writes config.json with `dtype` and `rope_parameters` (flat, or per layer type): hfx reads them
// under the 4.x names every model file uses; a 4.x field in the file still wins, and the class defaults come last.
// (The v5_* fixture cases run whole models saved by transformers 5 against its outputs.)
TEST(Decoders, FiveConfigLayoutIsReadUnderFourNames) {
  Config flat = Config::from_json({{"model_type", "llama"},
                                   {"dtype", "bfloat16"},
                                   {"rope_parameters", {{"rope_type", "linear"}, {"factor", 2.0}, {"rope_theta", 500.0},
                                                        {"partial_rotary_factor", 0.5}}}});
  EXPECT_EQ(flat.get<std::string>("torch_dtype", ""), "bfloat16");
  EXPECT_EQ(flat.get<double>("rope_theta", 0.0), 500.0);  // not LlamaConfig's default 10000
  EXPECT_EQ(flat.get<double>("rotary_emb_base", 0.0), 500.0);
  EXPECT_EQ(flat.get<double>("partial_rotary_factor", 0.0), 0.5);
  EXPECT_EQ(flat.get<double>("rotary_pct", 0.0), 0.5);
  ASSERT_NE(flat.find("rope_scaling"), nullptr);
  EXPECT_EQ((*flat.find("rope_scaling"))["factor"], 2.0);
  Config plain = Config::from_json({{"model_type", "llama"}, {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 7.0}}}});
  EXPECT_EQ(plain.find("rope_scaling"), nullptr);  // the default type is no scaling, as 4.x wrote null
  EXPECT_EQ(plain.get<double>("rope_theta", 0.0), 7.0);
  Config typed = Config::from_json({{"model_type", "gemma3_text"},
                                    {"rope_parameters", {{"full_attention", {{"rope_type", "default"}, {"rope_theta", 1e6}}},
                                                         {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 1e4}}}}}});
  EXPECT_EQ(typed.get<double>("rope_theta", 0.0), 1e6);
  EXPECT_EQ(typed.get<double>("global_rope_theta", 0.0), 1e6);
  EXPECT_EQ(typed.get<double>("rope_local_base_freq", 0.0), 1e4);
  EXPECT_EQ(typed.get<double>("local_rope_theta", 0.0), 1e4);
  Config both = Config::from_json({{"model_type", "llama"}, {"rope_theta", 3.0}, {"torch_dtype", "float16"},
                                   {"dtype", "bfloat16"}, {"rope_parameters", {{"rope_theta", 500.0}}}});
  EXPECT_EQ(both.get<double>("rope_theta", 0.0), 3.0);
  EXPECT_EQ(both.get<std::string>("torch_dtype", ""), "float16");
  Config bad = Config::from_json({{"model_type", "llama"}, {"rope_parameters", {{"rope_theta", "high"}}}});
  expect_error([&] { (void)bad.get<double>("rope_theta", 0.0); }, ErrorKind::Format, {"rope_theta"});
}

// Qwen3 / Gemma-3 layer types: the list must match the layers and name known types (typed errors naming the
// config); Gemma-3's encoder use (use_bidirectional_attention) is refused.
TEST(Decoders, FiveLayerTypesAreChecked) {
  for (const char* dir : {"qwen3/awkward/Qwen3Model", "gemma3_text/tiny/Gemma3TextModel"}) {
    const std::string cls = std::string(dir).substr(std::string(dir).rfind('/') + 1);
    Config c = fixture_config(dir);
    c.set("layer_types", {"full_attention"});
    expect_error([&] { (void)build_model(c, cls); }, ErrorKind::InvalidArgument, {"layer_types", "config.json"});
    c.set("layer_types", {"full_attention", "chunked_attention", "full_attention"});
    expect_error([&] { (void)build_model(c, cls); }, ErrorKind::Unsupported, {"chunked_attention"});
  }
  Config g = fixture_config("gemma3_text/tiny/Gemma3TextModel");
  g.set("use_bidirectional_attention", true);
  expect_error([&] { (void)build_model(g, "Gemma3TextModel"); }, ErrorKind::Unsupported, {"use_bidirectional_attention"});
  Config m = fixture_config("modernbert/tiny/ModernBertModel");
  m.set("layer_types", {"full_attention"});
  expect_error([&] { (void)build_model(m, "ModernBertModel"); }, ErrorKind::InvalidArgument, {"layer_types"});
}

// The settings the fixtures exercise are really read: Qwen3's window (awkward: 5 < 13 on layers 1-2), Gemma-3's
// local theta and its window, ModernBERT's local window and local theta — each changed, the outputs move away from
// transformers'.
TEST(Decoders, FiveWindowsAndLocalThetasAreApplied) {
  struct Probe {
    const char* dir;
    const char* cls;
    const char* out;
    nlohmann::json overrides;
  };
  for (const Probe& p : std::vector<Probe>{
           {"qwen3/awkward/Qwen3ForCausalLM", "Qwen3ForCausalLM", "logits", {{"use_sliding_window", false}}},
           {"qwen3/awkward/Qwen3ForCausalLM", "Qwen3ForCausalLM", "logits", {{"layer_types", {"full_attention", "full_attention", "full_attention"}}}},
           {"gemma3_text/tiny/Gemma3ForCausalLM", "Gemma3ForCausalLM", "logits", {{"sliding_window", 64}}},
           {"gemma3_text/tiny/Gemma3ForCausalLM", "Gemma3ForCausalLM", "logits", {{"rope_local_base_freq", 1000.0}}},
           {"modernbert/tiny/ModernBertModel", "ModernBertModel", "last_hidden_state", {{"local_attention", 64}}},
           {"modernbert/tiny/ModernBertModel", "ModernBertModel", "last_hidden_state", {{"local_rope_theta", 1000.0}}}}) {
    const auto dir = hfx::testing::fixtures_dir() / p.dir;
    const ModelInputs in = hfx::testing::read_fixture_inputs(dir / "inputs.safetensors");
    const Tensor want = open_safetensors((dir / "outputs.safetensors").string())->get(p.out);
    auto same = load_pretrained(dir.string(), p.cls).model;
    EXPECT_LE(max_abs_diff(same->forward(in).get(p.out), want), 1e-5) << p.dir;
    LoadOptions o;
    o.config_overrides = p.overrides;
    auto m = load_pretrained(dir.string(), p.cls, o).model;
    EXPECT_GT(max_abs_diff(m->forward(in).get(p.out), want), 1e-4) << p.dir << " " << p.overrides.dump();
  }
}

namespace {
// Row `row` of a fixture's inputs cut to its first n positions, as a batch of one (no padding).
ModelInputs row_prefix(const ModelInputs& in, int64_t row, int64_t n) {
  ModelInputs one;
  one.input_ids = in.input_ids.narrow(0, row, 1).narrow(1, 0, n).contiguous();
  one.attention_mask = in.attention_mask.narrow(0, row, 1).narrow(1, 0, n).contiguous();
  return one;
}
}  // namespace

// A padded batch gives each row what the row alone gives (transformers 5's ModernBERT unpads on its flash path;
// the padded eager path must agree on the real tokens), here for the padded row of each fixture.
TEST(Decoders, PaddedRowEqualsTheRowAlone) {
  for (const auto& [dir, cls] : std::vector<std::pair<std::string, std::string>>{
           {"modernbert/awkward/ModernBertModel", "ModernBertModel"}, {"modernbert/tiny/ModernBertModel", "ModernBertModel"},
           {"qwen3/awkward/Qwen3Model", "Qwen3Model"}, {"gemma3_text/awkward/Gemma3TextModel", "Gemma3TextModel"}}) {
    const auto d = hfx::testing::fixtures_dir() / dir;
    const ModelInputs in = hfx::testing::read_fixture_inputs(d / "inputs.safetensors", false);
    const Tensor mask = in.attention_mask.to(DType::I64).contiguous();
    const int64_t S = mask.size(1);
    int64_t real = 0;
    for (int64_t i = 0; i < S; ++i) real += mask.data<int64_t>()[S + i];
    ASSERT_LT(real, S) << dir << ": row 1 is padded";
    auto m = load_pretrained(d.string(), cls).model;
    const Tensor batch = m->forward(in).get("last_hidden_state").narrow(0, 1, 1).narrow(1, 0, real).contiguous();
    const Tensor alone = m->forward(row_prefix(in, 1, real)).get("last_hidden_state");
    EXPECT_LE(max_abs_diff(batch, alone), 1e-5) << dir;
  }
}

// transformers 5's GenericForSequenceClassification pools at the rightmost token that is not pad_token_id (4.46's
// Llama family took the one before the first pad): with a pad inside the row, Qwen3's pooled logits are those of the
// prefix ending at the last real token.
TEST(Decoders, FiveSequenceClassificationPoolsTheRightmostRealToken) {
  const auto d = hfx::testing::fixtures_dir() / "qwen3/tiny/Qwen3ForSequenceClassification";
  auto m = load_pretrained(d.string(), "Qwen3ForSequenceClassification").model;
  const int64_t pad = 0;  // the fixture config's pad_token_id
  const Tensor ids = Tensor::from_vector(DType::I64, {1, 6}, std::vector<int64_t>{11, 12, pad, 14, pad, pad});
  ModelInputs in;
  in.input_ids = ids;
  const Tensor pooled = m->forward(in).get("logits");
  ModelInputs upto;
  upto.input_ids = ids.narrow(1, 0, 4).contiguous();  // [11, 12, pad, 14]: its rightmost real token is the last
  EXPECT_LE(max_abs_diff(pooled, m->forward(upto).get("logits")), 1e-6);
  ModelInputs first;
  first.input_ids = ids.narrow(1, 0, 2).contiguous();  // 4.46's choice: the token before the first pad
  EXPECT_GT(max_abs_diff(pooled, m->forward(first).get("logits")), 1e-4);
}
