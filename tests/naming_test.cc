// The name maps of src/naming/ (framework names <-> canonical PyTorch names)
// tested alone, per architecture, on the key lists of the fixtures; models are
// skeletons built from each case's config.json and no weights are read:
// * TF2 (tf2.cc): params.json "tf" holds the names and shapes of transformers'
//   TF class (written by tools/fixtures); canonical -> TF2 gives exactly those,
//   and TF2 -> canonical lands every one on a parameter of the right shape and
//   covers every untied parameter.
// * Flax (flax.cc): the same against params.json "flax", both ways.
// * TF1 (tf1.cc): the variables listed in each original checkpoint's index
//   (tests/fixtures/tf1*/) -> exactly the names and shapes of the reference
//   converter's output (expected/), every variable used or skipped. hfx reads
//   TF1 checkpoints only, so that map has one direction.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/config.h"
#include "hfx/formats.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "naming/naming.h"
#include "test_util.h"

using namespace hfx;
using hfx::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// Architectures whose PyTorch -> TF rules (src/naming/tf2.cc arch_rules) are
// written and checked; other registered architectures are skipped with that
// reason (tests/keras_h5_test.cc skips its TF parity cases the same way).
const std::set<std::string> kTf2Archs = {"bert", "roberta", "distilbert", "albert", "electra", "gpt2", "openai-gpt", "mistral",
                                           "xlm", "xlnet", "transfo-xl", "bart", "t5", "xlm-roberta", "camembert"};

// One fixture case directory (<arch>/<variant>/<class>/) and the key lists
// its params.json holds ("state_dict", "tf", "flax"). Cases are listed in every
// test process (gtest registers all parameters before filtering), so the lists
// themselves are read only by the test that uses them (params()).
struct Case {
  std::string id, arch, cls;
  fs::path dir;
  std::set<std::string> lists;
};

// The top-level keys of a JSON object, read without building it (SAX).
std::set<std::string> top_level_keys(const fs::path& file) {
  struct Keys : nlohmann::json_sax<nlohmann::json> {
    std::set<std::string> keys;
    int depth = 0;
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return ++depth, true; }
    bool key(string_t& k) override {
      if (depth == 1) keys.insert(k);
      return true;
    }
    bool end_object() override { return --depth, true; }
    bool start_array(std::size_t) override { return ++depth, true; }
    bool end_array() override { return --depth, true; }
    bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception& e) override { throw e; }
  } sax;
  nlohmann::json::sax_parse(read_text_file(file.string()), &sax);
  return sax.keys;
}

