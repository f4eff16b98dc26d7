// Tokenizers against the reference of tools/fixtures/tokenizer_fixtures.py (tokenizers 0.20.3, transformers 4.46.3):
// ids, char offsets, type ids, masks, pairs, batches with truncation/padding and decode on >= 2000 strings.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sstream>

#include "hfx/tokenizer.h"
#include "test_util.h"
#include "tokenizer_test_util.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

using hfx::testing::corpus;
using hfx::testing::read_json;
using hfx::testing::tok_dir;

std::vector<int64_t> flat_offsets(const hfx::Encoding& e) { return hfx::testing::flat_offsets(e.offsets); }

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
  int report = 5;
  void add(const std::string& what, const std::string& text, const json& want, const json& got) {
    if (++count <= report)
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
    if (!bref["truncation"].is_null()) t.set_truncation(hfx::testing::truncation_from(bref["truncation"]));
    if (!bref["padding"].is_null()) t.set_padding(hfx::testing::padding_from(bref["padding"], bref["pad_token"], t));
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
                                           "xlnet", "t5-nfkc", "mpnet"),
                         [](const ::testing::TestParamInfo<std::string>& pi) {
                           std::string n = pi.param;
                           for (auto& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace

namespace {

// Legacy files only (no tokenizer.json), as transformers' AutoTokenizer would see them.
class TokenizerLegacy : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(TokenizerLegacy, MatchesTransformers) {
  const auto& [kind, files] = GetParam();
  hfx::testing::TempDir tmp;
  std::stringstream ss(files + ",tokenizer_config.json,special_tokens_map.json");
  std::string f;
  while (std::getline(ss, f, ','))
    if (fs::exists(tok_dir() / kind / f)) fs::copy_file(tok_dir() / kind / f, tmp.path() / f);
  hfx::Tokenizer tok = hfx::AutoTokenizer::from_pretrained(tmp.path().string());
  const json ref = read_json(tok_dir() / kind / "legacy_expected.json");
  const auto& c = corpus();
  Mismatches mm{kind + " (legacy " + ref["class"].get<std::string>() + ")"};
  ASSERT_EQ(ref["ids"].size(), 600u);
  for (std::size_t i = 0; i < ref["ids"].size(); ++i) {
    json got = tok.encode(c[i]).ids;
    if (ref["ids"][i] != got) mm.add("ids", c[i], ref["ids"][i], got);
  }
  for (std::size_t i = 0; i < ref["pair_ids"].size(); ++i) {
    const std::string& b = c[(i * 7 + 3) % c.size()];
    json got = tok.encode(c[i], b).ids;
    if (ref["pair_ids"][i] != got) mm.add("pair ids", c[i] + " || " + b, ref["pair_ids"][i], got);
  }
  // Unigram models: the other corpus strings (600..1999) holding an exact Viterbi tie (see the end of this test).
  for (const auto& tie : ref.value("ties", json::array())) {
    auto i = tie[0].get<std::size_t>();
    json got = tok.encode(c[i]).ids;
    if (tie[1] != got) mm.add("ids (Viterbi tie)", c[i], tie[1], got);
  }
  // Decode as the slow tokenizer decodes (skip_special_tokens both ways; pairs keep their special tokens).
  for (std::size_t i = 0; i < ref.value("decode", json::array()).size(); ++i) {
    std::string got = tok.decode(ref["ids"][i].get<std::vector<int64_t>>(), true);
    if (ref["decode"][i] != got) mm.add("decode", c[i], ref["decode"][i], got);
  }
  for (std::size_t i = 0; i < ref.value("decode_keep", json::array()).size(); ++i) {
    std::string got = tok.decode(ref["ids"][i].get<std::vector<int64_t>>(), false);
    if (ref["decode_keep"][i] != got) mm.add("decode(keep special)", c[i], ref["decode_keep"][i], got);
  }
  for (std::size_t i = 0; i < ref.value("pair_decode_keep", json::array()).size(); ++i) {
    std::string got = tok.decode(ref["pair_ids"][i].get<std::vector<int64_t>>(), false);
    if (ref["pair_decode_keep"][i] != got) mm.add("pair decode(keep special)", c[i], ref["pair_decode_keep"][i], got);
  }
  // Offsets: slow tokenizers have none; the reference is the fast tokenizer transformers converts from the same
  // model (what return_offsets_mapping gives), compared wherever it produces the same ids: legacy_expected.json's
  // "offsets" (xlm-roberta, camembert; null where the fast ids differ), else the fixture's tokenizer.json
  // (expected.json) over the whole corpus.
  int offsets_checked = 0;
  if (ref.contains("offsets")) {
    for (std::size_t i = 0; i < ref["offsets"].size(); ++i) {
      if (ref["offsets"][i].is_null()) continue;
      hfx::Encoding e = tok.encode(c[i]);
      ++offsets_checked;
      if (ref["offsets"][i] != json(flat_offsets(e))) mm.add("offsets", c[i], ref["offsets"][i], flat_offsets(e));
    }
    EXPECT_GE(offsets_checked, 250) << kind;
  } else if (ref.contains("decode")) {
    // (llama: the fixture's tokenizer.json adds no <s>, the slow tokenizer does.) Texts holding a literal
    // "<unk>" are left out: the converted fast tokenizer matches it after normalization and may fuse it with
    // unknown characters before it into one unknown token, where the slow one splits it off as the special
    // token; the ids agree (both are the unk id) but the tokens are not the same.
    const json fast = read_json(tok_dir() / kind / "expected.json");
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (c[i].find("<unk>") != std::string::npos) continue;
      hfx::Encoding e = tok.encode(c[i]);
      json want_ids = fast["single"][i]["ids"], want_off = fast["single"][i]["offsets"];
      if (kind == "llama") {  // the fixture's tokenizer.json adds no <s>
        want_ids.insert(want_ids.begin(), 1);
        want_off.insert(want_off.begin(), {0, 0});
      }
      if (json(e.ids) != want_ids) continue;
      ++offsets_checked;
      if (want_off != json(flat_offsets(e))) mm.add("offsets (fast reference)", c[i], want_off, flat_offsets(e));
    }
    EXPECT_GE(offsets_checked, 1000) << kind;
  }
  // No allowance: long "abba..." (and Greek/Cyrillic) words hold exact Viterbi ties that Debian's libsentencepiece
  // 0.1.97 (double-precision candidate scores) breaks differently from the pip sentencepiece 0.2.x of the reference
  // (float); hfx redoes unigram segmentation in float (legacy.cc, UnigramTable; tokenizer_fixtures.py
  // --unigram-ties shows float arithmetic matching pip on all 2,000 strings, double on 1,990-1,996).
  EXPECT_EQ(mm.count, 0) << mm.kind << ": " << mm.count << " mismatches";
}

INSTANTIATE_TEST_SUITE_P(Kinds, TokenizerLegacy,
                         ::testing::Values(std::pair<std::string, std::string>{"bert-uncased", "vocab.txt"},
                                           std::pair<std::string, std::string>{"mpnet", "vocab.txt"},
                                           std::pair<std::string, std::string>{"bert-cased", "vocab.txt"},
                                           std::pair<std::string, std::string>{"gpt2", "vocab.json,merges.txt"},
                                           std::pair<std::string, std::string>{"roberta", "vocab.json,merges.txt"},
                                           std::pair<std::string, std::string>{"llama", "tokenizer.model"},
                                           std::pair<std::string, std::string>{"t5", "spiece.model"},
                                           std::pair<std::string, std::string>{"albert", "spiece.model"},
                                           std::pair<std::string, std::string>{"xlnet", "spiece.model"},
                                           std::pair<std::string, std::string>{"t5-nfkc", "spiece.model"},
                                           std::pair<std::string, std::string>{"xlm-roberta", "sentencepiece.bpe.model"},
                                           std::pair<std::string, std::string>{"camembert", "sentencepiece.bpe.model"}),
                         [](const ::testing::TestParamInfo<std::pair<std::string, std::string>>& pi) {
                           std::string n = pi.param.first;
                           for (auto& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace

namespace {

using hfx::ErrorKind;
using hfx::testing::expect_error;

TEST(TokenizerErrors, InvalidUtf8IsAnError) {
  hfx::Tokenizer tok = hfx::AutoTokenizer::from_pretrained((tok_dir() / "bert-uncased").string());
  expect_error([&] { tok.encode("ok \xff\xfe bad"); }, ErrorKind::InvalidArgument, {"invalid UTF-8", "byte 3"});
  expect_error([&] { tok.encode("ok", std::string_view("\xc3")); }, ErrorKind::InvalidArgument, {"pair text"});
  expect_error([&] { tok.encode("\xed\xa0\x80"); }, ErrorKind::InvalidArgument, {"invalid UTF-8"});  // surrogate
}

TEST(TokenizerErrors, MissingFiles) {
  hfx::testing::TempDir tmp;
  expect_error([&] { hfx::AutoTokenizer::from_pretrained(tmp.file("nope")); }, ErrorKind::NotFound, {"nope"});
  expect_error([&] { hfx::AutoTokenizer::from_pretrained(tmp.path().string()); }, ErrorKind::NotFound,
               {"no tokenizer files"});
  hfx::testing::write_bytes(tmp.file("tokenizer_config.json"), R"({"tokenizer_class": "GPT2Tokenizer"})");
  hfx::testing::write_bytes(tmp.file("vocab.json"), R"({"a": 0})");
  expect_error([&] { hfx::AutoTokenizer::from_pretrained(tmp.path().string()); }, ErrorKind::NotFound,
               {"without merges.txt"});
  expect_error([&] { hfx::Tokenizer::from_file(tmp.file("tokenizer.json")); }, ErrorKind::NotFound, {"tokenizer.json"});
}

// A special token the slow tokenizer needs, set to null in tokenizer_config.json, is a typed error naming
// the file (the side_configs fuzzer found `"unk_token": null` dereferencing an empty optional).
TEST(TokenizerErrors, NullRequiredSpecialToken) {
  for (const char* key : {"unk_token", "cls_token", "sep_token"}) {
    hfx::testing::TempDir tmp;
    hfx::testing::write_bytes(tmp.file("vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
    hfx::testing::write_bytes(tmp.file("tokenizer_config.json"),
                              std::string(R"({"tokenizer_class": "BertTokenizer", ")") + key + R"(": null})");
    expect_error([&] { hfx::AutoTokenizer::from_pretrained(tmp.path().string()); }, ErrorKind::Format,
                 {key, "null", "vocab.txt"});
  }
  for (const char* key : {"cls_token", "sep_token"}) {
    hfx::testing::TempDir tmp;
    hfx::testing::write_bytes(tmp.file("vocab.json"), R"({"<s>": 0, "</s>": 1, "a": 2})");
    hfx::testing::write_bytes(tmp.file("merges.txt"), "#version: 0.2\n");
    hfx::testing::write_bytes(tmp.file("tokenizer_config.json"),
                              std::string(R"({"tokenizer_class": "RobertaTokenizer", ")") + key + R"(": null})");
    expect_error([&] { hfx::AutoTokenizer::from_pretrained(tmp.path().string()); }, ErrorKind::Format,
                 {key, "null", "vocab.json"});
  }
}

// LlamaTokenizerFast / GemmaTokenizerFast rebuild the post-processor from add_bos_token / add_eos_token
// (update_post_processor), whatever tokenizer.json holds; other classes keep tokenizer.json's.
TEST(TokenizerFastClass, LlamaPostProcessorFollowsAddBosAndAddEos) {
  const fs::path src = tok_dir() / "llama";
  const hfx::Tokenizer plain = hfx::Tokenizer::from_file((src / "tokenizer.json").string());
  const std::vector<int64_t> a = plain.encode("Hello world").ids, b = plain.encode("x").ids;
  auto with_config = [&](const std::string& cfg) {
    hfx::testing::TempDir tmp;
    fs::copy_file(src / "tokenizer.json", tmp.path() / "tokenizer.json");
    hfx::testing::write_bytes(tmp.file("tokenizer_config.json"), cfg);
    return hfx::AutoTokenizer::from_pretrained(tmp.path().string());
  };
  auto cat = [](std::initializer_list<std::vector<int64_t>> parts) {
    std::vector<int64_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  hfx::Tokenizer t = with_config(R"({"tokenizer_class": "LlamaTokenizerFast"})");  // add_bos_token defaults to true
  EXPECT_EQ(t.encode("Hello world").ids, cat({{1}, a}));
  const hfx::Encoding p = t.encode("Hello world", std::string_view("x"));
  EXPECT_EQ(p.ids, cat({{1}, a, {1}, b}));
  EXPECT_EQ(p.type_ids[a.size() + 1], 1);
  t = with_config(R"({"tokenizer_class": "GemmaTokenizer", "add_bos_token": false, "add_eos_token": true})");
  EXPECT_EQ(t.encode("Hello world").ids, cat({a, {2}}));
  EXPECT_EQ(t.encode("Hello world", std::string_view("x")).ids, cat({a, {2}, b, {2}}));
  t = with_config(R"({"tokenizer_class": "PreTrainedTokenizerFast"})");
  EXPECT_EQ(t.encode("Hello world").ids, a);
  hfx::testing::expect_error([&] { with_config(R"({"tokenizer_class": "LlamaTokenizer", "bos_token": "<nope>"})"); },
                             hfx::ErrorKind::Format, {"<nope>", "tokenizer.json"});
}

TEST(TokenizerErrors, MalformedTokenizerJson) {
  auto bad = [](const std::string& text, ErrorKind kind, std::initializer_list<std::string> needles) {
    expect_error([&] { hfx::Tokenizer::from_json(text, "t.json"); }, kind, needles);
  };
  bad("{not json", ErrorKind::Format, {"t.json", "not valid JSON"});
  bad("[]", ErrorKind::Format, {"must be an object"});
  bad("{}", ErrorKind::Format, {"missing 'model'"});
  bad(R"({"model": {"type": "BPE", "vocab": [], "merges": []}})", ErrorKind::Format, {"vocab must be an object"});
  bad(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})", ErrorKind::Format, {"merge 'a b'"});
  bad(R"({"model": {"type": "BPE", "vocab": {"a": -4}, "merges": []}})", ErrorKind::Format, {"bad token id"});
  bad(R"({"model": {"type": "Unigram", "vocab": [["a", "x"]]}})", ErrorKind::Format, {"[piece, score]"});
  bad(R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]], "unk_id": 7}})", ErrorKind::Format, {"unk_id"});
  bad(R"({"model": {"type": "Magic"}})", ErrorKind::Unsupported, {"model 'Magic'"});
  bad(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}, "normalizer": {"type": "Shout"}})", ErrorKind::Unsupported,
      {"normalizer 'Shout'"});
  bad(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(("}, "behavior": "Isolated"}})",
      ErrorKind::Format, {"bad regex"});
  bad(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[X]"}}], "pair": [], "special_tokens": {}}})",
      ErrorKind::Format, {"[X]"});
  bad(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}, "added_tokens": [{"id": "x", "content": 3}]})",
      ErrorKind::Format, {"wrong type"});
  // an unk token missing from the vocabulary fails at encode time, as in the crate
  hfx::Tokenizer t = hfx::Tokenizer::from_json(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}, "unk_token": "[UNK]"}})");
  EXPECT_EQ(t.encode("a").ids, std::vector<int64_t>{0});
  expect_error([&] { t.encode("b"); }, ErrorKind::Format, {"unk_token"});
}

