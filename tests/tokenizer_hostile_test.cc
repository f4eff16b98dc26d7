// Hostile tokenizer.json inputs from issue #24: a regex that gives up (defect 7) and added-token ids
// outside what the tokenizers crate accepts (defect 9), with the classes behind them — every PCRE2
// failure is an error naming the pattern, every id read from tokenizer.json is a u32.
// The expected ids come from tokenizers 0.20.3 (tools/fixtures venv) run on the same JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "hfx/error.h"
#include "hfx/tokenizer.h"
#include "test_util.h"

namespace {

using hfx::ErrorKind;
using hfx::testing::expect_error;
using nlohmann::json;

json word_level() {
  return {{"model", {{"type", "WordLevel"}, {"vocab", {{"[UNK]", 0}, {"hello", 1}, {"world", 2}}}, {"unk_token", "[UNK]"}}},
          {"pre_tokenizer", {{"type", "Whitespace"}}}};
}

json added(json id, const std::string& content) {
  return {{"id", std::move(id)}, {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false},     {"normalized", false}, {"special", true}};
}

// Defect 7: `(a+)+$` backtracks past PCRE2's match limit on 40 a's. Before the fix find_all took the
// error for "no more matches" and the whole input became one [UNK], exit 0.
TEST(TokenizerHostile, RegexThatGivesUpIsAnErrorNamingThePattern) {
  json j = word_level();
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(a+)+$|\\s"}}}, {"behavior", "Isolated"}, {"invert", false}};
  hfx::Tokenizer t = hfx::Tokenizer::from_json(j.dump(), "hostile.json");
  EXPECT_EQ(t.encode("hello world").ids, (std::vector<int64_t>{1, 0, 2}));  // the pattern works on ordinary text
  expect_error([&] { t.encode(std::string(40, 'a') + "! Hello world"); }, ErrorKind::InvalidArgument,
               {"regex '(a+)+$|\\s'", "gave up", "match limit"});
  // The same through a Replace normalizer (the other Pattern user).
  json r = word_level();
  r["normalizer"] = {{"type", "Replace"}, {"pattern", {{"Regex", "(a+)+$"}}}, {"content", "x"}};
  hfx::Tokenizer t2 = hfx::Tokenizer::from_json(r.dump(), "hostile.json");
  expect_error([&] { t2.encode(std::string(40, 'a') + "!"); }, ErrorKind::InvalidArgument, {"regex '(a+)+$'", "gave up"});
}

// Defect 9: ids the crate refuses at load (it reads them as u32) are refused at load, naming the file.
TEST(TokenizerHostile, AddedTokenIdsOutsideU32AreRefusedAtLoad) {
  for (json id : {json(-7), json(int64_t{1} << 40), json(int64_t{1} << 32)}) {
    json j = word_level();
    j["added_tokens"] = json::array({added(id, "<x>")});
    expect_error([&] { hfx::Tokenizer::from_json(j.dump(), "bad_ids/tokenizer.json"); }, ErrorKind::Format,
                 {"bad_ids/tokenizer.json", "added token '<x>' id", id.dump(), "u32"});
  }
  // The same class: every other id tokenizer.json gives (post-processor specials, padding).
  auto refused = [](json j, const std::string& what) {
    expect_error([&] { hfx::Tokenizer::from_json(j.dump(), "t.json"); }, ErrorKind::Format, {"t.json", what});
  };
  json bert = word_level();
  bert["post_processor"] = {{"type", "BertProcessing"}, {"sep", {"[SEP]", -1}}, {"cls", {"[CLS]", 3}}};
  refused(bert, "special token id");
  json tmpl = word_level();
  tmpl["post_processor"] = {{"type", "TemplateProcessing"},
                            {"single", json::array({{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}}})},
                            {"pair", json::array()},
                            {"special_tokens", {{"[CLS]", {{"id", "[CLS]"}, {"ids", {int64_t{1} << 40}}, {"tokens", {"[CLS]"}}}}}}};
  refused(tmpl, "special token id");
  json pad = word_level();
  pad["padding"] = {{"strategy", "BatchLongest"}, {"pad_id", -7}, {"pad_token", "[PAD]"}};
  refused(pad, "padding.pad_id");
}

