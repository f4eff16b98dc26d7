// The hfx command line, run as a user would.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "hfx/io.h"
#include "hfx/model.h"
#include "test_util.h"

namespace {

using hfx::testing::CliRun;
using hfx::testing::run_cli;

std::string fixture(const std::string& rel) { return (hfx::testing::fixtures_dir() / rel).string(); }

}  // namespace

TEST(Cli, Info) {
  CliRun r = run_cli("info " + fixture("albert/tiny/AlbertForMaskedLM"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("model_type:   albert"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("class:        AlbertForMaskedLM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model.safetensors"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 missing, 0 unexpected"), std::string::npos) << r.out;
}

TEST(Cli, RunJsonMatchesTheReference) {
  auto in = hfx::open_safetensors(fixture("bert/tiny/BertForSequenceClassification/inputs.safetensors"));
  auto ref = hfx::open_safetensors(fixture("bert/tiny/BertForSequenceClassification/outputs.safetensors"));
  auto matrix = [](const hfx::Tensor& t) {
    std::string s;
    for (int64_t i = 0; i < t.size(0); ++i) {
      if (i) s += ";";
      for (int64_t j = 0; j < t.size(1); ++j) s += (j ? "," : "") + std::to_string(static_cast<int64_t>(t.item(i * t.size(1) + j)));
    }
    return "\"" + s + "\"";
  };
  CliRun r = run_cli("run " + fixture("bert/tiny/BertForSequenceClassification") + " --input-ids " + matrix(in->get("input_ids")) +
                  " --attention-mask " + matrix(in->get("attention_mask")) + " --token-type-ids " +
                  matrix(in->get("token_type_ids")) + " --hidden-states --json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["class"], "BertForSequenceClassification");
  hfx::Tensor want = ref->get("logits");
  auto data = j["outputs"]["logits"]["data"];
  ASSERT_EQ(static_cast<int64_t>(data.size()), want.numel());
  for (int64_t i = 0; i < want.numel(); ++i) EXPECT_NEAR(data[static_cast<std::size_t>(i)].get<double>(), want.item(i), 1e-5);
  EXPECT_TRUE(j["outputs"].contains("hidden_states.2"));
}

TEST(Cli, ErrorsExitNonZeroWithAMessage) {
  CliRun r = run_cli("run " + fixture("bert/tiny/BertModel") + " --input-ids 1,2,x");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("'x' is not an integer"), std::string::npos) << r.out;
  r = run_cli("info /nonexistent/model");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("NotFound"), std::string::npos) << r.out;
  r = run_cli("run " + fixture("bert/tiny/BertModel") + " --input-ids \"1,2;3\"");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("different lengths"), std::string::npos) << r.out;
  r = run_cli("frobnicate");
  EXPECT_NE(r.status, 0);
}

// `hfx info` on a folder with only config.json: the skeleton's parameter count without weights. The expected
// counts are transformers 4.46's num_parameters() of AutoModel.from_config(XConfig()) (the published sizes:
// bert-base 109,482,240; gpt2 124,439,808; t5-small 60,506,624; Llama-2-7B without its LM head 6,607,343,616).
TEST(Cli, InfoOnAConfigOnlyFolderCountsTheSkeleton) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("hfx_cfg_only_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // transformers 4.46.3's AutoModel.from_config(AutoConfig.for_model(type)).num_parameters() for every type both
  // know (tools/fixtures/default_counts.py writes tests/fixtures/default_counts.json).
  const auto counts = nlohmann::json::parse(
      hfx::read_text_file((hfx::testing::fixtures_dir() / "default_counts.json").string()))["counts"];
  std::vector<std::pair<std::string, int64_t>> want;
  for (const std::string& type : hfx::supported_model_types())
    if (counts.contains(type)) want.emplace_back(type, counts[type]["num_parameters"].get<int64_t>());
  for (const char* must : {"bert", "gpt2", "t5", "llama", "gemma2", "mixtral", "qwen2_moe"})
    EXPECT_TRUE(counts.contains(must) && std::any_of(want.begin(), want.end(), [&](const auto& w) { return w.first == must; }))
        << must << " is not counted";
  for (const auto& [type, params] : want) {
    hfx::write_file_atomic((dir / "config.json").string(), "{\"model_type\": \"" + type + "\", \"torch_dtype\": \"bfloat16\"}");
    const CliRun r = run_cli("info --json " + dir.string());
    ASSERT_EQ(r.status, 0) << r.out;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["parameters"].get<int64_t>(), params) << type;
    EXPECT_EQ(j["weights"], false) << type;
    EXPECT_EQ(j["bytes"]["bfloat16"].get<double>(), 2.0 * static_cast<double>(params)) << type;
  }
  // A hostile size is a typed error, never an allocation: nothing is allocated for a skeleton.
  hfx::write_file_atomic((dir / "config.json").string(),
                         "{\"model_type\": \"bert\", \"vocab_size\": 4611686018427387904, \"hidden_size\": 4611686018427387904}");
  const CliRun bad = run_cli("info " + dir.string());
  EXPECT_NE(bad.status, 0) << bad.out;
  EXPECT_NE(bad.out.find("error"), std::string::npos) << bad.out;
  fs::remove_all(dir);
}
