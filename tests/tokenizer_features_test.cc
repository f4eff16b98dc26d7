// Truncation with stride and overflowing pieces, and the pipeline components added for issue #10 (Nmt and
// ByteLevel normalizers, UnicodeScripts and CharDelimiterSplit pre-tokenizers, CTC decoder), against
// tests/fixtures/tokenizers/features/ (tools/fixtures/tokenizer_fixtures.py --only features: tokenizers 0.20.3,
// transformers 4.46.3).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <set>

#include "hfx/error.h"
#include "hfx/tokenizer.h"
#include "test_util.h"
#include "tokenizer_test_util.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using hfx::ErrorKind;
using hfx::testing::expect_error;

using hfx::testing::corpus;
using hfx::testing::read_json;
using hfx::testing::tok_dir;

// A committed tokenizer.json with some top-level parts replaced (as the fixture script built it).
hfx::Tokenizer tokenizer_with(const std::string& kind, const json& replace) {
  json j = read_json(tok_dir() / kind / "tokenizer.json");
  for (const auto& [k, v] : replace.items()) j[k] = v;
  hfx::Tokenizer t = hfx::Tokenizer::from_json(j.dump(), kind + " (modified)");
  t.set_truncation(std::nullopt);
  t.set_padding(std::nullopt);
  return t;
}

using hfx::testing::flat_offsets;

struct Mismatches {
  int count = 0;
  void add(const std::string& what, const json& want, const json& got) {
    if (++count <= 8) ADD_FAILURE() << what << "\n want " << want.dump() << "\n got  " << got.dump();
  }
};

void check(Mismatches& mm, const std::string& what, const json& r, const hfx::Encoding& e) {
  auto cmp = [&](const char* key, const json& got) {
    if (r[key] != got) mm.add(what + " " + key, r[key], got);
  };
  cmp("ids", e.ids);
  cmp("type_ids", e.type_ids);
  cmp("offsets", flat_offsets(e.offsets));
  cmp("special", e.special_tokens_mask);
  cmp("attention", e.attention_mask);
  cmp("seq", e.sequence_ids);
}

using hfx::testing::truncation_from;

TEST(TokenizerOverflow, MatchesTokenizersEncodingOverflowing) {
  const json ref = read_json(tok_dir() / "features" / "overflow.json");
  const auto& c = corpus();
  Mismatches mm;
  int cases = 0, pieces = 0, failing = 0;
  for (const auto& cs : ref["cases"]) {
    const std::string name = cs["kind"].get<std::string>() + " case " + std::to_string(cases++) + " " +
                             cs["truncation"].dump() + (cs["replace"].empty() ? "" : " (post-processor replaced)");
    SCOPED_TRACE(name);
    hfx::Tokenizer tok = tokenizer_with(cs["kind"], cs["replace"]);
    tok.set_truncation(truncation_from(cs["truncation"]));
    if (!cs["padding"].is_null()) tok.set_padding(hfx::testing::padding_from(cs["padding"], cs["pad_token"], tok));
    const bool pairs = !cs["pair_indices"].is_null();
    const bool special = cs["add_special_tokens"].get<bool>();
    ASSERT_TRUE(cs["error"].is_null()) << cs["error"];
    std::vector<hfx::Encoding> got;
    if (pairs) {
      std::vector<std::pair<std::string, std::string>> in;
      for (std::size_t i = 0; i < cs["indices"].size(); ++i)
        in.emplace_back(c[cs["indices"][i].get<std::size_t>()], c[cs["pair_indices"][i].get<std::size_t>()]);
      got = tok.encode_batch(in, special);
    } else {
      std::vector<std::string> in;
      for (const auto& i : cs["indices"]) in.push_back(c[i.get<std::size_t>()]);
      got = tok.encode_batch(in, special);
    }
    ASSERT_EQ(got.size(), cs["encodings"].size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      const json& r = cs["encodings"][i];
      const std::string what = name + " input " + std::to_string(i);
      check(mm, what, r, got[i]);
      if (r["overflowing"].size() != got[i].overflowing.size()) {
        mm.add(what + " number of overflowing pieces", r["overflowing"].size(), got[i].overflowing.size());
        continue;
      }
      for (std::size_t k = 0; k < got[i].overflowing.size(); ++k, ++pieces)
        check(mm, what + " overflowing " + std::to_string(k), r["overflowing"][k], got[i].overflowing[k]);
    }
    // inputs the crate refuses: a cut sequence too short for the stride (a Rust panic there) or for max_length
    for (std::size_t i = 0; i < cs["failing_indices"].size(); ++i, ++failing) {
      const std::string& a = c[cs["failing_indices"][i].get<std::size_t>()];
      const std::string needle =
          cs["failing_errors"][i].get<std::string>().find("stride") != std::string::npos ? "stride" : "too short";
      if (pairs) {
        const std::string& b = c[cs["failing_pair_indices"][i].get<std::size_t>()];
        expect_error([&] { tok.encode(a, std::string_view(b), special); }, ErrorKind::InvalidArgument, {needle});
      } else {
        expect_error([&] { tok.encode(a, std::nullopt, special); }, ErrorKind::InvalidArgument, {needle});
      }
    }
  }
  EXPECT_EQ(mm.count, 0);
  EXPECT_GE(cases, 18);
  EXPECT_GE(pieces, 150);  // the fixture exercises many pieces, pair combinations included
  EXPECT_GE(failing, 5);
}

