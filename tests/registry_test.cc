// Every registered architecture and class, built from a tiny fixture config
// (tests/fixtures/<model_type>/tiny/*/config.json), against every trait it
// declares (hfx/model.h ModelTraits, Architecture): what from_pretrained,
// prune_heads, the embedding utilities and `hfx convert` read instead of model names.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "hfx/auto.h"
#include "hfx/convert.h"
#include "hfx/model.h"
#include "hfx/pretrained.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace hfx;

// The Auto classes hfx/auto.h declares.
const std::set<std::string> kAutoNames = {
    "AutoModel", "AutoModelForMaskedLM", "AutoModelForSequenceClassification", "AutoModelForTokenClassification",
    "AutoModelForQuestionAnswering", "AutoModelForPreTraining", "AutoModelForCausalLM", "AutoModelForMultipleChoice",
    "AutoModelForSeq2SeqLM"};

// A tiny config of `model_type`: the first fixture's (every architecture has them: docs/adding-a-model.md).
std::optional<Config> tiny_config(const std::string& model_type) {
  const fs::path dir = hfx::testing::fixtures_dir() / model_type / "tiny";
  if (!fs::is_directory(dir)) return std::nullopt;
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(dir))
    if (fs::exists(e.path() / "config.json")) found.push_back(e.path());
  if (found.empty()) return std::nullopt;
  std::sort(found.begin(), found.end());
  return AutoConfig::from_pretrained(found.front().string());
}

const ParamSpec* spec(const Model& m, const std::string& name) {
  auto i = m.params().index_of(name);
  return i ? &m.params().specs()[*i] : nullptr;
}

void check_weight(const Model& m, const std::string& name, const std::string& what) {
  const ParamSpec* s = spec(m, name);
  ASSERT_NE(s, nullptr) << m.class_name() << ": " << what << " " << name << " is not declared";
}

void check_traits(const Model& m) {
  const ModelTraits& t = m.traits();
  const std::string& cls = m.class_name();
  // Roles: embeddings are 2-D tables, buffers are stored (not tied), every model has an embedding.
  std::size_t embeddings = 0;
  for (const auto& s : m.params().specs()) {
    if (s.role == ParamRole::Embedding) {
      ++embeddings;
      EXPECT_EQ(s.shape.size(), 2u) << cls << ": embedding " << s.name;
    }
    if (s.role == ParamRole::Buffer) { EXPECT_TRUE(s.tied_to.empty()) << cls << ": buffer " << s.name << " is tied"; }
    const InitRule r = t.init ? t.init(s, m.config()) : default_init_rule(s, m.config());
    if (r.kind == InitRule::Normal) { EXPECT_GT(r.stddev, 0.0) << cls << ": init of " << s.name; }
  }
  EXPECT_GT(embeddings, 0u) << cls << " declares no nn.Embedding weight";
  // Input / output embeddings.
  if (!t.input_embeddings.empty()) {
    check_weight(m, t.input_embeddings, "input_embeddings");
    EXPECT_EQ(spec(m, t.input_embeddings)->role, ParamRole::Embedding) << cls;
    EXPECT_EQ(input_embeddings_name(m), t.input_embeddings);
  } else {
    EXPECT_FALSE(t.adaptive_input_embeddings.empty()) << cls << " has neither an input table nor adaptive ones";
  }
  for (const auto& n : t.adaptive_input_embeddings) {
    check_weight(m, n, "adaptive input embedding");
    EXPECT_EQ(spec(m, n)->role, ParamRole::Embedding) << cls << " " << n;
  }
  EXPECT_LE(t.adaptive_output_embeddings.size(), t.adaptive_input_embeddings.size()) << cls;
  for (const auto& n : t.adaptive_output_embeddings) check_weight(m, n, "adaptive output embedding");
  if (!t.output_embeddings.empty()) {
    check_weight(m, t.output_embeddings, "output_embeddings");
    const ParamSpec* o = spec(m, t.output_embeddings);
    EXPECT_EQ(o->shape.size(), 2u) << cls;
    if (!t.input_embeddings.empty()) { EXPECT_EQ(o->shape[0], spec(m, t.input_embeddings)->shape[0]) << cls << ": LM head rows != vocab"; }
  }
  // LM head (TF API): biases exist, one entry per vocabulary row; a prefix needs a head.
  if (!t.lm_head.tf_prefix_bias_name.empty()) { EXPECT_FALSE(t.lm_head.module.empty()) << cls; }
  if (!t.lm_head.module.empty()) { EXPECT_FALSE(t.lm_head.bias.empty()) << cls << ": an LM head without a bias"; }
  for (const auto& [key, name] : t.lm_head.bias) {
    check_weight(m, name, "LM-head bias " + key);
    if (!t.lm_head.module.empty()) { EXPECT_EQ(name.rfind(t.lm_head.module + ".", 0), 0u) << cls << ": " << name; }
    if (!t.output_embeddings.empty()) { EXPECT_EQ(spec(m, name)->shape.back(), spec(m, t.output_embeddings)->shape[0]) << cls << " " << name; }
  }
  // Ignore rules: a missing-key pattern hides something the model declares,
  // an unexpected-key pattern something it does not.
  for (const auto& p : t.ignore_on_load_missing) {
    bool hit = false;
    for (const auto& s : m.params().specs()) hit |= s.name.find(p) != std::string::npos;
    EXPECT_TRUE(hit) << cls << ": ignore_on_load_missing '" << p << "' matches no parameter";
  }
  for (const auto& p : t.ignore_on_load_unexpected) {
    EXPECT_FALSE(p.empty()) << cls;
    for (const auto& s : m.params().specs()) { EXPECT_EQ(s.name.find(p), std::string::npos) << cls << ": '" << p << "' hides " << s.name; }
  }
  // Prune geometry resolves for every layer, or the refusal says why.
  const PruneTraits& p = t.prune;
  if (p.attention && p.unsupported.empty()) {
    EXPECT_GT(p.heads, 0) << cls;
    EXPECT_GT(p.head_dim, 0) << cls;
    ASSERT_GT(p.layers, 0) << cls;
    for (int64_t l = 0; l < p.layers; ++l) {
      const AttentionModule a = p.attention(l);
      const ParamSpec* q = spec(m, a.q + ".weight");
      ASSERT_NE(q, nullptr) << cls << " layer " << l << ": " << a.q;
      ASSERT_NE(spec(m, a.o + ".weight"), nullptr) << cls << " layer " << l << ": " << a.o;
      if (a.fused) {
        EXPECT_EQ(q->shape.at(1), 3 * p.heads * p.head_dim) << cls << " " << a.q;
      } else {
        EXPECT_EQ(q->shape.at(0), p.heads * p.head_dim) << cls << " " << a.q;
        ASSERT_NE(spec(m, a.k + ".weight"), nullptr) << cls << " " << a.k;
        ASSERT_NE(spec(m, a.v + ".weight"), nullptr) << cls << " " << a.v;
      }
    }
  } else {
    std::unique_ptr<Model> copy = build_model(m.config(), cls);
    try {
      prune_heads(*copy, {{0, {0}}});
      ADD_FAILURE() << cls << ": prune_heads should be refused";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Unsupported) << cls;
      EXPECT_NE(std::string(e.what()).find(cls), std::string::npos) << e.what();
    }
  }
}