// fairseq id layouts of the slow XLMRobertaTokenizer / CamembertTokenizer (values from transformers 4.46.3 on the
// fixture models: 900 sentencepiece pieces).
TEST(TokenizerLegacyFairseq, SpecialIdsAndMask) {
  auto load = [](const std::string& kind) {
    hfx::testing::TempDir tmp;
    for (const char* f : {"sentencepiece.bpe.model", "tokenizer_config.json"})
      fs::copy_file(tok_dir() / kind / f, tmp.path() / f);
    return hfx::AutoTokenizer::from_pretrained(tmp.path().string());
  };
  hfx::Tokenizer x = load("xlm-roberta");
  EXPECT_EQ(x.vocab_size(), 902);
  for (const auto& [t, id] : std::vector<std::pair<std::string, int64_t>>{{"<s>", 0}, {"<pad>", 1}, {"</s>", 2}, {"<unk>", 3}, {"<mask>", 901}})
    EXPECT_EQ(x.token_to_id(t), id) << t;
  EXPECT_EQ(x.id_to_token(4), "er");
  EXPECT_EQ(x.encode("Hello <mask> world!").ids, (std::vector<int64_t>{0, 388, 901, 207, 3, 2}));
  EXPECT_EQ(x.decode({0, 388, 901, 207, 3, 2}, false), "<s> Hello<mask> world<unk></s>");
  hfx::Tokenizer c = load("camembert");
  EXPECT_EQ(c.vocab_size(), 905);
  for (const auto& [t, id] : std::vector<std::pair<std::string, int64_t>>{
           {"<s>NOTUSED", 0}, {"<pad>", 1}, {"</s>NOTUSED", 2}, {"<unk>", 3}, {"<unk>NOTUSED", 4}, {"<s>", 5}, {"</s>", 6}, {"<mask>", 904}})
    EXPECT_EQ(c.token_to_id(t), id) << t;
  EXPECT_EQ(c.id_to_token(7), "\xe2\x96\x81");
  EXPECT_EQ(c.encode("Hello <mask> world!").ids, (std::vector<int64_t>{5, 166, 904, 81, 3, 6}));
  EXPECT_EQ(c.decode({5, 166, 904, 81, 3, 6}, false), "<s> Hello<mask> world<unk></s>");
  EXPECT_EQ(c.decode({5, 166, 904, 81, 3, 6}, true), "Hello world");
}

