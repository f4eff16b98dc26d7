// register_architecture (transformers' register_for_auto_class / AutoConfig.register):
// an application's own architecture, defined here outside the library with the
// public headers only, registered at run time, saved with hfx's save_pretrained
// and loaded back through AutoConfig / AutoModel*.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "hfx/auto.h"
#include "hfx/pretrained.h"
#include "hfx/save.h"
#include "test_util.h"

namespace {

using namespace hfx;
using hfx::testing::expect_error;
using hfx::testing::TempDir;

constexpr const char* kType = "hfx-test-tiny-lm";

// A bag-of-embeddings LM: hidden = table[ids]; logits = hidden @ lm.weight^T + lm.bias.
class TinyLM final : public Model {
 public:
  TinyLM(const std::string& cls, const Config& c, bool head) : Model(cls, c, "tiny") {
    V_ = c.get<int64_t>("vocab_size", 0);
    D_ = c.get<int64_t>("hidden_size", 0);
    if (V_ <= 0 || D_ <= 0) throw_error(ErrorKind::InvalidArgument, "vocab_size and hidden_size must be positive", c.source());
    Scope base = head ? root() / "tiny" : root();
    table_ = base.param("embed.weight", {V_, D_});
    if (head) {
      w_ = root().param("lm.weight", {V_, D_});
      b_ = root().param("lm.bias", {V_});
      traits_.output_embeddings = w_.name();
      traits_.lm_head = {"lm", {{"bias", b_.name()}}, "lm"};
    }
    traits_.input_embeddings = table_.name();
    set_roles(ParamRole::Embedding, {table_.name()});
    traits_.prune.unsupported = "a bag of embeddings has no attention";
  }

  Outputs forward(const ModelInputs& in) const override {
    Tensor ids = in.input_ids.to(DType::I64);
    const int64_t N = ids.numel();
    Tensor h = Tensor::zeros(DType::F32, {ids.size(0), ids.size(1), D_});
    const Tensor table = table_->to(DType::F32).contiguous();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t d = 0; d < D_; ++d) h.mutable_data<float>()[n * D_ + d] = table.data<float>()[ids.data<int64_t>()[n] * D_ + d];
    Outputs out;
    if (!w_.valid()) {
      out.set("last_hidden_state", h);
      return out;
    }
    const Tensor w = w_->to(DType::F32).contiguous(), b = b_->to(DType::F32).contiguous();
    Tensor logits = Tensor::zeros(DType::F32, {ids.size(0), ids.size(1), V_});
    for (int64_t n = 0; n < N; ++n)
      for (int64_t v = 0; v < V_; ++v) {
        float acc = b.data<float>()[v];
        for (int64_t d = 0; d < D_; ++d) acc += h.data<float>()[n * D_ + d] * w.data<float>()[v * D_ + d];
        logits.mutable_data<float>()[n * V_ + v] = acc;
      }
    out.set("logits", logits);
    return out;
  }

 private:
  int64_t V_ = 0, D_ = 0;
  Param table_, w_, b_;
};

Architecture tiny_architecture(const std::string& model_type) {
  Architecture a;
  a.model_type = model_type;
  a.config_defaults = {{"vocab_size", 13}, {"hidden_size", 4}, {"tiny_flag", 7}};
  a.base_model_prefix = "tiny";
  a.classes = {{"TinyLMModel", [](const Config& c) { return std::make_unique<TinyLM>("TinyLMModel", c, false); }},
               {"TinyLMForMaskedLM", [](const Config& c) { return std::make_unique<TinyLM>("TinyLMForMaskedLM", c, true); }}};
  a.auto_classes = {{"AutoModel", "TinyLMModel"}, {"AutoModelForMaskedLM", "TinyLMForMaskedLM"}};
  return a;
}

void register_once() {
  static std::once_flag once;
  std::call_once(once, [] { register_architecture(tiny_architecture(kType)); });
}

