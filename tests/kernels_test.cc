// The fused / vectorised CPU kernels (bench issue #9) against plain double-precision
// references: GEMM-based attention (and its short-query loop path), fused bias +
// GELU, bias + residual, softmax, LayerNorm, and the packed-weight Linear.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "kernels/cpu/ops.h"
#include "test_util.h"

using namespace hfx;

namespace {

using hfx::testing::randv;

float max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(static_cast<double>(a[i]) - b[i]));
  return static_cast<float>(m);
}

// Reference attention in double over packed [B, S, 3*H*D] QKV, with a key-padding bias and head mask.
void attention_case(int64_t B, int64_t Sq, int64_t Sk, int64_t H, int64_t D, bool with_probs, uint32_t seed) {
  const int64_t E = H * D;
  auto q = randv(B * Sq * E, seed), k = randv(B * Sk * E, seed + 1), v = randv(B * Sk * E, seed + 2);
  std::vector<float> bias(static_cast<std::size_t>(B * Sk), 0.0f);
  for (int64_t b = 0; b < B; ++b) bias[static_cast<std::size_t>(b * Sk + Sk - 1)] = std::numeric_limits<float>::lowest();
  std::vector<float> hm(static_cast<std::size_t>(H), 1.0f);
  hm[0] = 0.5f;
  std::vector<float> out(static_cast<std::size_t>(B * Sq * E), -1.0f), probs(static_cast<std::size_t>(B * H * Sq * Sk));
  cpu::AttentionArgs a{};
  a.B = B; a.Sq = Sq; a.Sk = Sk; a.H = H; a.D = D;
  a.q = q.data(); a.q_bs = Sq * E; a.q_ss = E;
  a.k = k.data(); a.k_bs = Sk * E; a.k_ss = E;
  a.v = v.data(); a.v_bs = Sk * E; a.v_ss = E;
  a.bias = bias.data(); a.bias_bs = Sk;
  a.head_mask = hm.data();
  a.scale = 1.0f / std::sqrt(static_cast<float>(D));
  a.out = out.data();
  a.probs = with_probs ? probs.data() : nullptr;
  cpu::attention(a);
  std::vector<double> want(out.size()), wantp(probs.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Sq; ++i) {
        std::vector<double> s(static_cast<std::size_t>(Sk));
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j < Sk; ++j) {
          double acc = 0;
          for (int64_t d = 0; d < D; ++d) acc += static_cast<double>(q[static_cast<std::size_t>((b * Sq + i) * E + h * D + d)]) * k[static_cast<std::size_t>((b * Sk + j) * E + h * D + d)];
          s[static_cast<std::size_t>(j)] = acc * a.scale + bias[static_cast<std::size_t>(b * Sk + j)];
          mx = std::max(mx, s[static_cast<std::size_t>(j)]);
        }
        for (auto& x : s) sum += (x = std::exp(x - mx));
        for (int64_t j = 0; j < Sk; ++j) {
          s[static_cast<std::size_t>(j)] = s[static_cast<std::size_t>(j)] / sum * hm[static_cast<std::size_t>(h)];
          wantp[static_cast<std::size_t>(((b * H + h) * Sq + i) * Sk + j)] = s[static_cast<std::size_t>(j)];
        }
        for (int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < Sk; ++j) acc += s[static_cast<std::size_t>(j)] * v[static_cast<std::size_t>((b * Sk + j) * E + h * D + d)];
          want[static_cast<std::size_t>((b * Sq + i) * E + h * D + d)] = acc;
        }
      }
  EXPECT_LT(max_abs_diff(out, want), 2e-6f) << "B" << B << " Sq" << Sq << " Sk" << Sk;
  if (with_probs) {
    EXPECT_LT(max_abs_diff(probs, wantp), 1e-6f);
  }
}

}  // namespace

TEST(Kernels, AttentionGemmPathMatchesReference) { attention_case(2, 37, 37, 3, 16, true, 1); }
TEST(Kernels, AttentionDecodePathMatchesReference) { attention_case(2, 1, 29, 4, 8, true, 2); }
TEST(Kernels, AttentionWithoutProbs) { attention_case(1, 128, 128, 2, 64, false, 3); }

