// from_pretrained behaviour: resolution, prefixes, loading info, zero-copy
// binding, and the errors bad input must produce.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "test_util.h"

using namespace hfx;
using hfx::testing::expect_error;
using hfx::testing::fixtures_dir;
using hfx::testing::copy_dir;
using hfx::testing::TempDir;
using hfx::testing::write_bytes;
namespace fs = std::filesystem;

namespace {

fs::path fixture(const std::string& rel) { return fixtures_dir() / rel; }

nlohmann::json tiny_bert_config() {
  return {{"model_type", "bert"}, {"architectures", {"BertModel"}}, {"vocab_size", 50}, {"hidden_size", 16},
          {"num_hidden_layers", 1}, {"num_attention_heads", 2}, {"intermediate_size", 20},
          {"max_position_embeddings", 16}, {"a_field_hfx_does_not_know", {{"x", 1}}}};
}

[[maybe_unused]] long proc_status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
  return -1;
}

}  // namespace

TEST(Config, KeepsUnknownFieldsAndUsesClassDefaults) {
  TempDir dir;
  write_bytes(dir.file("config.json"), tiny_bert_config().dump());
  Config c = AutoConfig::from_pretrained(dir.path().string(), {{"hidden_act", "gelu_new"}});
  EXPECT_EQ(c.model_type(), "bert");
  EXPECT_EQ(c.get<int64_t>("hidden_size", 0), 16);
  EXPECT_EQ(c.get<double>("layer_norm_eps", 0), 1e-12);         // BertConfig default
  EXPECT_EQ(c.get<std::string>("hidden_act", ""), "gelu_new");   // caller override
  EXPECT_EQ(c.num_labels(), 2);
  auto round = nlohmann::json::parse(c.to_json_string());
  EXPECT_EQ(round["a_field_hfx_does_not_know"]["x"], 1);
  EXPECT_FALSE(round.contains("layer_norm_eps"));  // defaults are not invented into the file
  expect_error([&] { (void)c.get<int64_t>("a_field_hfx_does_not_know", 0); }, ErrorKind::Format, {"a_field_hfx_does_not_know"});
}

TEST(Config, Errors) {
  TempDir dir;
  expect_error([&] { AutoConfig::from_pretrained(dir.path().string()); }, ErrorKind::NotFound, {"config.json"});
  write_bytes(dir.file("config.json"), "{\"model_type\": \"bert\",");
  expect_error([&] { AutoConfig::from_pretrained(dir.path().string()); }, ErrorKind::Format, {"config.json", "invalid JSON"});
  write_bytes(dir.file("config.json"), R"({"model_type": "no-such-model"})");
  expect_error([&] { AutoConfig::from_pretrained(dir.path().string()); }, ErrorKind::Unsupported,  // issue 18
               {"no-such-model", "supported", "bert", "roberta", "distilbert", "albert", "electra", "xlm-roberta", "camembert", "qwen2", "gemma", "olmo", "starcoder2", "gpt_neox", "stablelm", "phi", "phi3",
                "gemma2", "mixtral", "qwen2_moe", "gptj", "opt", "falcon", "bloom"});
  write_bytes(dir.file("config.json"), R"({"hidden_size": 3})");
  expect_error([&] { AutoConfig::from_pretrained(dir.path().string()); }, ErrorKind::Format, {"model_type"});
  auto bad = tiny_bert_config();
  bad["num_attention_heads"] = 3;
  write_bytes(dir.file("config.json"), bad.dump());
  expect_error([&] { build_model(AutoConfig::from_pretrained(dir.path().string()), "BertModel"); },
               ErrorKind::InvalidArgument, {"not a multiple"});
  bad = tiny_bert_config();
  bad["hidden_act"] = "swishy";
  write_bytes(dir.file("config.json"), bad.dump());
  expect_error([&] { build_model(AutoConfig::from_pretrained(dir.path().string()), "BertModel"); },
               ErrorKind::Unsupported, {"swishy"});
}

