// Every activation name transformers 4.46 accepts (activations.py ACT2CLS) against torch's values
// (tests/fixtures/activations.json, tools/fixtures/activations.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "hfx/error.h"
#include "nn/ops.h"
#include "test_util.h"

namespace hfx {
namespace {

TEST(Activations, EveryTransformersNameMatchesTorch) {
  std::ifstream f(testing::fixtures_dir() / "activations.json");
  ASSERT_TRUE(f) << "tests/fixtures/activations.json";
  const nlohmann::json j = nlohmann::json::parse(f);
  const std::vector<float> x = j["x"].get<std::vector<float>>();
  int checked = 0;
  for (const auto& [name, want] : j.items()) {
    if (name == "x") continue;
    // Through nn/ (the models' door): the name table there, its mapping onto the kernels' enum, the kernel.
    Tensor t = Tensor::from_vector(DType::F32, {static_cast<int64_t>(x.size())}, x);
    nn::activate(t, nn::parse_activation(name));
    const float* y = t.data<float>();
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double w = want[i].get<double>();
      EXPECT_NEAR(y[i], w, 1e-6 + 1e-6 * std::abs(w)) << name << "(" << x[i] << ")";
    }
    ++checked;
  }
  EXPECT_EQ(checked, 19);  // the seven added (gelu_10, gelu_accurate, gelu_python, laplace, leaky_relu, relu2, relu6) among them
  testing::expect_error([] { nn::parse_activation("gelu_11"); }, ErrorKind::Unsupported, {"gelu_11", "relu6"});
}

}  // namespace
}  // namespace hfx