TEST(Kernels, BiasGeluErfAndTanhMatchLibm) {
  const int64_t rows = 3, dim = 37;  // not a multiple of 8: vector body and scalar tail
  auto x = randv(rows * dim, 4, 3.0f), bias = randv(dim, 5);
  Tensor bt = Tensor::from_vector(DType::F32, {dim}, bias);
  for (auto act : {cpu::Activation::GeluErf, cpu::Activation::GeluTanh}) {
    std::vector<float> y = x;
    cpu::bias_activate(y.data(), rows, dim, bt, act);
    std::vector<double> want(y.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < dim; ++j) {
        const double v = static_cast<double>(x[static_cast<std::size_t>(r * dim + j)]) + bias[static_cast<std::size_t>(j)];
        want[static_cast<std::size_t>(r * dim + j)] =
            act == cpu::Activation::GeluErf ? 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))
                                            : 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
      }
    EXPECT_LT(max_abs_diff(y, want), 2e-6f);
  }
  // activate() without bias goes through the same vector code, over a long buffer (threaded chunks).
  auto big = randv(100003, 6, 4.0f);
  std::vector<float> y = big;
  cpu::activate(y.data(), static_cast<int64_t>(y.size()), cpu::Activation::GeluErf);
  std::vector<double> want(big.size());
  for (std::size_t i = 0; i < big.size(); ++i) want[i] = 0.5 * big[i] * (1 + std::erf(big[i] / std::sqrt(2.0)));
  EXPECT_LT(max_abs_diff(y, want), 3e-6f);
}

TEST(Kernels, AddBiasResidualAndSoftmax) {
  auto x = randv(4 * 10, 7), res = randv(4 * 10, 8), bias = randv(10, 9);
  std::vector<float> y = x;
  cpu::add_bias_residual(y.data(), 4, 10, Tensor::from_vector(DType::F32, {10}, bias), res.data());
  for (std::size_t i = 0; i < y.size(); ++i) EXPECT_FLOAT_EQ(y[i], x[i] + (bias[i % 10] + res[i]));
  std::vector<float> s = {1.0f, 2.0f, 3.0f, -INFINITY, -INFINITY, -INFINITY};
  cpu::softmax_rows(s.data(), 2, 3);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(s[0], std::exp(1.0) / z, 1e-7);
  EXPECT_NEAR(s[2], std::exp(3.0) / z, 1e-7);
  EXPECT_EQ(s[3], 0.0f);  // an all -inf row stays finite (zeros)
}

TEST(Kernels, LayerNormMatchesDoubleReference) {
  const int64_t rows = 5, dim = 77;
  auto x = randv(rows * dim, 10, 2.0f), g = randv(dim, 11), b = randv(dim, 12);
  std::vector<float> y = x;
  cpu::layer_norm(y.data(), rows, dim, Tensor::from_vector(DType::F32, {dim}, g), Tensor::from_vector(DType::F32, {dim}, b), 1e-5f);
  std::vector<double> want(y.size());
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0, var = 0;
    for (int64_t j = 0; j < dim; ++j) m += x[static_cast<std::size_t>(r * dim + j)];
    m /= dim;
    for (int64_t j = 0; j < dim; ++j) var += std::pow(x[static_cast<std::size_t>(r * dim + j)] - m, 2);
    var /= dim;
    for (int64_t j = 0; j < dim; ++j)
      want[static_cast<std::size_t>(r * dim + j)] = (x[static_cast<std::size_t>(r * dim + j)] - m) / std::sqrt(var + 1e-5) * g[static_cast<std::size_t>(j)] + b[static_cast<std::size_t>(j)];
  }
  EXPECT_LT(max_abs_diff(y, want), 3e-6f);
}