TEST(TokenizerErrors, CorruptSentencepieceModel) {
  hfx::testing::TempDir tmp;
  hfx::testing::write_bytes(tmp.file("spiece.model"), std::string("\x0a\x05hello garbage", 15));
  expect_error([&] { hfx::AutoTokenizer::from_pretrained(tmp.path().string()); }, ErrorKind::Format,
               {"sentencepiece", "spiece.model"});
}

TEST(TokenizerApi, SettingsFromTokenizerJsonAndDecode) {
  // all-MiniLM-L6-v2's tokenizer.json pads to 128 and truncates at 128, as the Rust crate applies.
  hfx::Tokenizer tok = hfx::AutoTokenizer::from_pretrained((tok_dir() / "bert-uncased").string());
  ASSERT_TRUE(tok.padding());
  hfx::Encoding e = tok.encode("Hello world!");
  EXPECT_EQ(e.ids.size(), 128u);
  EXPECT_EQ((std::vector<int64_t>(e.ids.begin(), e.ids.begin() + 5)), (std::vector<int64_t>{101, 7592, 2088, 999, 102}));
  EXPECT_EQ(e.attention_mask[4], 1);
  EXPECT_EQ(e.attention_mask[5], 0);
  EXPECT_EQ(e.tokens[1], "hello");
  EXPECT_EQ(e.offsets[2], (std::pair<int64_t, int64_t>{6, 11}));
  tok.set_padding(std::nullopt);
  EXPECT_EQ(tok.encode("Hello world!").ids.size(), 5u);
  EXPECT_EQ(tok.decode({101, 7592, 2088, 999, 102}, false), "[CLS] hello world! [SEP]");
  EXPECT_EQ(tok.decode({101, 7592, -5, 1 << 30, 2088, 102}, true), "hello world");  // unknown ids are skipped
  EXPECT_EQ(tok.token_to_id("[MASK]"), 103);
  EXPECT_EQ(tok.id_to_token(7592), "hello");
  EXPECT_EQ(tok.vocab_size(), 30522);
  EXPECT_EQ(tok.num_special_tokens_to_add(true), 3);
}

}  // namespace

