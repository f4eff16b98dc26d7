#include "kernels/cpu/lowp.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace hfx::cpu {

namespace {
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
constexpr int64_t kParallelMin = 1 << 14;

const dnnl::engine& engine() {
  static const dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
}  // namespace

// One Linear weight in a low-precision form: oneDNN's packed weights and one
// matmul primitive per row count (created on first use; oneDNN's primitives
// are fixed-shape). The blocked weight layout is chosen once (for 128 rows)
// and every later primitive is asked for that same layout.
struct LowpPack {
  Tensor src;        // the weight packed (identity, as in PackedWeight)
  dt kind = dt::undef;
  bool unavailable = false;  // oneDNN has no usable implementation: f32 path
  dnnl::memory::desc wdesc;
  dnnl::memory wmem;
  std::vector<float> wscale;    // int8: per output channel
  std::vector<int32_t> wsum;    // int8: sum over k of Wq[n, k] (the activations' zero-point term)
  struct Prim {
    dnnl::matmul mm;
    dnnl::memory::desc scratch;  // user scratchpad (per call)
  };
  std::map<int64_t, Prim> prims;  // by row count
};

PackedWeight::PackedWeight() = default;
PackedWeight::~PackedWeight() = default;

struct LowpAccess {
  static std::mutex& mu(PackedWeight& p) { return p.mu_; }
  static std::unique_ptr<LowpPack>& lowp(PackedWeight& p) { return p.lowp_; }
};

namespace {

dnnl::matmul::primitive_desc make_pd(int64_t M, int64_t K, int64_t N, dt src, const dnnl::memory::desc& w, dt dst) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per-call scratchpad: concurrent forwards are safe
  dnnl::matmul::desc d(dnnl::memory::desc({M, K}, src, tag::ab), w, dnnl::memory::desc({M, N}, dst, tag::ab));
  return dnnl::matmul::primitive_desc(d, attr, engine());
}

bool is_reference_impl(const dnnl::matmul::primitive_desc& pd) {
  return std::string(pd.impl_info_str()).rfind("ref", 0) == 0;
}

// Per output channel symmetric int8 of W [N, K] (any float dtype): q [N, K], scales [N].
void quantize_weight(const Tensor& W, std::vector<int8_t>& q, std::vector<float>& scale) {
  const int64_t N = W.size(0), K = W.size(1);
  std::vector<float> wide;
  const float* w = as_f32(W, wide);
  q.resize(static_cast<std::size_t>(N * K));
  scale.resize(static_cast<std::size_t>(N));
#pragma omp parallel for if (N * K > kParallelMin)
  for (int64_t n = 0; n < N; ++n) {
    const float* r = w + n * K;
    float amax = 0.0f;
    for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(r[k]));
    const float s = amax > 0.0f ? amax / 127.0f : 1.0f, inv = 1.0f / s;
    scale[static_cast<std::size_t>(n)] = s;
    int8_t* o = q.data() + n * K;
    for (int64_t k = 0; k < K; ++k) o[k] = static_cast<int8_t>(std::clamp(std::nearbyint(r[k] * inv), -127.0f, 127.0f));
  }
}

// wo[j, n] = W[n, cols[j]] in f32, W [N, K] f32 / bf16 / f16 (contiguous rows).
void gather_columns(const Tensor& W, const std::vector<int64_t>& cols, float* wo) {
  const int64_t N = W.size(0), K = W.size(1), r = static_cast<int64_t>(cols.size());
  const Tensor wc = W.contiguous();
  for (int64_t j = 0; j < r; ++j)
    for (int64_t n = 0; n < N; ++n) {
      const int64_t i = n * K + cols[static_cast<std::size_t>(j)];
      float v;
      switch (wc.dtype()) {
        case DType::F32: v = wc.data<float>()[i]; break;
        case DType::BF16: v = bf16_to_f32(wc.data<uint16_t>()[i]); break;
        case DType::F16: v = f16_to_f32(wc.data<uint16_t>()[i]); break;
        default: throw_error(ErrorKind::Unsupported, "int8 linear: weight dtype " + std::string(to_string(wc.dtype())));
      }
      wo[j * N + n] = v;
    }
}

