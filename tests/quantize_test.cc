// Low-precision inference (issue 22): dynamic int8 quantization
// (LoadOptions::quantize) and bf16 GEMMs for bf16 weights.
//
// Kernels: the int8 and bf16 Linear against an f64 reference of the same
// product, with bounds derived from the quantization steps; the int8 path is
// checked to be taken (its result differs from f32) for several row counts
// (one oneDNN primitive per row count over one packed weight).
// Models: the *ForSequenceClassification fixtures keep their argmax on >= 99 %
// of a random input set (200 per fixture; >= 97 % each, flips only on fp32
// near-ties), and base-model fixtures keep the mean-pooled
// sentence embedding within cosine 0.999 of fp32. The 500-sentence measure on
// the real all-MiniLM-L6-v2 is tools/quantize_check.py (network, slow).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <random>
#include <vector>

#include "hfx/auto.h"
#include "hfx/io.h"
#include "kernels/cpu/lowp.h"
#include "kernels/cpu/ops.h"
#include "nn/layers.h"
#include "test_util.h"

using namespace hfx;
namespace fs = std::filesystem;

namespace {

using hfx::testing::randv;

Tensor tensor_of(const std::vector<float>& v, Shape s) {
  Tensor t = Tensor::uninitialized(DType::F32, std::move(s));
  std::copy(v.begin(), v.end(), t.mutable_data<float>());
  return t;
}

// y = x W^T + b in double.
std::vector<double> reference(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
                              int64_t M, int64_t K, int64_t N) {
  std::vector<double> y(static_cast<std::size_t>(M * N));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = b.empty() ? 0.0 : b[static_cast<std::size_t>(n)];
      for (int64_t k = 0; k < K; ++k) s += static_cast<double>(x[static_cast<std::size_t>(m * K + k)]) * w[static_cast<std::size_t>(n * K + k)];
      y[static_cast<std::size_t>(m * N + n)] = s;
    }
  return y;
}

TEST(QuantizeKernel, Int8LinearWithinTheQuantizationBound) {
  const int64_t K = 384, N = 96;
  const auto w = randv(N * K, 1, 0.05f), b = randv(N, 2);
  const Tensor W = tensor_of(w, {N, K}), B = tensor_of(b, {N});
  cpu::PackedWeight pack;
  pack.set_int8(true);
  for (int64_t M : {1, 7, 128, 300, 7}) {  // several primitives over one packed weight, then one again
    const auto x = randv(M * K, static_cast<uint32_t>(10 + M));
    std::vector<float> y(static_cast<std::size_t>(M * N)), yf(y.size());
    cpu::linear(x.data(), M, K, W, B, y.data(), &pack);
    cpu::linear(x.data(), M, K, W, B, yf.data());  // f32
    const auto ref = reference(x, w, b, M, K, N);
    // Per element: |x.w - xq.wq * sx * sw| <= sx/2 * sum|w| + sw/2 * sum|x| + K * sx * sw / 4.
    double worst = 0, differs = 0;
    for (int64_t m = 0; m < M; ++m) {
      double ax = 0, sx = 0;
      for (int64_t k = 0; k < K; ++k) {
        ax = std::max(ax, std::abs(static_cast<double>(x[static_cast<std::size_t>(m * K + k)])));
        sx += std::abs(static_cast<double>(x[static_cast<std::size_t>(m * K + k)]));
      }
      for (int64_t n = 0; n < N; ++n) {
        double aw = 0, sw = 0;
        for (int64_t k = 0; k < K; ++k) {
          aw = std::max(aw, std::abs(static_cast<double>(w[static_cast<std::size_t>(n * K + k)])));
          sw += std::abs(static_cast<double>(w[static_cast<std::size_t>(n * K + k)]));
        }
        const double qx = ax / 127, qw = aw / 127;
        const double bound = qx / 2 * sw + qw / 2 * sx + static_cast<double>(K) * qx * qw / 4 + 1e-4;
        const std::size_t i = static_cast<std::size_t>(m * N + n);
        const double err = std::abs(y[i] - ref[i]);
        EXPECT_LE(err, bound) << "M=" << M << " (" << m << ", " << n << ")";
        worst = std::max(worst, err / bound);
        differs = std::max(differs, std::abs(static_cast<double>(y[i]) - yf[i]));
      }
    }
    EXPECT_GT(differs, 1e-6) << "M=" << M << ": the int8 path was not taken (equal to f32)";
    std::printf("int8 linear M=%lld: worst error %.2f of the bound, max |int8 - f32| %.3g\n", static_cast<long long>(M), worst, differs);
  }
}

