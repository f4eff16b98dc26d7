// Labels -> loss (Model::call, src/nn/loss.cc) against transformers 4.46.3:
// tools/fixtures/losses.py recorded, for every fixture case whose class takes
// training targets, the loss of deterministic random targets on the case's own
// inputs (tests/fixtures/losses/). Budget: |hfx - transformers| <= 1e-5, or
// 1e-6 of |transformers|. Plus the typed errors for bad targets, checked
// before anything runs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "test_util.h"

using namespace hfx;
namespace fs = std::filesystem;

namespace {

fs::path losses_dir() { return hfx::testing::fixtures_dir() / "losses"; }

nlohmann::json losses_doc() { return nlohmann::json::parse(read_text_file((losses_dir() / "losses.json").string())); }

std::map<std::string, nlohmann::json> manifest_cases() {
  auto m = nlohmann::json::parse(read_text_file((hfx::testing::fixtures_dir() / "manifest.json").string()));
  std::map<std::string, nlohmann::json> out;
  for (const auto& c : m["cases"]) out[c["id"].get<std::string>()] = c;
  return out;
}

void set_target(ModelInputs& in, const std::string& field, const Tensor& t) {
  if (field == "labels") in.labels = t;
  else if (field == "start_positions") in.start_positions = t;
  else if (field == "end_positions") in.end_positions = t;
  else if (field == "next_sentence_label") in.next_sentence_label = t;
  else if (field == "sentence_order_label") in.sentence_order_label = t;
  else if (field == "mc_labels") in.mc_labels = t;
  else ADD_FAILURE() << "unknown target " << field;
}

bool within(double got, double want) { return std::abs(got - want) <= std::max(1e-5, 1e-6 * std::abs(want)); }

TEST(Losses, EveryCaseMatchesTransformers) {
  if (!fs::exists(losses_dir() / "losses.json")) GTEST_SKIP() << "no loss fixtures (tools/fixtures/losses.py)";
  const auto doc = losses_doc();
  const auto cases = manifest_cases();
  auto targets = open_safetensors((losses_dir() / "targets.safetensors").string());
  std::set<std::string> covered;
  std::string loaded_case;
  std::unique_ptr<Model> model;
  std::size_t i = 0, checked = 0;
  double worst = 0.0;
  for (const auto& e : doc["entries"]) {
    const std::string id = e["case"], set = e["set"];
    SCOPED_TRACE(id + " / " + set);
    const auto& c = cases.at(id);
    const fs::path dir = hfx::testing::fixtures_dir() / c["dir"].get<std::string>();
    if (loaded_case != id) {
      model = load_pretrained((dir / c["formats"]["safetensors"].get<std::string>()).string(), c["class"].get<std::string>()).model;
      loaded_case = id;
    }
    model->mutable_config().set("problem_type", e["problem_type"]);  // null: transformers picks it
    // with hidden states and attentions, as losses.py called transformers (Falcon's ALiBi path depends on it)
    ModelInputs in = hfx::testing::read_fixture_inputs(dir / c["inputs"].get<std::string>(), true);
    for (const auto& d : e["drop"]) {
      if (d == "decoder_input_ids") in.decoder_input_ids = Tensor();
      if (d == "decoder_attention_mask") in.decoder_attention_mask = Tensor();
    }
    for (const auto& f : e["targets"]) set_target(in, f.get<std::string>(), targets->get(std::to_string(i) + "/" + f.get<std::string>()));
    Outputs out = model->call(in);
    for (const char* k : {"loss", "mc_loss"}) {
      if (!e.contains(k)) {
        EXPECT_FALSE(out.has(k)) << k << " where transformers returns none";
        continue;
      }
      ASSERT_TRUE(out.has(k)) << k;
      const Tensor& got = out.get(k);
      EXPECT_EQ(got.dim(), 0) << k << " is a 0-dim tensor like torch's";
      const double g = got.item(0);
      if (e[k].is_string()) {  // "nan": every target ignored (torch's mean over nothing)
        EXPECT_TRUE(std::isnan(g)) << k << ": hfx " << g << " transformers nan";
        ++checked;
        continue;
      }
      const double w = e[k].get<double>();
      EXPECT_TRUE(within(g, w)) << k << ": hfx " << g << " transformers " << w;
      worst = std::max(worst, std::abs(g - w));
      ++checked;
    }
    if (e.contains("losses")) {
      ASSERT_TRUE(out.has("losses"));
      EXPECT_LE(max_abs_diff(out.get("losses"), targets->get(std::to_string(i) + "/losses")), 1e-5);
    }
    covered.insert(c["class"].get<std::string>());
    ++i;
  }
  // Every class losses.py covered is covered here, and the count is printed for the report.
  std::set<std::string> want(doc["classes_covered"].begin(), doc["classes_covered"].end());
  EXPECT_EQ(covered, want);
  EXPECT_GE(covered.size(), 150u);
  std::printf("losses: %zu values in %zu entries, %zu classes, worst |hfx - transformers| %.3g\n", checked, i, covered.size(), worst);
  for (const auto& [cls, why] : doc["left_out"].items()) std::printf("left out: %s: %s\n", cls.c_str(), why.get<std::string>().c_str());
  RecordProperty("classes", static_cast<int>(covered.size()));
}

// ---- bad targets: typed InvalidArgument naming the field, before forward ----

struct Fixture {
  std::unique_ptr<Model> model;
  ModelInputs in;
};

Fixture load_case(const std::string& id) {
  const auto cases = manifest_cases();
  const auto& c = cases.at(id);
  const fs::path dir = hfx::testing::fixtures_dir() / c["dir"].get<std::string>();
  Fixture f;
  f.model = load_pretrained((dir / c["formats"]["safetensors"].get<std::string>()).string(), c["class"].get<std::string>()).model;
  f.in = hfx::testing::read_fixture_inputs(dir / c["inputs"].get<std::string>(), false);
  return f;
}

void expect_invalid(const Model& m, const ModelInputs& in, const std::string& field, const std::string& also = {}) {
  try {
    m.call(in);
    ADD_FAILURE() << "no error for a bad " << field;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument) << e.what();
    const std::string msg = e.what();
    EXPECT_NE(msg.find("] " + field + ":"), std::string::npos) << msg;  // "[InvalidArgument] labels: ..."
    if (!also.empty()) {
      EXPECT_NE(msg.find(also), std::string::npos) << msg;
    }
  }
}