// Round to nearest even for |v| < 2^22 by the float adder itself (std::nearbyint
// is a libm call per element unless the compiler may assume SSE4.1 rounding).
inline float round_even(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (v + kMagic) - kMagic;
}

// The activations' type for weights of type `kind`: u8 beside s8 weights (VNNI's
// vpdpbusd multiplies u8 by s8 natively; asymmetric u8 also spends all 256 levels
// on a row whose values are one-sided, as after GELU), bf16 beside bf16.
dt src_type(dt kind) { return kind == dt::s8 ? dt::u8 : kind; }

// Returns the pack for W (packing it if new), or nullptr when oneDNN cannot run it.
// Caller holds the PackedWeight's mutex.
LowpPack* ensure_pack(PackedWeight& pw, const Tensor& W, dt kind) {
  auto& lp = LowpAccess::lowp(pw);
  const bool same = lp && lp->kind == kind && lp->src.defined() && lp->src.raw() == W.raw() &&
                    lp->src.shape() == W.shape() && lp->src.dtype() == W.dtype() && lp->src.strides() == W.strides();
  if (same) return lp->unavailable ? nullptr : lp.get();
  lp = std::make_unique<LowpPack>();
  lp->src = W;
  lp->kind = kind;
  const int64_t N = W.size(0), K = W.size(1);
  try {
    dnnl::memory::desc any({K, N}, kind, tag::any);
    auto pd = make_pd(128, K, N, src_type(kind), any, kind == dt::s8 ? dt::s32 : dt::f32);
    if (kind == dt::bf16 && is_reference_impl(pd)) {  // no AVX512: the f32 path is faster than oneDNN's reference
      lp->unavailable = true;
      return nullptr;
    }
    lp->wdesc = pd.weights_desc();
    lp->wmem = dnnl::memory(lp->wdesc, engine());
    dnnl::stream s(engine());
    std::vector<int8_t> q;
    Tensor wc = W.contiguous();
    void* plain = nullptr;
    if (kind == dt::s8) {
      quantize_weight(wc, q, lp->wscale);
      lp->wsum.assign(static_cast<std::size_t>(N), 0);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) lp->wsum[static_cast<std::size_t>(n)] += q[static_cast<std::size_t>(n * K + k)];
      plain = q.data();
    } else {
      plain = const_cast<void*>(wc.raw());  // read only: the reorder's source
    }
    // W [N, K] row-major is the matmul's weights {K, N} in "ba" order: no transpose by hand.
    dnnl::memory user(dnnl::memory::desc({K, N}, kind, tag::ba), engine(), plain);
    dnnl::reorder(user, lp->wmem).execute(s, user, lp->wmem);
    s.wait();
    release_stored(W);
  } catch (const dnnl::error&) {
    lp->unavailable = true;
    lp->wmem = dnnl::memory();
    return nullptr;
  }
  return lp.get();
}

// The primitive for M rows, created once per M.
const LowpPack::Prim* primitive_for(LowpPack& lp, int64_t M, int64_t K, int64_t N) {
  if (auto it = lp.prims.find(M); it != lp.prims.end()) return &it->second;
  if (lp.prims.size() >= 64) lp.prims.clear();  // bounded: a server sees many row counts (oneDNN caches the JIT code)
  try {
    auto pd = make_pd(M, K, N, src_type(lp.kind), lp.wdesc, lp.kind == dt::s8 ? dt::s32 : dt::f32);
    return &lp.prims.emplace(M, LowpPack::Prim{dnnl::matmul(pd), pd.scratchpad_desc()}).first->second;
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

struct Call {
  LowpPack::Prim prim;
  dnnl::memory wmem;
  std::vector<float> wscale;  // copied: the pack may be replaced while this call runs
  std::vector<int32_t> wsum;
};

// Looks up (or makes) the pack and primitive under the weight's lock; the
// handles copied out keep them alive while the GEMM runs unlocked.
bool prepare(PackedWeight& pw, const Tensor& W, int64_t M, dt kind, Call& c) {
  std::lock_guard<std::mutex> lock(LowpAccess::mu(pw));
  LowpPack* lp = ensure_pack(pw, W, kind);
  if (!lp) return false;
  const LowpPack::Prim* p = primitive_for(*lp, M, W.size(1), W.size(0));
  if (!p) return false;
  c.prim = *p;
  c.wmem = lp->wmem;
  c.wscale = lp->wscale;
  c.wsum = lp->wsum;
  return true;
}

void run(const Call& c, int64_t M, int64_t K, int64_t N, dt src_dt, void* src, dt dst_dt, void* dst) {
  thread_local std::vector<char> scratch;
  const std::size_t bytes = c.prim.scratch.get_size();
  if (scratch.size() < bytes) scratch.resize(bytes);
  thread_local dnnl::stream s(engine());
  dnnl::memory xs(dnnl::memory::desc({M, K}, src_dt, tag::ab), engine(), src);
  dnnl::memory ys(dnnl::memory::desc({M, N}, dst_dt, tag::ab), engine(), dst);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, xs}, {DNNL_ARG_WEIGHTS, c.wmem}, {DNNL_ARG_DST, ys}};
  if (bytes) args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(c.prim.scratch, engine(), scratch.data()));
  c.prim.mm.execute(s, args);
  s.wait();
}

}  // namespace

