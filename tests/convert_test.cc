// hfx convert (transformers-cli convert) against the real converter's output
// committed beside each original checkpoint (tools/fixtures/tf1.py,
// tools/fixtures/tf1_finetune.py), and from_tf with a TF1 checkpoint.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/convert.h"
#include "hfx/formats.h"
#include "hfx/io.h"
#include "io/zip.h"
#include "naming/naming.h"
#include "test_util.h"

using namespace hfx;
using hfx::testing::expect_error;
using hfx::testing::fixtures_dir;
using hfx::testing::run_cli;
using hfx::testing::TempDir;
namespace fs = std::filesystem;

namespace {

struct Case {
  const char* type;
  const char* dir;         // under tests/fixtures
  const char* checkpoint;  // relative to dir
  const char* config;
  const char* task;
  const char* weights;     // the file the converter writes (relative to the output)
};

const Case kCases[] = {
    {"bert", "tf1/bert", "model.ckpt", "bert_config.json", "", "pytorch_model.bin"},
    {"albert", "tf1/albert", "model.ckpt", "albert_config.json", "", "pytorch_model.bin"},
    {"gpt", "tf1/gpt", "openai_checkpoint", "config.json", "", "pytorch_model.bin"},
    {"gpt2", "tf1/gpt2", "model.ckpt", "config.json", "", "pytorch_model.bin"},
    {"xlnet", "tf1/xlnet", "model.ckpt", "xlnet_config.json", "", "pytorch_model.bin"},
    {"xlnet", "tf1_ft/xlnet", "model.ckpt", "xlnet_config.json", "STS-B", "pytorch_model.bin"},
    {"t5", "tf1/t5", "model.ckpt", "config.json", "", "model.safetensors"},
    {"transfo_xl", "tf1/transfo_xl", "model.ckpt", "config.json", "", "pytorch_model.bin"},
    {"xlm", "tf1/xlm", "xlm_checkpoint.pth", "", "", "pytorch_model.bin"},
};

// The number of storage records ("<archive>/data/<key>") in a torch.save zip.
std::size_t storage_records(const fs::path& file) {
  zip::ZipReader z(MappedFile::open(file.string()));
  std::size_t n = 0;
  for (const auto& e : z.entries()) n += e.name.find("/data/") != std::string::npos;
  return n;
}

// Same names, dtypes, shapes and bytes.
void expect_same_tensors(const TensorSource& want, const TensorSource& got, const std::string& what) {
  std::set<std::string> a, b;
  for (const auto& e : want.entries()) a.insert(e.name);
  for (const auto& e : got.entries()) b.insert(e.name);
  EXPECT_EQ(a, b) << what;
  for (const auto& n : a) {
    if (!b.count(n)) continue;
    const Tensor x = want.get(n), y = got.get(n);
    ASSERT_EQ(x.dtype(), y.dtype()) << what << " " << n;
    ASSERT_EQ(x.shape(), y.shape()) << what << " " << n;
    const Tensor cx = x.contiguous(), cy = y.contiguous();
    EXPECT_EQ(std::memcmp(cx.raw(), cy.raw(), cx.nbytes()), 0) << what << " " << n << " differs";
  }
}

ConvertOptions options(const Case& c, const fs::path& out) {
  const fs::path d = fixtures_dir() / c.dir;
  ConvertOptions o;
  o.model_type = c.type;
  o.tf_checkpoint = (d / c.checkpoint).string();
  o.config = c.config[0] ? (d / c.config).string() : std::string();
  o.finetuning_task = c.task;
  const bool file_output = std::string(c.type) == "bert" || std::string(c.type) == "albert";
  o.output = file_output ? (out / "pytorch_model.bin").string() : out.string();
  return o;
}

}  // namespace

