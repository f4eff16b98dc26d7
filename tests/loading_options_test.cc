// from_pretrained options as transformers 4.46 has them (use_safetensors,
// torch_dtype, state_dict, config as object or path, config overrides) and the
// loading info, compared with what transformers itself reported on the same
// checkpoints (tests/fixtures/loading/loading_info.json, written by
// tools/fixtures/loading_info.py).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/formats.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "test_util.h"

using namespace hfx;
using hfx::testing::expect_error;
using hfx::testing::fixtures_dir;
using hfx::testing::copy_dir;
using hfx::testing::TempDir;
namespace fs = std::filesystem;

namespace {

fs::path fixture(const std::string& rel) { return fixtures_dir() / rel; }

nlohmann::json reference() {
  return nlohmann::json::parse(read_text_file((fixtures_dir() / "loading" / "loading_info.json").string()));
}

std::vector<std::string> strings(const nlohmann::json& a) { return a.get<std::vector<std::string>>(); }

LoadOptions options_for(const nlohmann::json& kwargs) {
  LoadOptions o;
  if (kwargs.contains("num_labels")) o.config_overrides["num_labels"] = kwargs["num_labels"];
  if (kwargs.contains("ignore_mismatched_sizes")) o.ignore_mismatched_sizes = kwargs["ignore_mismatched_sizes"].get<bool>();
  if (kwargs.contains("torch_dtype")) o.torch_dtype = kwargs["torch_dtype"].get<std::string>();
  return o;
}

// "torch.Size([3, 32])" -> "[3, 32]" (hfx prints shapes the way Python prints lists).
std::string without_torch_size(std::string s) {
  for (std::size_t p; (p = s.find("torch.Size(")) != std::string::npos;) {
    s.erase(p, 11);
    const std::size_t close = s.find("])", p);
    if (close == std::string::npos) break;
    s.erase(close + 1, 1);
  }
  return s;
}

NamedTensors read_all(const std::string& file) {
  auto src = open_checkpoint(file);
  NamedTensors out;
  for (const auto& e : src->entries()) out.emplace_back(e.name, src->get(e.name));
  return out;
}

Tensor logits(const Model& m) {
  ModelInputs in;
  in.input_ids = Tensor::from_vector<int64_t>(DType::I64, {1, 4}, {1, 5, 7, 2});
  return m.forward(in).get("logits").to(DType::F32);
}

}  // namespace

// ---- loading info == transformers' -----------------------------------------------------
TEST(LoadingInfoParity, EqualsTransformers) {
  const auto ref = reference();
  int compared = 0, errors = 0;
  for (const auto& c : ref["cases"]) {
    if (c["kind"] == "dtype") continue;
    const std::string id = c["kind"].get<std::string>() + " " + c["checkpoint"].get<std::string>() + " -> " +
                           c["class"].get<std::string>() + " " + c["kwargs"].dump();
    SCOPED_TRACE(id);
    const LoadOptions o = options_for(c["kwargs"]);
    const std::string ckpt = fixture(c["checkpoint"].get<std::string>()).string();
    if (c.contains("error")) {  // transformers refused: hfx must too, listing the same size mismatches
      const std::string want = without_torch_size(c["error"]["message"].get<std::string>());
      try {
        load_pretrained(ckpt, c["class"], o);
        ADD_FAILURE() << "loaded, but transformers raised: " << want;
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Mismatch);
        const std::string got = e.what();
        EXPECT_NE(got.find("Error(s) in loading state_dict for " + c["class"].get<std::string>()), std::string::npos) << got;
        int lines = 0;
        for (std::size_t p = want.find("size mismatch for "); p != std::string::npos; p = want.find("size mismatch for ", p + 1)) {
          const std::string line = want.substr(p, want.find('\n', p) - p);
          EXPECT_NE(got.find(line), std::string::npos) << "'" << line << "' not in: " << got;
          ++lines;
        }
        EXPECT_GT(lines, 0) << want;
        EXPECT_NE(got.find("ignore_mismatched_sizes"), std::string::npos) << got;
      }
      ++errors;
      continue;
    }
    LoadedModel lm = load_pretrained(ckpt, c["class"], o);
    const auto& want = c["loading_info"];
    EXPECT_EQ(lm.info.missing_keys, strings(want["missing_keys"]));
    EXPECT_EQ(lm.info.unexpected_keys, strings(want["unexpected_keys"]));
    EXPECT_EQ(lm.info.error_msgs, strings(want["error_msgs"]));
    ASSERT_EQ(lm.info.mismatched.size(), want["mismatched_keys"].size());
    ASSERT_EQ(lm.info.mismatched_keys.size(), want["mismatched_keys"].size());
    for (std::size_t i = 0; i < lm.info.mismatched.size(); ++i) {
      const auto& w = want["mismatched_keys"][i];
      EXPECT_EQ(lm.info.mismatched[i].key, w[0].get<std::string>());
      EXPECT_EQ(lm.info.mismatched[i].checkpoint, w[1].get<Shape>());
      EXPECT_EQ(lm.info.mismatched[i].model, w[2].get<Shape>());
    }
    ++compared;
  }
  EXPECT_GE(compared, 20);
  EXPECT_GE(errors, 4);
}