TEST(TokenizerOverflow, TransformersReturnOverflowingTokens) {
  const json ref = read_json(tok_dir() / "features" / "overflow.json");
  ASSERT_EQ(ref["transformers"].size(), 2u);
  for (const auto& h : ref["transformers"]) {
    hfx::Tokenizer tok = hfx::Tokenizer::from_file((tok_dir() / "bert-cased" / "tokenizer.json").string());
    const json& kw = h["kwargs"];
    hfx::TruncationParams tp;
    tp.max_length = kw["max_length"].get<int64_t>();
    tp.stride = kw["stride"].get<int64_t>();
    tp.strategy = kw["truncation"] == "only_second" ? hfx::TruncationStrategy::OnlySecond
                                                    : hfx::TruncationStrategy::LongestFirst;
    tok.set_truncation(tp);
    hfx::PaddingParams pp;
    if (kw["padding"] == "max_length") pp.length = tp.max_length;
    pp.pad_token = "[PAD]";
    pp.pad_id = *tok.token_to_id("[PAD]");
    tok.set_padding(pp);
    std::vector<hfx::Encoding> encs;
    if (h["pairs"].is_null()) {
      encs = tok.encode_batch(h["texts"].get<std::vector<std::string>>());
    } else {
      std::vector<std::pair<std::string, std::string>> in;
      for (std::size_t i = 0; i < h["texts"].size(); ++i) in.emplace_back(h["texts"][i], h["pairs"][i]);
      encs = tok.encode_batch(in);
    }
    std::vector<int64_t> sample_of;
    std::vector<hfx::Encoding> rows = hfx::flatten_overflowing(encs, &sample_of);
    EXPECT_EQ(json(sample_of), h["overflow_to_sample_mapping"]);
    json ids = json::array(), types = json::array(), mask = json::array();
    for (const auto& e : rows) {
      EXPECT_TRUE(e.overflowing.empty());
      ids.push_back(e.ids);
      types.push_back(e.type_ids);
      mask.push_back(e.attention_mask);
    }
    EXPECT_EQ(ids, h["input_ids"]);
    EXPECT_EQ(types, h["token_type_ids"]);
    EXPECT_EQ(mask, h["attention_mask"]);
  }
}

