// The TF API's LM-head accessors (get_lm_head, get_output_layer_with_bias,
// get_bias / set_bias, get_prefix_bias_name) against what transformers 4.46's
// TF classes return on the tiny fixture configs
// (tests/fixtures/api/tf/lm_head.json, written by tools/fixtures/lm_head.py).
#include <gtest/gtest.h>

#include <filesystem>

#include "hfx/auto.h"
#include "hfx/pretrained.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace hfx;
using hfx::testing::expect_error;

fs::path fixture_dir_of(const std::string& cls) {
  for (const auto& a : architectures()) {
    const fs::path d = hfx::testing::fixtures_dir() / a.model_type / "tiny" / cls;
    if (fs::exists(d / "config.json")) return d;
  }
  return {};
}

TEST(LMHead, MatchesTheTFClasses) {
  const json ref = json::parse(read_text_file((hfx::testing::fixtures_dir() / "api" / "tf" / "lm_head.json").string()));
  ASSERT_GE(ref.size(), 50u);
  std::size_t with_head = 0;
  for (auto it = ref.begin(); it != ref.end(); ++it) {
    const std::string cls = it.key();
    SCOPED_TRACE(cls);
    const fs::path dir = fixture_dir_of(cls);
    ASSERT_FALSE(dir.empty());
    std::unique_ptr<Model> m = build_model(AutoConfig::from_pretrained(dir.string()), cls);
    for (std::size_t i = 0; i < m->params().size(); ++i)  // shapes are what get_bias reports
      m->mutable_params().set(i, Tensor::zeros(DType::F32, m->params().specs()[i].shape));
    const json& r = *it;
    EXPECT_EQ(get_lm_head(*m).has_value(), r["lm_head"].get<bool>());
    EXPECT_EQ(get_output_layer_with_bias(*m), get_lm_head(*m));
    with_head += get_lm_head(*m).has_value();
    const auto bias = get_bias(*m);
    if (r["bias"].empty()) {
      EXPECT_FALSE(bias.has_value());
    } else {
      ASSERT_TRUE(bias.has_value());
      ASSERT_EQ(bias->size(), r["bias"].size());
      for (const auto& [key, shape] : r["bias"].items()) {
        ASSERT_TRUE(bias->count(key)) << key;
        EXPECT_EQ(bias->at(key).shape(), shape.get<Shape>()) << key;
      }
    }
    const auto prefix = get_prefix_bias_name(*m);
    if (r["prefix_bias_name"].is_null()) {
      EXPECT_FALSE(prefix.has_value()) << prefix.value_or("");
    } else {
      EXPECT_EQ(prefix.value_or("(none)"), r["prefix_bias_name"].get<std::string>());
    }
  }
  EXPECT_GE(with_head, 10u);
}

TEST(LMHead, SetBiasReplacesAndResizes) {
  const fs::path dir = fixture_dir_of("BertForMaskedLM");
  auto lm = load_pretrained(dir.string(), "BertForMaskedLM");
  Model& m = *lm.model;
  const int64_t V = get_bias(m)->at("bias").size(0);
  Tensor b = Tensor::zeros(DType::F32, {V});
  for (int64_t i = 0; i < V; ++i) b.mutable_data<float>()[i] = static_cast<float>(i);
  set_bias(m, {{"bias", b}});
  EXPECT_EQ(get_bias(m)->at("bias").data<float>()[V - 1], static_cast<float>(V - 1));
  // The decoder's bias is the same parameter in PyTorch: it follows.
  EXPECT_EQ(m.params().value("cls.predictions.decoder.bias").data<float>()[3], 3.0f);
  set_bias(m, {{"bias", Tensor::zeros(DType::F32, {V + 2})}});  // TF's set_bias when resizing
  EXPECT_EQ(get_bias(m)->at("bias").size(0), V + 2);
  EXPECT_EQ(m.params().specs()[*m.params().index_of("cls.predictions.bias")].shape, (Shape{V + 2}));
  expect_error([&] { set_bias(m, {{"decoder_bias", b}}); }, ErrorKind::NotFound, {"decoder_bias"});
  expect_error([&] { set_bias(m, {{"bias", Tensor::zeros(DType::F32, {1, V})}}); }, ErrorKind::Mismatch, {"rank"});

  // ALBERT: decoder_bias is predictions.bias in PyTorch (one tensor).
  auto albert = build_model(AutoConfig::from_pretrained(fixture_dir_of("AlbertForMaskedLM").string()), "AlbertForMaskedLM");
  const int64_t AV = albert->params().specs()[*albert->params().index_of("predictions.bias")].shape[0];
  Tensor ab = Tensor::zeros(DType::F32, {AV});
  ab.mutable_data<float>()[0] = 5.0f;
  set_bias(*albert, {{"decoder_bias", ab}});
  EXPECT_EQ(get_bias(*albert)->at("bias").data<float>()[0], 5.0f);

  auto gpt2 = build_model(AutoConfig::from_pretrained(fixture_dir_of("GPT2LMHeadModel").string()), "GPT2LMHeadModel");
  expect_error([&] { set_bias(*gpt2, {{"bias", b}}); }, ErrorKind::Unsupported, {"no LM-head bias"});
  EXPECT_EQ(get_prefix_bias_name(m, "my_model").value_or(""), "my_model/mlm___cls/predictions");
}

}  // namespace