// A 3-label checkpoint in a 5-label model: the mismatched head starts fresh,
// everything else is the checkpoint's.
TEST(LoadingInfoParity, MismatchedHeadIsReinitialisedRestLoaded) {
  LoadOptions o;
  o.config_overrides = {{"num_labels", 5}};
  o.ignore_mismatched_sizes = true;
  const std::string dir = fixture("bert/tiny/BertForSequenceClassification").string();
  LoadedModel lm = load_pretrained(dir, "BertForSequenceClassification", o);
  EXPECT_EQ(lm.model->config().num_labels(), 5);
  EXPECT_EQ(lm.model->params().value("classifier.weight").shape(), (Shape{5, 32}));
  LoadedModel ref = load_pretrained(dir, "BertForSequenceClassification");
  EXPECT_EQ(max_abs_diff(lm.model->params().value("bert.pooler.dense.weight"), ref.model->params().value("bert.pooler.dense.weight")), 0.0);
  EXPECT_EQ(logits(*lm.model).shape(), (Shape{1, 5}));
}

// ---- torch_dtype ------------------------------------------------------------------------
TEST(LoadOptions, TorchDtypeLikeTransformers) {
  const auto ref = reference();
  int n = 0;
  for (const auto& c : ref["cases"]) {
    if (c["kind"] != "dtype") continue;
    SCOPED_TRACE(c["checkpoint"].get<std::string>() + " " + c["kwargs"].dump());
    ASSERT_TRUE(c.contains("dtype")) << c.dump();
    TempDir tmp;
    std::string path;
    if (c.value("config_without_torch_dtype", false)) {  // the script's own temp copy, rebuilt here
      const fs::path bf16 = fixture("bert/tiny/BertForMaskedLM/bf16");
      auto cfg = nlohmann::json::parse(read_text_file((bf16 / "config.json").string()));
      cfg.erase("torch_dtype");
      hfx::testing::write_bytes(tmp.file("config.json"), cfg.dump());
      fs::copy_file(bf16 / "model.safetensors", tmp.path() / "model.safetensors");
      path = tmp.path().string();
    } else {
      path = fixture(c["checkpoint"].get<std::string>()).string();
    }
    LoadedModel lm = load_pretrained(path, c["class"], options_for(c["kwargs"]));
    const DType want = *dtype_from_torch(c["dtype"].get<std::string>());
    for (std::size_t i = 0; i < lm.model->params().size(); ++i)
      ASSERT_EQ(lm.model->params().value(i).dtype(), want) << lm.model->params().specs()[i].name;
    ++n;
  }
  EXPECT_EQ(n, 7);
  // "auto" keeps the file's bytes: nothing converted.
  LoadOptions o;
  o.torch_dtype = "auto";
  LoadedModel lm = load_pretrained(fixture("bert/tiny/BertForMaskedLM/fp16").string(), "BertForMaskedLM", o);
  EXPECT_EQ(lm.info.converted, 0u);
  o.torch_dtype = "float8";
  expect_error([&] { load_pretrained(fixture("bert/tiny/BertForMaskedLM").string(), "BertForMaskedLM", o); },
               ErrorKind::InvalidArgument, {"torch_dtype", "float8"});
}