TEST(Registry, EveryClassBuildsFromATinyConfig) {
  for (const auto& arch : architectures()) {
    nlohmann::json f = tiny_bert_config();
    f["model_type"] = arch.model_type;
    f.update({{"dim", 16}, {"n_layers", 1}, {"n_heads", 2}, {"hidden_dim", 20}, {"embedding_size", 8},
              {"n_embd", 16}, {"n_layer", 1}, {"n_head", 2}, {"n_positions", 16}, {"num_key_value_heads", 1},
              {"cutoffs", {2, 4}} /* transfo-xl: within the tiny vocabulary */,
              {"rotary_dim", 4} /* gptj: within the 8-dim heads */});
    Config c(f, arch.config_defaults);
    for (const auto& [name, builder] : arch.classes) {
      auto m = builder(c);
      EXPECT_EQ(m->class_name(), name);
      EXPECT_GT(m->params().size(), 0u) << name;
    }
    for (const auto& [auto_name, cls] : arch.auto_classes) EXPECT_EQ(auto_class_for(c, auto_name), cls);
  }
  Config c(tiny_bert_config(), architecture("bert").config_defaults);
  expect_error([&] { build_model(c, "BertForImageClassification"); }, ErrorKind::NotFound, {"BertForImageClassification", "BertModel"});
  Config d({{"model_type", "distilbert"}}, architecture("distilbert").config_defaults);
  expect_error([&] { auto_class_for(d, "AutoModelForCausalLM"); }, ErrorKind::NotFound, {"AutoModelForCausalLM", "distilbert"});
}

TEST(Loading, AutoClassesPickTheHead) {
  auto m = AutoModelForMaskedLM::from_pretrained(fixture("bert/tiny/BertForMaskedLM").string());
  EXPECT_EQ(m->class_name(), "BertForMaskedLM");
  LoadingInfo info;
  auto q = AutoModelForQuestionAnswering::from_pretrained(fixture("roberta/tiny/RobertaForQuestionAnswering").string(), {}, &info);
  EXPECT_EQ(q->class_name(), "RobertaForQuestionAnswering");
  EXPECT_TRUE(info.missing_keys.empty());
}

// transformers' base_model_prefix logic: a base model from a head checkpoint
// drops the head's keys (unexpected); a head model from a base checkpoint
// starts its head fresh (missing).
TEST(Loading, PrefixAddAndRemove) {
  LoadedModel base = load_pretrained(fixture("bert/tiny/BertForMaskedLM").string(), "BertModel");
  EXPECT_FALSE(base.info.unexpected_keys.empty());
  for (const auto& k : base.info.unexpected_keys) EXPECT_EQ(k.rfind("cls.", 0), 0u) << k;
  // MaskedLM has no pooler; missing keys are named in the checkpoint's namespace, as transformers does.
  for (const auto& k : base.info.missing_keys) EXPECT_EQ(k.rfind("bert.pooler.", 0), 0u) << k;
  LoadedModel head = load_pretrained(fixture("bert/tiny/BertModel").string(), "BertForSequenceClassification");
  EXPECT_EQ(head.info.missing_keys, (std::vector<std::string>{"classifier.bias", "classifier.weight"}));
  EXPECT_TRUE(head.info.unexpected_keys.empty());
  // Encoder weights really came from the checkpoint (same values as the base model's).
  LoadedModel ref = load_pretrained(fixture("bert/tiny/BertModel").string(), "BertModel");
  EXPECT_EQ(max_abs_diff(head.model->params().value("bert.encoder.layer.0.output.dense.weight"),
                         ref.model->params().value("encoder.layer.0.output.dense.weight")), 0.0);
}

