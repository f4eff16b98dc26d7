// The shared helpers in src/core/ that several layers use: the PCRE2 wrapper (tokenizer, naming, hub),
// base64 (tokenizer, hub), protobuf varints (TF1 bundles, sentencepiece models), and the zlib CRC-32
// behind zip::crc32 (torch zip archives).
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "core/base64.h"
#include "core/regex.h"
#include "core/varint.h"
#include "hfx/error.h"
#include "hfx/threads.h"
#include "io/zip.h"
#include "test_util.h"

namespace {

using hfx::ErrorKind;
using hfx::Regex;
using hfx::testing::expect_error;

TEST(CoreRegex, FindAllFullMatchReplaceAll) {
  const Regex words(R"(\w+)");
  const std::vector<std::pair<std::size_t, std::size_t>> want = {{0, 5}, {6, 11}};
  EXPECT_EQ(words.find_all("hello world"), want);
  EXPECT_TRUE(words.full_match("hello"));
  EXPECT_FALSE(words.full_match("hello world"));  // the whole subject, as std::regex_match
  std::vector<std::string> g;
  ASSERT_TRUE(Regex(R"(([A-Za-z]+)_(\d+))").full_match("block_007", &g));
  EXPECT_EQ(g, (std::vector<std::string>{"block_007", "block", "007"}));
  EXPECT_EQ(Regex("(.)([A-Z][a-z]+)").replace_all("TFBertModel", "$1_$2"), "TF_BertModel");  // non-overlapping
  // The patterns naming/ and hub/ moved from std::regex give std::regex's results.
  const std::pair<const char*, const char*> uses[] = {
      {"(.)([A-Z][a-z]+)", "$1_$2"}, {"([a-z])([A-Z])", "$1_$2"}, {"/[^/]*___([^/]*)/", "/$1/"}, {"/+", "/"}};
  for (const auto& [pattern, replacement] : uses)
    for (const char* subject : {"TFBertForMaskedLM", "a//b___c/d///e", "tf_bert_model/bert/x___y/kernel:0", ""})
      EXPECT_EQ(Regex(pattern).replace_all(subject, replacement),
                std::regex_replace(subject, std::regex(pattern), replacement))
          << pattern << " on " << subject;
  for (const char* subject : {"bert-base-uncased", "user/model.v1", "a/b/c", "-x", "x y", "\xc3\xa9"}) {
    const char* pattern = R"(^(\b[\w\-.]+\b/)?\b[\w\-.]{1,96}\b$)";  // hub/cache.cc's repo-id check
    EXPECT_EQ(Regex(pattern).full_match(subject), std::regex_match(subject, std::regex(pattern))) << subject;
  }
  EXPECT_EQ(Regex("/+").replace_all("a//b///c", "/"), "a/b/c");
  EXPECT_EQ(Regex("x").replace_all("", "y"), "");
  // Byte mode keeps std::regex's ASCII classes; unicode mode gives \w its Unicode meaning.
  EXPECT_FALSE(Regex(R"(\w+)").full_match("\xc3\xa9t\xc3\xa9"));
  EXPECT_TRUE(Regex(R"(\w+)", {.unicode = true}).full_match("\xc3\xa9t\xc3\xa9"));
  // An empty match steps one character (a whole code point in unicode mode).
  EXPECT_EQ(Regex("x*", {.unicode = true}).find_all("\xc3\xa9x").size(), 1u);
}

TEST(CoreRegex, FailuresAreTypedErrorsNamingThePattern) {
  expect_error([] { Regex("(("); }, ErrorKind::Format, {"bad regex '(('"});
  expect_error([] { Regex("((", {.shown = "as written"}); }, ErrorKind::Format, {"bad regex 'as written'"});
  const Regex slow("(a+)+$");
  const std::string hostile = std::string(40, 'a') + "!";
  expect_error([&] { slow.find_all(hostile); }, ErrorKind::InvalidArgument, {"regex '(a+)+$'", "gave up", "41-byte"});
  expect_error([&] { slow.full_match(hostile); }, ErrorKind::InvalidArgument, {"gave up"});
  expect_error([&] { slow.replace_all(hostile, "x"); }, ErrorKind::InvalidArgument, {"gave up"});
  // Invalid UTF-8 in unicode mode is an error too, not "no match".
  expect_error([] { Regex("a", {.unicode = true}).find_all("a\xff"); }, ErrorKind::InvalidArgument, {"regex 'a'", "UTF-8"});
}

TEST(CoreBase64, KnownVectorsAndRoundTrip) {
  EXPECT_EQ(hfx::base64_encode(""), "");
  EXPECT_EQ(hfx::base64_encode("f"), "Zg==");
  EXPECT_EQ(hfx::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(hfx::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(hfx::base64_decode("Zm9vYg==").value_or("?"), "foob");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(hfx::base64_decode(hfx::base64_encode(all)).value_or("?"), all);
  EXPECT_FALSE(hfx::base64_decode("Zm9v*mFy").has_value());
}

TEST(CoreVarint, ReadsAndRefusesOverflow) {
  const std::string ok("\xac\x02\x01", 3);  // 300, 1
  std::size_t i = 0;
  uint64_t v = 0;
  ASSERT_TRUE(hfx::read_varint64(ok, i, v));
  EXPECT_EQ(v, 300u);
  ASSERT_TRUE(hfx::read_varint64(ok, i, v));
  EXPECT_EQ(v, 1u);
  EXPECT_FALSE(hfx::read_varint64(ok, i, v));  // at the end
  std::string max(9, '\xff');
  max += '\x01';
  i = 0;
  ASSERT_TRUE(hfx::read_varint64(max, i, v));
  EXPECT_EQ(v, ~uint64_t{0});
  max.back() = '\x02';  // a bit beyond 64
  i = 0;
  EXPECT_FALSE(hfx::read_varint64(max, i, v));
  const uint8_t five[] = {0xff, 0xff, 0xff, 0xff, 0x1f};  // beyond 32 bits
  const uint8_t* p = five;
  uint32_t v32 = 0;
  EXPECT_FALSE(hfx::read_varint32(p, five + 5, v32));
}

TEST(CoreCrc32, ZlibMatchesTheZipCrc) {
  EXPECT_EQ(hfx::zip::crc32("123456789", 9), 0xCBF43926u);  // the CRC-32/ISO-HDLC check value
  EXPECT_EQ(hfx::zip::crc32("", 0), 0u);
  const std::string a(1000, 'x'), b(777, 'y');
  const uint32_t whole = hfx::zip::crc32((a + b).data(), a.size() + b.size());
  EXPECT_EQ(hfx::zip::crc32(b.data(), b.size(), hfx::zip::crc32(a.data(), a.size())), whole);  // incremental
}

}  // namespace

// hfx::set_num_threads holds for threads the application starts afterwards (OpenMP keeps the count per thread:
// a thread started later ran a full team; tests/thread_probe.cc under Helgrind found it).
TEST(CoreThreads, SetNumThreadsReachesThreadsStartedLater) {
  const int before = hfx::num_threads();
  const int want = before == 3 ? 5 : 3;
  hfx::set_num_threads(want);
  int seen = 0;
  std::thread([&] { seen = hfx::num_threads(); }).join();
  hfx::set_num_threads(before);
  EXPECT_EQ(seen, want);
  EXPECT_THROW(hfx::set_num_threads(0), hfx::Error);
}