TEST(QuantizeKernel, Int8LinearZeroRowsAndZeroWeights) {
  const int64_t K = 64, N = 16, M = 4;
  const Tensor W = Tensor::zeros(DType::F32, {N, K});
  cpu::PackedWeight pack;
  pack.set_int8(true);
  const auto x = randv(M * K, 3);
  std::vector<float> xz(x);
  std::fill(xz.begin(), xz.begin() + K, 0.0f);  // an all-zero row: scale 1, no division by zero
  std::vector<float> y(static_cast<std::size_t>(M * N), 5.0f);
  cpu::linear(xz.data(), M, K, W, Tensor(), y.data(), &pack);
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

TEST(QuantizeKernel, Bf16LinearAgainstRoundedOperands) {
  const int64_t K = 256, N = 64;
  const auto w = randv(N * K, 4, 0.05f);
  Tensor W = tensor_of(w, {N, K}).to(DType::BF16);
  std::vector<float> wr(w.size());  // the weight as stored (bf16)
  for (std::size_t i = 0; i < w.size(); ++i) wr[i] = bf16_to_f32(W.data<uint16_t>()[i]);
  cpu::PackedWeight pack;
  for (int64_t M : {1, 16, 128, 33}) {
    const auto x = randv(M * K, static_cast<uint32_t>(20 + M));
    std::vector<float> xr(x.size());  // x rounded to bf16, as the kernel does
    for (std::size_t i = 0; i < x.size(); ++i) xr[i] = bf16_to_f32(f32_to_bf16(x[i]));
    std::vector<float> y(static_cast<std::size_t>(M * N));
    cpu::linear(x.data(), M, K, W, Tensor(), y.data(), &pack);
    const auto ref = reference(xr, wr, {}, M, K, N);     // bf16 operands, exact accumulation
    const auto ref32 = reference(x, wr, {}, M, K, N);    // f32 activations (the widening path)
    double err = 0, dev = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
      err = std::max(err, std::abs(y[i] - ref[i]));
      dev = std::max(dev, std::abs(ref[i] - ref32[i]));
    }
    EXPECT_LE(err, 1e-4) << "M=" << M << ": products of bf16 operands accumulate in f32";
    if (cpu::cpu_has_bf16()) {
      EXPECT_GT(dev, 1e-5) << "the activations are rounded to bf16 (the bf16 GEMM runs)";
    }
    std::printf("bf16 linear M=%lld: max error %.3g vs exact bf16-operand product; activation rounding moves it %.3g\n",
                static_cast<long long>(M), err, dev);
  }
}

// ---- models -------------------------------------------------------------------
struct Case {
  std::string id, cls;
  fs::path dir, inputs;
};

std::vector<Case> cases_where(const std::function<bool(const std::string& cls)>& want) {
  std::ifstream f(hfx::testing::fixtures_dir() / "manifest.json");
  const json m = json::parse(f);
  std::vector<Case> out;
  for (const auto& c : m["cases"]) {
    const std::string cls = c["class"];
    if (!want(cls)) continue;
    const fs::path dir = hfx::testing::fixtures_dir() / c["dir"].get<std::string>();
    out.push_back({c["id"], cls, dir / c["formats"]["safetensors"].get<std::string>(), dir / c["inputs"].get<std::string>()});
  }
  return out;
}

LoadedModel load(const Case& c, Quantization q) {
  LoadOptions o;
  o.quantize = q;
  return load_pretrained(c.dir.string(), c.cls, o);
}

