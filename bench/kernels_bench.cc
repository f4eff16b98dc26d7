// Google Benchmark microbenchmarks of hfx's CPU kernels on BERT-base shapes
// (hidden 768, 12 heads x 64, FFN 3072, seq 128): GEMM (NN and NT weight layouts),
// attention, LayerNorm, softmax and GELU. Run with OMP_NUM_THREADS=2 to match bench/run.sh.
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/ops.h"

namespace {

std::vector<float> filled(int64_t n, float scale = 0.01f) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(static_cast<int64_t>(i % 29) - 14) * scale;
  return v;
}

// args: M, N, K, trans_b (0: W[K,N] NN, 1: W[N,K] NT as torch stores it)
void BM_Gemm(benchmark::State& st) {
  const int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  const bool tb = st.range(3) != 0;
  auto A = filled(M * K), W = filled(K * N), C = filled(M * N);
  for (auto _ : st) {
    hfx::cpu::gemm(false, tb, M, N, K, 1.0f, A.data(), K, W.data(), tb ? K : N, 0.0f, C.data(), N);
    benchmark::DoNotOptimize(C.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2e-9 * static_cast<double>(M * N * K), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Gemm)
    ->ArgNames({"M", "N", "K", "NT"})
    ->Args({128, 768, 768, 0})->Args({128, 768, 768, 1})
    ->Args({128, 2304, 768, 0})->Args({128, 2304, 768, 1})
    ->Args({128, 3072, 768, 0})->Args({128, 3072, 768, 1})
    ->Args({128, 768, 3072, 0})->Args({128, 768, 3072, 1})
    ->Args({1, 2304, 768, 0})->Args({1, 2304, 768, 1})
    ->Args({1, 50257, 768, 1})
    ->Unit(benchmark::kMicrosecond);

// args: B, S (self-attention, 12 heads x 64, Q/K/V packed in one [B, S, 3*768] buffer as after a fused QKV projection)
void BM_Attention(benchmark::State& st) {
  const int64_t B = st.range(0), S = st.range(1), H = 12, D = 64, E = H * D;
  auto qkv = filled(B * S * 3 * E), out = filled(B * S * E), bias = std::vector<float>(static_cast<std::size_t>(B * S), 0.0f);
  hfx::cpu::AttentionArgs a{};
  a.B = B; a.Sq = S; a.Sk = S; a.H = H; a.D = D;
  a.q = qkv.data(); a.q_bs = S * 3 * E; a.q_ss = 3 * E;
  a.k = qkv.data() + E; a.k_bs = S * 3 * E; a.k_ss = 3 * E;
  a.v = qkv.data() + 2 * E; a.v_bs = S * 3 * E; a.v_ss = 3 * E;
  a.bias = bias.data(); a.bias_bs = S;
  a.scale = 0.125f;
  a.out = out.data();
  for (auto _ : st) {
    hfx::cpu::attention(a);
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(4e-9 * static_cast<double>(B * H * S * S * D), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Attention)->ArgNames({"B", "S"})->Args({1, 128})->Args({8, 128})->Unit(benchmark::kMicrosecond);

void BM_LayerNorm(benchmark::State& st) {
  const int64_t rows = st.range(0), dim = 768;
  auto x = filled(rows * dim);
  hfx::Tensor g = hfx::Tensor::from_vector(hfx::DType::F32, {dim}, filled(dim, 0.1f));
  hfx::Tensor b = hfx::Tensor::from_vector(hfx::DType::F32, {dim}, filled(dim, 0.1f));
  for (auto _ : st) {
    hfx::cpu::layer_norm(x.data(), rows, dim, g, b, 1e-12f);
    benchmark::DoNotOptimize(x.data());
  }
  st.SetBytesProcessed(st.iterations() * rows * dim * 4);
}
BENCHMARK(BM_LayerNorm)->ArgName("rows")->Arg(128)->Arg(1024)->Unit(benchmark::kMicrosecond);

void BM_Softmax(benchmark::State& st) {
  const int64_t rows = st.range(0), n = 128;
  auto x = filled(rows * n);
  for (auto _ : st) {
    hfx::cpu::softmax_rows(x.data(), rows, n);
    benchmark::DoNotOptimize(x.data());
  }
  st.SetBytesProcessed(st.iterations() * rows * n * 4);
}
BENCHMARK(BM_Softmax)->ArgName("rows")->Arg(12 * 128)->Arg(8 * 12 * 128)->Unit(benchmark::kMicrosecond);

void BM_Gelu(benchmark::State& st) {
  const int64_t n = st.range(0);
  const auto act = static_cast<hfx::cpu::Activation>(st.range(1));
  auto x = filled(n, 0.001f);
  for (auto _ : st) {
    hfx::cpu::activate(x.data(), n, act);
    benchmark::DoNotOptimize(x.data());
  }
  st.SetBytesProcessed(st.iterations() * n * 4);
}
BENCHMARK(BM_Gelu)
    ->ArgNames({"n", "act"})
    ->Args({128 * 3072, static_cast<int64_t>(hfx::cpu::Activation::GeluErf)})
    ->Args({128 * 3072, static_cast<int64_t>(hfx::cpu::Activation::GeluTanh)})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
