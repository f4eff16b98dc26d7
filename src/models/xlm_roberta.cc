// XLM-RoBERTa: RoBERTa's modules under the XLMRoberta* names (the multilingual
// checkpoints differ only in vocabulary and config values).
// Upstream: transformers v4.46.3 src/transformers/models/xlm_roberta/modeling_xlm_roberta.py
// (every module "Copied from transformers.models.roberta.modeling_roberta") and
// configuration_xlm_roberta.py; model_type "xlm-roberta"; classes XLMRobertaModel,
// XLMRobertaForMaskedLM, XLMRobertaForCausalLM, XLMRobertaForSequenceClassification,
// XLMRobertaForTokenClassification, XLMRobertaForQuestionAnswering, XLMRobertaForMultipleChoice.
#include "models/bert.h"
#include "models/registry_entries.h"
#include "models/roberta.h"

namespace hfx::models {

Architecture xlm_roberta_architecture() {
  // XLMRobertaConfig().to_dict(): BertConfig's values with RoBERTa's special ids (vocab_size stays 30522).
  json d = bert_config_defaults();
  d.update({{"pad_token_id", 1}, {"bos_token_id", 0}, {"eos_token_id", 2}});
  return roberta_like_architecture("xlm-roberta", "XLMRoberta", d);
}

}  // namespace hfx::models
