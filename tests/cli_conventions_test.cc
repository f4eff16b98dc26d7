// The CLI's conventions (issue 20): --version, exit codes, unknown verbs, literal text, framework
// auto-detection for folders and weight files, --json with round-trip floats, --dtype, --threads, kebab-case
// flags, generation that keeps generation_config.json and validates like transformers, --stop, streaming
// export, and transformers' loading warnings with their verbosity switches and the library's log callback.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/io.h"
#include "hfx/log.h"
#include "hfx/version.h"
#include "test_util.h"

namespace hfx {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_cli;

const fs::path kBert = testing::fixtures_dir() / "bert/tiny/BertModel";
const fs::path kGen = testing::fixtures_dir() / "tokenizers/cli-generate";

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

TEST(CliConventions, VersionHelpExitCodesAndUnknownVerbs) {
  auto r = run_cli("--version");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find(std::string("hfx ") + kVersion), std::string::npos) << r.out;
  // the version in the header is the project's
  const std::string cmake = slurp(testing::source_dir() / "CMakeLists.txt");
  EXPECT_NE(cmake.find(std::string("project(hfx VERSION ") + kVersion + " "), std::string::npos);
  r = run_cli("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("Exit codes"), std::string::npos) << r.out;
  r = run_cli("frobnicate");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("unknown command 'frobnicate'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("embed"), std::string::npos) << r.out;  // the verbs are listed
  r = run_cli("info " + kBert.string() + " --no-such-flag");
  EXPECT_EQ(r.status, 2) << r.out;
  r = run_cli("info /no/such/dir");
  EXPECT_EQ(r.status, 10) << r.out;  // NotFound
  r = run_cli("info " + kBert.string() + " --threads 0");
  EXPECT_EQ(r.status, 2) << r.out;
  r = run_cli("info " + kBert.string() + " --threads 1");
  EXPECT_EQ(r.status, 0) << r.out;
}

TEST(CliConventions, TextIsTakenLiterally) {
  const auto dir = testing::fixtures_dir() / "tokenizers/bert-uncased";
  auto r = run_cli("tokenize " + dir.string() + " '[MASK]' --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["tokens"], json({"[CLS]", "[MASK]", "[SEP]"})) << r.out;
  r = run_cli("tokenize " + dir.string() + " '[a,b]' --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(json::parse(r.out)["decoded"], "[ a, b ]") << r.out;
}

TEST(CliConventions, InfoOnTfOnlyFlaxOnlyFoldersAndEveryWeightFile) {
  testing::TempDir tmp;
  for (const char* f : {"tf_model.h5", "flax_model.msgpack"}) {
    const fs::path d = tmp.path() / f;
    fs::create_directories(d);
    fs::copy_file(kBert / "config.json", d / "config.json");
    fs::copy_file(kBert / f, d / f);
    auto r = run_cli("info " + d.string());
    ASSERT_EQ(r.status, 0) << f << ": " << r.out;
    EXPECT_NE(r.out.find("model_type:   bert"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find((d / f).string()), std::string::npos) << r.out;
    r = run_cli("run " + d.string() + " --input-ids 1,2,3");
    ASSERT_EQ(r.status, 0) << f << ": " << r.out;
  }
  for (const char* f : {"model.safetensors", "tf_model.h5", "flax_model.msgpack"}) {
    auto r = run_cli("info " + (kBert / f).string() + " --json");
    ASSERT_EQ(r.status, 0) << f << ": " << r.out;
    const json j = json::parse(r.out);
    EXPECT_EQ(j["model_type"], "bert");
    EXPECT_EQ(j["files"][0]["path"], (kBert / f).string());
  }
}

TEST(CliConventions, JsonFloatsRoundTrip) {
  auto r = run_cli("run " + kBert.string() + " --input-ids 1,2,3 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const json j = json::parse(r.out);
  auto lm = load_pretrained(kBert.string(), "");
  ModelInputs in;
  in.input_ids = Tensor::from_vector<int64_t>(DType::I64, {1, 3}, {1, 2, 3});
  const Tensor h = lm.model->forward(in).get("last_hidden_state");
  const auto& data = j["outputs"]["last_hidden_state"]["data"];
  ASSERT_EQ(static_cast<int64_t>(data.size()), h.numel());
  for (int64_t i = 0; i < h.numel(); ++i) ASSERT_EQ(static_cast<float>(data[static_cast<std::size_t>(i)].get<double>()), static_cast<float>(h.item(i))) << i;
  // every verb takes --json
  r = run_cli("info " + kBert.string() + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(json::parse(r.out)["class"], "BertModel");
  testing::TempDir tmp;
  r = run_cli("--json resize " + kBert.string() + " --new-num-tokens 101 --out " + (tmp.path() / "r").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(json::parse(r.out)["config"]["vocab_size"], 101);
}

TEST(CliConventions, DtypeFlag) {
  const fs::path bf16 = kBert / "bf16";
  auto r = run_cli("info " + bf16.string() + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(json::parse(r.out)["dtypes"].contains("float32")) << r.out;  // transformers' default widens
  r = run_cli("info " + bf16.string() + " --json --dtype auto");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(json::parse(r.out)["dtypes"].contains("bfloat16")) << r.out;
  r = run_cli("info " + kBert.string() + " --json --dtype float16");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(json::parse(r.out)["dtypes"].contains("float16")) << r.out;
  r = run_cli("info " + kBert.string() + " --dtype float8");
  EXPECT_EQ(r.status, 2) << r.out;
}

TEST(CliConventions, ConvertTakesKebabCaseAndSnakeCaseFlags) {
  for (const char* flag : {"--model-type", "--model_type"}) {
    auto r = run_cli(std::string("convert ") + flag + " bert");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find("tf-checkpoint"), std::string::npos) << r.out;  // the next missing flag, not an unknown one
  }
}

TEST(CliConventions, StreamingExport) {
  testing::TempDir tmp;
  const fs::path out = tmp.path() / "st";
  auto r = run_cli("export " + (kBert / "tf_model.h5").string() + " --to safetensors --streaming --out " + out.string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(out / "model.safetensors"));
  r = run_cli("diff " + kBert.string() + " " + out.string() + " --weights");
  EXPECT_EQ(r.status, 0) << r.out;
  r = run_cli("export " + kBert.string() + " --to tf --streaming --out " + out.string());
  EXPECT_EQ(r.status, 17) << r.out;
  // diff and export speak JSON too
  r = run_cli("diff " + kBert.string() + " " + out.string() + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(json::parse(r.out)["differ"], false) << r.out;
  r = run_cli("export " + kBert.string() + " --to flax --json --out " + (tmp.path() / "fx").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_LE(json::parse(r.out)["max_error"].get<double>(), 5e-5) << r.out;
}

// Progress bars (tqdm's layout) on export, streaming export and convert when stderr is a terminal; none
// with --no-progress, HF_HUB_DISABLE_PROGRESS_BARS=1, or off a terminal.
TEST(CliConventions, ProgressBarsOnExportAndConvert) {
  testing::TempDir tmp;
  auto bar = [](const std::string& out, const std::string& name) {
    return out.find(name) != std::string::npos && out.find("100%|####################|") != std::string::npos &&
           out.find("B/s]") != std::string::npos;
  };
  auto r = testing::run_cli_tty("export " + kBert.string() + " --to flax --out " + (tmp.path() / "fx").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(bar(r.out, "Saving flax_model.msgpack")) << r.out;
  r = testing::run_cli_tty("export " + kBert.string() + " --to pt --max-shard-size 20KB --out " + (tmp.path() / "pt").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("shards of pytorch_model.bin"), std::string::npos) << r.out;
  EXPECT_TRUE(bar(r.out, "Saving")) << r.out;
  r = testing::run_cli_tty("export " + kBert.string() + " --to safetensors --streaming --out " + (tmp.path() / "st").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(bar(r.out, "Converting BertModel")) << r.out;
  const fs::path tf1 = testing::fixtures_dir() / "tf1/gpt2";
  const std::string conv = "convert --model_type gpt2 --tf_checkpoint " + (tf1 / "model.ckpt").string() + " --config " +
                           (tf1 / "config.json").string() + " --pytorch_dump_output " + (tmp.path() / "cv").string();
  r = testing::run_cli_tty(conv);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(bar(r.out, "Converting gpt2")) << r.out;
  // Off: the flag, the environment, a pipe.
  r = testing::run_cli_tty("--no-progress " + conv);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find("%|"), std::string::npos) << r.out;
  r = testing::run_cli_tty(conv, "HF_HUB_DISABLE_PROGRESS_BARS=1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find("%|"), std::string::npos) << r.out;
  r = run_cli(conv);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find("%|"), std::string::npos) << r.out;
}

TEST(CliConventions, GenerateKeepsGenerationConfigAndValidates) {
  testing::TempDir tmp;
  const fs::path d = tmp.path() / "gen";
  testing::copy_dir(kGen, d);
  json gc = json::parse(slurp(d / "generation_config.json"));
  gc["max_new_tokens"] = 3;
  std::ofstream(d / "generation_config.json") << gc.dump(2);
  const std::string before = slurp(d / "generation_config.json");
  auto r = run_cli("generate " + d.string() + " --input-ids 1080,568 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(json::parse(r.out)["ids"].size(), 5u) << r.out;  // 2 + generation_config's 3, not the CLI's 20
  EXPECT_EQ(slurp(d / "generation_config.json"), before);
  r = run_cli("generate " + d.string() + " --input-ids 1080,568 --max-new-tokens 4 --json");
  EXPECT_EQ(json::parse(r.out)["ids"].size(), 6u) << r.out;
  r = run_cli("generate " + d.string() + " --prompt hi --do-sample --temperature 0");
  EXPECT_EQ(r.status, 17) << r.out;
  EXPECT_NE(r.out.find("`temperature` (=0.0) has to be a strictly positive float"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("set `do_sample=False`"), std::string::npos) << r.out;
  r = run_cli("generate " + d.string() + " --prompt hi --do-sample --top-p 2");
  EXPECT_EQ(r.status, 17) << r.out;
  EXPECT_NE(r.out.find("`top_p` has to be a float > 0 and < 1, but is 2"), std::string::npos) << r.out;
  r = run_cli("generate " + d.string() + " --prompt hi --do-sample --top-k -1");
  EXPECT_EQ(r.status, 17) << r.out;
  // greedy with a temperature: transformers' UserWarning, logged
  r = run_cli("generate " + d.string() + " --prompt hi --temperature 0.5");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("`do_sample` is set to `False`. However, `temperature` is set to `0.5`"), std::string::npos) << r.out;
}

TEST(CliConventions, GenerateStreamsAndStopsAtStopStrings) {
  const json ref = json::parse(slurp(kGen / "expected_generate.json"));
  const std::string prompt = ref["prompt"];
  auto r = run_cli("generate " + kGen.string() + " --prompt '" + prompt + "' --max-new-tokens 8");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("text: " + ref["greedy_text"].get<std::string>() + "\n"), std::string::npos) << r.out;
  r = run_cli("generate " + kGen.string() + " --prompt '" + prompt + "' --max-new-tokens 8 --stop 'also also' --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["text"], prompt + " also also");
  EXPECT_EQ(j["stopped"], true);
  EXPECT_EQ(j["ids"].size(), 7u);  // the prompt's 5 + 2: generation ended at the stop string
  r = run_cli("generate " + kGen.string() + " --prompt '" + prompt + "' --max-new-tokens 8 --stop 'also also'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("text: " + prompt + " also also\n"), std::string::npos) << r.out;
}

// transformers' "Some weights ... newly initialized" warning: for a head that is not in the checkpoint, and
// not otherwise; its verbosity switches; the library's log callback.
TEST(CliConventions, MissingWeightsWarning) {
  const std::string needle = "Some weights of BertForSequenceClassification were not initialized from the model checkpoint at " + kBert.string() +
                             " and are newly initialized: ['classifier.bias', 'classifier.weight']";
  auto r = run_cli("run " + kBert.string() + " --class BertForSequenceClassification --input-ids 1,2,3");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find(needle), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("You should probably TRAIN this model"), std::string::npos) << r.out;
  r = run_cli("run " + kBert.string() + " --input-ids 1,2,3");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find("Some weights"), std::string::npos) << r.out;
  r = run_cli("run " + kBert.string() + " --class BertForSequenceClassification --input-ids 1,2,3 --quiet");
  EXPECT_EQ(r.out.find("Some weights"), std::string::npos) << r.out;
  for (const char* env : {"HFX_VERBOSITY=error", "TRANSFORMERS_VERBOSITY=error"}) {
    const std::string cmd = std::string(env) + " " + HFX_CLI_PATH + " run " + kBert.string() + " --class BertForSequenceClassification --input-ids 1,2,3 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    pclose(p);
    EXPECT_EQ(out.find("Some weights"), std::string::npos) << env << ": " << out;
    EXPECT_NE(out.find("BertForSequenceClassification"), std::string::npos) << out;
  }
  // a checkpoint none of whose weights the model has: every parameter is newly initialized, and said so
  testing::TempDir tmp;
  fs::copy_file(kBert / "config.json", tmp.path() / "config.json");
  write_safetensors((tmp.path() / "model.safetensors").string(), {{"foo.weight", Tensor::zeros(DType::F32, {2, 2})}});
  r = run_cli("run " + tmp.path().string() + " --input-ids 1,2,3");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Some weights of BertModel were not initialized from the model checkpoint at " + tmp.path().string() +
                       " and are newly initialized: ['embeddings.LayerNorm.bias', "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("'pooler.dense.weight']"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Some weights of the model checkpoint at " + tmp.path().string() + " were not used when initializing BertModel: ['foo.weight']"),
            std::string::npos) << r.out;  // BertModel is the config's architecture: a warning
  // -v shows the info message of a complete load
  r = run_cli("run " + kBert.string() + " --input-ids 1,2,3 -v");
  EXPECT_NE(r.out.find("All the weights of BertModel were initialized from the model checkpoint at"), std::string::npos) << r.out;

  // The library: the callback receives the warning; unused weights of a head checkpoint loaded as the base
  // class are an info (the class is not the checkpoint's architecture), as transformers does.
  std::vector<std::pair<LogLevel, std::string>> got;
  set_log_callback([&](LogLevel l, std::string_view m) { got.emplace_back(l, std::string(m)); });
  load_pretrained(kBert.string(), "BertForSequenceClassification");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, LogLevel::Warning);
  EXPECT_NE(got[0].second.find(needle), std::string::npos) << got[0].second;
  got.clear();
  load_pretrained(kBert.string(), "");
  EXPECT_TRUE(got.empty());
  set_verbosity(LogLevel::Info);
  load_pretrained((testing::fixtures_dir() / "bert/tiny/BertForMaskedLM").string(), "BertModel");
  set_verbosity(LogLevel::Warning);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0].first, LogLevel::Info);
  EXPECT_NE(got[0].second.find("Some weights of the model checkpoint at"), std::string::npos) << got[0].second;
  EXPECT_NE(got[0].second.find("were not used when initializing BertModel: ['cls."), std::string::npos) << got[0].second;
  set_log_callback({});
}

}  // namespace
}  // namespace hfx