// ---- use_safetensors and what is looked for ---------------------------------------------
TEST(LoadOptions, UseSafetensors) {
  TempDir dir;
  copy_dir(fixture("bert/tiny/BertForMaskedLM"), dir.path());  // model.safetensors and pytorch_model.bin
  auto file_of = [&](const LoadOptions& o) {
    return fs::path(load_pretrained(dir.path().string(), "", o).info.files.at(0)).filename().string();
  };
  LoadOptions o;
  EXPECT_EQ(file_of(o), "model.safetensors");  // unset: prefer safetensors
  o.use_safetensors = false;
  EXPECT_EQ(file_of(o), "pytorch_model.bin");
  o.use_safetensors = true;
  EXPECT_EQ(file_of(o), "model.safetensors");
  fs::remove(dir.path() / "model.safetensors");
  expect_error([&] { file_of(o); }, ErrorKind::NotFound,
               {"model.safetensors", "use_safetensors", dir.path().string(), "model.safetensors.index.json"});
  o.use_safetensors.reset();
  EXPECT_EQ(file_of(o), "pytorch_model.bin");
  // Sharded safetensors only: false skips them and finds nothing.
  TempDir sharded;
  copy_dir(fixture("bert/tiny/BertForMaskedLM/sharded_safetensors"), sharded.path());
  fs::copy_file(fixture("bert/tiny/BertForMaskedLM/config.json"), sharded.path() / "config.json",
                fs::copy_options::overwrite_existing);
  EXPECT_NE(load_pretrained(sharded.path().string(), "").info.files.at(0).find("model.safetensors.index.json"), std::string::npos);
  o.use_safetensors = false;
  expect_error([&] { load_pretrained(sharded.path().string(), "", o); }, ErrorKind::NotFound,
               {"pytorch_model.bin", "pytorch_model.bin.index.json", sharded.path().string()});
}

TEST(LoadOptions, NothingLoadableSaysWhatAndWhere) {
  TempDir dir;
  fs::copy_file(fixture("bert/tiny/BertModel/config.json"), dir.path() / "config.json");
  expect_error([&] { load_pretrained(dir.path().string(), ""); }, ErrorKind::NotFound,
               {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json",
                "tf_model.h5", "model.ckpt.index", "flax_model.msgpack", dir.path().string()});
  LoadOptions tf;
  tf.from_tf = true;
  expect_error([&] { load_pretrained(dir.path().string(), "", tf); }, ErrorKind::NotFound,
               {"model.ckpt.index", "tf_model.h5", "tf_model.h5.index.json", "model.safetensors", dir.path().string()});
  LoadOptions flax;
  flax.from_flax = true;
  expect_error([&] { load_pretrained(dir.path().string(), "", flax); }, ErrorKind::NotFound,
               {"flax_model.msgpack", "flax_model.msgpack.index.json", dir.path().string()});
}

// ---- state_dict and config --------------------------------------------------------------
TEST(LoadOptions, StateDictInsteadOfFiles) {
  const fs::path d = fixture("bert/tiny/BertForMaskedLM");
  LoadedModel from_files = load_pretrained(d.string(), "BertForMaskedLM");
  LoadOptions o;
  o.state_dict = read_all((d / "pytorch_model.bin").string());
  o.config_path = (d / "config.json").string();
  LoadedModel lm = load_pretrained("", "BertForMaskedLM", o);
  EXPECT_TRUE(lm.info.files.empty());
  EXPECT_TRUE(lm.info.missing_keys.empty());
  EXPECT_TRUE(lm.info.unexpected_keys.empty());
  EXPECT_EQ(max_abs_diff(logits(*lm.model), logits(*from_files.model)), 0.0);
  // A directory with a state_dict: its config.json, the caller's tensors (not its files).
  o.config_path.clear();
  const std::string dropped = "bert.encoder.layer.0.output.dense.bias";
  std::erase_if(*o.state_dict, [&](const auto& kv) { return kv.first == dropped; });
  lm = load_pretrained(d.string(), "BertForMaskedLM", o);
  EXPECT_EQ(lm.info.missing_keys, std::vector<std::string>{dropped});
  // Base-model keys into a head model: the prefix rules apply to a state_dict too.
  LoadOptions base;
  base.state_dict = read_all(fixture("bert/tiny/BertModel/model.safetensors").string());
  base.config = AutoConfig::from_pretrained(d.string());
  lm = load_pretrained("", "BertForSequenceClassification", base);
  EXPECT_EQ(lm.info.missing_keys, (std::vector<std::string>{"classifier.bias", "classifier.weight"}));
  // Errors: no path and no config; a name twice.
  LoadOptions bad;
  bad.state_dict = NamedTensors{};
  expect_error([&] { load_pretrained("", "BertModel", bad); }, ErrorKind::InvalidArgument, {"config"});
  bad.config = base.config;
  bad.state_dict = NamedTensors{{"pooler.dense.bias", Tensor::zeros(DType::F32, {32})},
                                {"pooler.dense.bias", Tensor::zeros(DType::F32, {32})}};
  expect_error([&] { load_pretrained("", "BertModel", bad); }, ErrorKind::InvalidArgument, {"pooler.dense.bias", "twice"});
}

