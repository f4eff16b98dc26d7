// T5's two model-file traits the generic loader reads (issue 17): the fixed
// dtype of `wo` (transformers' _keep_in_fp32_modules = ["wo"]) and the init
// rule for parameters a checkpoint lacks (T5PreTrainedModel._init_weights).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "hfx/auto.h"
#include "hfx/model.h"
#include "test_util.h"

using namespace hfx;
using hfx::testing::fixtures_dir;

namespace {

std::string fixture(const std::string& rel) { return (fixtures_dir() / rel).string(); }

// Sample standard deviation of a float tensor's elements.
double stddev(const Tensor& t) {
  Tensor f = t.to(DType::F32);
  const float* p = f.data<float>();
  double s = 0, s2 = 0;
  const auto n = static_cast<double>(f.numel());
  for (int64_t i = 0; i < f.numel(); ++i) {
    s += p[i];
    s2 += static_cast<double>(p[i]) * p[i];
  }
  return std::sqrt((s2 - s * s / n) / (n - 1));
}

}  // namespace

// A float16 load keeps every wo in f32, bit-equal to the f32 checkpoint, while
// the other matrices are half precision; the model still runs.
TEST(T5Traits, WoStaysF32InAHalfPrecisionLoad) {
  const std::string dir = fixture("t5/tiny/T5ForConditionalGeneration");
  LoadOptions half;
  half.dtype = DType::F16;
  LoadedModel h = load_pretrained(dir, "", half);
  LoadedModel f = load_pretrained(dir, "");
  const ParamTable& p = h.model->params();
  int wo = 0;
  for (const auto& s : p.specs()) {
    if (!s.tied_to.empty()) continue;
    const bool is_wo = s.name.ends_with(".DenseReluDense.wo.weight");
    if (is_wo) {
      ++wo;
      EXPECT_EQ(p.value(s.name).dtype(), DType::F32) << s.name;
      EXPECT_EQ(max_abs_diff(p.value(s.name), f.model->params().value(s.name)), 0.0) << s.name;
    } else {
      EXPECT_EQ(p.value(s.name).dtype(), DType::F16) << s.name;
    }
  }
  EXPECT_EQ(wo, 4);  // 2 encoder + 2 decoder blocks
  ModelInputs in;
  in.input_ids = Tensor::from_vector<int64_t>(DType::I64, {1, 4}, {5, 6, 7, 1});
  in.decoder_input_ids = Tensor::from_vector<int64_t>(DType::I64, {1, 2}, {0, 5});
  const Outputs oh = h.model->forward(in), of = f.model->forward(in);
  EXPECT_LT(max_abs_diff(oh.get("logits"), of.get("logits")), 0.05);
}

// Parameters missing from the checkpoint (the whole decoder and qa_outputs of a
// T5ForQuestionAnswering loaded from an encoder-only checkpoint) start from
// T5's factor rule, not the BERT-family N(0, 0.02): with d_model 32, d_kv 8,
// d_ff 37, 4 heads and initializer_factor 1.
TEST(T5Traits, MissingWeightsFollowTheFactorInit) {
  LoadedModel m = load_pretrained(fixture("t5/tiny/T5EncoderModel"), "T5ForQuestionAnswering");
  ASSERT_FALSE(m.info.missing_keys.empty());
  const ParamTable& p = m.model->params();
  auto expect_std = [&](const std::string& name, double want) {
    EXPECT_NEAR(stddev(p.value(name)), want, 0.4 * want) << name;  // BERT's rule would give 0.02
  };
  expect_std("decoder.block.0.layer.0.SelfAttention.q.weight", 1.0 / std::sqrt(32.0 * 8.0));
  expect_std("decoder.block.0.layer.0.SelfAttention.k.weight", 1.0 / std::sqrt(32.0));
  expect_std("decoder.block.0.layer.0.SelfAttention.o.weight", 1.0 / std::sqrt(4.0 * 8.0));
  expect_std("decoder.block.0.layer.2.DenseReluDense.wi.weight", 1.0 / std::sqrt(32.0));
  expect_std("decoder.block.0.layer.2.DenseReluDense.wo.weight", 1.0 / std::sqrt(37.0));
  expect_std("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", 1.0 / std::sqrt(32.0));
  expect_std("qa_outputs.weight", 1.0 / std::sqrt(32.0));
  EXPECT_EQ(max_abs_diff(p.value("qa_outputs.bias"), Tensor::zeros(DType::F32, {2})), 0.0);
  const Tensor& norm = p.value("decoder.final_layer_norm.weight");
  EXPECT_EQ(max_abs_diff(norm, Tensor::from_vector<float>(DType::F32, {32}, std::vector<float>(32, 1.0f))), 0.0);
}
