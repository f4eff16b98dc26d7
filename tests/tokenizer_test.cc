// Tokenizers against the reference of tools/fixtures/tokenizers.py (tokenizers 0.20.3, transformers 4.46.3):
// ids, char offsets, type ids, masks, pairs, batches with truncation/padding and decode on >= 2000 strings.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hfx/tokenizer.h"
#include "test_util.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

fs::path tok_dir() { return hfx::testing::fixtures_dir() / "tokenizers"; }

json read_json(const fs::path& p) {
  std::ifstream f(p);
  EXPECT_TRUE(f.good()) << p;
  return json::parse(f);
}

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> c = read_json(tok_dir() / "corpus.json").get<std::vector<std::string>>();
  return c;
}

std::vector<int64_t> flat_offsets(const hfx::Encoding& e) {
  std::vector<int64_t> v;
  for (const auto& [a, b] : e.offsets) {
    v.push_back(a);
    v.push_back(b);
  }
  return v;
}

std::string show(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      o += b;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o.size() > 200 ? o.substr(0, 200) + "..." : o;
}

// Counts mismatches and reports the first few; the test asserts the count is zero.
struct Mismatches {
  std::string kind;
  int count = 0;
  void add(const std::string& what, const std::string& text, const json& want, const json& got) {
    if (++count <= 5)
      ADD_FAILURE() << kind << ": " << what << " differs for '" << show(text) << "'\n want " << want.dump()
                    << "\n got  " << got.dump();
  }
};

void check_record(Mismatches& mm, const std::string& what, const std::string& text, const json& r,
                  const hfx::Encoding& e, bool full) {
  json got_ids = e.ids, got_off = flat_offsets(e);
  if (r["ids"] != got_ids) mm.add(what + " ids", text, r["ids"], got_ids);
  if (r["offsets"] != got_off) mm.add(what + " offsets", text, r["offsets"], got_off);
  if (!full) return;
  if (r["type_ids"] != json(e.type_ids)) mm.add(what + " type_ids", text, r["type_ids"], json(e.type_ids));
  if (r["special"] != json(e.special_tokens_mask)) mm.add(what + " special", text, r["special"], json(e.special_tokens_mask));
  if (r["attention"] != json(e.attention_mask)) mm.add(what + " attention", text, r["attention"], json(e.attention_mask));
}

class TokenizerJson : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerJson, MatchesReference) {
  const std::string kind = GetParam();
  const fs::path dir = tok_dir() / kind;
  hfx::Tokenizer tok = hfx::Tokenizer::from_file((dir / "tokenizer.json").string());
  tok.set_truncation(std::nullopt);
  tok.set_padding(std::nullopt);
  const json ref = read_json(dir / "expected.json");
  const auto& c = corpus();
  ASSERT_GE(c.size(), 2000u);
  Mismatches mm{kind};
  const auto& single = ref["single"];
  ASSERT_EQ(single.size(), c.size());
  for (std::size_t i = 0; i < c.size(); ++i) {
    hfx::Encoding e = tok.encode(c[i]);
    check_record(mm, "single", c[i], single[i], e, false);
    std::string d = tok.decode(e.ids, true);
    if (ref["decode"][i] != d) mm.add("decode", c[i], ref["decode"][i], d);
    if (i < ref["decode_keep"].size()) {
      std::string dk = tok.decode(e.ids, false);
      if (ref["decode_keep"][i] != dk) mm.add("decode(keep special)", c[i], ref["decode_keep"][i], dk);
    }
  }
  for (std::size_t i = 0; i < ref["no_special"].size(); ++i) {
    json got = tok.encode(c[i], std::nullopt, false).ids;
    if (ref["no_special"][i] != got) mm.add("no special tokens", c[i], ref["no_special"][i], got);
  }
  for (std::size_t i = 0; i < ref["pairs"].size(); ++i) {
    auto a = ref["pair_indices"][i][0].get<std::size_t>(), b = ref["pair_indices"][i][1].get<std::size_t>();
    check_record(mm, "pair", c[a] + " || " + c[b], ref["pairs"][i], tok.encode(c[a], c[b]), true);
  }
  int batches = 0;
  for (const auto& bref : ref["batches"]) {
    hfx::Tokenizer t = tok;  // shares the pipeline; settings below are per test
    if (!bref["truncation"].is_null()) {
      hfx::TruncationParams p;
      const auto& tj = bref["truncation"];
      p.max_length = tj["max_length"].get<int64_t>();
      p.stride = tj.value("stride", int64_t{0});
      std::string s = tj.value("strategy", std::string("longest_first"));
      p.strategy = s == "only_first" ? hfx::TruncationStrategy::OnlyFirst
                   : s == "only_second" ? hfx::TruncationStrategy::OnlySecond
                                        : hfx::TruncationStrategy::LongestFirst;
      p.direction = tj.value("direction", std::string("right")) == "left" ? hfx::Side::Left : hfx::Side::Right;
      t.set_truncation(p);
    }
    if (!bref["padding"].is_null()) {
      hfx::PaddingParams p;
      const auto& pj = bref["padding"];
      if (pj.contains("length")) p.length = pj["length"].get<int64_t>();
      p.pad_to_multiple_of = pj.value("pad_to_multiple_of", int64_t{0});
      p.direction = pj.value("direction", std::string("right")) == "left" ? hfx::Side::Left : hfx::Side::Right;
      p.pad_token = bref["pad_token"].get<std::string>();
      p.pad_id = *t.token_to_id(p.pad_token);
      t.set_padding(p);
    }
    std::vector<hfx::Encoding> got;
    std::string err;
    try {
      if (bref["pairs"].get<bool>()) {
        std::vector<std::pair<std::string, std::string>> in;
        for (const auto& ij : bref["indices"]) {
          auto i = ij.get<std::size_t>();
          in.emplace_back(c[i], c[(i * 13 + 5) % c.size()]);
        }
        got = t.encode_batch(in);
      } else {
        std::vector<std::string> in;
        for (const auto& ij : bref["indices"]) in.push_back(c[ij.get<std::size_t>()]);
        got = t.encode_batch(in);
      }
    } catch (const hfx::Error& e) {
      err = e.what();
    }
    if (!bref["error"].is_null()) {
      EXPECT_FALSE(err.empty()) << kind << " batch " << batches << ": reference failed with " << bref["error"];
    } else {
      EXPECT_TRUE(err.empty()) << kind << " batch " << batches << ": " << err;
      if (err.empty()) {
        EXPECT_EQ(got.size(), bref["encodings"].size());
        for (std::size_t i = 0; i < got.size() && i < bref["encodings"].size(); ++i)
          check_record(mm, "batch " + std::to_string(batches), c[bref["indices"][i].get<std::size_t>()],
                       bref["encodings"][i], got[i], true);
      }
    }
    ++batches;
  }
  EXPECT_EQ(mm.count, 0) << kind << ": " << mm.count << " mismatches";
}

INSTANTIATE_TEST_SUITE_P(Kinds, TokenizerJson,
                         ::testing::Values("bert-uncased", "bert-cased", "gpt2", "roberta", "llama", "t5", "albert",
                                           "xlnet"),
                         [](const ::testing::TestParamInfo<std::string>& pi) {
                           std::string n = pi.param;
                           for (auto& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace
