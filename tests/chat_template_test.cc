// hfx::ChatTemplate and its Jinja engine (src/tokenize/jinja.cc) against transformers 4.46.3 + Jinja2 3.1.6:
// tests/fixtures/chat_templates.json (tools/fixtures/chat_templates.py) holds the renders of the real templates
// of tests/data/chat_templates/ (Llama 3.1, Mixtral, Mistral Nemo, Qwen2, Qwen2.5, Gemma 2 and 3, Phi-3, 3.5, 4,
// 4-mini, DeepSeek-R1, SmolLM2) over several conversations, and of one-feature snippets; every render must be
// byte-exact, and every template that raises must raise here too (raise_exception: the same message).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <ctime>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hfx/chat_template.h"
#include "hfx/error.h"
#include "test_util.h"

namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;
using hfx::ChatTemplate;
using hfx::ChatTemplateError;
using hfx::ChatTemplateOptions;
using hfx::Error;
using hfx::ErrorKind;

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const json& fixture() {
  static const json j = json::parse(read_text(hfx::testing::source_dir() / "tests/fixtures/chat_templates.json"));
  return j;
}

fs::path template_dir() { return hfx::testing::source_dir() / "tests/data/chat_templates"; }

// FIXED_NOW of the fixture script, as local time (the script pins Python's naive datetime.now()).
int64_t fixed_now() {
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 6;
  tm.tm_mday = 26;
  tm.tm_hour = 12;
  tm.tm_min = 34;
  tm.tm_sec = 56;
  tm.tm_isdst = -1;
  return static_cast<int64_t>(std::mktime(&tm));
}

// Checks one render against a fixture record ({"output"} or {"error": {type, message}}).
void expect_render(const json& want, const std::function<std::string()>& render, const std::string& what) {
  if (want.contains("output")) {
    try {
      const std::string got = render();
      EXPECT_EQ(got, want["output"].get<std::string>()) << what;
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": threw " << e.what();
    }
    return;
  }
  const std::string type = want["error"]["type"], message = want["error"]["message"];
  try {
    const std::string got = render();
    ADD_FAILURE() << what << ": rendered " << got.substr(0, 200) << " but transformers raised " << type << ": " << message;
  } catch (const ChatTemplateError& e) {
    EXPECT_EQ(type, "TemplateError") << what << ": raise_exception here, " << type << " in transformers";
    EXPECT_EQ(e.message(), message) << what;
  } catch (const Error& e) {
    EXPECT_NE(type, "TemplateError") << what << ": transformers' template raised (" << message << "), hfx failed with " << e.what();
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument) << what << ": " << e.what();
  }
}

TEST(ChatTemplate, RealTemplatesRenderAsTransformers) {
  const json& fx = fixture();
  ASSERT_EQ(fx["transformers"], "4.46.3");
  ASSERT_GE(fx["cases"].size(), 150u);
  ChatTemplateOptions opt;
  opt.now = fixed_now();
  std::map<std::string, ChatTemplate> templates;
  int rendered = 0, raised = 0;
  for (const auto& c : fx["cases"]) {
    const std::string name = c["template"];
    if (!templates.count(name))
      templates.emplace(name, ChatTemplate::from_string(read_text(template_dir() / (name + ".jinja")), fx["special"][name], opt));
    const ChatTemplate& t = templates.at(name);
    const std::string conv = c["conversation"];
    const bool tools = c["tools"];
    const json& messages = tools ? fx["tool_conversation"] : fx["conversations"][conv];
    const bool agp = c["add_generation_prompt"];
    expect_render(c, [&] { return t.apply(messages, agp, tools ? fx["tools"] : json()); },
                  name + " / " + conv + (agp ? " / add_generation_prompt" : ""));
    (c.contains("output") ? rendered : raised)++;
  }
  EXPECT_EQ(templates.size(), 13u);
  EXPECT_GE(rendered, 140);
  EXPECT_GE(raised, 20);
}

