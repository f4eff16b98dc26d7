// hfx CLI: the hub subcommands (download, scan-cache, push), kept out of main.cc.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace hfx::cli {

// Registers `download`, `scan-cache` and `push` on `app`.
void add_hub_commands(CLI::App& app);
// Runs the hub subcommand that was parsed, if any (nullopt: none of them).
std::optional<int> run_hub_commands();
// A PATH argument of the other commands: a repo id is downloaded into the cache
// and its snapshot folder returned (HF_ENDPOINT, HF_HUB_OFFLINE, ... apply).
std::string resolve_path_arg(const std::string& path);

}  // namespace hfx::cli
