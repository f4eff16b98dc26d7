// Encoder-decoder specifics (T5, BART): relative position buckets against
// hand-computed values, shift_tokens_right, the decoder's cache against the
// full forward pass, BartForCausalLM's cache, and AutoModelForSeq2SeqLM.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/generate.h"
#include "hfx/io.h"
#include "hfx/seq2seq.h"
#include "nn/seq2seq.h"
#include "test_util.h"

using namespace hfx;
namespace fs = std::filesystem;

TEST(Seq2Seq, RelativePositionBuckets) {
  using hfx::nn::relative_position_bucket;
  // Bidirectional, 32 buckets (16 per direction, 8 exact), max_distance 128.
  EXPECT_EQ(relative_position_bucket(0, true, 32, 128), 0);
  EXPECT_EQ(relative_position_bucket(-1, true, 32, 128), 1);
  EXPECT_EQ(relative_position_bucket(1, true, 32, 128), 17);
  EXPECT_EQ(relative_position_bucket(-7, true, 32, 128), 7);
  EXPECT_EQ(relative_position_bucket(-8, true, 32, 128), 8);    // 8 + log(1)/log(16)*8
  EXPECT_EQ(relative_position_bucket(-20, true, 32, 128), 10);  // 8 + floor(log(2.5)/log(16)*8 = 2.64)
  EXPECT_EQ(relative_position_bucket(20, true, 32, 128), 26);
  EXPECT_EQ(relative_position_bucket(-200, true, 32, 128), 15);  // clamped to the last bucket
  EXPECT_EQ(relative_position_bucket(200, true, 32, 128), 31);
  // Causal: the future shares bucket 0; 16 exact buckets, then logarithmic up to 128.
  EXPECT_EQ(relative_position_bucket(5, false, 32, 128), 0);
  EXPECT_EQ(relative_position_bucket(-5, false, 32, 128), 5);
  EXPECT_EQ(relative_position_bucket(-16, false, 32, 128), 16);
  EXPECT_EQ(relative_position_bucket(-40, false, 32, 128), 23);  // 16 + floor(log(2.5)/log(8)*16 = 7.05)
  EXPECT_EQ(relative_position_bucket(-1000, false, 32, 128), 31);
}

TEST(Seq2Seq, ShiftTokensRight) {
  Tensor ids = Tensor::from_vector<int64_t>(DType::I64, {2, 4}, {5, 6, -100, 7, 8, 9, 10, 11});
  Tensor s = hfx::nn::shift_tokens_right(ids, 1, 2);
  const std::vector<int64_t> want = {2, 5, 6, 1, 2, 8, 9, 10};
  ASSERT_EQ(s.shape(), (Shape{2, 4}));
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(s.data<int64_t>()[i], want[static_cast<std::size_t>(i)]) << i;
}

namespace {
struct S2SCase {
  std::string id, cls;
  fs::path dir;
};
std::vector<S2SCase> lm_cases() {
  std::vector<S2SCase> out;
  fs::path manifest = hfx::testing::fixtures_dir() / "manifest.json";
  if (!fs::exists(manifest)) return out;
  auto m = nlohmann::json::parse(read_text_file(manifest.string()));
  for (const auto& c : m["cases"]) {
    const std::string cls = c["class"];
    if (cls != "T5ForConditionalGeneration" && cls != "BartForConditionalGeneration") continue;
    out.push_back({c["id"], cls, hfx::testing::fixtures_dir() / c["dir"].get<std::string>()});
  }
  return out;
}
class Seq2SeqCacheTest : public ::testing::TestWithParam<S2SCase> {};
}  // namespace

// Feeding the decoder 2 tokens then 1 at a time through the cache gives the
// logits of one full forward pass (padded encoder rows included).
TEST_P(Seq2SeqCacheTest, StepsMatchFullForward) {
  const S2SCase& c = GetParam();
  LoadedModel lm = load_pretrained(c.dir.string(), c.cls);
  const auto* s2s = dynamic_cast<const Seq2SeqLM*>(lm.model.get());
  ASSERT_NE(s2s, nullptr);
  auto src = open_safetensors((c.dir / "inputs.safetensors").string());
  ModelInputs in;
  in.input_ids = src->get("input_ids");
  in.attention_mask = src->get("attention_mask");
  in.decoder_input_ids = src->get("decoder_input_ids").to(DType::I64);
  const Tensor full = lm.model->forward(in).get("logits");
  const int64_t B = full.size(0), S = full.size(1), V = s2s->vocab_size();
  Seq2SeqCache cache = s2s->encode(in.input_ids, in.attention_mask);
  Tensor first = s2s->decode_step(in.decoder_input_ids.narrow(1, 0, 2).contiguous(), cache);
  EXPECT_LE(max_abs_diff(first, full.narrow(1, 0, 2)), 1e-5);
  for (int64_t i = 2; i < S; ++i) {
    Tensor step = s2s->decode_step(in.decoder_input_ids.narrow(1, i, 1).contiguous(), cache);
    EXPECT_LE(max_abs_diff(step.reshape({B, V}), full.narrow(1, i, 1).reshape({B, V})), 1e-5) << "position " << i;
  }
  EXPECT_EQ(cache.self_attn.length(), S);
  // Reordering rows (beam search) moves the encoder state with them.
  cache.reorder({1, 1, 0});
  EXPECT_EQ(cache.encoder_hidden.size(0), 3);
  EXPECT_EQ(cache.encoder_mask.size(0), 3);
}