TEST(ChatTemplate, SnippetsRenderAsJinja2) {
  ChatTemplateOptions opt;
  opt.now = fixed_now();
  int n = 0;
  for (const auto& s : fixture()["snippets"]) {
    const std::string src = s["source"];
    expect_render(s, [&] { return ChatTemplate::from_string(src, json::object(), opt).render(s["context"]); }, "snippet " + src);
    ++n;
  }
  EXPECT_GE(n, 35);
}

TEST(ChatTemplate, FromPretrainedReadsTokenizerConfigAndJinjaFile) {
  const fs::path dir = fs::temp_directory_path() / ("hfx_chat_template_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) { std::ofstream(dir / name, std::ios::binary) << text; };
  // No template at all.
  write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  EXPECT_FALSE(ChatTemplate::from_pretrained(dir.string()).has_value());
  // A string, special tokens as strings and AddedToken objects.
  write("tokenizer_config.json",
        R"({"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "pad_token": null,
            "chat_template": "{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m.content }}{{ eos_token }}{% endfor %}{{ pad_token is defined }}"})");
  auto t = ChatTemplate::from_pretrained(dir.string());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->apply(json::array({{{"role", "user"}, {"content", "hi"}}}), true), "<s>user:hi</s>False");
  // The list form: the one named "default".
  write("tokenizer_config.json",
        R"({"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D{{ add_generation_prompt }}"}]})");
  EXPECT_EQ(ChatTemplate::from_pretrained(dir.string())->apply(json::array(), true), "DTrue");
  write("tokenizer_config.json", R"({"chat_template": [{"name": "tool_use", "template": "T"}]})");
  EXPECT_THROW(ChatTemplate::from_pretrained(dir.string()), Error);
  // chat_template.jinja wins (newer transformers save the template there).
  write("chat_template.jinja", "J{{ messages|length }}\n");
  EXPECT_EQ(ChatTemplate::from_pretrained(dir.string())->apply(json::array({1, 2}), false), "J2");
  fs::remove_all(dir);
}

TEST(ChatTemplate, StrftimeNowUsesTheGivenTime) {
  ChatTemplateOptions opt;
  opt.now = fixed_now();
  EXPECT_EQ(ChatTemplate::from_string("{{ strftime_now('%d %b %Y') }}", json::object(), opt).render(json::object()), "26 Jul 2024");
  // Unpinned: today's date (the year at least is right).
  const std::string year = ChatTemplate::from_string("{{ strftime_now('%Y') }}").render(json::object());
  EXPECT_EQ(year.size(), 4u);
  EXPECT_GE(std::stoi(year), 2024);
}

TEST(ChatTemplate, RaiseExceptionIsATypedErrorWithTheMessage) {
  const auto t = ChatTemplate::from_string("{% if messages|length == 0 %}{{ raise_exception('no messages: ' ~ 0) }}{% endif %}ok");
  EXPECT_EQ(t.apply(json::array({1}), false), "ok");
  try {
    t.apply(json::array(), false);
    FAIL() << "no exception";
  } catch (const ChatTemplateError& e) {
    EXPECT_EQ(e.message(), "no messages: 0");
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
  }
}