TEST(TokenizerOverflow, StrideLimitsAreTypedErrors) {
  hfx::Tokenizer tok = tokenizer_with("bert-cased", json::object());
  hfx::TruncationParams p;
  p.max_length = 7;
  p.stride = 6;  // 7 - 2 special tokens = 5 < 6: refused when set, as TokenizerImpl::with_truncation does
  expect_error([&] { tok.set_truncation(p); }, ErrorKind::InvalidArgument, {"stride 6", "effective max length 5"});
  p.stride = -1;
  expect_error([&] { tok.set_truncation(p); }, ErrorKind::InvalidArgument, {"stride"});
  p.stride = 0;
  p.max_length = -3;
  expect_error([&] { tok.set_truncation(p); }, ErrorKind::InvalidArgument, {"max_length"});
  p.max_length = 7;
  p.stride = 5;  // accepted when set; the 5 tokens left equal the stride when a sequence is cut: refused there
  tok.set_truncation(p);
  expect_error([&] { tok.encode("hello world this is a long sentence of words to split"); }, ErrorKind::InvalidArgument,
               {"stride 5", "5 tokens"});
  EXPECT_EQ(tok.encode("hello").overflowing.size(), 0u);  // nothing cut, nothing checked (as the crate)
  p.stride = 2;
  tok.set_truncation(p);
  hfx::Encoding e = tok.encode("hello world this is a long sentence of words to split");
  ASSERT_FALSE(e.overflowing.empty());
  for (std::size_t k = 0; k < e.overflowing.size(); ++k) {
    const auto& prev = k == 0 ? e : e.overflowing[k - 1];
    const auto& cur = e.overflowing[k];
    // each piece starts with the last 2 tokens of the one before (before [SEP])
    EXPECT_EQ(cur.ids[1], prev.ids[prev.ids.size() - 3]);
    EXPECT_EQ(cur.ids[2], prev.ids[prev.ids.size() - 2]);
  }
  // a tokenizer.json carrying a stride: the pieces come back too
  json j = read_json(tok_dir() / "bert-cased" / "tokenizer.json");
  j["truncation"] = {{"max_length", 6}, {"stride", 1}, {"strategy", "LongestFirst"}, {"direction", "Left"}};
  j["padding"] = nullptr;
  hfx::Tokenizer t2 = hfx::Tokenizer::from_json(j.dump());
  json neg = j;
  neg["truncation"]["stride"] = -1;  // usize in the crate: refused when read
  expect_error([&] { hfx::Tokenizer::from_json(neg.dump(), "neg.json"); }, ErrorKind::Format, {"neg.json", "stride"});
  // a stride too large for a sequence is read (as the crate does) and refused only when a sequence is cut
  json big = j;
  big["truncation"]["stride"] = 6;
  hfx::Tokenizer t3 = hfx::Tokenizer::from_json(big.dump());
  EXPECT_EQ(t3.encode("hello").ids.size(), 3u);
  expect_error([&] { t3.encode("hello world this is a long sentence of words"); }, ErrorKind::InvalidArgument, {"stride 6"});
  EXPECT_EQ(t2.truncation()->stride, 1);
  p.max_length = 6;
  p.stride = 1;
  p.direction = hfx::Side::Left;
  tok.set_truncation(p);
  const std::string s = "hello world this is a long sentence";
  hfx::Encoding a = t2.encode(s), b = tok.encode(s);
  EXPECT_EQ(a.ids, b.ids);
  ASSERT_EQ(a.overflowing.size(), b.overflowing.size());
  EXPECT_GE(a.overflowing.size(), 2u);
  for (std::size_t k = 0; k < a.overflowing.size(); ++k) EXPECT_EQ(a.overflowing[k].ids, b.overflowing[k].ids);
}

TEST(TokenizerComponents, MatchReference) {
  const json ref = read_json(tok_dir() / "features" / "components.json");
  const auto& c = corpus();
  const auto sample = ref["sample"].get<std::vector<std::size_t>>();
  ASSERT_GE(sample.size(), 100u);
  std::set<std::string> names;
  for (const auto& comp : ref["components"]) {
    const std::string name = comp["name"];
    names.insert(name);
    SCOPED_TRACE(name);
    hfx::Tokenizer tok = tokenizer_with(comp["kind"], comp["replace"]);
    Mismatches mm;
    for (std::size_t k = 0; k < sample.size(); ++k) {
      const std::string& text = c[sample[k]];
      hfx::Encoding e = tok.encode(text);
      const std::string what = name + " on corpus[" + std::to_string(sample[k]) + "]";
      if (comp.contains("ids")) {
        if (comp["ids"][k] != json(e.ids)) mm.add(what + " ids", comp["ids"][k], e.ids);
        if (comp["offsets"][k] != json(flat_offsets(e.offsets))) mm.add(what + " offsets", comp["offsets"][k], flat_offsets(e.offsets));
      }
      std::string d = tok.decode(e.ids);
      if (comp["decode"][k] != d) mm.add(what + " decode", comp["decode"][k], d);
    }
    if (comp.contains("id_lists")) {
      for (std::size_t k = 0; k < comp["id_lists"].size(); ++k) {
        auto ids = comp["id_lists"][k].get<std::vector<int64_t>>();
        std::string keep = tok.decode(ids, false), skip = tok.decode(ids, true);
        if (comp["id_lists_decode"][k] != keep) mm.add(name + " decode(keep) " + json(ids).dump(), comp["id_lists_decode"][k], keep);
        if (comp["id_lists_decode_skip"][k] != skip) mm.add(name + " decode(skip) " + json(ids).dump(), comp["id_lists_decode_skip"][k], skip);
      }
    }
    EXPECT_EQ(mm.count, 0) << name;
  }
  for (const char* n : {"nmt", "nmt-sequence", "bytelevel-normalizer", "unicode-scripts", "unicode-scripts-sequence",
                        "char-delimiter", "ctc", "ctc-nocleanup"})
    EXPECT_TRUE(names.count(n)) << n;
}

