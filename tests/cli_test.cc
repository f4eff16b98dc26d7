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

// `hfx info` on a folder with only config.json: the skeleton's parameter count without weights, for every class
// of every registered type, on the type's default config (config.json with only model_type and
// architectures): the parameter count transformers 4.46.3's num_parameters() gives the same class on the same
// default config (tests/fixtures/num_parameters.json, tools/fixtures/num_parameters.py). A newly registered type
// or class fails here until the fixture is regenerated with it.
TEST(Cli, InfoOnAConfigOnlyFolderMatchesNumParametersForEveryClass) {
  namespace fs = std::filesystem;
  const auto ref = nlohmann::json::parse(hfx::read_text_file((hfx::testing::fixtures_dir() / "num_parameters.json").string()));
  const auto& counts = ref.at("num_parameters");
  const fs::path dir = fs::temp_directory_path() / ("hfx_cfg_only_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  int checked = 0;
  for (const auto& type : hfx::supported_model_types()) {
    for (const auto& [cls, builder] : hfx::architecture(type).classes) {
      if (ref.at("missing").contains(type) || ref.at("missing").contains(type + "/" + cls)) continue;  // no 4.46 reference
      ASSERT_TRUE(counts.contains(type) && counts[type].contains(cls))
          << type << "/" << cls << " has no reference count: run tools/fixtures/num_parameters.py build/hfx";
      const int64_t params = counts[type][cls].get<int64_t>();
      hfx::write_file_atomic((dir / "config.json").string(),
                             nlohmann::json{{"model_type", type}, {"architectures", {cls}}, {"torch_dtype", "bfloat16"}}.dump());
      const CliRun r = run_cli("info --json " + dir.string());
      ASSERT_EQ(r.status, 0) << type << "/" << cls << ": " << r.out;
      const auto j = nlohmann::json::parse(r.out);
      EXPECT_EQ(j["class"], cls);
      EXPECT_EQ(j["parameters"].get<int64_t>(), params) << type << "/" << cls;
      EXPECT_EQ(j["weights"], false) << type;
      EXPECT_EQ(j["bytes"]["bfloat16"].get<double>(), 2.0 * static_cast<double>(params)) << type << "/" << cls;
      ++checked;
    }
  }
  EXPECT_GE(checked, 100);
  // A hostile size is a typed error, never an allocation: nothing is allocated for a skeleton.
  hfx::write_file_atomic((dir / "config.json").string(),
                         "{\"model_type\": \"bert\", \"vocab_size\": 4611686018427387904, \"hidden_size\": 4611686018427387904}");
  const CliRun bad = run_cli("info " + dir.string());
  EXPECT_NE(bad.status, 0) << bad.out;
  EXPECT_NE(bad.out.find("error"), std::string::npos) << bad.out;
  // A float where an integer belongs: a typed error, not nlohmann's undefined float-to-int cast.
  hfx::write_file_atomic((dir / "config.json").string(),
                         R"({"model_type": "llama", "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "original_max_position_embeddings": 1e300}})");
  const CliRun rope = run_cli("info " + dir.string());
  EXPECT_EQ(rope.status, 11) << rope.out;  // Format
  EXPECT_NE(rope.out.find("original_max_position_embeddings must be a positive integer"), std::string::npos) << rope.out;
  fs::remove_all(dir);
}

TEST(Cli, ModelsListsEveryTypeWithItsClasses) {
  const CliRun r = run_cli("--json models");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.size(), hfx::supported_model_types().size());
  EXPECT_EQ(j.at("bert").at(0), "BertModel");
  EXPECT_NE(std::find(j.at("gpt2").begin(), j.at("gpt2").end(), "GPT2LMHeadModel"), j.at("gpt2").end());
}
