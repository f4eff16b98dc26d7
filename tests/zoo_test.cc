// XLNet, XLM and Transformer-XL beyond the main fixtures (tools/fixtures/zoo_extra.py,
// tests/fixtures/zoo_extra/): two-stream XLNet over mems (perm_mask, target_mapping,
// uni / bi_data / clamp_len / reuse_len), Transformer-XL second segments over mems
// (same_length, clamp_len, div_val 1 projections, pre_lnorm, shared r biases),
// XLM languages + causal + lengths from pad_index; generate() without mems against
// the reference's greedy loop; cached == uncached where the model allows it; the
// PreTrainedModel counts; bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/generate.h"
#include "hfx/io.h"
#include "hfx/pretrained.h"
#include "test_util.h"

using namespace hfx;
using hfx::testing::expect_error;
namespace fs = std::filesystem;

namespace {

fs::path extra_dir() { return hfx::testing::fixtures_dir() / "zoo_extra"; }

struct Case {
  std::string id, cls;
  fs::path dir;
  nlohmann::json entry;
};

std::vector<Case> extra_cases() {
  std::vector<Case> out;
  if (!fs::exists(extra_dir() / "manifest.json")) return out;
  auto m = nlohmann::json::parse(read_text_file((extra_dir() / "manifest.json").string()));
  for (const auto& c : m["cases"])
    out.push_back({c["id"], c["class"], hfx::testing::fixtures_dir() / c["dir"].get<std::string>(), c});
  return out;
}

std::string name_of(const ::testing::TestParamInfo<Case>& p) {
  std::string n = p.param.id;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

class ZooExtra : public ::testing::TestWithParam<Case> {};

TEST_P(ZooExtra, MatchesTransformers) {
  const Case& c = GetParam();
  ASSERT_EQ(c.entry["formats"].size(), 1u);
  const std::string weights = (c.dir / c.entry["formats"].begin()->get<std::string>()).string();
  LoadedModel lm = load_pretrained(weights, c.cls);
  EXPECT_TRUE(lm.info.missing_keys.empty()) << lm.info.missing_keys.front();
  EXPECT_TRUE(lm.info.unexpected_keys.empty()) << lm.info.unexpected_keys.front();
  Outputs out = lm.model->forward(hfx::testing::read_fixture_inputs(c.dir / "inputs.safetensors"));
  auto ref = open_safetensors((c.dir / "outputs.safetensors").string());
  hfx::testing::expect_outputs_match_reference(out, *ref, c.id);
  EXPECT_EQ(out.items().size(), ref->entries().size()) << c.id << ": hfx has outputs the reference has not";
}
INSTANTIATE_TEST_SUITE_P(Fixtures, ZooExtra, ::testing::ValuesIn(extra_cases()), name_of);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ZooExtra);

TEST(ZooExtra, FixturesPresent) { EXPECT_EQ(extra_cases().size(), 5u); }

Tensor ids_of(const nlohmann::json& rows) {
  std::vector<int64_t> flat;
  for (const auto& r : rows)
    for (const auto& x : r) flat.push_back(x.get<int64_t>());
  return Tensor::from_vector(DType::I64, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())}, flat);
}

GenerationConfig greedy_config(const Model& m, const nlohmann::json& kw) {
  GenerationConfig g = GenerationConfig::from_model(m);
  g.max_new_tokens = kw.value("max_new_tokens", 8);
  g.min_new_tokens = kw.value("min_new_tokens", 0);
  if (kw.contains("pad_token_id")) g.pad_token_id = kw["pad_token_id"].get<int64_t>();
  if (kw.contains("eos_token_id")) g.eos_token_id = kw["eos_token_id"].get<int64_t>();
  return g;
}

// Without mems, XLNet / Transformer-XL re-run the whole sequence each step: the
// reference for that is the same greedy loop over transformers' forward.
TEST(ZooGenerate, WithoutMemsMatchesTheReferenceLoop) {
  if (!fs::exists(extra_dir() / "generate_nocache.json")) GTEST_SKIP() << "no zoo_extra fixtures";
  auto all = nlohmann::json::parse(read_text_file((extra_dir() / "generate_nocache.json").string()));
  ASSERT_EQ(all.size(), 4u);
  for (auto it = all.begin(); it != all.end(); ++it) {
    const fs::path dir = hfx::testing::fixtures_dir() / it.key();
    auto gen = nlohmann::json::parse(read_text_file((dir / "generate.json").string()));
    LoadedModel lm = load_pretrained(dir.string(), "");
    GenerationConfig g = greedy_config(*lm.model, gen["kwargs"]["greedy"]);
    g.use_cache = false;
    Tensor got = generate(*lm.model, ids_of((*it)["prompt_ids"]), Tensor(), g);
    EXPECT_EQ(max_abs_diff(got, ids_of((*it)["greedy_nocache"])), 0.0) << it.key();
  }
}