Tensor ids(Shape shape, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(DType::I64, std::move(shape), v); }
Tensor floats(Shape shape, std::vector<float> v) { return Tensor::from_vector<float>(DType::F32, std::move(shape), v); }

TEST(LossErrors, WrongShapeDtypeRangeAndField) {
  if (!fs::exists(hfx::testing::fixtures_dir() / "manifest.json")) GTEST_SKIP() << "no fixtures";
  {
    auto f = load_case("bert/tiny/BertForSequenceClassification");  // num_labels 3, batch 2
    ModelInputs in = f.in;
    in.labels = ids({3}, {0, 1, 2});
    expect_invalid(*f.model, in, "labels", "[2]");
    in.labels = ids({2}, {0, 3});
    expect_invalid(*f.model, in, "labels", "outside [0, 3)");
    in.labels = ids({2}, {0, -1});
    expect_invalid(*f.model, in, "labels", "-100");
    in.labels = Tensor::from_vector<int16_t>(DType::I16, {2}, {0, 1});  // not long/int: multi-label, as transformers picks
    expect_invalid(*f.model, in, "labels", "float32");
    in.labels = floats({2, 2}, {0, 1, 1, 0});  // multi-label targets must be [batch, num_labels]
    expect_invalid(*f.model, in, "labels", "[2, 3]");
    in.labels = Tensor();
    in.start_positions = ids({2}, {0, 1});  // not this head's target
    expect_invalid(*f.model, in, "start_positions", "labels");
    f.model->mutable_config().set("problem_type", "regression");
    in = f.in;
    in.labels = ids({2}, {0, 1});
    expect_invalid(*f.model, in, "labels", "float");
  }
  {
    auto f = load_case("bert/tiny/BertModel");
    ModelInputs in = f.in;
    in.labels = ids({2}, {0, 1});
    expect_invalid(*f.model, in, "labels", "computes no loss");
  }
  {
    auto f = load_case("gpt2/tiny/GPT2LMHeadModel");
    ModelInputs in = f.in;
    const int64_t B = in.input_ids.size(0), S = in.input_ids.size(1);
    in.labels = Tensor::zeros(DType::I64, {B, S + 1});
    expect_invalid(*f.model, in, "labels", "shape");
    in.labels = Tensor::zeros(DType::I64, {B, S});
    in.labels.mutable_data<int64_t>()[3] = 1 << 20;  // beyond the vocabulary
    expect_invalid(*f.model, in, "labels", "vocabulary");
    in.labels = Tensor::zeros(DType::F32, {B, S});
    expect_invalid(*f.model, in, "labels", "int64");
  }
  {
    auto f = load_case("bert/tiny/BertForQuestionAnswering");
    ModelInputs in = f.in;
    in.start_positions = ids({2}, {0, 1});
    expect_invalid(*f.model, in, "end_positions", "required");
    in.end_positions = ids({2, 2}, {0, 1, 1, 0});
    expect_invalid(*f.model, in, "end_positions", "[2]");
    in.end_positions = ids({2}, {-7, 999});  // any value: clamped like transformers, no error
    Outputs out = f.model->call(in);
    EXPECT_TRUE(out.has("loss"));
  }
  {
    auto f = load_case("bert/tiny/BertForPreTraining");
    ModelInputs in = f.in;
    in.labels = Tensor::zeros(DType::I64, in.input_ids.shape());
    expect_invalid(*f.model, in, "next_sentence_label", "required");
    in.next_sentence_label = ids({2}, {0, 2});
    expect_invalid(*f.model, in, "next_sentence_label", "outside [0, 2)");
  }
  {
    auto f = load_case("electra/tiny/ElectraForPreTraining");
    ModelInputs in = f.in;
    in.labels = Tensor::zeros(DType::I64, in.input_ids.shape());
    in.labels.mutable_data<int64_t>()[0] = -100;  // BCE has no ignored value
    expect_invalid(*f.model, in, "labels", "outside [0, 2)");
  }
  {
    auto f = load_case("bert/tiny/BertForMultipleChoice");
    ModelInputs in = f.in;
    in.labels = ids({2}, {0, 2});  // two choices
    expect_invalid(*f.model, in, "labels", "choices");
  }
  {
    auto f = load_case("gpt2/tiny/GPT2DoubleHeadsModel");
    ModelInputs in = f.in;
    in.mc_labels = ids({2}, {1, 5});
    expect_invalid(*f.model, in, "mc_labels", "choices");
  }
}