// The fixture's inputs with every attended token but each row's first and
// last replaced by a random id in [5, vocab): the special tokens (CLS, EOS)
// and the padding stay where the architecture wants them (BART's EOS pooling).
ModelInputs random_variant(const ModelInputs& base, std::mt19937& g, int64_t vocab) {
  ModelInputs in = base;
  Tensor ids = base.input_ids.to(DType::I64).contiguous();
  Tensor fresh = Tensor::uninitialized(DType::I64, ids.shape());
  std::copy_n(ids.data<int64_t>(), ids.numel(), fresh.mutable_data<int64_t>());
  const int64_t S = ids.size(-1), rows = ids.numel() / S;
  Tensor mask = base.attention_mask.defined() ? base.attention_mask.to(DType::I64).contiguous() : Tensor();
  std::uniform_int_distribution<int64_t> d(std::min<int64_t>(5, vocab - 1), vocab - 1);
  int64_t* p = fresh.mutable_data<int64_t>();
  for (int64_t r = 0; r < rows; ++r) {
    int64_t first = -1, last = -1;
    for (int64_t s = 0; s < S; ++s)
      if (!mask.defined() || mask.data<int64_t>()[r * S + s] != 0) {
        if (first < 0) first = s;
        last = s;
      }
    for (int64_t s = first + 1; s < last; ++s)
      if (!mask.defined() || mask.data<int64_t>()[r * S + s] != 0) p[r * S + s] = d(g);
  }
  in.input_ids = fresh;
  in.output_hidden_states = in.output_attentions = false;
  return in;
}

// Argmax of each row of [rows, classes] logits.
std::vector<int64_t> argmax_rows(const Tensor& logits) {
  const int64_t C = logits.size(-1), rows = logits.numel() / C;
  std::vector<int64_t> out;
  const float* p = logits.data<float>();
  for (int64_t r = 0; r < rows; ++r) out.push_back(std::max_element(p + r * C, p + (r + 1) * C) - (p + r * C));
  return out;
}

TEST(QuantizeInt8, SequenceClassificationKeepsItsArgmax) {
  const auto cases = cases_where([](const std::string& cls) { return cls.find("ForSequenceClassification") != std::string::npos; });
  ASSERT_GE(cases.size(), 10u);
  constexpr int kInputs = 200;
  int total = 0, kept = 0, quantized_models = 0;
  for (const auto& c : cases) {
    LoadedModel f32 = load(c, Quantization::None), q8 = load(c, Quantization::Int8);
    const int64_t vocab = f32.model->config().get<int64_t>("vocab_size", 100);
    const ModelInputs base = hfx::testing::read_fixture_inputs(c.inputs, false);
    std::mt19937 g(7);
    int same = 0, n = 0;
    double moved = 0, flip_margin = 0;
    while (n < kInputs) {
      const ModelInputs in = random_variant(base, g, vocab);
      const Tensor a = f32.model->forward(in).get("logits"), b = q8.model->forward(in).get("logits");
      const auto ma = argmax_rows(a), mb = argmax_rows(b);
      const int64_t C = a.size(-1);
      for (std::size_t r = 0; r < ma.size() && n < kInputs; ++r, ++n) {
        same += ma[r] == mb[r];
        if (ma[r] != mb[r]) {  // the fp32 margin between the two classes that swapped
          const float* row = a.data<float>() + static_cast<int64_t>(r) * C;
          flip_margin = std::max(flip_margin, static_cast<double>(row[ma[r]] - row[mb[r]]));
        }
      }
      for (int64_t j = 0; j < a.numel(); ++j) moved = std::max(moved, static_cast<double>(std::abs(a.data<float>()[j] - b.data<float>()[j])));
    }
    total += kInputs;
    kept += same;
    quantized_models += moved > 0;
    std::printf("%-55s argmax kept %3d/%d  max |logit int8 - f32| %.3g  largest fp32 margin of a flip %.3g%s\n", c.id.c_str(),
                same, kInputs, moved, flip_margin, moved > 0 ? "" : "  (no Linear inside a block: not quantized)");
    // These random-weight fixtures put many inputs within a few thousandths of a
    // tie; a flip is only allowed on such a near-tie (an fp32 margin within twice
    // the largest logit deviation int8 causes), and 97 % per fixture at least.
    EXPECT_GE(same, kInputs * 97 / 100) << c.id;
    EXPECT_LE(flip_margin, 2 * moved) << c.id << ": a flip on a clear fp32 margin";
  }
  std::printf("all: argmax kept on %d of %d inputs (%.2f %%), %d of %zu models quantized\n", kept, total, 100.0 * kept / total,
              quantized_models, cases.size());
  EXPECT_GE(kept * 100, total * 99) << "argmax kept on fewer than 99 % of the random inputs";
  EXPECT_GE(quantized_models * 2, static_cast<int>(cases.size())) << "most fixtures should run int8 GEMMs";
}

