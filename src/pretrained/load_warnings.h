// The messages transformers 4.46's _load_pretrained_model logs at the end of from_pretrained.
#pragma once

#include <string>

#include "hfx/auto.h"

namespace hfx::detail {

// Through hfx/log.h: unused checkpoint weights (warning when the class is the config's architecture,
// else info), newly initialized weights (warning), shape mismatches (warning), and the "All ... weights"
// infos otherwise — the wording of modeling_utils.py, with Python's list and torch.Size spelling.
void log_loading_info(const Model& model, const LoadingInfo& info, const std::string& pretrained_model_name_or_path);

}  // namespace hfx::detail
