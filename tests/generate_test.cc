// generate() against transformers' own generate() token ids (fixtures'
// generate.json: greedy and num_beams=3, 8 new tokens), and the KV cache
// against the full forward pass.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/generate.h"
#include "hfx/seq2seq.h"
#include "hfx/io.h"
#include "test_util.h"

using namespace hfx;
namespace fs = std::filesystem;

namespace {

struct GenCase {
  std::string id, cls;
  fs::path dir;
  nlohmann::json gen;
};

std::vector<GenCase> gen_cases() {
  std::vector<GenCase> out;
  fs::path manifest = hfx::testing::fixtures_dir() / "manifest.json";
  if (!fs::exists(manifest)) return out;
  auto types = supported_model_types();
  auto m = nlohmann::json::parse(read_text_file(manifest.string()));
  for (const auto& c : m["cases"]) {
    if (!c.contains("generate") || std::find(types.begin(), types.end(), c["arch"].get<std::string>()) == types.end()) continue;
    fs::path dir = hfx::testing::fixtures_dir() / c["dir"].get<std::string>();
    out.push_back({c["id"], c["class"], dir, nlohmann::json::parse(read_text_file((dir / c["generate"].get<std::string>()).string()))});
  }
  return out;
}

Tensor to_ids(const nlohmann::json& rows) {
  std::vector<int64_t> flat;
  for (const auto& r : rows)
    for (const auto& x : r) flat.push_back(x.get<int64_t>());
  return Tensor::from_vector(DType::I64, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())}, flat);
}

GenerationConfig config_from(const Model& m, const nlohmann::json& kw) {
  GenerationConfig g = GenerationConfig::from_model(m);
  if (kw.contains("max_new_tokens")) g.max_new_tokens = kw["max_new_tokens"];
  if (kw.contains("min_new_tokens")) g.min_new_tokens = kw["min_new_tokens"];
  if (kw.contains("num_beams")) g.num_beams = kw["num_beams"];
  if (kw.contains("do_sample")) g.do_sample = kw["do_sample"];
  if (kw.contains("pad_token_id")) g.pad_token_id = kw["pad_token_id"].get<int64_t>();
  if (kw.contains("eos_token_id")) g.eos_token_id = kw["eos_token_id"].get<int64_t>();
  return g;
}

class Generate : public ::testing::TestWithParam<GenCase> {};

TEST_P(Generate, GreedyAndBeamMatchTransformers) {
  const GenCase& c = GetParam();
  LoadedModel lm = load_pretrained(c.dir.string(), c.cls);
  Tensor prompt = to_ids(c.gen["prompt_ids"]);
  for (const char* mode : {"greedy", "beam3"}) {
    if (!c.gen.contains(mode)) continue;
    Tensor got = generate(*lm.model, prompt, Tensor(), config_from(*lm.model, c.gen["kwargs"][mode]));
    Tensor want = to_ids(c.gen[mode]);
    ASSERT_EQ(got.shape(), want.shape()) << c.id << " " << mode;
    EXPECT_EQ(max_abs_diff(got, want), 0.0) << c.id << " " << mode;
  }
}