// Mean-pooled last_hidden_state (sentence-transformers' default pooling) of
// the base-model fixtures: cosine to fp32 per input.
TEST(QuantizeInt8, BaseModelEmbeddingsStayClose) {
  const auto cases = cases_where([](const std::string& cls) {
    return cls == "BertModel" || cls == "RobertaModel" || cls == "DistilBertModel" || cls == "AlbertModel" ||
           cls == "ElectraModel" || cls == "XLMRobertaModel";
  });
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    LoadedModel f32 = load(c, Quantization::None), q8 = load(c, Quantization::Int8);
    const int64_t vocab = f32.model->config().get<int64_t>("vocab_size", 100);
    const ModelInputs base = hfx::testing::read_fixture_inputs(c.inputs, false);
    std::mt19937 g(11);
    double worst = 1;
    for (int i = 0; i < 100; ++i) {
      ModelInputs in = random_variant(base, g, vocab);
      in.attention_mask = Tensor();  // every token counts in the mean below
      const Tensor a = f32.model->forward(in).get("last_hidden_state"), b = q8.model->forward(in).get("last_hidden_state");
      const int64_t S = a.size(1), H = a.size(2);  // row 0 of the batch
      std::vector<double> ma(static_cast<std::size_t>(H)), mb(ma.size());
      for (int64_t s = 0; s < S; ++s)
        for (int64_t h = 0; h < H; ++h) {
          ma[static_cast<std::size_t>(h)] += a.data<float>()[s * H + h];
          mb[static_cast<std::size_t>(h)] += b.data<float>()[s * H + h];
        }
      double dot = 0, na = 0, nb = 0;
      for (int64_t h = 0; h < H; ++h) {
        dot += ma[static_cast<std::size_t>(h)] * mb[static_cast<std::size_t>(h)];
        na += ma[static_cast<std::size_t>(h)] * ma[static_cast<std::size_t>(h)];
        nb += mb[static_cast<std::size_t>(h)] * mb[static_cast<std::size_t>(h)];
      }
      worst = std::min(worst, dot / std::sqrt(na * nb));
    }
    std::printf("%-40s worst cosine int8 vs f32 over 100 inputs: %.6f\n", c.id.c_str(), worst);
    EXPECT_GE(worst, 0.999) << c.id;
    EXPECT_LT(worst, 1.0) << c.id << ": not quantized";
  }
}

// Which Linears int8 takes: those inside a ModuleList of blocks (an index in the name).
TEST(QuantizeInt8, OnlyBlockLinearsAreQuantized) {
  ParamTable t;
  auto in_block = [&](const std::string& module) { return nn::Linear::make(Scope(&t, module), 4, 4).in_block; };
  EXPECT_TRUE(in_block("bert.encoder.layer.3.attention.self.query"));
  EXPECT_TRUE(in_block("model.layers.0.mlp.down_proj"));
  EXPECT_TRUE(in_block("albert.encoder.albert_layer_groups.0.albert_layers.0.ffn"));
  EXPECT_TRUE(in_block("h.11.mlp.c_fc"));
  EXPECT_FALSE(in_block("bert.pooler.dense"));
  EXPECT_FALSE(in_block("cls.predictions.transform.dense"));
  EXPECT_FALSE(in_block("classifier"));
  EXPECT_FALSE(in_block("lm_head"));
  EXPECT_FALSE(in_block("model.layer10.dense"));  // a digit inside a name is not an index
}