// Every case directory with a params.json, of every registered architecture
// (all heads, all variants); listed once per process.
std::vector<Case> read_name_cases() {
  std::vector<Case> out;
  const fs::path root = hfx::testing::fixtures_dir();
  if (!fs::exists(root)) return out;
  for (const auto& arch : supported_model_types()) {
    if (!fs::exists(root / arch)) continue;
    for (const auto& variant : fs::directory_iterator(root / arch)) {
      if (!variant.is_directory()) continue;
      for (const auto& cls : fs::directory_iterator(variant.path())) {
        if (!fs::exists(cls.path() / "params.json")) continue;
        out.push_back({arch + "/" + variant.path().filename().string() + "/" + cls.path().filename().string(), arch,
                       cls.path().filename().string(), cls.path(), top_level_keys(cls.path() / "params.json")});
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const Case& a, const Case& b) { return a.id < b.id; });
  return out;
}
const std::vector<Case>& name_cases() {
  static const std::vector<Case> cases = read_name_cases();
  return cases;
}

// The cases whose params.json has `framework`'s key list ("tf", "flax"):
// transformers has that framework's class for them.
std::vector<Case> cases_with(const char* framework) {
  std::vector<Case> out;
  for (const auto& c : name_cases())
    if (c.lists.count(framework)) out.push_back(c);
  return out;
}

// The case's params.json: [name, shape] lists per framework.
nlohmann::json params(const Case& c) { return nlohmann::json::parse(read_text_file((c.dir / "params.json").string())); }

std::string case_name(const ::testing::TestParamInfo<Case>& p) {
  std::string n = p.param.id;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

const Case* find_case(const std::string& id) {
  for (const auto& c : name_cases())
    if (c.id == id) return &c;
  return nullptr;
}

// A TensorSource with names and shapes only: what a reader would list.
class NamesOnly final : public TensorSource {
 public:
  NamesOnly(std::string format, std::vector<TensorInfo> e) : format_(std::move(format)), entries_(std::move(e)) {}
  std::string format() const override { return format_; }
  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& entries() const override { return entries_; }
  Tensor get(const std::string& name) const override { return Tensor::zeros(info(name).dtype, info(name).shape); }

 private:
  std::string format_, path_ = "<names only>";
  std::vector<TensorInfo> entries_;
};

// A [name, shape] list of params.json as TensorInfos.
std::vector<TensorInfo> key_list(const nlohmann::json& list) {
  std::vector<TensorInfo> out;
  for (const auto& e : list) out.push_back({e[0].get<std::string>(), DType::F32, e[1].get<Shape>()});
  return out;
}

// The skeleton's parameters as zero tensors (tied ones included), as save_pretrained passes them.
NamedTensors zero_state_dict(const Model& m) {
  NamedTensors out;
  for (const auto& s : m.params().specs()) out.emplace_back(s.name, Tensor::zeros(DType::F32, s.shape));
  return out;
}

std::string drop_first(const std::string& n) { return n.substr(n.find('/') + 1); }

// ---- TF2 --------------------------------------------------------------------------
class Tf2Names : public ::testing::TestWithParam<Case> {};

TEST_P(Tf2Names, BothDirectionsMatchTransformers) {
  const Case& c = GetParam();
  if (!kTf2Archs.count(c.arch)) GTEST_SKIP() << c.arch << ": TF2 name rules not written for this architecture yet";
  const nlohmann::json p = params(c);
  auto model = build_model(AutoConfig::from_pretrained(c.dir.string()), c.cls);

  // canonical -> TF: exactly the TF class's weights (names after the model
  // name, shapes), and the model name is Keras' default for the TF class.
  NamedTensors tf = naming::canonical_to_tf2(zero_state_dict(*model), *model);
  // Weights a TF class creates outside its own scope (BART's "model.shared/...",
  // T5's "shared/...", BART's "final_logits_bias:0") are compared by full name.
  std::map<std::string, Shape> got, want;
  std::map<std::string, int> first_count;
  for (const auto& t : p["tf"]) ++first_count[t[0].get<std::string>().substr(0, t[0].get<std::string>().find('/'))];
  std::string want_model;
  for (const auto& [f, k] : first_count)
    if (want_model.empty() || k > first_count[want_model]) want_model = f;
  auto key = [](const std::string& n, bool in_scope) { return in_scope ? drop_first(n) : n; };
  for (const auto& t : p["tf"]) {
    const std::string n = t[0].get<std::string>();
    want[key(n, n.substr(0, n.find('/')) == want_model)] = t[1].get<Shape>();
  }
  for (const auto& [n, t] : tf) {
    const std::string m = n.substr(0, n.find('/'));
    const bool in_scope = std::regex_match(want_model, std::regex(m + "(_[0-9]+)?"));
    got[key(n, in_scope)] = t.shape();
    if (!in_scope) {
      EXPECT_TRUE(want.count(n)) << n << ": neither under " << want_model << " nor a weight the reference has";
    }
  }
  EXPECT_EQ(got, want) << c.id;

  // TF -> canonical: every TF weight lands on a parameter of the right shape
  // and every parameter that is not a tie is covered.
  auto src = naming::tf2_to_canonical(std::make_unique<NamesOnly>("tf_h5", key_list(p["tf"])), *model);
  std::set<std::string> mapped;
  for (const auto& e : src->entries()) {
    auto i = model->params().index_of(e.name);
    ASSERT_TRUE(i.has_value()) << c.id << ": TF weight maps to unknown " << e.name;
    EXPECT_EQ(e.shape, model->params().specs()[*i].shape) << c.id << " " << e.name;
    mapped.insert(e.name);
  }
  for (const auto& s : model->params().specs())
    if (s.tied_to.empty()) {
      EXPECT_TRUE(mapped.count(s.name)) << c.id << ": nothing maps to " << s.name;
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Tf2Names, ::testing::ValuesIn(cases_with("tf")), case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Tf2Names);

TEST(Tf2Names, KernelsTransposeAndNamesFollowTheRules) {
  const Case* bert = find_case("bert/tiny/BertForMaskedLM");
  if (!bert) GTEST_SKIP() << "no BertForMaskedLM fixture";
  auto model = build_model(AutoConfig::from_pretrained(bert->dir.string()), "BertForMaskedLM");
  const std::string q = "bert.encoder.layer.1.attention.self.query.weight";
  const Shape qs = model->params().specs()[*model->params().index_of(q)].shape;
  Tensor w = Tensor::zeros(DType::F32, qs);
  for (int64_t i = 0; i < w.numel(); ++i) w.mutable_data<float>()[i] = static_cast<float>(i);
  NamedTensors tf = naming::canonical_to_tf2({{q, w}, {"cls.predictions.transform.LayerNorm.bias", Tensor::zeros(DType::F32, {qs[0]})}}, *model);
  ASSERT_EQ(tf.size(), 2u);
  EXPECT_EQ(tf[0].first, "tf_bert_for_masked_lm/bert/encoder/layer_._1/attention/self/query/kernel:0");
  EXPECT_EQ(tf[0].second.item(1), w.item(qs[1]));  // [in, out]: element (0, 1) is PyTorch's (1, 0)
  EXPECT_EQ(tf[1].first, "tf_bert_for_masked_lm/mlm___cls/predictions/transform/LayerNorm/beta:0");
}

// ---- Flax -------------------------------------------------------------------------
class FlaxNames : public ::testing::TestWithParam<Case> {};

TEST_P(FlaxNames, MatchTransformersBothWays) {
  const Case& c = GetParam();
  const nlohmann::json p = params(c);
  auto model = build_model(AutoConfig::from_pretrained(c.dir.string()), c.cls);
  std::map<std::string, Shape> want;
  for (const auto& e : p["flax"]) want[e[0].get<std::string>()] = e[1].get<Shape>();

  // canonical -> Flax: every spec (tied ones included) in, exactly the Flax class's params out.
  std::map<std::string, Shape> got;
  for (const auto& [n, t] : naming::canonical_to_flax(zero_state_dict(*model), *model)) got[n] = t.shape();
  EXPECT_EQ(got, want) << c.id;

  // Flax -> canonical: the Flax class's params in, every untied spec out with its shape.
  auto src = naming::flax_to_canonical(std::make_unique<NamesOnly>("flax", key_list(p["flax"])), *model);
  std::map<std::string, Shape> canon, expect;
  for (const auto& e : src->entries()) canon[e.name] = e.shape;
  // Expected back: every spec that canonical_to_flax writes (untied, and present in the Flax class).
  for (const auto& s : model->params().specs())
    if (!naming::canonical_to_flax({{s.name, Tensor::zeros(DType::F32, s.shape)}}, *model).empty()) expect[s.name] = s.shape;
  EXPECT_EQ(canon, expect) << c.id;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FlaxNames, ::testing::ValuesIn(cases_with("flax")), case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(FlaxNames);

TEST(FlaxNames, TransposesKernelsAndCastsBf16) {
  const Case* bert = find_case("bert/tiny/BertModel");
  if (!bert) GTEST_SKIP() << "no bert/tiny/BertModel fixture";
  auto model = build_model(AutoConfig::from_pretrained(bert->dir.string()), "BertModel");
  Tensor k = Tensor::from_vector<float>(DType::F32, {32, 32}, std::vector<float>(1024));
  float* kp = k.mutable_data<float>();
  for (int i = 0; i < 1024; ++i) kp[i] = static_cast<float>(i % 251);  // exact in bf16
  NamedTensors in = {{"encoder.layer.0.attention.self.query.weight", k.to(DType::BF16)}};
  // A base-model PyTorch name for the base model, bf16 kept.
  NamedTensors fx = naming::canonical_to_flax(in, *model);
  ASSERT_EQ(fx.size(), 1u);
  EXPECT_EQ(fx[0].first, "encoder/layer/0/attention/self/query/kernel");
  EXPECT_EQ(fx[0].second.dtype(), DType::BF16);
  EXPECT_EQ(fx[0].second.item(1), k.item(32));  // transposed
  // And back: bf16 leaves come back as f32 (like transformers), transposed again.
  TempDir dir;
  write_flax_msgpack(dir.file("f.msgpack"), fx);
  auto src = naming::flax_to_canonical(open_flax_msgpack(dir.file("f.msgpack")), *model);
  ASSERT_EQ(src->entries().size(), 1u);
  EXPECT_EQ(src->entries()[0].dtype, DType::F32);
  Tensor back = src->get("encoder.layer.0.attention.self.query.weight");
  EXPECT_EQ(back.dtype(), DType::F32);
  EXPECT_EQ(max_abs_diff(back, k), 0.0);  // small integers are exact in bf16
}

TEST(FlaxNames, PrefixAddedAndRemoved) {
  const Case* base = find_case("bert/tiny/BertModel");
  const Case* head = find_case("bert/tiny/BertForMaskedLM");
  if (!base || !head) GTEST_SKIP() << "no bert fixtures";
  auto base_model = build_model(AutoConfig::from_pretrained(base->dir.string()), "BertModel");
  auto head_model = build_model(AutoConfig::from_pretrained(head->dir.string()), "BertForMaskedLM");
  const std::vector<TensorInfo> head_flax = key_list(params(*head)["flax"]), base_flax = key_list(params(*base)["flax"]);
  // Head checkpoint into the base model: "bert/" dropped, the head's params stay unexpected.
  auto a = naming::flax_to_canonical(std::make_unique<NamesOnly>("flax", head_flax), *base_model);
  EXPECT_TRUE(a->contains("encoder.layer.0.attention.self.query.weight"));
  EXPECT_TRUE(a->contains("cls.predictions.transform.dense.weight"));
  // Base checkpoint into the head model: every parameter gains "bert." (kernels too).
  auto b = naming::flax_to_canonical(std::make_unique<NamesOnly>("flax", base_flax), *head_model);
  EXPECT_TRUE(b->contains("bert.encoder.layer.0.attention.self.query.weight"));
  EXPECT_TRUE(b->contains("bert.embeddings.word_embeddings.weight"));
  EXPECT_TRUE(b->contains("bert.embeddings.LayerNorm.bias"));
  // A lone "params" root is looked through.
  std::vector<TensorInfo> rooted;
  for (const auto& e : base_flax) rooted.push_back({"params/" + e.name, e.dtype, e.shape});
  auto r = naming::flax_to_canonical(std::make_unique<NamesOnly>("flax", rooted), *base_model);
  EXPECT_TRUE(r->contains("pooler.dense.weight"));
}

// ---- TF1 (original-release checkpoints) -------------------------------------------
// One fixture directory tests/fixtures/tf1*/<convert type>/ (tools/fixtures/tf1_samples.py,
// tf1_finetune.py): the checkpoint, and expected/ as transformers-cli convert wrote it.
struct Tf1Case {
  std::string type, task, id;
  fs::path dir, checkpoint, config, weights;
};

std::vector<Tf1Case> tf1_cases() {
  std::vector<Tf1Case> out;
  for (const char* root : {"tf1", "tf1_ft"}) {
    const fs::path r = hfx::testing::fixtures_dir() / root;
    if (!fs::exists(r)) continue;
    for (const auto& d : fs::directory_iterator(r)) {
      Tf1Case c;
      c.type = d.path().filename().string();
      if (c.type == "xlm") continue;  // a torch pickle, renamed by convert_xlm without a TF1 name table
      c.id = std::string(root) + "_" + c.type;
      c.dir = d.path();
      c.checkpoint = c.type == "gpt" ? c.dir / "openai_checkpoint" : c.dir / "model.ckpt";
      // The config as the converter sees it: transformers' full config, as the reference wrote it.
      c.config = c.dir / "expected" / "config.json";
      const json cfg = json::parse(read_text_file(c.config.string()));
      if (cfg.contains("finetuning_task") && cfg["finetuning_task"].is_string()) c.task = cfg["finetuning_task"];
      // T5's converter saves with safetensors (ties dropped); the others torch.save.
      c.weights = c.dir / "expected" / (c.type == "t5" ? "model.safetensors" : "pytorch_model.bin");
      out.push_back(c);
    }
  }
  std::sort(out.begin(), out.end(), [](const Tf1Case& a, const Tf1Case& b) { return a.id < b.id; });
  return out;
}

class Tf1Names : public ::testing::TestWithParam<Tf1Case> {};

// The checkpoint's variable list (its index; no tensor is read) through the
// TF1 name table gives exactly the names and shapes the reference converter
// wrote, and every variable is either converted or skipped (optimizer slots,
// global_step).
TEST_P(Tf1Names, VariablesMapToTheReferenceConvertersNames) {
  const Tf1Case& c = GetParam();
  auto src = c.type == "gpt" ? open_openai_npy_folder(c.checkpoint.string()) : open_tf1_checkpoint(c.checkpoint.string());
  const json cfg = json::parse(read_text_file(c.config.string()));
  naming::Tf1PlanOptions opts;
  opts.finetuning_task = c.task;
  const naming::Tf1Plan plan = naming::tf1_plan(c.type, cfg, src->entries(), opts);
  EXPECT_TRUE(plan.missing.empty()) << c.id << " first missing: " << plan.missing.front();

  std::map<std::string, const naming::Tf1Param*> by_name;
  std::map<std::string, Shape> got;
  std::set<std::string> used;
  for (const auto& p : plan.params) {
    by_name[p.name] = &p;
    const naming::Tf1Param* origin = &p;
    if (p.tied) {
      ASSERT_TRUE(by_name.count(p.source)) << c.id << ": " << p.name << " tied to " << p.source << ", not converted before it";
      origin = by_name[p.source];
      if (c.type == "t5") continue;  // save_pretrained drops the ties, as the reference's file has them dropped
    }
    if (origin->op != naming::Tf1Op::InvFreq) used.insert(origin->source);
    got[p.name] = naming::tf1_param_info(*origin, *src, plan.cast_f32).shape;
  }
  std::map<std::string, Shape> want;
  const auto expected = open_checkpoint(c.weights.string());
  for (const auto& e : expected->entries()) want[e.name] = e.shape;
  EXPECT_EQ(got, want) << c.id;

  std::set<std::string> skipped(plan.skipped.begin(), plan.skipped.end());
  for (const auto& v : src->entries()) {
    EXPECT_TRUE(used.count(v.name) || skipped.count(v.name)) << c.id << ": variable " << v.name << " neither converted nor skipped";
    EXPECT_FALSE(used.count(v.name) && skipped.count(v.name)) << c.id << ": variable " << v.name << " both converted and skipped";
  }
}

std::string tf1_name(const ::testing::TestParamInfo<Tf1Case>& p) { return p.param.id; }
INSTANTIATE_TEST_SUITE_P(Fixtures, Tf1Names, ::testing::ValuesIn(tf1_cases()), tf1_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Tf1Names);

TEST(Tf1Names, ConvertTypesAndModelTypes) {
  const auto types = naming::tf1_convert_types();
  EXPECT_EQ(std::set<std::string>(types.begin(), types.end()),
            (std::set<std::string>{"bert", "albert", "gpt", "gpt2", "xlnet", "xlm", "t5", "transfo_xl"}));
  EXPECT_EQ(naming::tf1_convert_type_for("openai-gpt"), "gpt");
  EXPECT_EQ(naming::tf1_convert_type_for("transfo-xl"), "transfo_xl");
  EXPECT_EQ(naming::tf1_convert_type_for("bert"), "bert");
  EXPECT_EQ(naming::tf1_convert_type_for("llama"), "");
}

// ---- coverage -----------------------------------------------------------------------
// Every registered architecture has its key lists in the fixtures: a new
// architecture comes with fixtures whose params.json the name tests read.
TEST(NamingFixtures, EveryArchitectureAndTf1TypeHasKeyLists) {
  if (!fs::exists(hfx::testing::fixtures_dir() / "manifest.json")) GTEST_SKIP() << "no fixtures (tools/fixtures)";
  std::set<std::string> seen, with_tf;
  for (const auto& c : name_cases()) {
    seen.insert(c.arch);
    if (c.lists.count("tf")) with_tf.insert(c.arch);
  }
  for (const auto& a : supported_model_types()) EXPECT_TRUE(seen.count(a)) << a << ": no fixture case with a params.json";
  // Every TF1 convert type has a checkpoint to test its name table on (xlm's
  // original dump is a torch pickle, converted without one).
  std::set<std::string> tf1_types;
  for (const auto& c : tf1_cases()) tf1_types.insert(c.type);
  for (const auto& t : naming::tf1_convert_types())
    if (t != "xlm") {
      EXPECT_TRUE(tf1_types.count(t)) << t << ": no tests/fixtures/tf1*/" << t;
    }
  for (const auto& a : kTf2Archs) {
    if (seen.count(a)) {
      EXPECT_TRUE(with_tf.count(a)) << a << ": TF2 rules written but no TF key list to check them on";
    }
  }
}

}  // namespace
