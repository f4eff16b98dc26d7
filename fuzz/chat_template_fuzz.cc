// Chat templates (hfx/chat_template.h, src/tokenize/jinja.cc): the input is a template, parsed and rendered over a
// small conversation with tight limits. Every outcome but a rendered string or an hfx::Error (a parse error, a
// raise_exception, an undefined value, a limit) is a finding: a crash, a hang, a sanitizer report.
// Seeds: fuzz/corpus/chat_template/ (the real templates of tests/data/chat_templates/).
#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "hfx/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hfx::ChatTemplateOptions o;
  o.max_output_bytes = 1 << 20;
  o.max_loop_iterations = 20000;
  o.max_depth = 100;
  o.now = 1721997296;
  static const nlohmann::ordered_json messages = nlohmann::ordered_json::parse(
      R"([{"role": "system", "content": "sys"}, {"role": "user", "content": "hi {{ x }}"},
          {"role": "assistant", "content": "yo", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
          {"role": "user", "content": [{"type": "text", "text": "t"}]}])");
  hfx::fuzz::run([&] {
    const auto t = hfx::ChatTemplate::from_string(std::string_view(reinterpret_cast<const char*>(data), size),
                                                  {{"bos_token", "<s>"}, {"eos_token", "</s>"}}, o);
    (void)t.apply(messages, true, nlohmann::ordered_json::parse(R"([{"type": "function", "function": {"name": "f"}}])"));
  });
  return 0;
}