TEST(Loading, LegacyGammaBetaNames) {
  TempDir dir;
  copy_dir(fixture("bert/tiny/BertModel"), dir.path());
  auto src = open_safetensors(fixture("bert/tiny/BertModel/model.safetensors").string());
  std::vector<std::pair<std::string, Tensor>> renamed;
  for (const auto& e : src->entries()) {
    std::string n = e.name;
    if (n.size() > 16 && n.compare(n.size() - 16, 16, "LayerNorm.weight") == 0) n.replace(n.size() - 6, 6, "gamma");
    if (n.size() > 14 && n.compare(n.size() - 14, 14, "LayerNorm.bias") == 0) n.replace(n.size() - 4, 4, "beta");
    renamed.emplace_back(n, src->get(e.name));
  }
  write_safetensors(dir.file("model.safetensors"), renamed);
  LoadedModel lm = load_pretrained(dir.path().string(), "BertModel");
  EXPECT_TRUE(lm.info.missing_keys.empty());
  EXPECT_TRUE(lm.info.unexpected_keys.empty());
}

TEST(Loading, BadCheckpoints) {
  TempDir dir;
  copy_dir(fixture("bert/tiny/BertModel"), dir.path());
  auto src = open_safetensors(fixture("bert/tiny/BertModel/model.safetensors").string());
  // A tensor whose shape does not fit the architecture.
  std::vector<std::pair<std::string, Tensor>> ts;
  for (const auto& e : src->entries())
    ts.emplace_back(e.name, e.name == "encoder.layer.1.attention.self.key.weight" ? Tensor::zeros(DType::F32, {3, 3}) : src->get(e.name));
  write_safetensors(dir.file("model.safetensors"), ts);
  expect_error([&] { load_pretrained(dir.path().string(), "BertModel"); }, ErrorKind::Mismatch,
               {"model.safetensors", "encoder.layer.1.attention.self.key.weight", "[3, 3]"});
  LoadOptions ignore;
  ignore.ignore_mismatched_sizes = true;
  LoadedModel lm = load_pretrained(dir.path().string(), "BertModel", ignore);
  ASSERT_EQ(lm.info.mismatched_keys.size(), 1u);
  // A missing tensor and an unexpected one.
  ts.clear();
  for (const auto& e : src->entries())
    if (e.name != "pooler.dense.bias") ts.emplace_back(e.name, src->get(e.name));
  ts.emplace_back("encoder.layer.9.surprise", Tensor::zeros(DType::F32, {2}));
  write_safetensors(dir.file("model.safetensors"), ts);
  lm = load_pretrained(dir.path().string(), "BertModel");
  EXPECT_EQ(lm.info.missing_keys, std::vector<std::string>{"pooler.dense.bias"});
  EXPECT_EQ(lm.info.unexpected_keys, std::vector<std::string>{"encoder.layer.9.surprise"});
  LoadOptions strict;
  strict.strict = true;
  expect_error([&] { load_pretrained(dir.path().string(), "BertModel", strict); }, ErrorKind::NotFound, {"pooler.dense.bias"});
  // An integer tensor where a weight belongs.
  ts.clear();
  for (const auto& e : src->entries())
    ts.emplace_back(e.name, e.name == "pooler.dense.bias" ? src->get(e.name).to(DType::I32) : src->get(e.name));
  write_safetensors(dir.file("model.safetensors"), ts);
  expect_error([&] { load_pretrained(dir.path().string(), "BertModel"); }, ErrorKind::Mismatch, {"pooler.dense.bias", "int32"});
  // Truncated weights file.
  std::string bytes = read_text_file(fixture("bert/tiny/BertModel/model.safetensors").string());
  write_bytes(dir.file("model.safetensors"), bytes.substr(0, bytes.size() / 2));
  expect_error([&] { load_pretrained(dir.path().string(), "BertModel"); }, ErrorKind::Format, {"model.safetensors"});
  // No weights at all / only TF weights.
  fs::remove(dir.file("model.safetensors"));
  expect_error([&] { load_pretrained(dir.path().string(), "BertModel"); }, ErrorKind::NotFound, {"no file named"});
  write_bytes(dir.file("tf_model.h5"), "x");
  expect_error([&] { load_pretrained(dir.path().string(), "BertModel"); }, ErrorKind::NotFound, {"from_tf"});
  expect_error([&] { load_pretrained((dir.path() / "nope").string(), ""); }, ErrorKind::NotFound, {"nope"});
}