// The packed (NN) path gives the NT result, packs only from the second large call,
// and follows a newly bound weight instead of reusing a stale transpose.
TEST(Kernels, PackedWeightLinearMatchesAndRepacks) {
  const int64_t rows = cpu::PackedWeight::kMinRows, in = 24, out = 40;
  auto x = randv(rows * in, 13);
  Tensor w1 = Tensor::from_vector(DType::F32, {out, in}, randv(out * in, 14));
  Tensor w2 = Tensor::from_vector(DType::F32, {out, in}, randv(out * in, 15));
  Tensor bias = Tensor::from_vector(DType::F32, {out}, randv(out, 16));
  cpu::PackedWeight pack;
  auto run = [&](const Tensor& w, cpu::PackedWeight* p) {
    std::vector<float> y(static_cast<std::size_t>(rows * out));
    cpu::linear(x.data(), rows, in, w, bias, y.data(), p);
    return y;
  };
  EXPECT_EQ(pack.get(w1, 1), nullptr);  // decode-sized calls never pack
  const auto ref1 = run(w1, nullptr), ref2 = run(w2, nullptr);
  for (int call = 0; call < 3; ++call) {
    const auto y = run(w1, &pack);
    for (std::size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref1[i], 1e-5f) << "call " << call;
  }
  EXPECT_NE(pack.get(w1, rows), nullptr);  // packed by now
  EXPECT_EQ(pack.get(w1, 1), pack.get(w1, rows));  // once packed, decode-sized calls read the pack too
  const auto y2 = run(w2, &pack);          // another tensor bound: not the old transpose
  for (std::size_t i = 0; i < y2.size(); ++i) ASSERT_NEAR(y2[i], ref2[i], 1e-5f);
}

// The resident size (kB) of this process's mapping of `path` (/proc/self/smaps), -1 when not mapped.
long mapping_rss_kb(const std::string& path) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in = false;
  long total = -1;
  while (std::getline(smaps, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < line.find(' ')) {
      in = line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0;
      continue;
    }
    if (in && line.rfind("Rss:", 0) == 0) total = std::max(total, 0L) + std::stol(line.substr(4));
  }
  return total;
}

// Issue 22's memory item: once a weight is packed, its memory-mapped pages leave the resident set, so a model is
// not resident twice after warm-up; the weight still reads the same afterwards (the pages fault in again), and
// owned (non-mapped) weights are untouched.
TEST(Kernels, PackedWeightReleasesTheMappedPagesOfItsWeight) {
  const int64_t rows = cpu::PackedWeight::kMinRows, in = 256, out = 512;  // 512 KiB of f32: 128 pages
  const auto wv = randv(out * in, 21);
  hfx::testing::TempDir dir;
  const std::string path = (std::filesystem::path(dir.path()) / "w.bin").string();
  {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(wv.data()), static_cast<std::streamsize>(wv.size() * sizeof(float)));
  }
  auto map = MappedFile::open(path);
  Tensor w = Tensor::view_of(Storage::borrow_mapped(map, map->data(), map->size()), DType::F32, {out, in});
  float sum = 0;  // touch every page
  for (int64_t i = 0; i < w.numel(); ++i) sum += w.data<float>()[i];
  EXPECT_TRUE(std::isfinite(sum));
  const long before = mapping_rss_kb(path);
  ASSERT_GE(before, 400) << "the test's premise: the mapping is resident";

  const auto x = randv(rows * in, 22);
  std::vector<float> ref(static_cast<std::size_t>(rows * out)), y(ref.size());
  Tensor owned = Tensor::from_vector(DType::F32, {out, in}, wv);
  cpu::linear(x.data(), rows, in, owned, Tensor(), ref.data());
  cpu::PackedWeight pack;
  for (int call = 0; call < 2; ++call) cpu::linear(x.data(), rows, in, w, Tensor(), y.data(), &pack);
  for (std::size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i], 1e-4f);
  EXPECT_LE(mapping_rss_kb(path), 8) << "after packing, the weight's mapped pages are released (was " << before << " kB)";
  for (int64_t i = 0; i < w.numel(); ++i) ASSERT_EQ(w.data<float>()[i], wv[static_cast<std::size_t>(i)]) << i;

  // Owned storage: release_pages is a no-op (its bytes stay).
  owned.storage()->release_pages(owned.raw(), owned.nbytes());
  for (int64_t i = 0; i < owned.numel(); ++i) ASSERT_EQ(owned.data<float>()[i], wv[static_cast<std::size_t>(i)]) << i;
}
