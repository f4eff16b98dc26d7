// Issue 24, the readers' side: every JSON file hfx reads is bounded in depth
// and size (core/json.h), safetensors headers parse in linear time, and no
// input file can hang a reader (a FIFO named as a shard, config, tokenizer or
// index is refused by io/safe_open.h before a blocking read).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <future>

#include "core/json.h"
#include "hfx/auto.h"
#include "hfx/generate.h"
#include "hfx/hub.h"
#include "hfx/hub_files.h"
#include "hfx/io.h"
#include "hfx/tokenizer.h"
#include "fifo_guard.h"
#include "test_util.h"

using namespace hfx;
using hfx::testing::expect_error;
using hfx::testing::expect_fifo_refused;
using hfx::testing::fixtures_dir;
using hfx::testing::TempDir;
using hfx::testing::write_bytes;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string nested_arrays(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }
std::string nested_objects(std::size_t depth) {
  std::string s;
  s.reserve(depth * 7);
  for (std::size_t i = 0; i < depth; ++i) s += "{\"a\":";
  s += "1";
  s += std::string(depth, '}');
  return s;
}

}  // namespace

TEST(BoundedJson, DepthSizeAndDuplicates) {
  EXPECT_EQ(parse_json(R"({"a": [1, {"b": null}], "c": "x"})", "t")["a"][1]["b"], nullptr);
  EXPECT_EQ(parse_json(nested_arrays(64), "t").size(), 1u);
  expect_error([] { parse_json(nested_arrays(65), "t.json"); }, ErrorKind::Format, {"t.json", "nested deeper than 64"});
  for (std::size_t depth : {100'000u, 1'000'000u}) {
    expect_error([&] { parse_json(nested_arrays(depth), "t.json"); }, ErrorKind::Format, {"nested deeper"});
    expect_error([&] { parse_json(nested_objects(depth), "t.json"); }, ErrorKind::Format, {"nested deeper"});
  }
  // Python's json keeps the last duplicate; the safetensors header refuses them.
  EXPECT_EQ(parse_json(R"({"a": 1, "a": [2]})", "t")["a"], nlohmann::json::array({2}));
  expect_error([] { parse_json(R"({"a": 1, "a": 2})", "t", {.reject_duplicate_keys = true}); }, ErrorKind::Format, {"duplicate key 'a'"});
  expect_error([] { parse_json("[1, 2]", "t", {.max_bytes = 3}); }, ErrorKind::Format, {"over the 3 bytes"});
  expect_error([] { parse_json("{\"a\": ", "t.json"); }, ErrorKind::Format, {"t.json", "invalid JSON"});
}

// Defect 1: 100k and 1M levels under an unused key of every JSON file a model
// folder holds crashed (stack overflow in a recursive copy); now a Format error.
TEST(BoundedJson, NestingBombsInEveryModelFile) {
  const fs::path ref = fixtures_dir() / "bert/tiny/BertModel";
  for (std::size_t depth : {100'000u, 1'000'000u}) {
    for (const std::string& bomb : {nested_arrays(depth), nested_objects(depth)}) {
      SCOPED_TRACE(depth);
      TempDir d;
      hfx::testing::copy_dir(ref, d.path());
      const std::string config = slurp(d.file("config.json"));
      write_bytes(d.file("config.json"), "{\"unused\": " + bomb + "," + config.substr(config.find('{') + 1));
      expect_error([&] { AutoConfig::from_pretrained(d.path().string()); }, ErrorKind::Format, {"config.json", "nested deeper"});
      expect_error([&] { load_pretrained(d.path().string(), ""); }, ErrorKind::Format, {"config.json", "nested deeper"});

      write_bytes(d.file("tokenizer.json"), "{\"unused\": " + bomb + "}");
      expect_error([&] { Tokenizer::from_file(d.file("tokenizer.json")); }, ErrorKind::Format, {"nested deeper"});
      write_bytes(d.file("model.safetensors.index.json"), "{\"metadata\": " + bomb + ", \"weight_map\": {}}");
      expect_error([&] { open_sharded(d.file("model.safetensors.index.json")); }, ErrorKind::Format, {"nested deeper"});
    }
  }
}

TEST(BoundedJson, NestingBombInGenerationAndTokenizerConfig) {
  const fs::path ref = fixtures_dir() / "bert/tiny/BertModel";
  TempDir d;
  hfx::testing::copy_dir(ref, d.path());
  LoadedModel m = load_pretrained(d.path().string(), "");
  write_bytes(d.file("generation_config.json"), "{\"unused\": " + nested_arrays(1'000'000) + "}");
  expect_error([&] { GenerationConfig::from_model(*m.model); }, ErrorKind::Format, {"generation_config.json", "nested deeper"});
  fs::remove(d.file("tokenizer.json"));
  write_bytes(d.file("vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
  write_bytes(d.file("tokenizer_config.json"), "{\"tokenizer_class\": \"BertTokenizer\", \"x\": " + nested_objects(1'000'000) + "}");
  expect_error([&] { AutoTokenizer::from_pretrained(d.path().string()); }, ErrorKind::Format, {"tokenizer_config.json", "nested deeper"});
  write_bytes(d.file("tokenizer_config.json"), "{\"tokenizer_class\": \"BertTokenizer\"}");
  write_bytes(d.file("special_tokens_map.json"), "{\"x\": " + nested_arrays(1'000'000) + "}");
  expect_error([&] { AutoTokenizer::from_pretrained(d.path().string()); }, ErrorKind::Format, {"special_tokens_map.json", "nested deeper"});
}

// Defect 5: the duplicate-key check of nlohmann's callback parser scanned the
// parent object at every closing brace (10k tensors 0.29 s, 40k 7.6 s).
// Acceptance: 16x the tensors within 20x the time (quadratic: 256x). With a
// node-based hash index and a sort of the whole entries this measured 20-26x
// (cache misses at 160k); with the open-addressing NameIndex (prefetched) and
// a sort on 8-byte name prefixes it measures ~17x on a loaded 2-core machine.
TEST(BoundedJson, SafetensorsHeaderParsesInLinearTime) {
  TempDir d;
  auto header_file = [&](std::size_t n) {
    std::string h = "{";
    for (std::size_t i = 0; i < n; ++i)
      h += (i ? ",\"t" : "\"t") + std::to_string(i) + "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[" + std::to_string(i) + "," +
           std::to_string(i + 1) + "]}";
    h += "}";
    std::string bytes(8, '\0');
    for (int b = 0; b < 8; ++b) bytes[b] = static_cast<char>((h.size() >> (8 * b)) & 0xff);
    const std::string path = d.file(std::to_string(n) + ".safetensors");
    write_bytes(path, bytes + h + std::string(n, '\x01'));
    return path;
  };
  // CPU time of this thread (a shared CI machine inflates wall time, not this),
  // best of nine, the two sizes interleaved so that both see the same load.
  auto cpu_now = [] {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
  };
  auto seconds = [&](const std::string& path, std::size_t n) {
    const double t0 = cpu_now();
    auto src = open_safetensors(path);
    EXPECT_EQ(src->entries().size(), n);
    return cpu_now() - t0;
  };
  const std::string small = header_file(10'000), large = header_file(160'000);
  double ts = 1e9, tl = 1e9;
  for (int rep = 0; rep < 9; ++rep) {
    ts = std::min(ts, seconds(small, 10'000));
    tl = std::min(tl, seconds(large, 160'000));
  }
  std::printf("safetensors header: 10k tensors %.3f s, 160k tensors %.3f s (ratio %.1f)\n", ts, tl, tl / ts);
  // The issue's target is 20x (measured 16.8-18.3x release); the assertion is generous so that a loaded or
  // sanitized CI run does not flake, and still fails on the quadratic scan (16x more tensors: 256x).
  EXPECT_LE(tl, 40 * std::max(ts, 0.005)) << "10k: " << ts << " s, 160k: " << tl << " s";
}

// Defect 4: a FIFO named as any file hfx opens blocked open() before the check.
TEST(SafeOpen, FifoIsRefusedNeverAwaited) {
  const fs::path ref = fixtures_dir() / "bert/tiny/BertModel";
  TempDir d;
  auto fifo = [&](const std::string& name) {
    const std::string p = d.file(name);
    fs::remove(p);
    EXPECT_EQ(::mkfifo(p.c_str(), 0600), 0);
    return p;
  };
  for (const char* name : {"model.safetensors", "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "x.index.json",
                           "config.json", "tokenizer.json", "generation_config.json"})
    fifo(name);
  expect_fifo_refused(d.file("model.safetensors"), [&] { open_safetensors(d.file("model.safetensors")); });
  expect_fifo_refused(d.file("pytorch_model.bin"), [&] { open_checkpoint(d.file("pytorch_model.bin")); });
  expect_fifo_refused(d.file("tf_model.h5"), [&] { open_checkpoint(d.file("tf_model.h5")); });
  expect_fifo_refused(d.file("flax_model.msgpack"), [&] { open_checkpoint(d.file("flax_model.msgpack")); });
  expect_fifo_refused(d.file("x.index.json"), [&] { open_sharded(d.file("x.index.json")); });
  expect_fifo_refused(d.file("config.json"), [&] { Config::from_file(d.file("config.json")); });
  expect_fifo_refused(d.file("tokenizer.json"), [&] { Tokenizer::from_file(d.file("tokenizer.json")); });
  expect_fifo_refused(d.file("config.json"), [&] { read_text_file(d.file("config.json")); });

  // A shard named by a real folder's index, and a model folder's own files.
  TempDir m;
  hfx::testing::copy_dir(ref, m.path());
  fs::remove(m.file("model.safetensors"));
  ::mkfifo(m.file("model.safetensors").c_str(), 0600);
  // Resolution skips what is not a regular file (transformers: os.path.isfile), so: no weights found.
  expect_fifo_refused(m.file("model.safetensors"), [&] { load_pretrained(m.path().string(), ""); }, "no file named");
  expect_fifo_refused(m.file("model.safetensors"), [&] { load_pretrained(m.file("model.safetensors"), ""); });
  fs::remove(m.file("model.safetensors"));
  fs::copy_file(ref / "model.safetensors", m.file("model.safetensors"));
  LoadedModel lm = load_pretrained(m.path().string(), "");
  ::mkfifo(m.file("generation_config.json").c_str(), 0600);
  expect_fifo_refused(m.file("generation_config.json"), [&] { GenerationConfig::from_model(*lm.model); });
}

// Defect 4's class in the hub code: a FIFO in a cache snapshot, in refs/, as
// the token file, or in a folder being pushed is refused, never awaited.
TEST(SafeOpen, HubFifoIsRefusedNeverAwaited) {
  TempDir cache;
  const std::string commit(40, 'a');
  const fs::path repo = cache.path() / "models--org--tiny";
  fs::create_directories(repo / "refs");
  fs::create_directories(repo / "snapshots" / commit);
  write_bytes((repo / "refs" / "main").string(), commit);
  ASSERT_EQ(::mkfifo((repo / "snapshots" / commit / "config.json").c_str(), 0600), 0);
  HubOptions o;
  o.cache_dir = cache.path().string();
  o.local_files_only = true;
  o.endpoint = "http://127.0.0.1:9";
  o.token = "";
  // The snapshot's file resolves to its path; reading it is refused.
  const std::string cfg = hf_hub_download("org/tiny", "config.json", o);
  expect_fifo_refused(cfg, [&] { Config::from_file(cfg); });
  // refs/<revision> as a FIFO: offline resolution and listing refuse it; the scan warns.
  ASSERT_EQ(::mkfifo((repo / "refs" / "dev").c_str(), 0600), 0);
  HubOptions dev = o;
  dev.revision = "dev";
  expect_fifo_refused((repo / "refs" / "dev").string(), [&] { hf_hub_download("org/tiny", "config.json", dev); });
  expect_fifo_refused((repo / "refs" / "dev").string(), [&] { list_repo_files("org/tiny", dev); });
  expect_fifo_refused((repo / "refs" / "dev").string(), [&] {
    const CacheInfo info = scan_cache(cache.path().string());
    for (const auto& w : info.warnings) throw Error(ErrorKind::Format, w);
  });
  // The token file.
  const std::string token = cache.file("token");
  ASSERT_EQ(::mkfifo(token.c_str(), 0600), 0);
  ASSERT_EQ(::setenv("HF_TOKEN_PATH", token.c_str(), 1), 0);
  for (const char* v : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) ::unsetenv(v);
  expect_fifo_refused(token, [&] { hub_token(HubOptions{}); });
  ::unsetenv("HF_TOKEN_PATH");
  // hfx push of a folder that holds a FIFO: refused before anything is sent.
  TempDir push;
  write_bytes(push.file("config.json"), "{}");
  ASSERT_EQ(::mkfifo(push.file("model.safetensors").c_str(), 0600), 0);
  HubOptions po;
  po.endpoint = "http://127.0.0.1:9";
  po.token = "x";
  expect_fifo_refused(push.file("model.safetensors"), [&] { upload_folder(push.path().string(), "org/tiny", {}, po); });
}

namespace {
struct CliRss {
  int status = -1;
  long max_rss_kb = 0;
  std::string out;
};
// Runs the CLI in a fresh process and reports its peak RSS (wait4's rusage).
CliRss run_cli_rss(const std::vector<std::string>& args) {
  CliRss r;
  int pipefd[2];
  if (::pipe(pipefd) != 0) return r;
  const pid_t pid = fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    ::close(pipefd[0]);
    std::vector<char*> argv{const_cast<char*>("hfx")};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(HFX_CLI_PATH, argv.data());
    _exit(127);
  }
  ::close(pipefd[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  int st = 0;
  rusage ru{};
  ::wait4(pid, &st, 0, &ru);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.max_rss_kb = ru.ru_maxrss;
  return r;
}
}  // namespace

// Defect 6: num_hidden_layers: 10000000 next to a tiny weights file reached
// 4.9 GB (info) and 8.2 GB (run) before anything was checked. Every hostile
// size is now refused, and peak RSS stays under 2x that of loading the real
// model (the largest legitimate allocation here).
TEST(ValidateBeforeAllocating, HostileConfigSizesAreRefusedEarly) {
  const fs::path ref = fixtures_dir() / "bert/tiny/BertModel";
  const CliRss base = run_cli_rss({"run", ref.string(), "--input-ids", "1,2,3"});
  ASSERT_EQ(base.status, 0) << base.out;
  const nlohmann::json cfg = parse_json(slurp((ref / "config.json").string()), "config.json");
  struct Case { const char* key; nlohmann::json value; };
  const std::vector<Case> cases = {
      {"num_hidden_layers", 10'000'000}, {"num_hidden_layers", 100'000}, {"hidden_size", 1'000'000},
      {"intermediate_size", 100'000'000'000LL}, {"vocab_size", 1'000'000'000'000LL}, {"max_position_embeddings", 4'000'000'000LL},
      {"type_vocab_size", 10'000'000'000LL}, {"num_attention_heads", 1'000'000'000}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.key) + " = " + c.value.dump());
    TempDir d;
    hfx::testing::copy_dir(ref, d.path());
    nlohmann::json j = cfg;
    j[c.key] = c.value;
    write_bytes(d.file("config.json"), j.dump());
    for (const char* verb : {"info", "run"}) {
      std::vector<std::string> args = {verb, d.path().string()};
      if (std::string(verb) == "run") args.insert(args.end(), {"--input-ids", "1,2,3"});
      const CliRss r = run_cli_rss(args);
      EXPECT_NE(r.status, 0) << verb << ": " << r.out;
      EXPECT_LT(r.status, 128) << verb << " died: " << r.out;
      EXPECT_LT(r.max_rss_kb, 2 * base.max_rss_kb) << verb << ": peak " << r.max_rss_kb << " KB vs " << base.max_rss_kb << " KB";
    }
  }
}

// Defect 10: integer fields must be integers (transformers: nn.Linear(32.5, ...)
// raises); type_vocab_size 0 builds a 0-row token_type_embeddings, as
// transformers does, which refuses token type 0 at forward time instead of
// silently dropping the embedding.
TEST(ValidateBeforeAllocating, ConfigIntegerFields) {
  const fs::path ref = fixtures_dir() / "bert/tiny/BertModel";
  const nlohmann::json cfg = parse_json(slurp((ref / "config.json").string()), "config.json");
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"hidden_size", 32.5}, {"hidden_size", 32.0}, {"num_hidden_layers", true}, {"vocab_size", "99"}, {"num_attention_heads", 2.5}}) {
    SCOPED_TRACE(key + " = " + value.dump());
    TempDir d;
    hfx::testing::copy_dir(ref, d.path());
    nlohmann::json j = cfg;
    j[key] = value;
    write_bytes(d.file("config.json"), j.dump());
    expect_error([&] { load_pretrained(d.path().string(), ""); }, ErrorKind::Format, {"config.json", key});
  }
  TempDir d;
  hfx::testing::copy_dir(ref, d.path());
  nlohmann::json j = cfg;
  j["type_vocab_size"] = 0;
  write_bytes(d.file("config.json"), j.dump());
  LoadOptions o;
  o.ignore_mismatched_sizes = true;
  LoadedModel m = load_pretrained(d.path().string(), "", o);
  ASSERT_TRUE(m.model->params().index_of("embeddings.token_type_embeddings.weight").has_value());
  EXPECT_EQ(m.model->params().value("embeddings.token_type_embeddings.weight").shape(), (Shape{0, cfg["hidden_size"].get<int64_t>()}));
  ModelInputs in;
  in.input_ids = Tensor::from_vector<int64_t>(DType::I64, {1, 3}, {1, 2, 3});
  expect_error([&] { m.model->forward(in); }, ErrorKind::InvalidArgument, {"out of range"});
  j["type_vocab_size"] = -1;
  write_bytes(d.file("config.json"), j.dump());
  expect_error([&] { load_pretrained(d.path().string(), ""); }, ErrorKind::Format, {"type_vocab_size"});
}
