// hfx::SentenceTransformer and `hfx embed` against sentence-transformers 3.3.1's encode on tiny models
// (tests/fixtures/sentence, tools/fixtures/sentence.py): mean + Normalize, CLS + Dense (no Normalize),
// last-token + Normalize; prompts; every pooling mode through the override.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "hfx/sentence.h"
#include "test_util.h"

namespace hfx {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path sdir(const std::string& name) { return testing::fixtures_dir() / "sentence" / name; }

json read_json(const fs::path& p) {
  std::ifstream f(p);
  return json::parse(f);
}

// Worst cosine and worst absolute difference between rows of `got` and `want`.
void expect_rows_match(const Tensor& got, const json& want, const std::string& what) {
  ASSERT_EQ(got.shape().size(), 2u) << what;
  ASSERT_EQ(static_cast<std::size_t>(got.shape()[0]), want.size()) << what;
  const int64_t D = got.shape()[1];
  double worst_cos = 1, worst_abs = 0;
  for (std::size_t r = 0; r < want.size(); ++r) {
    ASSERT_EQ(static_cast<std::size_t>(D), want[r].size()) << what;
    double dot = 0, na = 0, nb = 0;
    for (int64_t k = 0; k < D; ++k) {
      const double a = got.item(static_cast<int64_t>(r) * D + k), b = want[r][static_cast<std::size_t>(k)].get<double>();
      dot += a * b, na += a * a, nb += b * b;
      worst_abs = std::max(worst_abs, std::abs(a - b));
    }
    worst_cos = std::min(worst_cos, dot / std::sqrt(na * nb));
  }
  EXPECT_GE(worst_cos, 0.999999) << what;
  EXPECT_LE(worst_abs, 1e-5) << what;
}

std::vector<std::string> sentences(const json& ref) { return ref["sentences"].get<std::vector<std::string>>(); }

TEST(Sentence, EncodeEqualsSentenceTransformers) {
  for (const char* name : {"bert-mean-norm", "bert-cls-dense", "gpt2-lasttoken-norm"}) {
    const json ref = read_json(sdir(name) / "expected.json");
    const auto st = SentenceTransformer::from_pretrained(sdir(name).string());
    expect_rows_match(st.encode(sentences(ref)), ref["embeddings"], name);
    for (const auto& [prompt, want] : ref["by_prompt"].items()) {
      EncodeOptions o;
      o.prompt_name = prompt;
      expect_rows_match(st.encode(sentences(ref), o), want, std::string(name) + " prompt " + prompt);
    }
    for (const auto& [mode, want] : ref["by_pooling"].items()) {
      EncodeOptions o;
      o.pooling = {mode};
      expect_rows_match(st.encode(sentences(ref), o), want, std::string(name) + " pooling " + mode);
    }
  }
}

TEST(Sentence, ModulesAreReadAsSaved) {
  const auto mean = SentenceTransformer::from_pretrained(sdir("bert-mean-norm").string());
  ASSERT_EQ(mean.modules().size(), 2u);
  EXPECT_EQ(mean.modules()[0].modes, std::vector<std::string>{"mean"});
  EXPECT_EQ(mean.modules()[1].kind, SentenceModule::Kind::Normalize);
  EXPECT_EQ(mean.max_seq_length(), 16);
  EXPECT_EQ(mean.prompts().at("query"), "query: ");
  const auto cls = SentenceTransformer::from_pretrained(sdir("bert-cls-dense").string());
  ASSERT_EQ(cls.modules().size(), 2u);
  EXPECT_EQ(cls.modules()[0].modes, std::vector<std::string>{"cls"});
  EXPECT_EQ(cls.modules()[1].kind, SentenceModule::Kind::Dense);
  EXPECT_EQ(cls.modules()[1].activation, "tanh");
  // No Normalize module: the vectors are not unit length (the old `hfx embed` always normalised).
  const Tensor e = cls.encode({"A man is eating food."});
  double n = 0;
  for (int64_t k = 0; k < e.shape()[1]; ++k) n += e.item(k) * e.item(k);
  EXPECT_GT(std::abs(std::sqrt(n) - 1.0), 1e-3);
  // An unknown prompt name or pooling mode is an error naming it.
  EncodeOptions bad;
  bad.prompt_name = "nope";
  testing::expect_error([&] { mean.encode({"x"}, bad); }, ErrorKind::InvalidArgument, {"nope", "query"});
  EncodeOptions badp;
  badp.pooling = {"median"};
  testing::expect_error([&] { mean.encode({"x"}, badp); }, ErrorKind::InvalidArgument, {"median", "lasttoken"});
}

// encode(batch_size): longest first in batches, each padded to its own longest, rows back in input order;
// equal to sentence-transformers (which batches the same way) and to one batch of everything.
TEST(Sentence, EncodeInBatchesKeepsTheInputOrder) {
  for (const char* name : {"bert-mean-norm", "gpt2-lasttoken-norm"}) {
    const json ref = read_json(sdir(name) / "expected.json");
    const auto st = SentenceTransformer::from_pretrained(sdir(name).string());
    std::vector<std::string> texts;
    json want = json::array();
    for (int rep = 0; rep < 3; ++rep)  // every row three times: 3 x n texts, several batches of mixed lengths
      for (std::size_t i = 0; i < ref["sentences"].size(); ++i) {
        texts.push_back(ref["sentences"][i].get<std::string>());
        want.push_back(ref["embeddings"][i]);
      }
    for (int64_t bs : {1, 2, 3, 0}) {
      EncodeOptions o;
      o.batch_size = bs;
      expect_rows_match(st.encode(texts, o), want, std::string(name) + " batch_size " + std::to_string(bs));
    }
  }
}

// hfx embed --file F: many sentences, a "Batches" bar on a terminal, no N x N similarity for a corpus.
TEST(Sentence, CliEmbedReadsAFileInBatchesWithAProgressBar) {
  const json ref = read_json(sdir("bert-mean-norm") / "expected.json");
  testing::TempDir tmp;
  std::string lines;
  const std::size_t n = ref["sentences"].size();
  for (int rep = 0; rep < 20; ++rep)
    for (const auto& s : ref["sentences"]) lines += s.get<std::string>() + "\n";
  testing::write_bytes(tmp.file("corpus.txt"), lines);
  auto r = testing::run_cli("embed " + sdir("bert-mean-norm").string() + " --json --batch-size 7 --file " + tmp.file("corpus.txt"));
  ASSERT_EQ(r.status, 0) << r.out;
  const json got = json::parse(r.out);
  ASSERT_EQ(got["embeddings"].size(), 20 * n);
  EXPECT_FALSE(got.contains("similarity"));  // 20 n > 64 rows
  for (std::size_t i = 0; i < got["embeddings"].size(); i += n + 1)
    EXPECT_NEAR(got["embeddings"][i][0].get<double>(), ref["embeddings"][i % n][0].get<double>(), 1e-6) << i;
  r = testing::run_cli_tty("embed " + sdir("bert-mean-norm").string() + " --batch-size 7 --file " + tmp.file("corpus.txt"));
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string total = std::to_string((20 * n + 6) / 7);
  EXPECT_NE(r.out.find("Batches: 100%|####################| " + total + "/" + total), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("it/s]"), std::string::npos) << r.out;
  r = testing::run_cli("embed " + sdir("bert-mean-norm").string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("at least one sentence"), std::string::npos) << r.out;
}

TEST(Sentence, CliEmbedUsesTheModelsModules) {
  for (const char* name : {"bert-mean-norm", "bert-cls-dense", "gpt2-lasttoken-norm"}) {
    const json ref = read_json(sdir(name) / "expected.json");
    std::string args = "embed " + sdir(name).string() + " --json";
    for (const auto& s : sentences(ref)) args += " '" + s + "'";
    const auto r = testing::run_cli(args);
    ASSERT_EQ(r.status, 0) << r.out;
    const json got = json::parse(r.out);
    const auto& rows = got["embeddings"];
    std::vector<float> flat;
    for (const auto& row : rows)
      for (const auto& v : row) flat.push_back(v.get<float>());
    expect_rows_match(Tensor::from_vector(DType::F32, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())}, flat),
                      ref["embeddings"], std::string("hfx embed ") + name);
    EXPECT_EQ(got["similarity_fn_name"], "cosine");
  }
  // --pooling and --prompt-name reach the library
  const json ref = read_json(sdir("bert-mean-norm") / "expected.json");
  auto r = testing::run_cli("embed " + sdir("bert-mean-norm").string() + " --json --pooling cls '" + sentences(ref)[0] + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NEAR(json::parse(r.out)["embeddings"][0][0].get<double>(), ref["by_pooling"]["cls"][0][0].get<double>(), 1e-6);
  r = testing::run_cli("embed " + sdir("bert-mean-norm").string() + " --json --prompt-name query '" + sentences(ref)[0] + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NEAR(json::parse(r.out)["embeddings"][0][3].get<double>(), ref["by_prompt"]["query"][0][3].get<double>(), 1e-6);
  r = testing::run_cli("embed " + sdir("bert-mean-norm").string() + " --pooling median x");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("median"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace hfx

namespace hfx {
namespace {

// Without max_seq_length in sentence_bert_config.json, the limit is min(max_position_embeddings, the tokenizer's
// model_max_length), as models.Transformer. Tokenizers without a limit save model_max_length as 1e30: no int64
// holds it, and the cast hfx made of it was undefined (INT64_MIN on x86, a negative max_seq_length).
TEST(Sentence, MaxSeqLengthFromAnUnboundedTokenizerIsThePositions) {
  testing::TempDir tmp;
  const fs::path dir = tmp.path() / "m";
  fs::copy(testing::fixtures_dir() / "sentence" / "bert-mean-norm", dir, fs::copy_options::recursive);
  testing::write_bytes((dir / "sentence_bert_config.json").string(), R"({"do_lower_case": false})");
  for (const auto& [limit, want] : std::vector<std::pair<std::string, int64_t>>{{"1e30", 64}, {"1000000000000000019884624838656", 64}, {"40", 40}, {"0", 0}}) {
    std::ifstream f(dir / "tokenizer_config.json");
    json tc = json::parse(f);
    tc["model_max_length"] = json::parse(limit);
    testing::write_bytes((dir / "tokenizer_config.json").string(), tc.dump());
    EXPECT_EQ(SentenceTransformer::from_pretrained(dir.string()).max_seq_length(), want) << limit;
  }
}

}  // namespace
}  // namespace hfx