TEST(Convert, EveryTypeEqualsTheReferenceConverterBitwise) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(std::string(c.dir) + (c.task[0] ? std::string(" task ") + c.task : ""));
    const fs::path exp = fixtures_dir() / c.dir / "expected";
    TempDir out;
    ConvertResult r = convert_original_checkpoint(options(c, out.path()));
    auto want = open_checkpoint((exp / c.weights).string());
    auto got = open_checkpoint(out.file(c.weights));
    expect_same_tensors(*want, *got, c.dir);
    EXPECT_EQ(r.tensors, want->entries().size());
    // Tied weights share one storage, as in the reference's torch.save file: as many data records.
    if (std::string(c.weights) == "pytorch_model.bin") {
      EXPECT_EQ(storage_records(exp / c.weights), storage_records(out.file(c.weights)));
    }
    // config.json: the converters of bert/albert write none, as here.
    const bool writes_config = fs::exists(out.path() / "config.json");
    EXPECT_EQ(writes_config, std::string(c.type) != "bert" && std::string(c.type) != "albert");
    if (writes_config) {
      EXPECT_EQ(nlohmann::json::parse(read_text_file(out.file("config.json"))),
                nlohmann::json::parse(read_text_file((exp / "config.json").string())));
    }
    if (fs::exists(exp / "vocab.json")) {
      EXPECT_EQ(nlohmann::json::parse(read_text_file(out.file("vocab.json"))),
                nlohmann::json::parse(read_text_file((exp / "vocab.json").string())));
    }
    if (fs::exists(exp / "generation_config.json")) {
      EXPECT_EQ(nlohmann::json::parse(read_text_file(out.file("generation_config.json"))),
                nlohmann::json::parse(read_text_file((exp / "generation_config.json").string())));
    }
  }
}

TEST(Convert, SkipsOptimizerSlotsAndGlobalStepOnly) {
  TempDir out;
  ConvertResult r = convert_original_checkpoint(options(kCases[0], out.path()));
  EXPECT_EQ(r.skipped.size(), 13u);  // 6 x (adam_m, adam_v) + global_step, as the fixture wrote them
  for (const auto& s : r.skipped)
    EXPECT_TRUE(s == "global_step" || s.find("/adam_") != std::string::npos) << s;
}

TEST(Convert, SafetensorsFlagWritesTheSameTensors) {
  for (const Case& c : {kCases[0], kCases[4]}) {
    TempDir out;
    ConvertOptions o = options(c, out.path());
    o.safetensors = true;
    convert_original_checkpoint(o);
    auto got = open_safetensors(out.file("model.safetensors"));
    auto want = open_safetensors((fixtures_dir() / c.dir / "expected/model.safetensors").string());
    expect_same_tensors(*want, *got, c.dir);
  }
}

TEST(Convert, UnknownVariableIsAnErrorNamingIt) {
  auto src = open_tf1_checkpoint((fixtures_dir() / "tf1/bert/model.ckpt").string());
  std::vector<TensorInfo> vars = src->entries();
  vars.push_back({"bert/encoder/layer_0/attention/self/query/kernal", DType::F32, {16, 16}});
  const json cfg = json::parse(read_text_file((fixtures_dir() / "tf1/bert/bert_config.json").string()));
  expect_error([&] { naming::tf1_plan("bert", cfg, vars); }, ErrorKind::Unsupported,
               {"bert/encoder/layer_0/attention/self/query/kernal", "name table"});
  // A missing parameter is an error too (the reference would leave it random).
  std::vector<TensorInfo> fewer;
  for (const auto& v : src->entries())
    if (v.name != "bert/pooler/dense/bias") fewer.push_back(v);
  expect_error([&] { naming::tf1_plan("bert", cfg, fewer); }, ErrorKind::NotFound, {"bert.pooler.dense.bias"});
}

TEST(Convert, BadArgumentsAreTypedErrors) {
  TempDir out;
  ConvertOptions o = options(kCases[0], out.path());
  o.model_type = "roberta";
  expect_error([&] { convert_original_checkpoint(o); }, ErrorKind::InvalidArgument, {"roberta"});
  o = options(kCases[4], out.path());
  o.finetuning_task = "squad";
  expect_error([&] { convert_original_checkpoint(o); }, ErrorKind::Unsupported, {"squad"});
  // The XLM dump's numpy objects are accepted only there: a plain torch.load path still refuses them.
  expect_error([&] { open_torch_zip((fixtures_dir() / "tf1/xlm/xlm_checkpoint.pth").string()); }, ErrorKind::Security, {"numpy"});
  o = options(kCases[0], out.path());
  o.tf_checkpoint += "-missing";
  EXPECT_THROW(convert_original_checkpoint(o), Error);
}

