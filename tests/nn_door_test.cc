// Model files reach the kernels only through nn/ (issue 17): a second backend
// then means new kernels plus dispatch in nn/, not edits to every model. This
// reads src/models/ and fails on any kernel call or kernels/ include there.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "test_util.h"

namespace fs = std::filesystem;

namespace {

// Offending lines of `text` as "path:line: text".
std::string offences(const fs::path& path, const std::string& text) {
  std::string out, line;
  std::istringstream in(text);
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find("cpu::") != std::string::npos || line.find("kernels/") != std::string::npos)
      out += path.filename().string() + ":" + std::to_string(n) + ": " + line + "\n";
  return out;
}

}  // namespace

TEST(NnDoor, ModelFilesCallNoKernels) {
  const fs::path dir = hfx::testing::source_dir() / "src" / "models";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  int files = 0;
  std::string found;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string ext = e.path().extension().string();
    if (ext != ".cc" && ext != ".h") continue;
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    found += offences(e.path(), ss.str());
    ++files;
  }
  EXPECT_GT(files, 10) << "src/models/ looks empty";
  EXPECT_TRUE(found.empty()) << "model files must call nn/, never the kernels:\n" << found;
}

// The check itself finds what it looks for (so an always-empty scan cannot pass).
TEST(NnDoor, ScannerFindsKernelUse) {
  EXPECT_FALSE(offences("x.cc", "  cpu::attention(a);\n").empty());
  EXPECT_FALSE(offences("x.cc", "#include \"kernels/cpu/ops.h\"\n").empty());
  EXPECT_TRUE(offences("x.cc", "  nn::attend(q, k, v, ao);\n").empty());
}

#include "nn/attention.h"
#include "nn/kv_cache.h"

// The opaque KVCache: one appender grows each layer, reorder keeps/repeats rows,
// copies are deep and a moved-from cache is empty.
TEST(NnDoor, KVCacheThroughNn) {
  using hfx::DType;
  using hfx::Tensor;
  hfx::KVCache c;
  EXPECT_EQ(c.length(), 0);
  std::vector<float> k = {1, 2, 3, 4}, v = {5, 6, 7, 8};  // B = 2 rows, S = 1, width 2
  hfx::nn::KVView kv = hfx::nn::kv_append(c, 0, 2, 1, 2, k.data(), v.data(), 2, 2);
  EXPECT_EQ(kv.length, 1);
  EXPECT_EQ(c.length(), 1);
  EXPECT_EQ(c.width(0), 2);
  EXPECT_THROW(hfx::nn::kv_append(c, 0, 3, 1, 2, k.data(), v.data(), 2, 2), hfx::Error);  // another batch size
  hfx::KVCache copy = c;
  c.reorder({1, 1, 0});
  kv = hfx::nn::kv_read(c, 0);
  EXPECT_EQ(kv.k[0], 3.0f);
  EXPECT_EQ(kv.k[kv.batch_stride], 3.0f);
  EXPECT_EQ(kv.v[2 * kv.batch_stride + 1], 6.0f);
  EXPECT_EQ(hfx::nn::kv_read(copy, 0).k[0], 1.0f);
  EXPECT_THROW(c.reorder({5}), hfx::Error);
  hfx::KVCache moved = std::move(copy);
  EXPECT_EQ(moved.length(), 1);
  EXPECT_EQ(copy.length(), 0);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
}

// nn::attend with a cache equals attention over the whole sequence at once.
TEST(NnDoor, AttendWithCacheMatchesFullSequence) {
  using hfx::DType;
  using hfx::Tensor;
  const int64_t B = 1, S = 3, H = 2, D = 2;
  std::vector<float> q(B * S * H * D), k(q.size()), v(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = 0.1f * static_cast<float>(i), k[i] = 0.05f * static_cast<float>(i % 5), v[i] = static_cast<float>(i);
  Tensor Q = Tensor::from_vector(DType::F32, {B, S, H * D}, q), K = Tensor::from_vector(DType::F32, {B, S, H * D}, k),
         V = Tensor::from_vector(DType::F32, {B, S, H * D}, v);
  Tensor bias = hfx::nn::causal_bias(Tensor(), B, S, 0);
  hfx::nn::AttentionOptions o;
  o.heads = H;
  o.head_dim = D;
  o.bias = hfx::nn::AttentionBias::of(bias);
  Tensor full = hfx::nn::attend(Q, K, V, o).context;
  hfx::KVCache cache;
  o.cache = &cache;
  for (int64_t s = 0; s < S; ++s) {
    Tensor q1 = Q.narrow(1, s, 1).contiguous(), k1 = K.narrow(1, s, 1).contiguous(), v1 = V.narrow(1, s, 1).contiguous();
    Tensor b1 = hfx::nn::causal_bias(Tensor(), B, 1, s);
    o.bias = hfx::nn::AttentionBias::of(b1);
    Tensor step = hfx::nn::attend(q1, k1, v1, o).context;
    for (int64_t j = 0; j < H * D; ++j) EXPECT_NEAR(step.data<float>()[j], full.data<float>()[s * H * D + j], 1e-6) << s;
  }
  EXPECT_EQ(cache.length(), S);
}