// Where a cache does not change the model's function (KV caches; XLM has none),
// generate() gives the same ids with and without it.
TEST(ZooGenerate, CachedEqualsUncachedForKvAndCacheFreeModels) {
  for (const char* d : {"xlm/tiny/XLMWithLMHeadModel", "xlm/awkward/XLMWithLMHeadModel", "gpt2/tiny/GPT2LMHeadModel",
                        "llama/tiny/LlamaForCausalLM", "openai-gpt/tiny/OpenAIGPTLMHeadModel"}) {
    const fs::path dir = hfx::testing::fixtures_dir() / d;
    if (!fs::exists(dir)) continue;
    auto gen = nlohmann::json::parse(read_text_file((dir / "generate.json").string()));
    LoadedModel lm = load_pretrained(dir.string(), "");
    for (const char* mode : {"greedy", "beam3"}) {
      GenerationConfig g = greedy_config(*lm.model, gen["kwargs"][mode]);
      g.num_beams = gen["kwargs"][mode].value("num_beams", 1);
      Tensor cached = generate(*lm.model, ids_of(gen["prompt_ids"]), Tensor(), g);
      g.use_cache = false;
      Tensor uncached = generate(*lm.model, ids_of(gen["prompt_ids"]), Tensor(), g);
      EXPECT_EQ(max_abs_diff(cached, uncached), 0.0) << d << " " << mode;
      EXPECT_EQ(max_abs_diff(cached, ids_of(gen[mode])), 0.0) << d << " " << mode;
    }
  }
}

// Each new token after the prompt runs one position through Transformer-XL
// (two with XLNet's offset, plus its dummy): the mems carry the rest. The mems
// outputs of a step equal the reference's (checked by the parity fixtures);
// here: a step's forward over mems equals the same step computed from the
// previous call's mems output, and the step's input is small.
TEST(ZooGenerate, MemsStepContinuesTheSegment) {
  const fs::path dir = hfx::testing::fixtures_dir() / "transfo-xl/tiny/TransfoXLLMHeadModel";
  if (!fs::exists(dir)) GTEST_SKIP() << "no fixtures";
  LoadedModel lm = load_pretrained(dir.string(), "");
  ModelInputs a;
  a.input_ids = Tensor::from_vector<int64_t>(DType::I64, {1, 4}, {5, 6, 7, 8});
  Outputs first = lm.model->forward(a);
  ModelInputs b;
  b.input_ids = Tensor::from_vector<int64_t>(DType::I64, {1, 1}, {9});
  for (int i = 0; i < 2; ++i) b.mems.push_back(first.get("mems." + std::to_string(i)));
  Outputs second = lm.model->forward(b);
  EXPECT_EQ(second.get("prediction_scores").shape(), (Shape{1, 1, 120}));
  EXPECT_EQ(second.get("mems.0").shape(), (Shape{16, 1, 32}));
  // mems roll: the newest row of the second call's mems is the new token's layer input
  EXPECT_EQ(max_abs_diff(second.get("mems.0").narrow(0, 0, 15).contiguous(), first.get("mems.0").narrow(0, 1, 15).contiguous()), 0.0);
}

TEST(ZooApi, CountsAndEmbeddingsMatchTransformers) {
  if (!fs::exists(extra_dir() / "api.json")) GTEST_SKIP() << "no zoo_extra fixtures";
  auto api = nlohmann::json::parse(read_text_file((extra_dir() / "api.json").string()));
  ASSERT_GE(api.size(), 18u);
  for (auto it = api.begin(); it != api.end(); ++it) {
    const std::string cls = it.key().substr(it.key().rfind('/') + 1);
    auto model = build_model(AutoConfig::from_pretrained((hfx::testing::fixtures_dir() / it.key()).string()), cls);
    EXPECT_EQ(num_parameters(*model), (*it)["num_parameters"].get<int64_t>()) << it.key();
    EXPECT_EQ(num_parameters(*model, false, true), (*it)["num_parameters_exclude_embeddings"].get<int64_t>()) << it.key();
    if (it->contains("input_embeddings_shape")) {
      const std::string in = input_embeddings_name(*model);
      EXPECT_EQ(model->params().specs()[*model->params().index_of(in)].shape, (*it)["input_embeddings_shape"].get<Shape>()) << it.key();
      const std::string out = output_embeddings_name(*model);
      if ((*it)["output_embeddings_shape"].is_null()) {
        EXPECT_TRUE(out.empty()) << it.key() << ": " << out;
      } else {
        ASSERT_FALSE(out.empty()) << it.key();
        EXPECT_EQ(model->params().specs()[*model->params().index_of(out)].shape, (*it)["output_embeddings_shape"].get<Shape>()) << it.key();
      }
    }
  }
}

