// hfx::ChatTemplate (hfx/chat_template.h): a folder's chat template and special tokens, rendered by the Jinja
// engine of jinja.cc the way transformers 4.46's PreTrainedTokenizerBase.apply_chat_template renders them.
#include "hfx/chat_template.h"

#include <filesystem>

#include "core/json.h"
#include "core/safe_open.h"
#include "tokenize/jinja.h"

namespace hfx {

struct ChatTemplate::Impl {
  std::string source;
  nlohmann::json special = nlohmann::json::object();
  ChatTemplateOptions options;
  std::shared_ptr<const tok::jinja::Program> program;
};

ChatTemplateError::ChatTemplateError(std::string message) : Error(ErrorKind::InvalidArgument, std::move(message)) {}

ChatTemplate ChatTemplate::from_string(std::string_view source, nlohmann::json special_tokens, ChatTemplateOptions options) {
  if (static_cast<int64_t>(source.size()) > options.max_output_bytes)
    throw_error(ErrorKind::Format, "chat template larger than " + std::to_string(options.max_output_bytes) + " bytes");
  if (!special_tokens.is_object()) throw_error(ErrorKind::InvalidArgument, "special_tokens must be a JSON object");
  auto impl = std::make_shared<Impl>();
  impl->source = std::string(source);
  impl->special = std::move(special_tokens);
  impl->options = options;
  impl->program = tok::jinja::parse(impl->source, options.max_depth);
  ChatTemplate t;
  t.impl_ = std::move(impl);
  return t;
}

namespace {

// A special token as tokenizer_config.json writes it: a string, or an AddedToken object with `content`.
const nlohmann::json* token_text(const nlohmann::json& v) {
  if (v.is_string()) return &v;
  if (v.is_object()) {
    auto it = v.find("content");
    if (it != v.end() && it->is_string()) return &*it;
  }
  return nullptr;
}

void collect_special(const nlohmann::json& cfg, nlohmann::json& out) {
  if (!cfg.is_object()) return;
  for (const char* k : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
    if (out.contains(k)) continue;
    auto it = cfg.find(k);
    if (it == cfg.end()) continue;
    if (const auto* s = token_text(*it)) out[k] = *s;
  }
  if (!out.contains("additional_special_tokens")) {
    auto it = cfg.find("additional_special_tokens");
    if (it != cfg.end() && it->is_array()) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& x : *it)
        if (const auto* s = token_text(x)) list.push_back(*s);
      if (!list.empty()) out["additional_special_tokens"] = std::move(list);
    }
  }
}

}  // namespace

std::optional<ChatTemplate> ChatTemplate::from_pretrained(const std::string& dir, ChatTemplateOptions options) {
  namespace fs = std::filesystem;
  const fs::path d(dir);
  const std::string cfg_path = (d / "tokenizer_config.json").string();
  nlohmann::json cfg = nlohmann::json::object();
  if (fs::is_regular_file(cfg_path)) cfg = read_json_file(cfg_path);
  std::optional<std::string> source;
  const fs::path jinja_path = d / "chat_template.jinja";
  if (fs::is_regular_file(jinja_path)) {
    source = read_regular_file(jinja_path.string(), static_cast<std::size_t>(options.max_output_bytes));
  } else if (cfg.is_object() && cfg.contains("chat_template")) {
    const auto& ct = cfg["chat_template"];
    if (ct.is_string()) {
      source = ct.get<std::string>();
    } else if (ct.is_array()) {  // [{"name": ..., "template": ...}]: transformers uses "default"
      for (const auto& x : ct)
        if (x.is_object() && x.value("name", nlohmann::json()).is_string() && x["name"] == "default") {
          if (!x.contains("template") || !x["template"].is_string())
            throw_error(ErrorKind::Format, "chat_template entry \"default\" has no string `template`", cfg_path);
          source = x["template"].get<std::string>();
        }
      if (!source)
        throw_error(ErrorKind::Format, "chat_template is a list of named templates with none named \"default\"", cfg_path);
    } else if (!ct.is_null()) {
      throw_error(ErrorKind::Format, "chat_template must be a string or a list of {name, template}", cfg_path);
    }
  }
  if (!source) return std::nullopt;
  nlohmann::json special = nlohmann::json::object();
  collect_special(cfg, special);
  const fs::path stm = d / "special_tokens_map.json";
  if (fs::is_regular_file(stm)) collect_special(read_json_file(stm.string()), special);
  try {
    return from_string(*source, std::move(special), options);
  } catch (const Error& e) {
    throw Error(e.kind(), e.message(), fs::is_regular_file(jinja_path) ? jinja_path.string() : cfg_path);
  }
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context) const {
  return tok::jinja::render(*impl_->program, context, impl_->options);
}

std::string ChatTemplate::apply(const nlohmann::ordered_json& messages, bool add_generation_prompt, const nlohmann::ordered_json& tools,
                                const nlohmann::ordered_json& extra) const {
  // transformers: template.render(messages=..., tools=..., documents=..., add_generation_prompt=...,
  // **special_tokens_map, **kwargs) — later keys win, so extra kwargs override the special tokens.
  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  ctx["messages"] = messages;
  ctx["tools"] = tools;  // transformers passes tools=None and documents=None when there are none: both are defined
  ctx["documents"] = nullptr;
  ctx["add_generation_prompt"] = add_generation_prompt;
  for (auto it = impl_->special.begin(); it != impl_->special.end(); ++it) ctx[it.key()] = it.value();
  if (extra.is_object())
    for (auto it = extra.begin(); it != extra.end(); ++it) ctx[it.key()] = it.value();
  return render(ctx);
}

const std::string& ChatTemplate::source() const { return impl_->source; }
const nlohmann::json& ChatTemplate::special_tokens() const { return impl_->special; }

}  // namespace hfx