TEST(Convert, CommandLineLikeTransformersCli) {
  TempDir out;
  const fs::path d = fixtures_dir() / "tf1/gpt2";
  auto r = run_cli("convert --model_type gpt2 --tf_checkpoint " + (d / "model.ckpt").string() + " --config " +
                   (d / "config.json").string() + " --pytorch_dump_output " + out.path().string());
  ASSERT_EQ(r.status, 0) << r.out;
  expect_same_tensors(*open_checkpoint((d / "expected/pytorch_model.bin").string()), *open_checkpoint(out.file("pytorch_model.bin")), "gpt2");
  auto bad = run_cli("convert --model_type gpt2 --tf_checkpoint " + (d / "nope").string() + " --config " + (d / "config.json").string() +
                     " --pytorch_dump_output " + out.path().string());
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("nope"), std::string::npos) << bad.out;
}

TEST(Convert, OpenAINpyHeaderRejectsMalformedInput) {
  TempDir dir;
  const std::string good = std::string("\x93NUMPY\x01\x00", 8) + std::string("\x46\x00", 2) +
                           "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }" + std::string(12, ' ') + "\n" +
                           std::string(8, '\0');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"magic", "XNUMPY" + good.substr(6)},
      {"header length", good.substr(0, 20)},
      {"dtype", [&] { std::string s = good; s.replace(s.find("<f4"), 3, ">f4"); return s; }()},
      {"fortran", [&] { std::string s = good; s.replace(s.find("False"), 5, "True "); return s; }()},
      {"past the end", good.substr(0, good.size() - 1)},
      {"shape", [&] { std::string s = good; s.replace(s.find("(2,)"), 4, "(9999999999999999999,)"); return s; }()},
  };
  for (const auto& [what, bytes] : cases) {
    fs::create_directories(dir.path() / what);
    hfx::testing::write_bytes((dir.path() / what / "params_0.npy").string(), bytes);
    hfx::testing::write_bytes((dir.path() / what / "parameters_names.json").string(), "[\"a\"]");
    hfx::testing::write_bytes((dir.path() / what / "params_shapes.json").string(), "[[2]]");
    EXPECT_THROW(open_openai_npy_folder((dir.path() / what).string()), Error) << what;
  }
  fs::create_directories(dir.path() / "ok");
  hfx::testing::write_bytes((dir.path() / "ok/params_0.npy").string(), good);
  hfx::testing::write_bytes((dir.path() / "ok/parameters_names.json").string(), "[\"a\"]");
  hfx::testing::write_bytes((dir.path() / "ok/params_shapes.json").string(), "[[2]]");
  EXPECT_EQ(open_openai_npy_folder((dir.path() / "ok").string())->get("a").numel(), 2);
  hfx::testing::write_bytes((dir.path() / "ok/params_shapes.json").string(), "[[3]]");
  expect_error([&] { open_openai_npy_folder((dir.path() / "ok").string()); }, ErrorKind::Format, {"params_shapes.json"});
}

TEST(FromTf, BertTf1CheckpointLoadsWithAConfig) {
  const fs::path d = fixtures_dir() / "tf1/bert";
  json cfg = json::parse(read_text_file((d / "bert_config.json").string()));
  cfg["model_type"] = "bert";  // the original release's bert_config.json has none
  LoadOptions o;
  o.from_tf = true;
  o.config = Config::from_json(cfg);
  o.strict = true;
  for (const std::string& path : {(d / "model.ckpt").string(), (d / "model.ckpt.index").string()}) {
    LoadedModel tf = load_pretrained(path, "BertForPreTraining", o);
    EXPECT_TRUE(tf.info.missing_keys.empty());
    EXPECT_TRUE(tf.info.unexpected_keys.empty()) << tf.info.unexpected_keys.front();
    LoadedModel pt = load_pretrained((d / "expected").string(), "BertForPreTraining");
    ModelInputs in;
    in.input_ids = Tensor::from_vector(DType::I64, {2, 5}, std::vector<int64_t>{1, 5, 9, 12, 3, 7, 2, 39, 0, 4});
    in.output_hidden_states = true;
    Outputs a = tf.model->forward(in), b = pt.model->forward(in);
    ASSERT_FALSE(a.items().empty());
    for (const auto& [name, t] : a.items()) EXPECT_EQ(max_abs_diff(t, b.get(name)), 0.0) << name;
  }
  // The base model from the same checkpoint (the "bert." prefix is removed; the heads are unused).
  LoadOptions base = o;
  base.strict = true;
  LoadedModel m = load_pretrained((d / "model.ckpt").string(), "BertModel", base);
  EXPECT_TRUE(m.info.missing_keys.empty());
}
