// DeBERTa (v1): the DeBERTa-v2 classes in their v1 form (fused in_proj with q/v
// biases, pos_proj / pos_q_proj, talking heads, no position buckets).
// Upstream: transformers v4.46.3 src/transformers/models/deberta/modeling_deberta.py
// model_type "deberta"; classes DebertaModel, DebertaForMaskedLM, DebertaForSequenceClassification,
// DebertaForTokenClassification, DebertaForQuestionAnswering.
#include "models/deberta.h"

#include "models/registry_entries.h"

namespace hfx::models {

Architecture deberta_architecture() { return deberta_like_architecture(DebertaVersion::V1, deberta_config_defaults()); }

}  // namespace hfx::models
