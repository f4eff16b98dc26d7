// hfx CLI: the hub verbs (download, scan-cache, push: add_hub_commands in cli/command.h) and repo-id PATHs.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "hfx/hub.h"
#include "hfx/hub_files.h"

namespace hfx::cli {

// A PATH argument of the other commands: a repo id is downloaded into the cache
// and its snapshot folder returned (HF_ENDPOINT, HF_HUB_OFFLINE, ... apply);
// `files` says what the verb reads beside config.json and the weights.
std::string resolve_path_arg(const std::string& path, const RepoFiles& files = {});

}  // namespace hfx::cli
