// The T5 model classes, shared by the t5 and mt5 model files: transformers 4.46.3
// defines MT5* as copies of the T5* modules ("# Copied from transformers.models.t5"
// in models/mt5/modeling_mt5.py), differing in model_type, class prefix and config defaults.
#pragma once

#include "hfx/model.h"

namespace hfx::models {

// `family` is the class-name prefix ("T5", "MT5"): <family>Model and its five heads with their Auto classes.
Architecture t5_like_architecture(const std::string& model_type, const std::string& family, json defaults);

}  // namespace hfx::models