TEST(LoadOptions, ConfigObjectPathAndOverrides) {
  const fs::path d = fixture("bert/tiny/BertForSequenceClassification");
  // Object: used instead of the directory's config.json, overrides on top.
  Config c = AutoConfig::from_pretrained(d.string());
  c.set("hidden_act", "relu");
  LoadOptions o;
  o.config = c;
  o.config_overrides = {{"num_labels", 5}};
  o.ignore_mismatched_sizes = true;
  LoadedModel lm = load_pretrained(d.string(), "", o);
  EXPECT_EQ(lm.model->config().get<std::string>("hidden_act", ""), "relu");
  EXPECT_EQ(lm.model->config().num_labels(), 5);
  EXPECT_EQ(lm.model->config().fields()["id2label"].size(), 5u);  // transformers' num_labels setter
  EXPECT_EQ(lm.model->config().fields()["id2label"]["4"], "LABEL_4");
  EXPECT_EQ(lm.info.mismatched.size(), 2u);
  // The config object changes the computation (relu instead of gelu).
  LoadedModel plain = load_pretrained(d.string(), "");
  LoadOptions only_config;
  only_config.config = c;
  EXPECT_GT(max_abs_diff(logits(*load_pretrained(d.string(), "", only_config).model), logits(*plain.model)), 0.0);
  // Path: a config.json elsewhere, or a directory holding one.
  TempDir other;
  auto j = nlohmann::json::parse(read_text_file((d / "config.json").string()));
  j["hidden_act"] = "relu";
  hfx::testing::write_bytes(other.file("config.json"), j.dump());
  for (const std::string& p : {other.file("config.json"), other.path().string()}) {
    LoadOptions po;
    po.config_path = p;
    LoadedModel m = load_pretrained(d.string(), "", po);
    EXPECT_EQ(m.model->config().get<std::string>("hidden_act", ""), "relu") << p;
  }
  LoadOptions missing;
  missing.config_path = other.file("nope.json");
  expect_error([&] { load_pretrained(d.string(), "", missing); }, ErrorKind::NotFound, {"nope.json"});
  // Auto classes use the same config.
  LoadingInfo info;
  auto m = AutoModelForSequenceClassification::from_pretrained(d.string(), o, &info);
  EXPECT_EQ(m->config().num_labels(), 5);
  EXPECT_EQ(info.mismatched.size(), 2u);
}

// A checkpoint that stores only the tied copy (lm_head.weight, no wte): the
// shared tensor is loaded from it and nothing is reported missing (transformers).
TEST(LoadOptions, TiedWeightStoredOnlyUnderItsTiedName) {
  const fs::path d = fixture("gpt2/tiny/GPT2LMHeadModel");
  LoadedModel ref = load_pretrained(d.string(), "GPT2LMHeadModel");
  NamedTensors sd;
  for (auto& [name, t] : read_all((d / "model.safetensors").string()))
    sd.emplace_back(name == "transformer.wte.weight" ? "lm_head.weight" : name, t);
  LoadOptions o;
  o.state_dict = sd;
  LoadedModel lm = load_pretrained(d.string(), "GPT2LMHeadModel", o);
  EXPECT_TRUE(lm.info.missing_keys.empty()) << lm.info.missing_keys.front();
  EXPECT_TRUE(lm.info.unexpected_keys.empty());
  EXPECT_EQ(max_abs_diff(logits(*lm.model), logits(*ref.model)), 0.0);
}