TEST(QuantizeInt8, ParametersStayFloat) {
  // Quantization packs copies: the model's parameters (what save_pretrained
  // writes) stay f32 after an int8 forward.
  const auto cases = cases_where([](const std::string& cls) { return cls == "BertForMaskedLM"; });
  ASSERT_FALSE(cases.empty());
  LoadedModel q8 = load(cases.front(), Quantization::Int8);
  EXPECT_EQ(q8.model->params().quantization(), Quantization::Int8);
  (void)q8.model->forward(hfx::testing::read_fixture_inputs(cases.front().inputs, false));
  for (const auto& s : q8.model->params().specs())
    EXPECT_EQ(q8.model->params().value(s.name).dtype(), DType::F32) << s.name;
}

// bf16 compute against the reference's own bf16-vs-f32 deviation (the rule of
// ParityDtype in parity_test.cc, with the measured fraction of the budget
// printed): the fixtures that have a bfloat16 reference run.
TEST(QuantizeBf16, FixturesWithinTheReferenceBf16Error) {
  std::ifstream f(hfx::testing::fixtures_dir() / "manifest.json");
  const json m = json::parse(f);
  int runs = 0;
  for (const auto& c : m["cases"]) {
    if (!c.contains("dtypes") || !c["dtypes"].contains("bfloat16")) continue;
    const fs::path dir = hfx::testing::fixtures_dir() / c["dir"].get<std::string>();
    LoadOptions o;
    o.keep_file_dtype = true;
    LoadedModel lm = load_pretrained((dir / c["dtypes"]["bfloat16"].get<std::string>()).string(), c["class"].get<std::string>(), o);
    const Outputs out = lm.model->forward(hfx::testing::read_fixture_inputs(dir / c["inputs"].get<std::string>()));
    auto ref32 = open_safetensors((dir / c["outputs"].get<std::string>()).string());
    auto ref16 = open_safetensors((dir / c["dtype_outputs"]["bfloat16"].get<std::string>()).string());
    double worst = 0;
    std::string at;
    for (const auto& e : ref16->entries()) {
      const Tensor want32 = ref32->get(e.name);
      const double budget = std::max(max_abs_diff(ref16->get(e.name), want32), 1e-5);
      const double err = max_abs_diff(out.get(e.name), want32);
      EXPECT_LE(err, budget) << c["id"].get<std::string>() << " " << e.name;
      if (err / budget > worst) {
        worst = err / budget;
        at = e.name;
      }
    }
    std::printf("%-32s bf16: worst |hfx - ref f32| = %.2f of the reference's |bf16 - f32| (%s)\n",
                c["id"].get<std::string>().c_str(), worst, at.c_str());
    ++runs;
  }
  EXPECT_GT(runs, 0);
}

TEST(QuantizeCli, QuantizeAndDtypeFlags) {
  const auto cases = cases_where([](const std::string& cls) { return cls == "BertModel"; });
  ASSERT_FALSE(cases.empty());
  const std::string dir = cases.front().dir.parent_path().string();
  auto f32 = hfx::testing::run_cli("run " + dir + " --input-ids 1,5,7,9 --json");
  auto q8 = hfx::testing::run_cli("run " + dir + " --input-ids 1,5,7,9 --json --quantize int8");
  auto b16 = hfx::testing::run_cli("run " + dir + " --input-ids 1,5,7,9 --json --dtype bf16");
  ASSERT_EQ(f32.status, 0) << f32.out;
  ASSERT_EQ(q8.status, 0) << q8.out;
  ASSERT_EQ(b16.status, 0) << b16.out;
  EXPECT_NE(f32.out, q8.out);
  EXPECT_NE(f32.out, b16.out);
  auto bad = hfx::testing::run_cli("run " + dir + " --input-ids 1,5 --quantize int4");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("int8"), std::string::npos) << bad.out;
}

}  // namespace
