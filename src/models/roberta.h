// The RoBERTa model classes, shared by the roberta, xlm-roberta and camembert
// model files: transformers 4.46.3 defines XLMRoberta* and Camembert* as copies
// of the Roberta* modules ("# Copied from ...Roberta..." in
// models/xlm_roberta/modeling_xlm_roberta.py, models/camembert/modeling_camembert.py),
// differing only in model_type, class-name prefix and config defaults.
#pragma once

#include "hfx/model.h"

namespace hfx::models {

// `family` is the class-name prefix ("Roberta", "XLMRoberta", "Camembert"): registers
// <family>Model and its six heads with the Auto classes roberta maps them to.
Architecture roberta_like_architecture(const std::string& model_type, const std::string& family, json defaults);

// create_position_ids_from_input_ids (RoBERTa, MPNet): padding positions get `pad`,
// the others count up from pad + 1. ids: [B, S] int64.
Tensor roberta_position_ids(const Tensor& ids, int64_t pad);

}  // namespace hfx::models