TEST(ZooBadInput, ClearErrors) {
  const fs::path root = hfx::testing::fixtures_dir();
  for (const char* d : {"xlnet/tiny/XLNetLMHeadModel", "xlm/tiny/XLMWithLMHeadModel", "transfo-xl/tiny/TransfoXLLMHeadModel"}) {
    if (!fs::exists(root / d)) GTEST_SKIP() << "no fixtures";
    LoadedModel lm = load_pretrained((root / d).string(), "");
    const int64_t V = lm.model->config().get<int64_t>("vocab_size", 0);
    ModelInputs in;
    in.input_ids = Tensor::from_vector<int64_t>(DType::I64, {1, 3}, {1, V, 2});
    expect_error([&] { lm.model->forward(in); }, ErrorKind::InvalidArgument, {std::to_string(V), "out of range"});
    in.input_ids = Tensor::from_vector<int64_t>(DType::I64, {1, 2}, {-1, 2});
    expect_error([&] { lm.model->forward(in); }, ErrorKind::InvalidArgument, {"-1"});
    in.input_ids = Tensor::from_vector<float>(DType::F32, {1, 2}, {1.0f, 2.0f});
    expect_error([&] { lm.model->forward(in); }, ErrorKind::InvalidArgument, {"integer"});
    // generate: num_beams < 1, ids past the vocabulary
    GenerationConfig g = GenerationConfig::from_model(*lm.model);
    g.max_new_tokens = 2;
    g.num_beams = 0;
    expect_error([&] { generate(*lm.model, Tensor::from_vector<int64_t>(DType::I64, {1, 2}, {7, 8}), Tensor(), g); },
                 ErrorKind::InvalidArgument, {"num_beams"});
    g.num_beams = 1;
    expect_error([&] { generate(*lm.model, Tensor::from_vector<int64_t>(DType::I64, {1, 2}, {7, V + 5}), Tensor(), g); },
                 ErrorKind::InvalidArgument, {"out of range"});
  }
  // XLM: positions are bounded by max_position_embeddings (64 in the fixture).
  LoadedModel xlm = load_pretrained((root / "xlm/tiny/XLMModel").string(), "");
  ModelInputs in;
  in.input_ids = Tensor::from_vector(DType::I64, {1, 65}, std::vector<int64_t>(65, 7));
  expect_error([&] { xlm.model->forward(in); }, ErrorKind::InvalidArgument, {"65", "max_position_embeddings 64"});
  // mems of the wrong shape, XLNet target_mapping of the wrong shape
  LoadedModel xl = load_pretrained((root / "transfo-xl/tiny/TransfoXLModel").string(), "");
  in.input_ids = Tensor::from_vector<int64_t>(DType::I64, {1, 2}, {7, 8});
  in.mems = {Tensor::zeros(DType::F32, {4, 2, 32}), Tensor::zeros(DType::F32, {4, 2, 32})};
  expect_error([&] { xl.model->forward(in); }, ErrorKind::Mismatch, {"mems"});
  in.mems = {Tensor::zeros(DType::F32, {4, 1, 32})};
  expect_error([&] { xl.model->forward(in); }, ErrorKind::Mismatch, {"mems has 1"});
  LoadedModel xn = load_pretrained((root / "xlnet/tiny/XLNetModel").string(), "");
  in.mems.clear();
  in.target_mapping = Tensor::zeros(DType::F32, {1, 1, 3});
  expect_error([&] { xn.model->forward(in); }, ErrorKind::Mismatch, {"target_mapping"});
  in.target_mapping = Tensor();
  in.perm_mask = Tensor::zeros(DType::F32, {1, 2, 3});
  expect_error([&] { xn.model->forward(in); }, ErrorKind::Mismatch, {"perm_mask"});
}

}  // namespace
