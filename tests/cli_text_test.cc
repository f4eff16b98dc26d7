// hfx tokenize / run --text / embed / generate against references from tools/fixtures/tokenizer_fixtures.py
// (transformers 4.46.3: tokenizer(...), sentence-transformers-style mean pooling, model.generate).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace {

using nlohmann::json;
using hfx::testing::run_cli;
namespace fs = std::filesystem;

fs::path tdir() { return hfx::testing::fixtures_dir() / "tokenizers"; }
json read(const fs::path& p) {
  std::ifstream f(p);
  return json::parse(f);
}
std::string q(const std::string& s) {  // single-quote for the shell
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

TEST(CliText, TokenizeJsonMatchesReference) {
  const auto corpus = read(tdir() / "corpus.json");
  for (const char* kind : {"bert-uncased", "gpt2", "llama", "t5"}) {
    const json ref = read(tdir() / kind / "expected.json");
    for (std::size_t i : {7u, 40u, 123u}) {
      const std::string a = corpus[i], b = corpus[ref["pair_indices"][i][1].get<std::size_t>()];
      auto r = run_cli("tokenize " + (tdir() / kind).string() + " " + q(a) + " --pair " + q(b) + " --json");
      ASSERT_EQ(r.status, 0) << r.out;
      json got = json::parse(r.out);
      json want = ref["pairs"][i];
      if (std::string(kind) == "llama") {
        // expected.json is the tokenizers crate on tokenizer.json (no post-processor); transformers'
        // LlamaTokenizerFast rebuilds it from tokenizer_config.json's add_bos_token: <s> A <s> B.
        std::size_t b0 = 0;
        while (b0 < want["type_ids"].size() && want["type_ids"][b0] == 0) ++b0;
        auto insert_at = [](json& arr, std::size_t at, const json& v) { arr.insert(arr.begin() + static_cast<std::ptrdiff_t>(at), v); };
        for (auto [at, type] : {std::pair<std::size_t, int>{b0, 1}, {0, 0}}) {
          insert_at(want["ids"], at, 1);
          insert_at(want["type_ids"], at, type);
          insert_at(want["attention"], at, 1);
          insert_at(want["offsets"], 2 * at, 0);
          insert_at(want["offsets"], 2 * at, 0);
        }
      }
      EXPECT_EQ(got["input_ids"], want["ids"]) << kind << " " << a;
      EXPECT_EQ(got["token_type_ids"], want["type_ids"]) << kind;
      EXPECT_EQ(got["attention_mask"], want["attention"]) << kind;
      json flat = json::array();
      for (const auto& o : got["offsets"]) flat.push_back(o[0]), flat.push_back(o[1]);
      EXPECT_EQ(flat, want["offsets"]) << kind;
    }
  }
  // no padding to 128 from all-MiniLM's tokenizer.json: transformers' tokenizer(text) does not pad
  auto r = run_cli("tokenize " + (tdir() / "bert-uncased").string() + " 'Hello world!'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("input_ids: 101,7592,2088,999,102\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("decoded: hello world!"), std::string::npos) << r.out;
}

TEST(CliText, EmbedMatchesSentenceTransformersPooling) {
  const json ref = read(tdir() / "cli-embed" / "expected_embed.json");
  // cli-embed has no modules.json: sentence-transformers reads it as mean pooling without Normalize; the fixture
  // was made with L2 normalisation, which --normalize adds.
  std::string args = "embed " + (tdir() / "cli-embed").string() + " --json --normalize";
  for (const auto& s : ref["sentences"]) args += " " + q(s.get<std::string>());
  auto r = run_cli(args);
  ASSERT_EQ(r.status, 0) << r.out;
  json got = json::parse(r.out)["embeddings"];
  ASSERT_EQ(got.size(), ref["embeddings"].size());
  double max_diff = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].size(), ref["embeddings"][i].size());
    for (std::size_t k = 0; k < got[i].size(); ++k)
      max_diff = std::max(max_diff, std::abs(got[i][k].get<double>() - ref["embeddings"][i][k].get<double>()));
  }
  EXPECT_LE(max_diff, 1e-5);
  // the human-readable form prints the cosine similarity matrix
  r = run_cli("embed " + (tdir() / "cli-embed").string() + " 'a b' 'a c'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("cosine similarity"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1.0000"), std::string::npos) << r.out;
}

TEST(CliText, RunText) {
  auto r = run_cli("run " + (tdir() / "cli-embed").string() + " --text 'A man is eating food.' --text 'x' --json");
  ASSERT_EQ(r.status, 0) << r.out;
  json got = json::parse(r.out);
  const json shape = got["outputs"]["last_hidden_state"]["shape"];  // [2, tokens of the longer row, 32]
  EXPECT_EQ(shape[0], 2);
  // same length as `hfx tokenize` of the longer text
  auto tk = run_cli("tokenize " + (tdir() / "cli-embed").string() + " 'A man is eating food.' --json");
  ASSERT_EQ(tk.status, 0) << tk.out;
  EXPECT_EQ(shape[1], json::parse(tk.out)["input_ids"].size());
  EXPECT_EQ(shape[2], 32);
  auto ids = run_cli("run " + (tdir() / "cli-embed").string() + " --input-ids 1 --text x");
  EXPECT_NE(ids.status, 0) << ids.out;
}

TEST(CliText, GenerateMatchesTransformers) {
  const json ref = read(tdir() / "cli-generate" / "expected_generate.json");
  const std::string dir = (tdir() / "cli-generate").string();
  auto r = run_cli("generate " + dir + " --prompt " + q(ref["prompt"]) + " --max-new-tokens 8 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  json got = json::parse(r.out);
  EXPECT_EQ(got["ids"], ref["greedy"]);
  EXPECT_EQ(got["text"], ref["greedy_text"]);
  std::string ids;
  for (const auto& i : ref["prompt_ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(i.get<int64_t>());
  r = run_cli("generate " + dir + " --input-ids " + ids + " --max-new-tokens 8 --num-beams 3 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(json::parse(r.out)["ids"], ref["beam3"]);
  r = run_cli("generate " + dir + " --prompt hi --max-new-tokens 4 --do-sample --seed 3 --top-k 5");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("text: hi"), std::string::npos) << r.out;
  r = run_cli("generate " + dir + " --max-new-tokens 4");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("exactly one of --prompt and --input-ids"), std::string::npos) << r.out;
}

TEST(CliText, Errors) {
  hfx::testing::TempDir tmp;
  auto r = run_cli("tokenize " + tmp.path().string() + " hello");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("no tokenizer files"), std::string::npos) << r.out;
  r = run_cli("tokenize " + (tdir() / "gpt2").string() + " \"$(printf 'a\\377')\"");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("invalid UTF-8"), std::string::npos) << r.out;
}

}  // namespace