// Each token fed one at a time through the cache gives the logits of the full pass.
TEST_P(Generate, CacheMatchesFullForward) {
  const GenCase& c = GetParam();
  LoadedModel lm = load_pretrained(c.dir.string(), c.cls);
  if (dynamic_cast<const Seq2SeqLM*>(lm.model.get())) GTEST_SKIP() << "encoder-decoder: seq2seq_test.cc checks its cache";
  if (dynamic_cast<const SessionLM*>(lm.model.get()))
    GTEST_SKIP() << "mems / cache-free generation (Transformer-XL, XLNet, XLM): zoo_test.cc checks both paths";
  const auto* causal = dynamic_cast<const CausalLM*>(lm.model.get());
  ASSERT_NE(causal, nullptr);
  if (const json* rs = lm.model->config().find("rope_scaling"); rs && rs->value("rope_type", "") == "dynamic")
    GTEST_SKIP() << "dynamic NTK RoPE depends on the longest position seen, so step-by-step and one-shot logits differ "
                    "(in transformers too)";
  Tensor prompt = to_ids(c.gen["prompt_ids"]);
  if (const json* rs = lm.model->config().find("rope_scaling");
      rs && rs->value("type", "") == "longrope" &&
      prompt.size(1) > lm.model->config().get<int64_t>("original_max_position_embeddings", 0))
    GTEST_SKIP() << "LongRoPE picks short or long factors by the longest position of the call, so step-by-step and "
                    "one-shot logits differ past original_max_position_embeddings (in transformers too)";
  ModelInputs in;
  in.input_ids = prompt;
  Tensor full = lm.model->forward(in).get("logits");
  KVCache cache;
  const int64_t S = prompt.size(1), V = causal->vocab_size();
  Tensor first = causal->step(prompt.narrow(1, 0, 3).contiguous(), Tensor(), Tensor(), cache);
  EXPECT_LE(max_abs_diff(first, full.narrow(1, 0, 3)), 1e-5);
  for (int64_t i = 3; i < S; ++i) {
    Tensor step = causal->step(prompt.narrow(1, i, 1).contiguous(), Tensor(), Tensor(), cache);
    EXPECT_LE(max_abs_diff(step.reshape({V}), full.narrow(1, i, 1).reshape({V})), 1e-5) << "position " << i;
  }
  EXPECT_EQ(cache.length(), S);
}

std::string name_of(const ::testing::TestParamInfo<GenCase>& p) {
  std::string n = p.param.id;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}
INSTANTIATE_TEST_SUITE_P(Fixtures, Generate, ::testing::ValuesIn(gen_cases()), name_of);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Generate);

}  // namespace

TEST(GenerateApi, SamplingIsSeededAndRespectsLimits) {
  auto dir = hfx::testing::fixtures_dir() / "gpt2/tiny/GPT2LMHeadModel";
  LoadedModel lm = load_pretrained(dir.string(), "");
  Tensor prompt = Tensor::from_vector<int64_t>(DType::I64, {1, 3}, {5, 6, 7});
  GenerationConfig g = GenerationConfig::from_model(*lm.model);
  g.do_sample = true;
  g.max_new_tokens = 6;
  g.top_k = 5;
  g.top_p = 0.9f;
  g.temperature = 0.7f;
  g.seed = 42;
  g.eos_token_id.reset();
  Tensor a = generate(*lm.model, prompt, Tensor(), g);
  Tensor b = generate(*lm.model, prompt, Tensor(), g);
  EXPECT_EQ(a.shape(), (Shape{1, 9}));
  EXPECT_EQ(max_abs_diff(a, b), 0.0);  // same seed, same tokens
  g.num_return_sequences = 3;
  EXPECT_EQ(generate(*lm.model, prompt, Tensor(), g).size(0), 3);
  // Greedy stops at eos and pads after it.
  GenerationConfig greedy = GenerationConfig::from_model(*lm.model);
  greedy.max_new_tokens = 5;
  Tensor first = generate(*lm.model, prompt, Tensor(), greedy);
  greedy.eos_token_id = static_cast<int64_t>(first.item(3));  // the first generated token becomes eos
  greedy.pad_token_id = 0;
  Tensor stopped = generate(*lm.model, prompt, Tensor(), greedy);
  EXPECT_EQ(stopped.size(1), 4);
  // A model without a cache path says so.
  LoadedModel bert = load_pretrained((hfx::testing::fixtures_dir() / "bert/tiny/BertModel").string(), "");
  hfx::testing::expect_error([&] { generate(*bert.model, prompt, Tensor(), greedy); }, ErrorKind::Unsupported, {"BertModel"});
}
