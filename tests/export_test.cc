// hfx export (convert + verify, --max-error), hfx diff (first layer that
// parts), and the SIGKILL test of sharded saves over an existing checkpoint.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "hfx/auto.h"
#include "hfx/compare.h"
#include "hfx/io.h"
#include "hfx/save.h"
#include "nlohmann/json.hpp"
#include "test_util.h"

using namespace hfx;
using hfx::testing::fixtures_dir;
using hfx::testing::run_cli;
using hfx::testing::TempDir;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& n) { return s.find(n) != std::string::npos; }

std::string fixture(const std::string& rel) { return (fixtures_dir() / rel).string(); }


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
      {"xlm-roberta/tiny/XLMRobertaForMaskedLM", "tf"}, {"xlm-roberta/tiny/XLMRobertaForMaskedLM", "flax"},
      {"camembert/tiny/CamembertForMaskedLM", "tf"},       {"gemma/tiny/GemmaForCausalLM", "flax"},
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

// Issue 24 defect 3: SIGKILL at random moments of sharded saves (hfx export
// --to safetensors --max-shard-size 2KB) over one folder, alternating two models
// that differ (a) in vocabulary size, (b) only in config values and weights of
// equal shapes. After every kill the folder loads and its outputs equal model
// A's or model B's exactly (a config of one with weights of the other matches
// neither); after every completed save no staging folder or file is left.
// HFX_KILL_SAVES sets the number of saves per pair (default 600: 1,200 SIGKILLs
// in all, of which ~1,100 interrupt a save and the rest land after it ended).
namespace {

struct KillStats { int killed = 0, completed = 0, as_a = 0, as_b = 0; };

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  return nlohmann::json::parse(f);
}
void write_json(const fs::path& p, const nlohmann::json& j) { std::ofstream(p) << j.dump(2); }

std::vector<std::string> staging_leftovers(const fs::path& target) {
  std::vector<std::string> out;
  const std::string prefix = "." + target.filename().string() + ".hfx-save-";
  for (const auto& e : fs::directory_iterator(target.parent_path()))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().string());
  for (const auto& e : fs::directory_iterator(target)) {
    const std::string f = e.path().filename().string();
    if (f.find(".hfx-new") != std::string::npos || f.find(".tmp-") != std::string::npos) out.push_back(e.path().string());
  }
  return out;
}

// `exports` of the saves run `hfx export` (the whole CLI: most kills land in its
// start-up, loading and verification); the rest are forks of this process
// that only save (save_pretrained with max_shard_size 2KB), so that the kills
// spread over the save itself and 1,000 of them fit in CI time.
// At least `saves` saves, and more (up to 3x) until `want_killed` of them were killed: on a loaded machine more saves
// complete before the kill lands, and the test's point is the number of interrupted saves.
KillStats kill_saves(const fs::path& root, const std::string& a, const std::string& b, int saves, int exports, unsigned seed,
                     int want_killed) {
  KillStats k;
  const fs::path models = root / "models", tmp = root / "tmp", target = models / "target";
  fs::create_directories(models);
  fs::create_directories(tmp);
  const ModelInputs in = hfx::testing::read_fixture_inputs(fixtures_dir() / "bert/tiny/BertModel/inputs.safetensors", false);
  LoadedModel ma = load_pretrained(a, ""), mb = load_pretrained(b, "");
  const Tensor oa = ma.model->forward(in).get("last_hidden_state"), ob = mb.model->forward(in).get("last_hidden_state");
  // Which model a folder holds: its outputs and its vocabulary size (B's extra rows do not change the outputs).
  const int64_t va = ma.model->config().get<int64_t>("vocab_size", 0), vb = mb.model->config().get<int64_t>("vocab_size", 0);
  EXPECT_TRUE(max_abs_diff(oa, ob) > 0.0 || va != vb);
  auto spawn_save = [&](const Model& m) {
    const pid_t pid = fork();
    if (pid == 0) {
      try {
        SaveOptions o;
        o.max_shard_size = "2KB";
        save_pretrained(m, target.string(), o);
      } catch (...) {
        _exit(1);
      }
      _exit(0);
    }
    return pid;
  };
  auto spawn = [&](const std::string& src) {
    const pid_t pid = fork();
    if (pid == 0) {
      setenv("TMPDIR", tmp.c_str(), 1);  // the export's own verification folder
      const int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      execl(HFX_CLI_PATH, "hfx", "export", src.c_str(), "--to", "safetensors", "--max-shard-size", "2KB", "--out",
            target.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid;
  };
  int st = 0;
  waitpid(spawn(a), &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  // How long an uninterrupted save takes, to spread the kills over all of it.
  auto timed = [&](pid_t pid) {
    const auto t0 = std::chrono::steady_clock::now();
    waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return std::max<long>(1, std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
  };
  const long full_export = timed(spawn(b)), full_save = timed(spawn_save(*ma.model));
  // The kill moment is uniform in [0, window]; the window follows the machine's
  // load (CI shares cores): a completed save halves it, a killed one widens it
  // by 5 % (at most to 4x the first measurement).
  std::mt19937 rng(seed);
  long window = full_export, full = full_export;
  for (int i = 0; i < saves || (k.killed < want_killed && i < 3 * saves); ++i) {
    if (i == exports) window = full = full_save;
    const bool to_b = i % 2;
    const pid_t pid = i < exports ? spawn(to_b ? b : a) : spawn_save(to_b ? *mb.model : *ma.model);
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<long>(0, window)(rng)));
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st)) {
      ++k.killed;
      window = std::min<long>(window + window / 20 + 1, 4 * full);
    } else {
      ++k.completed;
      window = std::max<long>(window / 2, 1);
      const auto left = staging_leftovers(target);
      EXPECT_TRUE(left.empty()) << "after completed save " << i << ": " << left.front();
    }
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(tmp, ec)) fs::remove_all(e.path(), ec);  // killed exports' own folders
    try {
      LoadedModel now = load_pretrained(target.string(), "", [] { LoadOptions o; o.strict = true; return o; }());
      const Tensor o = now.model->forward(in).get("last_hidden_state");
      const int64_t v = now.model->config().get<int64_t>("vocab_size", 0);
      const bool is_a = v == va && o.shape() == oa.shape() && max_abs_diff(o, oa) == 0.0;
      const bool is_b = v == vb && o.shape() == ob.shape() && max_abs_diff(o, ob) == 0.0;
      if (!is_a && !is_b) {
        ADD_FAILURE() << "after save " << i << " the folder holds neither model";
        return k;
      }
      (is_a ? k.as_a : k.as_b)++;
    } catch (const Error& e) {
      ADD_FAILURE() << "after save " << i << " the folder does not load: " << e.what();
      return k;
    }
  }
  return k;
}

}  // namespace

