// save_pretrained: file names, sharding, config, atomicity, and that the real
// transformers loads what hfx wrote (tools/fixtures/check_written.py).
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <functional>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/io.h"
#include "hfx/save.h"
#include "test_util.h"

using namespace hfx;
using hfx::testing::expect_error;
using hfx::testing::fixtures_dir;
using hfx::testing::TempDir;
using hfx::testing::check_with_transformers;
namespace fs = std::filesystem;

namespace {

ModelInputs fixture_inputs(const fs::path& dir) { return hfx::testing::read_fixture_inputs(dir / "inputs.safetensors", false); }

void expect_same_outputs(const Model& a, const Model& b, const ModelInputs& in) {
  Outputs oa = a.forward(in), ob = b.forward(in);
  for (const auto& [name, t] : oa.items()) EXPECT_EQ(max_abs_diff(t, ob.get(name)), 0.0) << name;
}

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(Save, ParseShardSize) {
  EXPECT_EQ(parse_shard_size("5GB"), 5000000000LL);
  EXPECT_EQ(parse_shard_size("5GiB"), 5LL << 30);
  EXPECT_EQ(parse_shard_size("1.5GB"), 1500000000LL);
  EXPECT_EQ(parse_shard_size(" 10 KB"), 10000);
  EXPECT_EQ(parse_shard_size("100"), 100);
  expect_error([] { parse_shard_size("5XB"); }, ErrorKind::InvalidArgument, {"5XB"});
  expect_error([] { parse_shard_size("GB"); }, ErrorKind::InvalidArgument, {"GB"});
  expect_error([] { parse_shard_size("-1GB"); }, ErrorKind::InvalidArgument, {"-1GB"});
}

TEST(Save, SplitLikeTransformers) {
  using V = std::vector<std::vector<std::size_t>>;
  EXPECT_EQ(split_shards({6, 6, 2, 6, 2, 2}, 10), (V{{0}, {1, 2}, {3, 4, 5}}));
  EXPECT_EQ(split_shards({2, 12, 3}, 10), (V{{1}, {0, 2}}));  // oversize tensor placed before the open shard
  EXPECT_EQ(split_shards({10, 10}, 10), (V{{0}, {1}}));
  EXPECT_EQ(split_shards_legacy({2, 12, 3}, 10, false), (V{{0}, {1}, {2}}));
  EXPECT_EQ(split_shards_legacy({12, 3}, 10, true), (V{{}, {0}, {1}}));  // flax: empty first shard
}

TEST(Save, SingleFileRoundTripAndConfig) {
  const fs::path ref = fixtures_dir() / "bert/tiny/BertForMaskedLM";
  LoadedModel m = load_pretrained(ref.string(), "");
  TempDir out;
  save_pretrained(*m.model, out.path().string());
  EXPECT_EQ(files_in(out.path()), (std::vector<std::string>{"config.json", "model.safetensors"}));
  auto cfg = nlohmann::json::parse(read_text_file(out.file("config.json")));
  EXPECT_EQ(cfg["architectures"], nlohmann::json::array({"BertForMaskedLM"}));
  EXPECT_EQ(cfg["torch_dtype"], "float32");
  EXPECT_EQ(cfg["transformers_version"], kTransformersVersion);
  auto src = open_safetensors(out.file("model.safetensors"));
  EXPECT_FALSE(src->contains("cls.predictions.decoder.weight"));  // tied: dropped like transformers
  EXPECT_EQ(src->metadata().at("format"), "pt");
  LoadedModel back = load_pretrained(out.path().string(), "");
  EXPECT_TRUE(back.info.missing_keys.empty());
  expect_same_outputs(*m.model, *back.model, fixture_inputs(ref));
  check_with_transformers(out.path(), ref, "safetensors");
}

TEST(Save, ShardedRoundTripThenSingleAgain) {
  const fs::path ref = fixtures_dir() / "bert/tiny/BertModel";
  LoadedModel m = load_pretrained(ref.string(), "");
  TempDir out;
  save_pretrained(*m.model, out.path().string());  // a single file first ...
  SaveOptions o;
  o.max_shard_size = "30KB";
  save_pretrained(*m.model, out.path().string(), o);  // ... replaced by a sharded save
  auto files = files_in(out.path());
  EXPECT_EQ(std::count(files.begin(), files.end(), "model.safetensors"), 0) << "the old single file would shadow the shards";
  auto idx = nlohmann::json::parse(read_text_file(out.file("model.safetensors.index.json")));
  std::set<std::string> shards;
  int64_t total = 0;
  for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
    shards.insert(it->get<std::string>());
    total += static_cast<int64_t>(open_safetensors(out.file(it->get<std::string>()))->get(it.key()).nbytes());
  }
  EXPECT_GE(shards.size(), 3u);
  EXPECT_TRUE(shards.count("model-00001-of-0000" + std::to_string(shards.size()) + ".safetensors"));
  EXPECT_EQ(idx["metadata"]["total_size"].get<int64_t>(), total);
  for (const auto& f : files) EXPECT_EQ(f.find(".hfx-new"), std::string::npos) << f;
  LoadedModel back = load_pretrained(out.path().string(), "");
  expect_same_outputs(*m.model, *back.model, fixture_inputs(ref));
  check_with_transformers(out.path(), ref, "safetensors");
  // Back to a single file: the shards and their index go.
  save_pretrained(*m.model, out.path().string());
  EXPECT_EQ(files_in(out.path()), (std::vector<std::string>{"config.json", "model.safetensors"}));
}