std::string s2s_name(const ::testing::TestParamInfo<S2SCase>& p) {
  std::string n = p.param.id;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}
INSTANTIATE_TEST_SUITE_P(Fixtures, Seq2SeqCacheTest, ::testing::ValuesIn(lm_cases()), s2s_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Seq2SeqCacheTest);

TEST(Seq2Seq, BartCausalLMCacheMatchesFullForward) {
  LoadedModel lm = load_pretrained((hfx::testing::fixtures_dir() / "bart/tiny/BartForCausalLM").string(), "");
  const auto* causal = dynamic_cast<const CausalLM*>(lm.model.get());
  ASSERT_NE(causal, nullptr);
  EXPECT_EQ(dynamic_cast<const Seq2SeqLM*>(lm.model.get()), nullptr);
  Tensor ids = Tensor::from_vector<int64_t>(DType::I64, {1, 5}, {0, 36, 83, 51, 2});
  ModelInputs in;
  in.input_ids = ids;
  Tensor full = lm.model->forward(in).get("logits");
  KVCache cache;
  Tensor a = causal->step(ids.narrow(1, 0, 3).contiguous(), Tensor(), Tensor(), cache);
  EXPECT_LE(max_abs_diff(a, full.narrow(1, 0, 3)), 1e-5);
  Tensor b = causal->step(ids.narrow(1, 3, 2).contiguous(), Tensor(), Tensor(), cache);
  EXPECT_LE(max_abs_diff(b, full.narrow(1, 3, 2)), 1e-5);
  EXPECT_EQ(cache.length(), 5);
}

TEST(Seq2Seq, AutoClassesAndErrors) {
  const auto dir = hfx::testing::fixtures_dir() / "t5/tiny/T5ForConditionalGeneration";
  auto m = AutoModelForSeq2SeqLM::from_pretrained(dir.string());
  EXPECT_EQ(m->class_name(), "T5ForConditionalGeneration");
  EXPECT_EQ(auto_class_for(m->config(), "AutoModel"), "T5Model");
  auto bart = AutoModelForSeq2SeqLM::from_pretrained((hfx::testing::fixtures_dir() / "bart/tiny/BartForConditionalGeneration").string());
  EXPECT_EQ(bart->class_name(), "BartForConditionalGeneration");
  EXPECT_EQ(auto_class_for(bart->config(), "AutoModelForCausalLM"), "BartForCausalLM");
  // T5Model has no LM head: it neither generates nor guesses decoder inputs.
  LoadedModel base = load_pretrained((hfx::testing::fixtures_dir() / "t5/tiny/T5Model").string(), "");
  Tensor ids = Tensor::from_vector<int64_t>(DType::I64, {1, 3}, {5, 6, 1});
  hfx::testing::expect_error([&] { generate(*base.model, ids, Tensor(), GenerationConfig::from_model(*base.model)); },
                             ErrorKind::Unsupported, {"T5Model"});
  ModelInputs in;
  in.input_ids = ids;
  hfx::testing::expect_error([&] { base.model->forward(in); }, ErrorKind::InvalidArgument, {"decoder_input_ids"});
  // BART builds them from input_ids (shift_tokens_right with decoder_start_token_id).
  LoadedModel bm = load_pretrained((hfx::testing::fixtures_dir() / "bart/tiny/BartModel").string(), "");
  in.decoder_input_ids = Tensor();
  Tensor implicit = bm.model->forward(in).get("last_hidden_state");
  in.decoder_input_ids = Tensor::from_vector<int64_t>(DType::I64, {1, 3}, {2, 5, 6});
  EXPECT_EQ(max_abs_diff(implicit, bm.model->forward(in).get("last_hidden_state")), 0.0);
}