// Hostile templates end in a typed error: never a crash, a hang or an unbounded allocation.
TEST(ChatTemplate, HostileTemplatesAreRefusedWithTypedErrors) {
  auto refused = [](const std::string& src, ErrorKind kind, const std::string& why) {
    ChatTemplateOptions opt;
    opt.max_output_bytes = 1 << 20;
    opt.max_loop_iterations = 100000;
    try {
      const std::string out = ChatTemplate::from_string(src, json::object(), opt).render(json::object());
      ADD_FAILURE() << why << ": rendered " << out.size() << " bytes";
    } catch (const ChatTemplateError& e) {
      ADD_FAILURE() << why << ": raise_exception? " << e.what();
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), kind) << why << ": " << e.what();
    }
  };
  refused("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}", ErrorKind::Format, "nested parentheses (parser depth)");
  refused("{{ " + std::string(100000, '[') + " }}", ErrorKind::Format, "nested lists");
  std::string deep_ifs;
  for (int k = 0; k < 5000; ++k) deep_ifs += "{% if true %}";
  refused(deep_ifs, ErrorKind::Format, "nested statements");
  std::string not_chain = "{{ " ;
  for (int k = 0; k < 100000; ++k) not_chain += "not ";
  refused(not_chain + "1 }}", ErrorKind::Format, "a chain of not");
  std::string neg_chain = "{{ ";
  for (int k = 0; k < 100000; ++k) neg_chain += "-";
  refused(neg_chain + "1 }}", ErrorKind::Format, "a chain of unary minus");
  refused("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", ErrorKind::InvalidArgument, "infinite macro recursion");
  refused("{% for i in range(100000000000) %}x{% endfor %}", ErrorKind::InvalidArgument, "a huge range");
  refused("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}", ErrorKind::InvalidArgument, "nested loops");
  refused("{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", ErrorKind::InvalidArgument,
          "a string doubled in a loop");
  refused("{{ 'x' * 1000000000000 }}", ErrorKind::InvalidArgument, "string repetition");
  refused("{{ [1] * 1000000000000 }}", ErrorKind::InvalidArgument, "list repetition");
  refused("{% for i in range(200000) %}{{ 'abcdefgh' }}{% endfor %}", ErrorKind::InvalidArgument, "output size / iterations");
  refused("{{ ('x' * 1000).replace('', 'yyyyyyyyyyyy' * 1000) }}", ErrorKind::InvalidArgument, "replace growing a string");
  refused("{% set ns = namespace(x=1) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}", ErrorKind::InvalidArgument,
          "a value nested deeper and deeper");
  refused("{% set ns = namespace(x={}) %}{% for i in range(100000) %}{% set ns.x = {'k': ns.x} %}{% endfor %}", ErrorKind::InvalidArgument,
          "a dict nested deeper and deeper");
  refused("{% set ns = namespace(l=[]) %}{% for i in range(90000) %}{% set ns.l = ns.l + [i] %}{% endfor %}", ErrorKind::InvalidArgument,
          "a list rebuilt in a loop (quadratic)");
  refused("{% set ns = namespace(s='') %}{% for i in range(90000) %}{% set ns.s = ns.s ~ 'abcdefgh' * 8 %}{% endfor %}",
          ErrorKind::InvalidArgument, "a string rebuilt in a loop (quadratic)");
  refused("{% set big = range(50000)|list %}{% for i in range(50000) %}{% if i in big %}{% endif %}{% endfor %}", ErrorKind::InvalidArgument,
          "`in` a long list in a loop (quadratic)");
  refused("{{ range(50000)|unique|list|length }}", ErrorKind::InvalidArgument, "unique is quadratic");
  refused("{% set s = 'x' * 100000 %}{{ [s] * 50 }}", ErrorKind::InvalidArgument, "printing a list of large strings");
  refused("{% set s = 'x' * 100000 %}{{ ([s] * 50)|tojson }}", ErrorKind::InvalidArgument, "tojson of a list of large strings");
  {  // empty repetitions are empty at once (no loop of 10^12 iterations)
    const auto t = ChatTemplate::from_string("[{{ '' * 1000000000000 }}{{ ([] * 1000000000000)|length }}]");
    EXPECT_EQ(t.render(json::object()), "[0]");
  }
  refused("{% if %}", ErrorKind::Format, "an if without a condition");
  refused("{{ 1 + }}", ErrorKind::Format, "a dangling operator");
  refused("{% for x in %}{% endfor %}", ErrorKind::Format, "a for without an iterable");
  refused("{% if true %}no end", ErrorKind::Format, "an unclosed if");
  refused("{{ 'unterminated }}", ErrorKind::Format, "an unterminated string");
  refused("{# unterminated comment", ErrorKind::Format, "an unterminated comment");
  refused("{% endfor %}", ErrorKind::Format, "a stray end tag");
  refused("{% include 'x' %}", ErrorKind::Format, "include (no loader)");
  refused("{{ x.y }}", ErrorKind::InvalidArgument, "an attribute of undefined");
  refused("{{ 1 // 0 }}", ErrorKind::InvalidArgument, "division by zero");
  refused("{{ [].append(1) }}", ErrorKind::InvalidArgument, "a mutating method (immutable sandbox)");
  refused("{% set x = 1 %}{% set x.y = 2 %}", ErrorKind::InvalidArgument, "an attribute set on a non-namespace");
}

