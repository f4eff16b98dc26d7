// hfx_bench: the hfx side of bench/run.sh, timed in-process.
//
//   hfx_bench serve            line protocol on stdin/stdout, so that bench/py/run_bench.py can
//                              interleave hfx with the Python peers round by round:
//     enc <dir> [fp32|int8|bf16] load the encoder (AutoModel) from <dir>          -> "ok"
//                                (int8: LoadOptions::quantize; bf16: torch_dtype bfloat16)
//     dec <dir>                  load the decoder (AutoModelForCausalLM)          -> "ok"
//     encoder <B> <S> <iters>    forward <iters> times                            -> seconds per forward
//     decode <cache|nocache> <prompt> <new>   greedy, batch 1                     -> seconds for <new> tokens
//     gemm <M> <N> <K> <iters>   dnnl_sgemm NN (weights [K,N]), rotating weights  -> GFLOP/s
//     quit
//   hfx_bench load <dir> [tf|flax]   from_pretrained + one forward (b1 s128) in a fresh process:
//                                    prints {"first_output_s":..,"peak_rss_mb":..}
//   hfx_bench rss <dir> <B> <S> <n> [fp32|int8|bf16]   from_pretrained + n forwards in a fresh process: prints
//                                    {"peak_rss_mb":..,"rss_mb":..,"weights_mb":..} (weights: the stored tensors' bytes)
//   hfx_bench convert <src dir> <out dir> [tf|flax|pt] [stream|load]   a checkpoint (TF1 / tf_model.h5 with
//                                    tf, the default) -> model.safetensors (+config.json); stream:
//                                    convert_model_directory, load: from_pretrained + write_model_directory;
//                                    prints {"seconds":..,"bytes":..,"peak_rss_mb":..,"start_rss_mb":..,
//                                    "largest_tensor_mb":..} (MB = MiB, as peak_rss_mb)
//
// Input ids are the same deterministic sequence the Python side uses: id(i) = (i*7919 + 13) % vocab.
#include <oneapi/dnnl/dnnl.h>
#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "hfx/auto.h"
#include "hfx/error.h"
#include "hfx/generate.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "hfx/pretrained.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

hfx::Tensor ids_tensor(int64_t B, int64_t S, int64_t vocab) {
  std::vector<int64_t> v(static_cast<std::size_t>(B * S));
  for (int64_t i = 0; i < B * S; ++i) v[static_cast<std::size_t>(i)] = (i * 7919 + 13) % vocab;
  return hfx::Tensor::from_vector(hfx::DType::I64, {B, S}, v);
}

hfx::Tensor ones(int64_t B, int64_t S) {
  return hfx::Tensor::from_vector(hfx::DType::I64, {B, S}, std::vector<int64_t>(static_cast<std::size_t>(B * S), 1));
}

int64_t vocab_of(const hfx::Model& m) { return m.config().get<int64_t>("vocab_size", 1000); }

double time_encoder(const hfx::Model& m, int64_t B, int64_t S, int iters) {
  hfx::ModelInputs in;
  in.input_ids = ids_tensor(B, S, vocab_of(m));
  in.attention_mask = ones(B, S);
  m.forward(in);  // warm-up
  auto t0 = Clock::now();
  for (int i = 0; i < iters; ++i) m.forward(in);
  return seconds_since(t0) / iters;
}

// Greedy decode of `n_new` tokens after a `prompt`-token prompt, batch 1.
// cache: hfx::generate (KV cache); nocache: a full forward over the whole sequence per token.
double time_decode(const hfx::Model& m, bool cache, int64_t prompt, int64_t n_new) {
  const int64_t vocab = vocab_of(m);
  hfx::Tensor ids = ids_tensor(1, prompt, vocab);
  auto t0 = Clock::now();
  if (cache) {
    hfx::GenerationConfig g;
    g.max_new_tokens = n_new;
    g.min_new_tokens = n_new;
    g.do_sample = false;
    g.eos_token_id.reset();
    g.pad_token_id = 0;
    hfx::Tensor out = hfx::generate(m, ids, ones(1, prompt), g);
    if (out.size(1) != prompt + n_new) throw std::runtime_error("generate returned " + std::to_string(out.size(1)) + " tokens");
  } else {
    std::vector<int64_t> seq(ids.data<int64_t>(), ids.data<int64_t>() + prompt);
    for (int64_t t = 0; t < n_new; ++t) {
      hfx::ModelInputs in;
      const auto S = static_cast<int64_t>(seq.size());
      in.input_ids = hfx::Tensor::from_vector(hfx::DType::I64, {1, S}, seq);
      hfx::Outputs o = m.forward(in);
      const float* last = o.get("logits").data<float>() + (S - 1) * vocab;
      seq.push_back(std::max_element(last, last + vocab) - last);
    }
  }
  return seconds_since(t0);
}