TEST(TokenizerComponents, UnicodeScriptsQuirks) {
  // The crate drops what comes before the first character with a script (here the leading space), treats the
  // space as belonging to the piece before it and counts Hiragana, Katakana and U+30FC as Han.
  json pre = {{"type", "UnicodeScripts"}};
  json j = {{"model", {{"type", "WordLevel"}, {"vocab", {{"[UNK]", 0}}}, {"unk_token", "[UNK]"}}}, {"pre_tokenizer", pre}};
  hfx::Tokenizer tok = hfx::Tokenizer::from_json(j.dump());
  auto offs = [&](const std::string& s) { return flat_offsets(tok.encode(s).offsets); };
  EXPECT_EQ(offs(" abc"), (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(offs("abc ΑΒΓ abc"), (std::vector<int64_t>{0, 4, 4, 8, 8, 11}));
  EXPECT_EQ(offs("ひらがなカタカナ漢字ー"), (std::vector<int64_t>{0, 11}));
  EXPECT_EQ(offs("   "), (std::vector<int64_t>{}));
}

TEST(TokenizerComponents, RefusedWithTypedErrors) {
  auto bad = [](const std::string& text, ErrorKind kind, std::initializer_list<std::string> needles) {
    expect_error([&] { hfx::Tokenizer::from_json(text, "t.json"); }, kind, needles);
  };
  // BPE dropout: sampling is not reproduced (the crate's random stream cannot be matched), so it is refused
  const std::string bpe = R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"])";
  bad(R"({"model": )" + bpe + R"(, "dropout": 0.1}})", ErrorKind::Unsupported, {"t.json", "dropout"});
  for (const char* ok : {R"(, "dropout": null}})", R"(, "dropout": 0.0}})", "}}"}) {
    hfx::Tokenizer t = hfx::Tokenizer::from_json(R"({"model": )" + bpe + ok);
    EXPECT_EQ(t.encode("ab").ids, std::vector<int64_t>{2});
  }
  const std::string model = R"("model": {"type": "WordPiece", "vocab": {"a": 0}})";
  bad("{" + model + R"(, "normalizer": {"type": "Nfkx"}})", ErrorKind::Unsupported, {"normalizer 'Nfkx'"});
  bad("{" + model + R"(, "pre_tokenizer": {"type": "Scripts"}})", ErrorKind::Unsupported, {"pre_tokenizer 'Scripts'"});
  bad("{" + model + R"(, "decoder": {"type": "CTCX"}})", ErrorKind::Unsupported, {"decoder 'CTCX'"});
  bad("{" + model + R"(, "post_processor": {"type": "Llama"}})", ErrorKind::Unsupported, {"post_processor 'Llama'"});
  bad("{" + model + R"(, "decoder": {"type": "CTC", "pad_token": 3}})", ErrorKind::Format, {"pad_token"});
  bad("{" + model + R"(, "pre_tokenizer": {"type": "CharDelimiterSplit", "delimiter": "ab"}})", ErrorKind::Format,
      {"delimiter"});
  // integer fields are read through the checked reader: a float, a negative or an out-of-range value is a Format
  // error (a float such as 7.8e118 for Strip's start was an undefined conversion; found by tokenizer_json_fuzz)
  bad("{" + model + R"(, "decoder": {"type": "Strip", "content": " ", "start": 7.8e118, "stop": 0}})", ErrorKind::Format, {"start"});
  bad("{" + model + R"(, "decoder": {"type": "Strip", "content": " ", "start": 0, "stop": -1}})", ErrorKind::Format, {"stop"});
  // every component type of tokenizers 0.20.3 (normalizers, pre_tokenizers, processors, decoders) loads
  for (const char* n : {"BertNormalizer", "Strip", "StripAccents", "NFC", "NFD", "NFKC", "NFKD", "Lowercase", "Nmt",
                        "ByteLevel", "Precompiled"}) {
    json j = json::parse("{" + model + "}");
    j["normalizer"] = {{"type", n}};
    EXPECT_NO_THROW(hfx::Tokenizer::from_json(j.dump())) << n;
  }
  for (const char* n : {"BertPreTokenizer", "ByteLevel", "Whitespace", "WhitespaceSplit", "Punctuation", "Digits",
                        "UnicodeScripts", "CharDelimiterSplit", "Metaspace"}) {
    json j = json::parse("{" + model + "}");
    j["pre_tokenizer"] = {{"type", n}};
    EXPECT_NO_THROW(hfx::Tokenizer::from_json(j.dump())) << n;
  }
  for (const char* n : {"ByteLevel", "WordPiece", "Metaspace", "BPEDecoder", "ByteFallback", "Fuse", "Strip", "CTC"}) {
    json j = json::parse("{" + model + "}");
    j["decoder"] = {{"type", n}};
    EXPECT_NO_THROW(hfx::Tokenizer::from_json(j.dump())) << n;
  }
}

}  // namespace
