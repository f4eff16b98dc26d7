// hfx/chat_template.h — a model's chat template rendered as transformers' tokenizer.apply_chat_template does.
//
// Chat templates are Jinja2 templates (tokenizer_config.json's `chat_template`, or chat_template.jinja).
// hfx renders them with its own Jinja engine (src/tokenize/jinja.cc) in transformers' environment:
// trim_blocks, lstrip_blocks, the loopcontrols extension (break/continue), an immutable sandbox, and the
// globals raise_exception(msg) and strftime_now(fmt) and the tojson filter as transformers defines them.
//
//   auto t = hfx::ChatTemplate::from_pretrained("model_dir");   // nullopt: the model has no template
//   std::string prompt = t->apply(messages, /*add_generation_prompt=*/true);
//   // tokenize `prompt` WITHOUT adding special tokens (the template wrote them): tok.encode(prompt, {}, false)
//
// Errors: a template that does not parse → hfx::Error(Format); raise_exception(msg) → ChatTemplateError
// whose message() is msg; a render that fails (an undefined value used, a type error) or exceeds a limit
// (output size, loop iterations, nesting depth) → hfx::Error(InvalidArgument). Never a crash or a hang.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "hfx/error.h"
#include "hfx/export.h"

namespace hfx {

// The template called raise_exception(message): message() is the template's text, unchanged.
class HFX_API ChatTemplateError : public Error {
 public:
  explicit ChatTemplateError(std::string message);
};

struct ChatTemplateOptions {
  int64_t max_output_bytes = int64_t{16} << 20;   // the rendered text, and any string built on the way
  int64_t max_loop_iterations = 1'000'000;         // all loops of one render together (range() included)
  int max_depth = 200;                             // nesting of expressions, statements and macro calls
  std::optional<int64_t> now;                      // strftime_now's time (seconds since the epoch, local
                                                   // time); unset: the clock
};

class HFX_API ChatTemplate {
 public:
  // Parses `source` (throws Error(Format) naming the line). `special_tokens` is an object of
  // name -> string (bos_token, eos_token, ...) passed to every render, as transformers passes
  // tokenizer.special_tokens_map.
  static ChatTemplate from_string(std::string_view source, nlohmann::json special_tokens = nlohmann::json::object(),
                                  ChatTemplateOptions options = {});
  // The folder's template: chat_template.jinja if present, else tokenizer_config.json's `chat_template`
  // (a string, or a list of {name, template}: the one named "default"). nullopt when there is none.
  // Special tokens come from tokenizer_config.json (strings or AddedToken objects' `content`).
  static std::optional<ChatTemplate> from_pretrained(const std::string& dir, ChatTemplateOptions options = {});

  // transformers' apply_chat_template(messages, tools=tools, add_generation_prompt=..., tokenize=False):
  // the context is {messages, tools (null when none), documents (null), add_generation_prompt, special tokens,
  // extra...} (later keys win).
  // Objects are ordered_json: Python keeps a dict's insertion order, and tojson / items() show it.
  std::string apply(const nlohmann::ordered_json& messages, bool add_generation_prompt, const nlohmann::ordered_json& tools = nullptr,
                    const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;
  // Renders with exactly this context object (plus the globals raise_exception, strftime_now, namespace, range, dict).
  std::string render(const nlohmann::ordered_json& context) const;

  const std::string& source() const;
  const nlohmann::json& special_tokens() const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace hfx