bool linear_int8(const float* x, int64_t rows, int64_t in, const Tensor& W, const Tensor& bias, float* y,
                 PackedWeight& pack) {
  if (W.dim() != 2 || rows == 0) return false;
  const int64_t M = rows, K = in, N = W.size(0);
  Call c;
  if (!prepare(pack, W, M, dt::s8, c)) return false;
  // Per-row (token) asymmetric u8 activations: x ~ sx * (q - zp), q in [0, 255], zp
  // the level of 0.0 (exact, so zero padding stays zero).
  thread_local std::vector<uint8_t> xq;
  thread_local std::vector<float> xs;
  thread_local std::vector<int32_t> xz, acc;
  xq.resize(static_cast<std::size_t>(M * K));
  xs.resize(static_cast<std::size_t>(M));
  xz.resize(static_cast<std::size_t>(M));
  acc.resize(static_cast<std::size_t>(M * N));
  // Without VNNI, oneDNN multiplies u8 x s8 pairs with vpmaddubsw, whose 16-bit sums
  // saturate above 2 x 127 x 127: 7-bit activations there (fbgemm's reduce_range).
  static const float levels = cpu_has_vnni() ? 255.0f : 127.0f;
  uint8_t* q = xq.data();
  float* sx = xs.data();
  int32_t* zx = xz.data();
  // Outlier input channels (LLM.int8()'s mixed decomposition): a few hidden
  // dimensions of transformer activations run an order of magnitude above the
  // rest (after LayerNorm, in every token), and one per-token scale sized for them
  // leaves the other channels a handful of levels. Channels whose largest |x| in
  // this call exceeds kOutlier x the median channel's are taken out of the int8
  // product (quantized as 0) and multiplied in f32 against the stored weight's
  // columns: a rank-r update, r small (at most K / 32).
  thread_local std::vector<float> colmax, keep, sorted;
  thread_local std::vector<int64_t> outliers;
  colmax.assign(static_cast<std::size_t>(K), 0.0f);
  for (int64_t m = 0; m < M; ++m) {
    const float* r = x + m * K;
    float* cm = colmax.data();
#pragma omp simd
    for (int64_t k = 0; k < K; ++k) cm[k] = std::max(cm[k], std::fabs(r[k]));
  }
  sorted = colmax;
  std::nth_element(sorted.begin(), sorted.begin() + K / 2, sorted.end());
  // 3: measured on all-MiniLM-L6-v2 (tools/quantize_check.py, 150 sentences): worst cosine to fp32
  // 0.99783 without the decomposition, 0.99835 / 0.99857 / 0.99903 / 0.99921 / 0.99935 at 10 / 6 / 4 / 3 / 2.
  constexpr float kOutlier = 3.0f;
  const float limit = kOutlier * sorted[static_cast<std::size_t>(K / 2)];
  outliers.clear();
  for (int64_t k = 0; k < K; ++k)
    if (colmax[static_cast<std::size_t>(k)] > limit) outliers.push_back(k);
  if (static_cast<int64_t>(outliers.size()) > K / 32) {  // keep the largest
    std::partial_sort(outliers.begin(), outliers.begin() + K / 32, outliers.end(),
                      [&](int64_t i, int64_t j) { return colmax[static_cast<std::size_t>(i)] > colmax[static_cast<std::size_t>(j)]; });
    outliers.resize(static_cast<std::size_t>(K / 32));
  }
  keep.assign(static_cast<std::size_t>(K), 1.0f);
  for (int64_t k : outliers) keep[static_cast<std::size_t>(k)] = 0.0f;
  const float* kp = keep.data();
#pragma omp parallel for if (M * K > kParallelMin)
  for (int64_t m = 0; m < M; ++m) {
    const float* r = x + m * K;
    float lo = 0.0f, hi = 0.0f;
#pragma omp simd reduction(min : lo) reduction(max : hi)
    for (int64_t k = 0; k < K; ++k) {
      lo = std::min(lo, r[k] * kp[k]);
      hi = std::max(hi, r[k] * kp[k]);
    }
    const float s = hi > lo ? (hi - lo) / levels : 1.0f, inv = 1.0f / s;
    const float zp = std::clamp(round_even(-lo * inv), 0.0f, levels);
    sx[m] = s;
    zx[m] = static_cast<int32_t>(zp);
    uint8_t* o = q + m * K;
#pragma omp simd
    for (int64_t k = 0; k < K; ++k) o[k] = static_cast<uint8_t>(std::clamp(round_even(r[k] * kp[k] * inv) + zp, 0.0f, levels));
  }
  run(c, M, K, N, dt::u8, q, dt::s32, acc.data());
  std::vector<float> bscratch;
  const float* b = bias.defined() ? as_f32(bias, bscratch) : nullptr;
  const float* sw = c.wscale.data();
  const int32_t* ws = c.wsum.data();
  const int32_t* a = acc.data();
#pragma omp parallel for if (M * N > kParallelMin)
  for (int64_t m = 0; m < M; ++m) {
    const float s = sx[m];
    const int32_t z = zx[m];
    const int32_t* ar = a + m * N;
    float* yr = y + m * N;
#pragma omp simd
    for (int64_t n = 0; n < N; ++n) yr[n] = static_cast<float>(ar[n] - z * ws[n]) * (s * sw[n]) + (b ? b[n] : 0.0f);
  }
  if (!outliers.empty()) {  // y += x[:, outliers] * W[:, outliers]^T in f32
    const auto r = static_cast<int64_t>(outliers.size());
    thread_local std::vector<float> xo, wo;
    xo.resize(static_cast<std::size_t>(M * r));
    wo.resize(static_cast<std::size_t>(r * N));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t j = 0; j < r; ++j) xo[static_cast<std::size_t>(m * r + j)] = x[m * K + outliers[static_cast<std::size_t>(j)]];
    gather_columns(W, outliers, wo.data());
    gemm(false, false, M, N, r, 1.0f, xo.data(), r, wo.data(), N, 1.0f, y, N);
  }
  return true;
}

bool linear_bf16(const float* x, int64_t rows, int64_t in, const Tensor& W, const Tensor& bias, float* y,
                 PackedWeight& pack) {
  if (W.dim() != 2 || W.dtype() != DType::BF16 || rows == 0) return false;
  const int64_t M = rows, K = in, N = W.size(0);
  Call c;
  if (!prepare(pack, W, M, dt::bf16, c)) return false;
  thread_local std::vector<uint16_t> xb;
  xb.resize(static_cast<std::size_t>(M * K));
  uint16_t* o = xb.data();
  const int64_t n = M * K;
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) o[i] = f32_to_bf16(x[i]);
  run(c, M, K, N, dt::bf16, o, dt::f32, y);
  if (bias.defined()) add_bias_rows(y, M, N, bias);
  return true;
}

bool cpu_has_vnni() {
  const auto isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
         isa == dnnl::cpu_isa::avx512_core_amx || isa == dnnl::cpu_isa::avx2_vnni;
}
bool cpu_has_bf16() {
  const auto isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

void release_stored(const Tensor& W) noexcept {
  if (W.defined() && W.is_contiguous()) W.storage()->release_pages(W.raw(), W.nbytes());
}

}  // namespace hfx::cpu