TEST(KillSave, EveryKilledSaveLeavesTheOldOrTheNewFolderWhole) {
  const int saves = std::getenv("HFX_KILL_SAVES") ? std::atoi(std::getenv("HFX_KILL_SAVES")) : 600;
  std::error_code ec;
  const fs::path shm = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
  std::string tmpl = (shm / "hfx-kill-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const fs::path root(tmpl);
  struct Cleanup { fs::path p; ~Cleanup() { std::error_code e; fs::remove_all(p, e); } } cleanup{root};
  const std::string a = fixture("bert/tiny/BertModel");

  // (a) B has 3 more vocabulary rows (a mix of A's config and B's shards fails to load).
  const fs::path vocab_b = root / "vocab_b";
  fs::create_directories(vocab_b);
  {
    nlohmann::json cfg = read_json(fs::path(a) / "config.json");
    const int64_t v = cfg["vocab_size"].get<int64_t>();
    cfg["vocab_size"] = v + 3;
    write_json(vocab_b / "config.json", cfg);
    auto src = open_safetensors(a + "/model.safetensors");
    std::vector<std::pair<std::string, Tensor>> ts;
    for (const auto& e : src->entries()) {
      Tensor t = src->get(e.name).contiguous();
      if (e.name.find("word_embeddings") != std::string::npos && !t.shape().empty() && t.shape()[0] == v) {
        Shape sh = t.shape();
        sh[0] += 3;
        Tensor big = Tensor::zeros(t.dtype(), sh);
        std::memcpy(big.mutable_raw(), t.raw(), t.nbytes());
        t = big;
      }
      ts.emplace_back(e.name, t);
    }
    write_safetensors((vocab_b / "model.safetensors").string(), ts);
  }
  // (b) B has the same shapes, other weights and other config values.
  const fs::path values_b = root / "values_b";
  ASSERT_EQ(run_cli("export " + a + " --to safetensors --out " + values_b.string() + " --perturb '*' --max-error 100").status, 0);
  {
    nlohmann::json cfg = read_json(values_b / "config.json");
    cfg["layer_norm_eps"] = 1e-5;
    cfg["hidden_act"] = "relu";
    write_json(values_b / "config.json", cfg);
  }
  int total_killed = 0;
  for (const auto& [b, seed] : {std::pair{vocab_b, 1234u}, std::pair{values_b, 4321u}}) {
    SCOPED_TRACE(b.filename().string());
    fs::remove_all(root / "models", ec);
    const KillStats k = kill_saves(root, a, b.string(), saves, std::min(saves, 60), seed, saves * 5 / 6);
    std::printf("kill test (%s): %d saves, %d killed, %d completed; loaded as A %d, as B %d\n", b.filename().c_str(), saves,
                k.killed, k.completed, k.as_a, k.as_b);
    EXPECT_GE(k.killed, saves / 2);  // most saves were really interrupted
    EXPECT_GT(k.as_a, 0);
    EXPECT_GT(k.as_b, 0);
    total_killed += k.killed;
  }
  if (saves >= 600) {
    EXPECT_GE(total_killed, 1000);
  }
}