TEST(RegisterArchitecture, AnApplicationModelLoadsThroughTheAutoClasses) {
  register_once();
  const auto types = supported_model_types();
  EXPECT_NE(std::find(types.begin(), types.end(), kType), types.end());

  Config cfg = Config::from_json({{"model_type", kType}, {"vocab_size", 11}});
  EXPECT_EQ(cfg.get<int64_t>("hidden_size", 0), 4);  // the registered defaults
  std::unique_ptr<Model> m = build_model(cfg, "TinyLMForMaskedLM");
  ParamTable& t = m->mutable_params();
  for (std::size_t i = 0; i < t.size(); ++i) {
    Tensor v = Tensor::zeros(DType::F32, t.specs()[i].shape);
    for (int64_t k = 0; k < v.numel(); ++k) v.mutable_data<float>()[k] = 0.01f * static_cast<float>((k * 7 + static_cast<int64_t>(i)) % 23) - 0.1f;
    t.set(i, v);
  }
  EXPECT_EQ(num_parameters(*m), 11 * 4 + 11 * 4 + 11);
  EXPECT_EQ(num_parameters(*m, false, true), 11 * 4 + 11);  // the embedding role is the test's declaration
  EXPECT_EQ(get_lm_head(*m).value_or(""), "lm");
  ModelInputs in;
  in.input_ids = Tensor::from_vector(DType::I64, {1, 3}, std::vector<int64_t>{1, 5, 10});
  const Tensor want = m->forward(in).get("logits");

  TempDir dir;
  save_pretrained(*m, dir.path().string());
  Config back = AutoConfig::from_pretrained(dir.path().string());
  EXPECT_EQ(back.model_type(), kType);
  EXPECT_EQ(back.get<int64_t>("tiny_flag", 0), 7);
  EXPECT_EQ(back.get<int64_t>("vocab_size", 0), 11);

  LoadingInfo info;
  auto loaded = AutoModelForMaskedLM::from_pretrained(dir.path().string(), {}, &info);
  EXPECT_EQ(loaded->class_name(), "TinyLMForMaskedLM");
  EXPECT_TRUE(info.missing_keys.empty());
  EXPECT_TRUE(info.unexpected_keys.empty());
  const Tensor got = loaded->forward(in).get("logits");
  ASSERT_EQ(got.shape(), want.shape());
  for (int64_t k = 0; k < got.numel(); ++k) { EXPECT_EQ(got.data<float>()[k], want.data<float>()[k]) << k; }

  // The base class from the head checkpoint: base_model_prefix removed, the head unexpected.
  auto base = AutoModel::from_pretrained(dir.path().string(), {}, &info);
  EXPECT_EQ(base->class_name(), "TinyLMModel");
  EXPECT_TRUE(info.missing_keys.empty());
  EXPECT_EQ(info.unexpected_keys, (std::vector<std::string>{"lm.bias", "lm.weight"}));
  expect_error([&] { prune_heads(*base, {{0, {0}}}); }, ErrorKind::Unsupported, {"no attention", kType});
  expect_error([&] { AutoModelForCausalLM::from_pretrained(dir.path().string()); }, ErrorKind::NotFound, {"AutoModelForCausalLM"});
}

TEST(RegisterArchitecture, RefusesDuplicatesAndBrokenEntries) {
  register_once();
  expect_error([] { register_architecture(tiny_architecture(kType)); }, ErrorKind::InvalidArgument, {"already registered"});
  Architecture bert_again = tiny_architecture("bert");
  expect_error([&] { register_architecture(bert_again); }, ErrorKind::InvalidArgument, {"'bert' is already registered"});
  Architecture clash = tiny_architecture("hfx-test-clash");
  clash.classes.emplace_back("BertModel", clash.classes.front().second);
  expect_error([&] { register_architecture(clash); }, ErrorKind::InvalidArgument, {"BertModel", "bert"});
  Architecture bad_auto = tiny_architecture("hfx-test-bad-auto");
  bad_auto.auto_classes["AutoModelForCausalLM"] = "NoSuchClass";
  expect_error([&] { register_architecture(bad_auto); }, ErrorKind::InvalidArgument, {"NoSuchClass"});
  Architecture empty = tiny_architecture("");
  expect_error([&] { register_architecture(empty); }, ErrorKind::InvalidArgument, {"empty model_type"});
  Architecture no_classes = tiny_architecture("hfx-test-no-classes");
  no_classes.classes.clear();
  no_classes.auto_classes.clear();
  expect_error([&] { register_architecture(no_classes); }, ErrorKind::InvalidArgument, {"no classes"});
  // Nothing of the refused ones was added.
  for (const char* t : {"hfx-test-clash", "hfx-test-bad-auto", "hfx-test-no-classes"})
    expect_error([&] { architecture(t); }, ErrorKind::Unsupported, {"unknown model_type"});
}

TEST(RegisterArchitecture, ConcurrentRegistrationAndLookup) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> lookups{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r)
    readers.emplace_back([&] {
      while (!stop) {
        EXPECT_EQ(architecture("bert").model_type, "bert");
        EXPECT_GE(supported_model_types().size(), 14u);
        ++lookups;
      }
    });
  std::vector<std::thread> writers;
  std::atomic<int> dup_errors{0};
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      for (int k = 0; k < 5; ++k) {
        Architecture a = tiny_architecture("hfx-test-concurrent-" + std::to_string(k));
        for (auto& c : a.classes) c.first += std::to_string(k);
        for (auto& [auto_name, cls] : a.auto_classes) cls += std::to_string(k);
        try {
          register_architecture(std::move(a));  // 4 writers race for each name: one wins
        } catch (const Error& e) {
          EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument) << e.what();
          ++dup_errors;
        }
        (void)w;
      }
    });
  for (auto& t : writers) t.join();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(dup_errors.load(), 3 * 5);
  for (int k = 0; k < 5; ++k) { EXPECT_EQ(architecture("hfx-test-concurrent-" + std::to_string(k)).classes.size(), 2u); }
  EXPECT_GT(lookups.load(), 0);
}

}  // namespace
