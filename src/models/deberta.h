// The DeBERTa model classes, shared by the deberta and deberta-v2 model files
// (transformers 4.46.3 models/deberta_v2/modeling_deberta_v2.py copies most of
// models/deberta/modeling_deberta.py; the attention differs, see deberta_v2.cc).
#pragma once

#include "hfx/model.h"

namespace hfx::models {

enum class DebertaVersion { V1, V2 };
// Registers <family>Model and its heads ("Deberta" / "DebertaV2"; v2 adds ForMultipleChoice).
Architecture deberta_like_architecture(DebertaVersion version, json defaults);
// DebertaConfig's defaults (transformers 4.46.3).
json deberta_config_defaults();

}  // namespace hfx::models
