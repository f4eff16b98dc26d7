// hfx export (convert + verify, --max-error), hfx diff (first layer that
// parts), and the SIGKILL test of sharded saves over an existing checkpoint.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "hfx/auto.h"
#include "hfx/compare.h"
#include "hfx/io.h"
#include "test_util.h"

using namespace hfx;
using hfx::testing::fixtures_dir;
using hfx::testing::run_cli;
using hfx::testing::TempDir;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& n) { return s.find(n) != std::string::npos; }

std::string fixture(const std::string& rel) { return (fixtures_dir() / rel).string(); }

// Every canonical parameter bit-identical.
bool same_weights(const Model& a, const Model& b) {
  const WeightsDiff w = compare_weights(a, b);
  if (!w.only_a.empty() || !w.only_b.empty()) return false;
  for (const auto& d : w.tensors)
    if (d.shape_mismatch() || d.max_abs != 0.0) return false;
  return true;
}

}  // namespace

// One framework per architecture that transformers has a TF or Flax class for
// (both are round-tripped inside hfx by export's own check; the real framework
// checks one, to keep the Python time bounded). Left out, with the reason:
//   albert tf, mistral tf/flax, gpt2 flax: transformers' own TF/Flax classes miss
//     the fixture outputs even from the fixture's own tf_model.h5/flax_model.msgpack
//     (albert's TF MLM bias, no token_type_ids in FlaxGPT2, Mistral's masks);
//     mistral tf is still exported below (hfx's own round trip).
// openai-gpt tf is compared with what TFOpenAIGPTLMHeadModel computes from the
// fixture's own tf_model.h5 (check_written.py framework-ref): the TF port misses
// PyTorch by 2e-4 even on transformers' file (manifest cross_framework_max_abs_diff).
TEST(Export, RoundTripsAndTheRealFrameworksLoadTheResult) {
  struct Case { const char* fixture; const char* to; const char* mode = ""; };
  const Case cases[] = {
      {"bert/tiny/BertForMaskedLM", "tf"},          {"bert/tiny/BertForMaskedLM", "flax"},
      {"roberta/tiny/RobertaForMaskedLM", "flax"},  {"distilbert/tiny/DistilBertForMaskedLM", "tf"},
      {"albert/tiny/AlbertForMaskedLM", "flax"},    {"electra/tiny/ElectraForMaskedLM", "tf"},
      {"gpt2/tiny/GPT2LMHeadModel", "tf"},          {"t5/tiny/T5ForConditionalGeneration", "flax"},
      {"bart/tiny/BartForConditionalGeneration", "flax"}, {"llama/tiny/LlamaForCausalLM", "flax"},
      {"openai-gpt/tiny/OpenAIGPTLMHeadModel", "tf", " framework-ref"}, {"t5/tiny/T5ForConditionalGeneration", "tf"},
      {"bart/tiny/BartForConditionalGeneration", "tf"},
  };
  TempDir out;
  std::string batch;
  int i = 0;
  for (const Case& c : cases) {
    const fs::path dir = out.path() / std::to_string(i++);
    auto r = run_cli(std::string("export ") + fixture(c.fixture) + " --to " + c.to + " --out " + dir.string());
    ASSERT_EQ(r.status, 0) << c.fixture << " " << c.to << "\n" << r.out;
    EXPECT_TRUE(contains(r.out, "within 5.0e-05")) << r.out;
    EXPECT_TRUE(fs::exists(dir / (std::string(c.to) == "tf" ? "tf_model.h5" : "flax_model.msgpack"))) << c.fixture;
    batch += dir.string() + " " + fixture(c.fixture) + " " + c.to + c.mode + "\n";
  }
  // pt and safetensors, and the other frameworks inside hfx for the rest of the fixtures.
  for (const char* to : {"pt", "safetensors"}) {
    auto r = run_cli(std::string("export ") + fixture("t5/tiny/T5ForConditionalGeneration") + " --to " + to + " --out " +
                     (out.path() / to).string());
    ASSERT_EQ(r.status, 0) << r.out;
    batch += (out.path() / to).string() + " " + fixture("t5/tiny/T5ForConditionalGeneration") + " " + to + "\n";
  }
  for (const char* f : {"mistral/tiny/MistralForCausalLM"}) {
    auto r = run_cli(std::string("export ") + fixture(f) + " --to tf --out " + (out.path() / "x").string());
    EXPECT_EQ(r.status, 0) << f << "\n" << r.out;
  }
  const fs::path py = hfx::testing::source_dir() / "tools/fixtures/.venv/bin/python";
  if (!fs::exists(py)) GTEST_SKIP() << "pinned Python env missing (tools/fixtures/env.sh creates it)";
  hfx::testing::write_bytes(out.file("batch.txt"), batch);
  const std::string cmd = py.string() + " " + (hfx::testing::source_dir() / "tools/fixtures/check_written.py").string() +
                          " --batch " + out.file("batch.txt") + " > " + out.file("check.log") + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << read_text_file(out.file("check.log"));
}