// Ids inside u32 but not the ones written: the crate ignores the written id (a warning) and gives a
// token in the vocabulary its vocabulary id, any other the next id after the vocabulary.
// tokenizers 0.20.3 on these files: [100] -> <x0>=3; [100, 50] -> 3, 4; [4294967295] -> 3; "hello"@9 -> 1.
TEST(TokenizerHostile, AddedTokenIdsAreAssignedAsTheCrateDoes) {
  auto ids_of = [](json tokens, const std::string& text) {
    json j = word_level();
    j["added_tokens"] = std::move(tokens);
    return hfx::Tokenizer::from_json(j.dump()).encode(text).ids;
  };
  EXPECT_EQ(ids_of(json::array({added(100, "<x0>")}), "<x0> hello"), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(ids_of(json::array({added(4294967295, "<x0>")}), "<x0> hello"), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(ids_of(json::array({added(100, "<x0>"), added(50, "<x1>")}), "<x0> <x1> hello"), (std::vector<int64_t>{3, 4, 1}));
  EXPECT_EQ(ids_of(json::array({added(9, "hello"), added(3, "<x1>")}), "<x1> hello"), (std::vector<int64_t>{3, 1}));
  hfx::Tokenizer t = [] {
    json j = word_level();
    j["added_tokens"] = json::array({added(100, "<x0>")});
    return hfx::Tokenizer::from_json(j.dump());
  }();
  EXPECT_EQ(t.id_to_token(3).value_or(""), "<x0>");
  EXPECT_FALSE(t.id_to_token(100).has_value());
}

}  // namespace

// Found by tokenizer_json_fuzz in CI (stop 18): a vocabulary id of 2^28 sized the id -> token table by
// the id and asked for ~8 GiB. The crate keeps ids in a map (any u32, sparse allowed), so hfx must load
// these and answer as tokenizers 0.20.3 does on the same JSON:
//   WordLevel: "hello worlds world" -> [4000000000, 0, 2]; id_to_token(1) None; vocab size 3
//   WordPiece: -> [4000000000, 2, 3000000, 2]; vocab size 4; decode([4000000000, 2]) "hello world"
// and refuse an id past u32 ("expected u32").
TEST(TokenizerHostile, SparseVocabularyIdsAreAMapNotAHugeTable) {
  json wl = word_level();
  wl["model"]["vocab"] = {{"[UNK]", 0}, {"hello", 4000000000LL}, {"world", 2}};
  hfx::Tokenizer a = hfx::Tokenizer::from_json(wl.dump(), "sparse.json");
  EXPECT_EQ(a.encode("hello worlds world").ids, (std::vector<int64_t>{4000000000LL, 0, 2}));
  EXPECT_EQ(a.id_to_token(1), std::nullopt);
  EXPECT_EQ(a.id_to_token(4000000000LL), "hello");
  EXPECT_EQ(a.vocab_size(), 3);

  json wp = word_level();
  wp["model"] = {{"type", "WordPiece"},
                 {"vocab", {{"[UNK]", 0}, {"hello", 4000000000LL}, {"world", 2}, {"##s", 3000000}}},
                 {"unk_token", "[UNK]"},
                 {"continuing_subword_prefix", "##"},
                 {"max_input_chars_per_word", 100}};
  hfx::Tokenizer b = hfx::Tokenizer::from_json(wp.dump(), "sparse.json");
  EXPECT_EQ(b.encode("hello worlds world").ids, (std::vector<int64_t>{4000000000LL, 2, 3000000, 2}));
  EXPECT_EQ(b.vocab_size(), 4);
  EXPECT_EQ(b.id_to_token(3000001), std::nullopt);
  EXPECT_EQ(b.decode({4000000000LL, 2}), "hello world");

  // A dense vocabulary with a gap answers the same way (the dense table marks which ids exist).
  json gap = word_level();
  gap["model"]["vocab"] = {{"[UNK]", 0}, {"hello", 1}, {"world", 3}};
  EXPECT_EQ(hfx::Tokenizer::from_json(gap.dump(), "gap.json").id_to_token(2), std::nullopt);

  for (const char* type : {"WordLevel", "WordPiece"}) {
    json bad = type == std::string("WordLevel") ? wl : wp;
    bad["model"]["vocab"]["x"] = int64_t{1} << 32;
    expect_error([&] { hfx::Tokenizer::from_json(bad.dump(), "big/tokenizer.json"); }, ErrorKind::Format,
                 {"big/tokenizer.json", "bad token id 4294967296"});
  }
}