TEST(Loading, BadInputs) {
  LoadedModel lm = load_pretrained(fixture("bert/tiny/BertModel").string(), "");
  ModelInputs in;
  expect_error([&] { lm.model->forward(in); }, ErrorKind::InvalidArgument, {"input_ids"});
  in.input_ids = Tensor::from_vector<int64_t>(DType::I64, {1, 3}, {1, 2, 100000});
  expect_error([&] { lm.model->forward(in); }, ErrorKind::InvalidArgument, {"word_embeddings", "100000"});
  in.input_ids = Tensor::from_vector<int64_t>(DType::I64, {1, 3}, {1, 2, 3});
  in.attention_mask = Tensor::from_vector<int64_t>(DType::I64, {1, 2}, {1, 1});
  expect_error([&] { lm.model->forward(in); }, ErrorKind::Mismatch, {"attention_mask"});
  in.attention_mask = Tensor();
  in.input_ids = Tensor::zeros(DType::I64, {1, 1000});
  expect_error([&] { lm.model->forward(in); }, ErrorKind::InvalidArgument, {"max_position_embeddings"});
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__has_feature)
#define HFX_NO_ASAN 1
#elif defined(__has_feature)
#if !__has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define HFX_NO_ASAN 1
#endif
#endif

// Loading a safetensors model whose dtype matches is zero-copy: every
// parameter is a view of the mapped file, and peak RSS grows by at most 64 MB
// over the file size (a copying loader would need twice the file).
TEST(Loading, ZeroCopyPeakRss) {
#ifndef HFX_NO_ASAN
  GTEST_SKIP() << "RSS is meaningless under AddressSanitizer";
#else
  TempDir dir;
  nlohmann::json cfg = {{"model_type", "bert"}, {"vocab_size", 30522}, {"hidden_size", 768}, {"num_hidden_layers", 6},
                        {"num_attention_heads", 12}, {"intermediate_size", 3072}, {"max_position_embeddings", 512}};
  write_bytes(dir.file("config.json"), cfg.dump());
  {
    auto skeleton = build_model(Config(cfg, architecture("bert").config_defaults), "BertModel");
    std::vector<std::pair<std::string, Tensor>> ts;
    for (const auto& s : skeleton->params().specs()) ts.emplace_back(s.name, Tensor::zeros(DType::F32, s.shape));
    write_safetensors(dir.file("model.safetensors"), ts);
  }
  const auto file_size = static_cast<long>(fs::file_size(dir.file("model.safetensors")));
  ASSERT_GE(file_size, 200L << 20);
  std::ofstream("/proc/self/clear_refs") << "5";  // reset VmHWM to the current RSS
  const long base_kb = proc_status_kb("VmHWM:");
  ASSERT_GT(base_kb, 0);
  LoadedModel lm = load_pretrained(dir.path().string(), "BertModel");
  EXPECT_EQ(lm.info.converted, 0u);
  EXPECT_EQ(lm.info.zero_copy, lm.model->params().size());
  for (std::size_t i = 0; i < lm.model->params().size(); ++i)
    EXPECT_FALSE(lm.model->params().value(i).storage()->owned()) << lm.model->params().specs()[i].name;
  ModelInputs in;
  in.input_ids = Tensor::from_vector<int64_t>(DType::I64, {1, 8}, {101, 7592, 2088, 102, 1, 2, 3, 4});
  lm.model->forward(in);  // touches every weight page
  const long peak_kb = proc_status_kb("VmHWM:");
  const long grew = (peak_kb - base_kb) * 1024;
  EXPECT_LE(grew, file_size + (64L << 20)) << "peak RSS grew " << (grew >> 20) << " MiB for a " << (file_size >> 20) << " MiB file";
#endif
}