TEST(Export, PerturbedWeightIsRefusedNamingTheTensorAndLayer) {
  TempDir out;
  const fs::path dest = out.path() / "tf";
  auto r = run_cli("export " + fixture("bert/tiny/BertForMaskedLM") + " --to tf --out " + dest.string() +
                   " --perturb bert.encoder.layer.1.intermediate.dense.weight --perturb-delta 1e-3");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "refused")) << r.out;
  EXPECT_TRUE(contains(r.out, "worst weight: bert.encoder.layer.1.intermediate.dense.weight")) << r.out;
  EXPECT_TRUE(contains(r.out, "first layer over budget: layer 1 (hidden_states.2)")) << r.out;
  EXPECT_FALSE(fs::exists(dest / "tf_model.h5"));  // nothing published
  // A budget that the perturbation fits in lets it through.
  r = run_cli("export " + fixture("bert/tiny/BertForMaskedLM") + " --to tf --out " + dest.string() +
              " --perturb bert.encoder.layer.1.intermediate.dense.weight --perturb-delta 1e-3 --max-error 1");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(dest / "tf_model.h5"));
  r = run_cli("export " + fixture("bert/tiny/BertForMaskedLM") + " --to onnx");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(contains(r.out, "onnx")) << r.out;
}

TEST(Diff, PerturbedLayerIsReportedFirst) {
  TempDir out;
  const std::string a = fixture("bert/tiny/BertModel");
  struct Case { std::string tensor, expect; const char* to; };
  const std::vector<Case> cases = {
      {"embeddings.word_embeddings.weight", "embeddings (hidden_states.0)", "safetensors"},
      {"encoder.layer.0.attention.self.value.weight", "layer 0 (hidden_states.1)", "tf"},
      {"encoder.layer.1.output.dense.weight", "layer 1 (hidden_states.2)", "flax"},
      {"encoder.layer.1.attention.output.dense.weight", "layer 1 (hidden_states.2)", "pt"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.tensor);
    const fs::path b = out.path() / c.tensor;
    auto e = run_cli("export " + a + " --to " + c.to + " --out " + b.string() + " --perturb " + c.tensor + " --max-error 100");
    ASSERT_EQ(e.status, 0) << e.out;
    auto r = run_cli("diff " + a + " " + b.string());
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_TRUE(contains(r.out, "first layer over tolerance 1.0e-05: " + c.expect)) << r.out;
    // Layers before it agree (printed top-down, within tolerance).
    EXPECT_LT(r.out.find("hidden_states.0"), r.out.find("last_hidden_state")) << r.out;
    auto w = run_cli("diff --weights " + a + " " + b.string());
    EXPECT_EQ(w.status, 1) << w.out;
    const std::size_t line = w.out.find(c.tensor);
    ASSERT_NE(line, std::string::npos) << w.out;
    EXPECT_TRUE(contains(w.out.substr(line, w.out.find('\n', line) - line), "over")) << w.out;
  }
  auto same = run_cli("diff " + a + " " + fixture("bert/tiny/BertModel/model.safetensors"));
  EXPECT_EQ(same.status, 0) << same.out;
  EXPECT_TRUE(contains(same.out, "within tolerance")) << same.out;
  auto names = run_cli("diff --weights " + a + " " + fixture("bert/tiny/BertForMaskedLM"));
  EXPECT_EQ(names.status, 1);
  EXPECT_TRUE(contains(names.out, "only in B: cls.predictions.transform.dense.weight")) << names.out;
}

