// A Jinja2-compatible template engine for chat templates (hfx/chat_template.h is its public face).
//
// Hand-written because no C++ Jinja library is packaged: Debian 12 has Jinja2 for Python
// (python3-jinja2), Rust's tera and R's jinjar, but no C++ one (apt-cache search jinja / inja / minja,
// and /work/.library/env/packages lists none); the header-only C++ engines (inja, minja) are not in
// Debian. It covers what real chat templates use, with Jinja2 3.1's semantics in transformers'
// environment (trim_blocks, lstrip_blocks, loopcontrols, ImmutableSandboxedEnvironment): see jinja.cc.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "hfx/chat_template.h"

namespace hfx::tok::jinja {

struct Program;  // a parsed template

std::shared_ptr<const Program> parse(std::string_view source, int max_depth);
std::string render(const Program& p, const nlohmann::ordered_json& context, const ChatTemplateOptions& o);

}  // namespace hfx::tok::jinja