namespace {

// Staging folders next to `dir` and staged files in it.
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> out;
  const std::string prefix = "." + dir.filename().string() + ".hfx-save-";
  for (const auto& e : fs::directory_iterator(dir.parent_path()))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().string());
  for (const auto& f : files_in(dir))
    if (f.find(".hfx-new") != std::string::npos || f.find(".tmp-") != std::string::npos) out.push_back(f);
  return out;
}

// Runs f in a child process whose files may not grow past `limit` bytes
// (RLIMIT_FSIZE; SIGXFSZ ignored, so writes fail with EFBIG as with a full
// disk); returns 0 when f threw an hfx::Error of kind Io.
int run_with_file_size_limit(rlim_t limit, const std::function<void()>& f) {
  const pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    rlimit r{limit, limit};
    setrlimit(RLIMIT_FSIZE, &r);
    try {
      f();
      _exit(1);
    } catch (const Error& e) {
      _exit(e.kind() == ErrorKind::Io ? 0 : 2);
    } catch (...) {
      _exit(3);
    }
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

}  // namespace

// Issue 24 defect 8: a save that fails half-way (here: EFBIG while writing a
// shard, as with a full disk) leaves the previous checkpoint complete and loadable, and none of its
// staged files (the disk is not left full).
TEST(Save, FailedSaveKeepsThePreviousCheckpointAndLeavesNothing) {
  const fs::path ref = fixtures_dir() / "bert/tiny/BertModel";
  TempDir out;
  const fs::path dir = out.path() / "model";
  // The child saves first and fails; this process loads nothing before the fork (OpenMP is not fork-safe).
  for (const char* shard : {"30KB", "200KB"}) {
    SCOPED_TRACE(shard);
    EXPECT_EQ(run_with_file_size_limit(1 << 30, [&] {
      LoadedModel m = load_pretrained(ref.string(), "");
      SaveOptions o;
      o.max_shard_size = "30KB";
      save_pretrained(*m.model, dir.string(), o);
    }), 1);  // completed
    const auto before = files_in(dir);
    EXPECT_EQ(run_with_file_size_limit(20'000, [&] {
      LoadedModel m = load_pretrained(ref.string(), "");
      SaveOptions o;
      o.max_shard_size = shard;
      save_pretrained(*m.model, dir.string(), o);
    }), 0);
    EXPECT_EQ(files_in(dir), before);
    EXPECT_EQ(leftovers(dir), std::vector<std::string>{});
  }
  LoadedModel m = load_pretrained(ref.string(), "");
  LoadedModel back = load_pretrained(dir.string(), "");
  expect_same_outputs(*m.model, *back.model, fixture_inputs(ref));
}

// The folder switches as a whole: files the save does not write are carried
// over (tokenizer, README, other frameworks' weights, subfolders), the previous
// weights go, and what a killed save left next to the folder is cleaned up
// (subfolders it had moved out are moved back).
TEST(Save, FolderSwapCarriesOverAndRecovers) {
  const fs::path ref = fixtures_dir() / "bert/tiny/BertModel";
  LoadedModel m = load_pretrained(ref.string(), "");
  TempDir out;
  const fs::path dir = out.path() / "model";
  SaveOptions o;
  o.max_shard_size = "30KB";
  save_pretrained(*m.model, dir.string(), o);
  hfx::testing::write_bytes((dir / "tokenizer.json").string(), "{}");
  hfx::testing::write_bytes((dir / "pytorch_model.bin").string(), "old weights");
  fs::create_directories(dir / ".git" / "objects");
  hfx::testing::write_bytes((dir / ".git" / "HEAD").string(), "ref");
  fs::create_directories(dir / "runs");
  // A killed save's staging folder, holding a subfolder it had moved out of the folder.
  const fs::path left = out.path() / ".model.hfx-save-deadbeef0000";
  fs::create_directories(left / "runs" / "moved");
  fs::remove_all(dir / "runs");
  hfx::testing::write_bytes((left / "config.json").string(), "{}");
  save_pretrained(*m.model, dir.string());  // single file now
  EXPECT_EQ(files_in(dir), (std::vector<std::string>{".git", "config.json", "model.safetensors", "runs", "tokenizer.json"}));
  EXPECT_TRUE(fs::exists(dir / ".git" / "HEAD"));
  EXPECT_TRUE(fs::exists(dir / "runs" / "moved"));
  EXPECT_EQ(leftovers(dir), std::vector<std::string>{});
  LoadedModel back = load_pretrained(dir.string(), "");
  expect_same_outputs(*m.model, *back.model, fixture_inputs(ref));
}

TEST(Save, Errors) {
  LoadedModel m = load_pretrained((fixtures_dir() / "bert/tiny/BertModel").string(), "");
  TempDir out;
  hfx::testing::write_bytes(out.file("afile"), "x");
  expect_error([&] { save_pretrained(*m.model, out.file("afile")); }, ErrorKind::InvalidArgument, {"afile"});
  SaveOptions o;
  o.framework = "onnx";
  expect_error([&] { save_pretrained(*m.model, out.path().string(), o); }, ErrorKind::InvalidArgument, {"onnx"});
  o.framework = "pt";
  o.max_shard_size = "lots";
  expect_error([&] { save_pretrained(*m.model, out.path().string(), o); }, ErrorKind::InvalidArgument, {"lots"});
}