namespace {

// The fuzz seeds (valid and malformed) load or fail with hfx::Error, and encode/decode without crashing.
TEST(TokenizerErrors, FuzzSeedsReplay) {
  int loaded = 0, rejected = 0;
  for (const auto& ent : fs::directory_iterator(hfx::testing::source_dir() / "fuzz" / "corpus" / "tokenizer_json")) {
    std::ifstream f(ent.path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::string_view text = data, extra;
    if (auto nul = data.find('\0'); nul != std::string::npos) {
      text = std::string_view(data).substr(0, nul);
      extra = std::string_view(data).substr(nul + 1);
    }
    try {
      hfx::Tokenizer tok = hfx::Tokenizer::from_json(text);
      ++loaded;
      hfx::Encoding e = tok.encode("Hello, world! café  漢字 😀", std::string_view("pair"));
      EXPECT_EQ(e.ids.size(), e.offsets.size()) << ent.path();
      (void)tok.decode(e.ids, true);
      try {
        (void)tok.encode(extra);
      } catch (const hfx::Error&) {
        ++rejected;  // invalid UTF-8 in the text part
      }
    } catch (const hfx::Error&) {
      ++rejected;
    }
  }
  EXPECT_GE(loaded, 3);
  EXPECT_GE(rejected, 2);
}

}  // namespace