// dnnl_sgemm NN on weights rotating through >= 64 MiB of copies (as a forward pass reads each
// layer's weights once), activations hot: the GEMM peak the encoder's shapes can reach.
double gemm_gflops(int64_t M, int64_t N, int64_t K, int iters) {
  const int64_t wsize = K * N;
  const int64_t copies = std::max<int64_t>(2, (64LL << 20) / (wsize * 4) + 1);
  std::vector<float> A(static_cast<std::size_t>(M * K)), W(static_cast<std::size_t>(wsize * copies)),
      C(static_cast<std::size_t>(M * N));
  for (std::size_t i = 0; i < A.size(); ++i) A[i] = static_cast<float>(i % 17) * 0.01f;
  for (std::size_t i = 0; i < W.size(); ++i) W[i] = static_cast<float>(i % 13) * 0.01f;
  auto call = [&](int64_t c) {
    dnnl_sgemm('N', 'N', M, N, K, 1.0f, A.data(), K, W.data() + c * wsize, N, 0.0f, C.data(), N);
  };
  for (int64_t c = 0; c < copies; ++c) call(c);
  auto t0 = Clock::now();
  for (int i = 0; i < iters; ++i) call(i % copies);
  const double s = seconds_since(t0);
  return 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K) * iters / s / 1e9;
}

int serve() {
  std::unique_ptr<hfx::Model> enc, dec;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream is(line);
    std::string cmd;
    is >> cmd;
    try {
      if (cmd == "quit") break;
      if (cmd == "enc") {
        std::string dir, precision;
        is >> dir >> precision;  // precision: fp32 (default) | int8 (LoadOptions::quantize) | bf16 (torch_dtype)
        hfx::LoadOptions o;
        if (precision == "int8") o.quantize = hfx::Quantization::Int8;
        else if (precision == "bf16") o.torch_dtype = "bfloat16";
        else if (!precision.empty() && precision != "fp32") throw std::runtime_error("enc: precision fp32|int8|bf16");
        enc = hfx::AutoModel::from_pretrained(dir, o);
        std::cout << "ok" << std::endl;
      } else if (cmd == "dec") {
        std::string dir;
        is >> dir;
        dec = hfx::AutoModelForCausalLM::from_pretrained(dir);
        std::cout << "ok" << std::endl;
      } else if (cmd == "encoder") {
        int64_t B = 0, S = 0;
        int iters = 1;
        is >> B >> S >> iters;
        std::cout << time_encoder(*enc, B, S, iters) << std::endl;
      } else if (cmd == "decode") {
        std::string mode;
        int64_t prompt = 0, n_new = 0;
        is >> mode >> prompt >> n_new;
        std::cout << time_decode(*dec, mode == "cache", prompt, n_new) << std::endl;
      } else if (cmd == "gemm") {
        int64_t M = 0, N = 0, K = 0;
        int iters = 1;
        is >> M >> N >> K >> iters;
        std::cout << gemm_gflops(M, N, K, iters) << std::endl;
      } else {
        std::cout << "error unknown command " << cmd << std::endl;
      }
    } catch (const std::exception& e) {
      std::cout << "error " << e.what() << std::endl;
    }
  }
  return 0;
}

int load(const std::string& dir, const std::string& from) {
  auto t0 = Clock::now();
  hfx::LoadOptions o;
  o.from_tf = from == "tf";
  o.from_flax = from == "flax";
  auto m = hfx::AutoModel::from_pretrained(dir, o);
  const double loaded = seconds_since(t0);
  hfx::ModelInputs in;
  in.input_ids = ids_tensor(1, 128, vocab_of(*m));
  hfx::Outputs out = m->forward(in);
  const double s = seconds_since(t0);
  if (out.get("last_hidden_state").numel() == 0) return 1;
  std::printf("{\"first_output_s\": %.6f, \"from_pretrained_s\": %.6f, \"peak_rss_mb\": %.1f}\n", s, loaded, peak_rss_mb());
  return 0;
}