// SIGKILL at random moments during sharded saves (hfx export --to safetensors
// --max-shard-size) over an existing checkpoint; after every kill the folder
// loads as the old or the new model. Two models alternate as the source; they
// differ in every tensor, so a mix of old and new shards would be caught.
TEST(KillSave, EveryKilledShardedSaveLeavesTheOldOrTheNewModel) {
  const int saves = std::getenv("HFX_KILL_SAVES") ? std::atoi(std::getenv("HFX_KILL_SAVES")) : 200;
  std::error_code ec;
  const fs::path shm = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
  std::string tmpl = (shm / "hfx-kill-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const fs::path root(tmpl);
  struct Cleanup { fs::path p; ~Cleanup() { std::error_code e; fs::remove_all(p, e); } } cleanup{root};
  const std::string a = fixture("bert/tiny/BertModel");
  const fs::path b = root / "b", target = root / "target";
  ASSERT_EQ(run_cli("export " + a + " --to safetensors --out " + b.string() + " --perturb '*' --max-error 100").status, 0);
  ASSERT_EQ(run_cli("export " + a + " --to safetensors --max-shard-size 20KB --out " + target.string()).status, 0);
  LoadedModel ma = load_pretrained(a, ""), mb = load_pretrained(b.string(), "");
  ASSERT_FALSE(same_weights(*ma.model, *mb.model));

  auto spawn = [&](const std::string& src) {
    const pid_t pid = fork();
    if (pid == 0) {
      setenv("TMPDIR", root.c_str(), 1);  // the export's staging folder on the same tmpfs
      const int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      execl(HFX_CLI_PATH, "hfx", "export", src.c_str(), "--to", "safetensors", "--max-shard-size", "20KB", "--out",
            target.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid;
  };
  // How long an uninterrupted save takes, to spread the kills over all of it.
  auto t0 = std::chrono::steady_clock::now();
  int st = 0;
  waitpid(spawn(b.string()), &st, 0);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  const auto full = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();

  // The kill moment is uniform in [0, window]. The machine's load changes while
  // the test runs (CI shares cores), so the window follows it: a save that
  // completed before its kill halves the window, a killed one widens it by 5 %
  // (at most to 4x the first measurement); about 1 save in 15 then completes.
  std::mt19937 rng(1234);
  long window = full;
  int killed = 0, completed = 0, as_a = 0, as_b = 0;
  for (int i = 0; i < saves; ++i) {
    const pid_t pid = spawn(i % 2 ? b.string() : a);
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<long>(0, window)(rng)));
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st)) {
      ++killed;
      window = std::min<long>(window + window / 20 + 1, 4 * full);
    } else {
      ++completed;
      window = std::max<long>(window / 2, 1);
    }
    LoadedModel now = load_pretrained(target.string(), "", [] { LoadOptions o; o.strict = true; return o; }());
    const bool is_a = same_weights(*ma.model, *now.model), is_b = same_weights(*mb.model, *now.model);
    ASSERT_TRUE(is_a || is_b) << "after save " << i << " the folder holds neither model";
    (is_a ? as_a : as_b)++;
  }
  EXPECT_GE(killed, saves / 2);  // most saves were really interrupted
  EXPECT_GT(as_a, 0);
  EXPECT_GT(as_b, 0);
  std::printf("kill test: %d saves, %d killed, %d completed; loaded as A %d, as B %d\n", saves, killed, completed, as_a, as_b);
}
