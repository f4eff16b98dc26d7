// hfx convert / export / diff (src/cli/convert.cc): registered on the app;
// the chosen command's work is stored in `action`, which main() runs inside
// its error handler.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace hfx::cli {

void add_conversion_commands(CLI::App& app, std::function<int()>& action);

}  // namespace hfx::cli