// The regression branch with num_labels == 1 (MSE of the squeezed logits), which the fixtures do not hold (their
// classifiers have 3 labels): a 1-label classifier (initialised: ignore_mismatched_sizes) against the MSE by hand;
// and problem_type "regression" with 3 labels is the MSE over every logit.
TEST(LossErrors, RegressionMseByHand) {
  if (!fs::exists(hfx::testing::fixtures_dir() / "manifest.json")) GTEST_SKIP() << "no fixtures";
  const auto cases = manifest_cases();
  const auto& c = cases.at("bert/tiny/BertForSequenceClassification");
  const fs::path dir = hfx::testing::fixtures_dir() / c["dir"].get<std::string>();
  ModelInputs in = hfx::testing::read_fixture_inputs(dir / c["inputs"].get<std::string>(), false);
  LoadOptions opts;
  opts.config_overrides = {{"num_labels", 1}};
  opts.ignore_mismatched_sizes = true;
  auto one = load_pretrained((dir / "model.safetensors").string(), c["class"].get<std::string>(), opts).model;
  const Tensor l1 = one->call(in).get("logits");
  ASSERT_EQ(l1.shape(), (Shape{2, 1}));
  ModelInputs r = in;
  r.labels = floats({2}, {0.25f, -1.5f});  // int labels with num_labels 1 would be an error (MSE needs floats)
  const double want1 = (std::pow(l1.item(0) - 0.25, 2) + std::pow(l1.item(1) + 1.5, 2)) / 2;
  EXPECT_NEAR(one->call(r).get("loss").item(0), want1, 1e-6);
  r.labels = ids({2}, {0, 1});
  expect_invalid(*one, r, "labels", "float");

  auto f = load_case("bert/tiny/BertForSequenceClassification");
  const Tensor logits = f.model->call(f.in).get("logits");
  ASSERT_EQ(logits.shape(), (Shape{2, 3}));
  f.model->mutable_config().set("problem_type", "regression");
  ModelInputs r3 = f.in;
  r3.labels = floats({2, 3}, {0.5f, -1.0f, 2.0f, 0.0f, 1.0f, -0.5f});
  double want = 0.0;
  for (int64_t k = 0; k < 6; ++k) want += std::pow(logits.item(k) - r3.labels.item(k), 2);
  EXPECT_NEAR(f.model->call(r3).get("loss").item(0), want / 6, 1e-6);
}

}  // namespace
