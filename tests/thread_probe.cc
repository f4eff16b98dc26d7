// hfx_thread_probe: two threads share one model (forward, generate, SentenceTransformer::encode), each
// result compared with the single-threaded one. It is the C++ half of "two Python threads call one model"
// (python/tests: the GIL is released in forward), made to run under a race detector: CTest runs it under
// valgrind's Helgrind (tests/CMakeLists.txt, label slow). A ThreadSanitizer build of all of hfx would cost CI
// another full compile; Helgrind checks the same happens-before relation on the release binary, with one
// kernel thread per call so that only the two callers' threads exist (libgomp's own barriers are not
// annotated for Helgrind and would be reported as races).
//
//   hfx_thread_probe TESTS_FIXTURES_DIR [iterations] [f32 tolerance (default 0: bit-equal)]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "hfx/auto.h"
#include "hfx/generate.h"
#include "hfx/sentence.h"
#include "hfx/threads.h"

namespace {

hfx::Tensor ids(std::vector<int64_t> v, int64_t batch) {
  const auto seq = static_cast<int64_t>(v.size()) / batch;
  return hfx::Tensor::from_vector(hfx::DType::I64, {batch, seq}, v);
}

// Bit-equal natively. Under valgrind one SentenceTransformer row came out 1 ulp apart (0.0190790202 vs
// 0.0190790221; Memcheck and Helgrind report nothing): valgrind's emulated CPU, not a race, so the Helgrind run
// passes a tolerance (argv[3]) for f32 results.
double g_tolerance = 0;

bool same(const hfx::Tensor& a, const hfx::Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype() || a.nbytes() != b.nbytes()) return false;
  if (std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0) return true;
  if (a.dtype() != hfx::DType::F32) return false;
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  for (int64_t i = 0; i < a.numel(); ++i)
    if (!(std::fabs(x[i] - y[i]) <= g_tolerance * std::max(1.0f, std::fabs(y[i])))) {
      std::fprintf(stderr, "hfx_thread_probe: element %lld of %lld: %.9g vs %.9g (tolerance %g)\n",
                   static_cast<long long>(i), static_cast<long long>(a.numel()), x[i], y[i], g_tolerance);
      return false;
    }
  return true;
}

// Runs `work(k)` for k = 0, 1 on two threads, `iters` times each; every result must equal want[k].
template <class F>
int race(const char* what, int iters, const std::vector<hfx::Tensor>& want, F work) {
  int bad = 0;
  std::vector<std::thread> threads;
  std::vector<int> mismatches(2, 0);
  for (int k = 0; k < 2; ++k)
    threads.emplace_back([&, k] {
      for (int i = 0; i < iters; ++i)
        if (!same(work(k), want[k])) ++mismatches[k];
    });
  for (auto& t : threads) t.join();
  for (int k = 0; k < 2; ++k)
    if (mismatches[k]) {
      std::fprintf(stderr, "hfx_thread_probe: %s: thread %d gave %d of %d results unlike the single-threaded one\n",
                   what, k, mismatches[k], iters);
      ++bad;
    }
  std::printf("%s: 2 threads x %d calls %s\n", what, iters, bad ? "DIFFER" : "equal the single-threaded results");
  return bad;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: hfx_thread_probe TESTS_FIXTURES_DIR [iterations]\n");
    return 2;
  }
  const std::string fx = argv[1];
  const int iters = argc > 2 ? std::atoi(argv[2]) : 3;
  g_tolerance = argc > 3 ? std::atof(argv[3]) : 0.0;
  try {
    hfx::set_num_threads(1);
    int bad = 0;
    {  // encoder forward: two different padded batches
      auto model = hfx::AutoModel::from_pretrained(fx + "/bert/tiny/BertModel");
      std::vector<hfx::ModelInputs> in(2);
      in[0].input_ids = ids({2, 7, 9, 11, 3, 2, 5, 3, 0, 0}, 2);
      in[0].attention_mask = ids({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 2);
      in[1].input_ids = ids({2, 4, 4, 8, 10, 12, 3}, 1);
      std::vector<hfx::Tensor> want;
      for (const auto& x : in) want.push_back(model->forward(x).get("last_hidden_state"));
      bad += race("BertModel.forward", iters, want, [&](int k) { return model->forward(in[k]).get("last_hidden_state"); });
    }
    {  // decoder generate (KV cache per call): greedy and beam search at once
      auto lm = hfx::AutoModelForCausalLM::from_pretrained(fx + "/gpt2/tiny/GPT2LMHeadModel");
      const hfx::Tensor prompt = ids({5, 9, 2, 7}, 1);
      const hfx::Tensor mask = ids({1, 1, 1, 1}, 1);
      std::vector<hfx::GenerationConfig> cfg(2);
      cfg[0].max_new_tokens = cfg[1].max_new_tokens = 6;
      cfg[1].num_beams = 3;
      std::vector<hfx::Tensor> want;
      for (const auto& c : cfg) want.push_back(hfx::generate(*lm, prompt, mask, c));
      bad += race("GPT2LMHeadModel generate", iters, want, [&](int k) { return hfx::generate(*lm, prompt, mask, cfg[k]); });
    }
    {  // tokenizer + model + pooling + normalize
      const auto st = hfx::SentenceTransformer::from_pretrained(fx + "/sentence/bert-mean-norm");
      const std::vector<std::vector<std::string>> texts = {{"A man is eating food.", "Ångström and café"},
                                                           {"The girl is carrying a baby."}};
      std::vector<hfx::Tensor> want;
      for (const auto& t : texts) want.push_back(st.encode(t));
      bad += race("SentenceTransformer.encode", iters, want, [&](int k) { return st.encode(texts[k]); });
    }
    return bad ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hfx_thread_probe: %s\n", e.what());
    return 1;
  }
}