TEST(ChatTemplate, NamespacesCompareByIdentity) {
  // Two namespaces holding each other: == must not recurse (Jinja's Namespace has identity equality).
  const auto t = ChatTemplate::from_string("{% set a = namespace() %}{% set b = namespace(o=a) %}{% set a.o = b %}{{ a == b }}{{ a == a }}");
  EXPECT_EQ(t.render(json::object()), "FalseTrue");
}

// Cycles a template makes (namespaces holding each other, a namespace holding a dict's bound method that holds the
// namespace, in a render that ends normally and in one that raises) are freed when the render ends: the ASan build's
// LeakSanitizer checks this binary at exit.
TEST(ChatTemplate, CyclesAreFreedWhenTheRenderEnds) {
  const auto t = ChatTemplate::from_string(
      "{% set ns = namespace(x=1) %}{% set ns.me = ns %}{% set d = {'n': ns} %}{% set ns.get = d.get %}"
      "{{ ns.me.me.x }}{{ ns.get('n').x }}{% if fail %}{{ raise_exception('stop') }}{% endif %}");
  EXPECT_EQ(t.render(json::object()), "11");
  EXPECT_THROW(t.render(json{{"fail", true}}), ChatTemplateError);
}

// An index past int64 (`x.99999999999999999999`, map(attribute='0.99999999999999999999')) indexes nothing, as in
// Jinja2, instead of throwing std::out_of_range (found by chat_template_fuzz).
TEST(ChatTemplate, HugeDigitIndexesAreUndefined) {
  const auto t = ChatTemplate::from_string(
      "{{ xs.99999999999999999999 is defined }}{{ xs|map(attribute='99999999999999999999')|list|length }}{{ xs.1 }}");
  EXPECT_EQ(t.render(json{{"xs", json::array({json::array({1}), json::array({2})})}}), "False2[2]");
}

// A deeply nested context (a hostile request's messages) is refused, not recursed into without bound.
TEST(ChatTemplate, DeeplyNestedContextIsRefused) {
  json deep = json::array();
  for (int k = 0; k < 1000; ++k) deep = json::array({deep});
  const auto t = ChatTemplate::from_string("{{ messages|length }}");
  EXPECT_THROW(t.apply(deep, true), Error);
  EXPECT_EQ(t.apply(json::array({1, 2}), true), "2");
}

// Every prefix of every real template either parses or is refused as Format (a cheap, deterministic fuzz of the
// lexer and parser on truncated input); the ones that parse render or fail with a typed error.
TEST(ChatTemplate, TruncatedRealTemplatesNeverCrash) {
  int parsed = 0, refused = 0;
  const json messages = fixture()["conversations"]["system_multi_turn"];
  for (const auto& entry : fs::directory_iterator(template_dir())) {
    if (entry.path().extension() != ".jinja") continue;
    const std::string src = read_text(entry.path());
    for (std::size_t n = 0; n < src.size(); n += 7) {
      try {
        const auto t = ChatTemplate::from_string(std::string_view(src).substr(0, n));
        ++parsed;
        try {
          t.apply(messages, true);
        } catch (const Error&) {
        }
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Format) << entry.path() << " prefix " << n << ": " << e.what();
        ++refused;
      }
    }
  }
  std::cerr << parsed << " prefixes parsed, " << refused << " refused\n";
  EXPECT_GT(parsed, 20);
  EXPECT_GT(refused, 500);
}

}  // namespace
