// Parity against the reference fixtures that the real transformers produced
// (tools/fixtures, committed under tests/fixtures): every output the fixture
// recorded — each hidden state, attention map, last hidden state, pooler
// output, logits — must be within 1e-5 (fp32), or 2e-6 of the output's
// magnitude above 5 (the one policy: hfx::testing::parity_budget in test_util.h).
#include <gtest/gtest.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "test_util.h"

using namespace hfx;
namespace fs = std::filesystem;

namespace {

// Every architecture hfx registers is judged on every fixture case it has.
const std::set<std::string> kArchs = [] {
  auto v = supported_model_types();
  return std::set<std::string>(v.begin(), v.end());
}();

struct Case {
  std::string id, arch, cls;
  fs::path dir;
  nlohmann::json entry;
};

std::vector<Case> load_cases(bool only_with_dtypes = false) {
  std::vector<Case> out;
  fs::path manifest = hfx::testing::fixtures_dir() / "manifest.json";
  if (!fs::exists(manifest)) return out;
  auto m = nlohmann::json::parse(read_text_file(manifest.string()));
  for (const auto& c : m["cases"]) {
    if (!kArchs.count(c["arch"].get<std::string>())) continue;
    if (only_with_dtypes && (!c.contains("dtypes") || c["dtypes"].empty())) continue;
    out.push_back({c["id"], c["arch"], c["class"], hfx::testing::fixtures_dir() / c["dir"].get<std::string>(), c});
  }
  return out;
}

ModelInputs read_inputs(const fs::path& file) { return hfx::testing::read_fixture_inputs(file); }

class Parity : public ::testing::TestWithParam<Case> {};
class ParityDtype : public ::testing::TestWithParam<Case> {};

TEST_P(Parity, SafetensorsFp32) {
  const Case& c = GetParam();
  const std::string weights = (c.dir / c.entry["formats"]["safetensors"].get<std::string>()).string();
  LoadedModel lm = load_pretrained(weights, c.cls);
  EXPECT_TRUE(lm.info.missing_keys.empty()) << "first missing: " << lm.info.missing_keys.front();
  EXPECT_TRUE(lm.info.unexpected_keys.empty()) << "first unexpected: " << lm.info.unexpected_keys.front();
  EXPECT_EQ(lm.info.converted, 0u);
  Outputs out = lm.model->forward(read_inputs(c.dir / c.entry["inputs"].get<std::string>()));
  // fp32 budget: 1e-5, or 2e-6 x magnitude above 5 (hfx::testing::parity_budget).
  hfx::testing::expect_outputs_match_reference(out, c.dir / c.entry["outputs"].get<std::string>(), c.id);
  // The measured worst |hfx - reference| over every output, for reports (--gtest_output=json:...).
  double worst = 0.0;
  const auto ref = open_safetensors((c.dir / c.entry["outputs"].get<std::string>()).string());
  for (const auto& e : ref->entries())
    if (out.has(e.name)) worst = std::max(worst, max_abs_diff(out.get(e.name), ref->get(e.name)));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", worst);
  RecordProperty("max_abs_diff", buf);
}

// f16/bf16 checkpoints run with their weights kept in that dtype (widened in
// the kernels, activations in f32); the budget is the reference's own
// deviation between its f32 run and its run in that dtype.
TEST_P(ParityDtype, HalfPrecision) {
  const Case& c = GetParam();
  auto ref32 = open_safetensors((c.dir / c.entry["outputs"].get<std::string>()).string());
  for (auto it = c.entry["dtypes"].begin(); it != c.entry["dtypes"].end(); ++it) {
    LoadOptions opts;
    opts.keep_file_dtype = true;
    LoadedModel lm = load_pretrained((c.dir / it->get<std::string>()).string(), c.cls, opts);
    EXPECT_EQ(lm.info.converted, 0u);
    Outputs out = lm.model->forward(read_inputs(c.dir / c.entry["inputs"].get<std::string>()));
    auto ref = open_safetensors((c.dir / c.entry["dtype_outputs"][it.key()].get<std::string>()).string());
    hfx::testing::expect_half_outputs_match_reference(out, *ref, *ref32, c.id + " " + it.key());
  }
}

std::string case_name(const ::testing::TestParamInfo<Case>& pinfo) {
  std::string n = pinfo.param.id;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}
INSTANTIATE_TEST_SUITE_P(Fixtures, Parity, ::testing::ValuesIn(load_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Fixtures, ParityDtype, ::testing::ValuesIn(load_cases(true)), case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Parity);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParityDtype);

TEST(Parity, FixturesPresent) {
  ASSERT_TRUE(fs::exists(hfx::testing::fixtures_dir() / "manifest.json")) << "run tools/fixtures/regenerate.sh";
  std::set<std::string> seen;
  for (const auto& c : load_cases()) seen.insert(c.arch);
  EXPECT_EQ(seen, kArchs);
}

}  // namespace
