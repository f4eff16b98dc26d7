// save_pretrained: file names, sharding, config, atomicity, and that the real
// transformers loads what hfx wrote (tools/fixtures/check_written.py).
#include <gtest/gtest.h>

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

// A save that fails half-way leaves the previous checkpoint complete and loadable.
TEST(Save, InterruptedSaveKeepsThePreviousCheckpoint) {
  const fs::path ref = fixtures_dir() / "bert/tiny/BertModel";
  LoadedModel m = load_pretrained(ref.string(), "");
  TempDir out;
  SaveOptions o;
  o.max_shard_size = "30KB";
  save_pretrained(*m.model, out.path().string(), o);
  const auto before = files_in(out.path());
  // Sabotage the second shard's staging name so the new save dies mid-way.
  std::size_t n = 0;
  for (const auto& f : before) n += f.rfind("model-", 0) == 0;
  const std::string victim = "model-00002-of-" + std::string(5 - std::to_string(n).size(), '0') + std::to_string(n) + ".safetensors.hfx-new";
  fs::create_directories(out.path() / victim / "blocker");
  EXPECT_THROW(save_pretrained(*m.model, out.path().string(), o), Error);
  fs::remove_all(out.path() / victim);
  LoadedModel back = load_pretrained(out.path().string(), "");
  expect_same_outputs(*m.model, *back.model, fixture_inputs(ref));
  for (const auto& f : files_in(out.path())) EXPECT_EQ(f.find(".tmp-"), std::string::npos) << f;
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