TEST(Registry, EveryArchitectureAndClassDeclaresSensibleTraits) {
  const auto archs = architectures();
  ASSERT_GE(archs.size(), 14u);
  std::set<std::string> types, classes;
  for (const auto& a : archs) {
    // Architectures register_architecture_test.cc adds at run time have no fixtures.
    if (a.model_type.rfind("hfx-test-", 0) == 0) continue;
    SCOPED_TRACE(a.model_type);
    EXPECT_TRUE(types.insert(a.model_type).second) << "model_type twice";
    EXPECT_FALSE(a.base_model_prefix.empty());
    // Defaults: the config class's, an object with at least the vocabulary size.
    ASSERT_TRUE(a.config_defaults.is_object());
    EXPECT_TRUE(a.config_defaults.contains("vocab_size")) << "config_defaults lacks vocab_size";
    ASSERT_FALSE(a.classes.empty());
    for (const auto& [name, builder] : a.classes) { EXPECT_TRUE(classes.insert(name).second) << name << " registered twice"; }
    for (const auto& [auto_name, cls] : a.auto_classes) {
      EXPECT_TRUE(kAutoNames.count(auto_name)) << auto_name << " is not an hfx Auto class";
      EXPECT_TRUE(std::any_of(a.classes.begin(), a.classes.end(), [&](const auto& c) { return c.first == cls; }))
          << auto_name << " -> " << cls << " is not a class of " << a.model_type;
    }
    EXPECT_TRUE(a.auto_classes.count("AutoModel")) << "no AutoModel class";
    // hfx convert: the config class's to_dict comes from config_defaults (one source).
    if (!a.convert.name.empty() && a.convert.source != ConvertTraits::Source::TorchDump) {
      const json c = converted_config(a.convert.name, json::object());
      EXPECT_EQ(c.value("model_type", ""), a.model_type);
    }
    const std::optional<Config> cfg = tiny_config(a.model_type);
    ASSERT_TRUE(cfg) << "no tiny fixture config under tests/fixtures/" << a.model_type << "/tiny";
    for (const auto& [name, builder] : a.classes) {
      SCOPED_TRACE(name);
      std::unique_ptr<Model> m = build_model(*cfg, name);
      EXPECT_EQ(m->class_name(), name);
      EXPECT_FALSE(m->base_model_prefix().empty());  // a class may differ (LlamaForQuestionAnswering: "transformer")
      check_traits(*m);
    }
  }
}

}  // namespace