// A "<key> <n> kB" line of /proc/self/status in MiB (0 when absent).
double status_mb(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size())) / 1024.0;
  return 0.0;
}

double current_rss_mb() { return status_mb("VmRSS:"); }

// Issue 22's memory measure: the resident memory after n forwards against the bytes of the stored weights (a
// second resident copy of the weights shows as rss ≈ 2 × weights).
int rss(const std::string& dir, int64_t B, int64_t S, int n, const std::string& precision) {
  hfx::LoadOptions o;
  if (precision == "int8") o.quantize = hfx::Quantization::Int8;
  if (precision == "bf16") o.torch_dtype = "bfloat16";
  auto m = hfx::AutoModel::from_pretrained(dir, o);
  hfx::ModelInputs in;
  in.input_ids = ids_tensor(B, S, vocab_of(*m));
  for (int i = 0; i < n; ++i) m->forward(in);
  double weights = 0;
  const hfx::ParamTable& params = m->params();
  for (std::size_t i = 0; i < params.size(); ++i)
    if (params.bound(i) && params.specs()[i].tied_to.empty()) weights += static_cast<double>(params.value(i).nbytes());
  if (std::getenv("HFX_BENCH_SMAPS")) {  // where the resident memory is: the largest mappings, to stderr
    std::ifstream f("/proc/self/smaps");
    std::string line, name;
    std::vector<std::pair<long, std::string>> top;
    while (std::getline(f, line)) {
      if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < line.find(' ')) {
        name = line;
      } else if (line.rfind("Rss:", 0) == 0) {
        top.emplace_back(std::stol(line.substr(4)), name);
      }
    }
    std::sort(top.rbegin(), top.rend());
    for (std::size_t i = 0; i < std::min<std::size_t>(top.size(), 12); ++i)
      std::fprintf(stderr, "%8ld kB  %s\n", top[i].first, top[i].second.c_str());
  }
  std::printf("{\"peak_rss_mb\": %.1f, \"rss_mb\": %.1f, \"rss_file_mb\": %.1f, \"rss_anon_mb\": %.1f, \"weights_mb\": %.1f}\n",
              peak_rss_mb(), current_rss_mb(), status_mb("RssFile:"), status_mb("RssAnon:"), weights / 1048576.0);
  return 0;
}

// `how`: "stream" (convert_model_directory, one tensor at a time) or "load"
// (from_pretrained + write_model_directory: the whole model in memory).
int convert(const std::string& src, const std::string& dst, const std::string& from, const std::string& how) {
  const double start_rss = current_rss_mb();
  auto t0 = Clock::now();
  hfx::LoadOptions o;
  o.from_tf = from == "tf";
  o.from_flax = from == "flax";
  if (how == "load") {
    auto m = hfx::AutoModel::from_pretrained(src, o);
    hfx::write_model_directory(*m, dst);
  } else {
    hfx::convert_model_directory(src, dst, "", o);
  }
  const double s = seconds_since(t0);
  const auto out = (std::filesystem::path(dst) / "model.safetensors").string();
  const auto bytes = std::filesystem::file_size(out);
  uint64_t largest = 0;
  auto written = hfx::open_safetensors(out);
  for (const auto& e : written->entries())
    largest = std::max<uint64_t>(largest, static_cast<uint64_t>(hfx::shape_numel(e.shape)) * hfx::dtype_size(e.dtype));
  std::printf("{\"seconds\": %.6f, \"bytes\": %llu, \"peak_rss_mb\": %.1f, \"start_rss_mb\": %.1f, \"largest_tensor_mb\": %.1f}\n", s,
              static_cast<unsigned long long>(bytes), peak_rss_mb(), start_rss, static_cast<double>(largest) / 1048576.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "serve") return serve();
    if (mode == "load" && argc >= 3) return load(argv[2], argc > 3 ? argv[3] : "");
    if (mode == "rss" && argc >= 6)
      return rss(argv[2], std::stoll(argv[3]), std::stoll(argv[4]), std::stoi(argv[5]), argc > 6 ? argv[6] : "fp32");
    if (mode == "convert" && argc >= 4 && argc <= 6)
      return convert(argv[2], argv[3], argc > 4 ? argv[4] : "tf", argc > 5 ? argv[5] : "stream");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hfx_bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: hfx_bench serve | load <dir> [tf|flax] | rss <dir> <B> <S> <n> [fp32|int8|bf16] | convert <src dir> <out dir> [tf|flax|pt] [stream|load]\n");
  return 2;
}
