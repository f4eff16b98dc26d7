// CamemBERT: RoBERTa's modules under the Camembert* names.
// Upstream: transformers v4.46.3 src/transformers/models/camembert/modeling_camembert.py
// (every module "Copied from transformers.models.roberta.modeling_roberta") and
// configuration_camembert.py; model_type "camembert"; classes CamembertModel,
// CamembertForMaskedLM, CamembertForCausalLM, CamembertForSequenceClassification,
// CamembertForTokenClassification, CamembertForQuestionAnswering, CamembertForMultipleChoice.
#include "models/bert.h"
#include "models/registry_entries.h"
#include "models/roberta.h"

namespace hfx::models {

Architecture camembert_architecture() {
  // CamembertConfig().to_dict(): BertConfig's values with RoBERTa's special ids (vocab_size stays 30522).
  json d = bert_config_defaults();
  d.update({{"pad_token_id", 1}, {"bos_token_id", 0}, {"eos_token_id", 2}});
  return roberta_like_architecture("camembert", "Camembert", d);
}

}  // namespace hfx::models
