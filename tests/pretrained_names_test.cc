// src/pretrained/ holds no model knowledge: every per-architecture fact is a
// trait declared by the model file in src/models/ (issue 17, docs/adding-a-model.md).
//
// The rule this test enforces, after stripping comments (// and /* */, outside
// string literals): no token of the code or of its string literals — a maximal
// run of letters, digits, '_' and '-' — equals a registered model_type
// ("bert", "transfo-xl"), a registered class name ("T5EncoderModel"), or a
// registered `hfx convert` spelling ("gpt", "transfo_xl"). Comments may cite
// upstream files and classes (that is where the "why" lives); code may not
// switch on them. A token is a whole run, so "bertology" or "BertLike" would
// not match "bert"; matching is case-sensitive, as model_type strings are.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "hfx/model.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;

// Replaces comments by spaces (newlines kept, so line numbers stay), leaving
// string and character literals (raw strings included) as they are.
std::string strip_comments(const std::string& s) {
  std::string out = s;
  std::size_t i = 0;
  auto blank = [&](std::size_t from, std::size_t to) {
    for (std::size_t k = from; k < to && k < out.size(); ++k)
      if (out[k] != '\n') out[k] = ' ';
  };
  while (i < s.size()) {
    if (s.compare(i, 2, "//") == 0) {
      const std::size_t e = s.find('\n', i);
      blank(i, e == std::string::npos ? s.size() : e);
      i = e == std::string::npos ? s.size() : e;
    } else if (s.compare(i, 2, "/*") == 0) {
      const std::size_t e = s.find("*/", i + 2);
      const std::size_t end = e == std::string::npos ? s.size() : e + 2;
      blank(i, end);
      i = end;
    } else if (s[i] == 'R' && i + 1 < s.size() && s[i + 1] == '"') {  // R"delim( ... )delim"
      const std::size_t open = s.find('(', i + 2);
      if (open == std::string::npos) break;
      const std::string close = ")" + s.substr(i + 2, open - i - 2) + "\"";
      const std::size_t e = s.find(close, open);
      i = e == std::string::npos ? s.size() : e + close.size();
    } else if (s[i] == '"' || s[i] == '\'') {
      const char q = s[i++];
      while (i < s.size() && s[i] != q) i += s[i] == '\\' ? 2 : 1;
      ++i;
    } else {
      ++i;
    }
  }
  return out;
}

bool token_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

TEST(PretrainedNames, StripCommentsKeepsStringsAndLines) {
  const std::string src = "a // bert\nb /* T5Model\n */ \"// t5\" R\"x(/* y */)x\" c";
  const std::string s = strip_comments(src);
  EXPECT_EQ(s.find("bert"), std::string::npos);
  EXPECT_EQ(s.find("T5Model"), std::string::npos);
  EXPECT_NE(s.find("\"// t5\""), std::string::npos);
  EXPECT_NE(s.find("/* y */"), std::string::npos);
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), std::count(src.begin(), src.end(), '\n'));
}

TEST(PretrainedNames, NoModelNamesInPretrained) {
  std::set<std::string> names;
  for (const auto& a : hfx::architectures()) {
    names.insert(a.model_type);
    if (!a.convert.name.empty()) names.insert(a.convert.name);
    for (const auto& c : a.classes) names.insert(c.first);
  }
  ASSERT_GE(names.size(), 14u);
  const fs::path dir = hfx::testing::source_dir() / "src" / "pretrained";
  std::size_t files = 0;
  std::ostringstream hits;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    ++files;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = strip_comments(ss.str());
    std::size_t line = 1;
    for (std::size_t i = 0; i < text.size();) {
      if (text[i] == '\n') ++line;
      if (!token_char(text[i])) {
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j < text.size() && token_char(text[j])) ++j;
      const std::string tok = text.substr(i, j - i);
      if (names.count(tok)) hits << "\n  " << e.path().filename().string() << ":" << line << ": " << tok;
      i = j;
    }
  }
  EXPECT_GE(files, 5u);
  EXPECT_EQ(hits.str(), "") << "model names in src/pretrained/ (declare them as traits in src/models/):" << hits.str();
}

}  // namespace
