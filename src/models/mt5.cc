// mT5: the T5 classes under the MT5* names; the checkpoints use the gated-gelu FFN
// (wi_0 / wi_1) and an lm_head not tied to the shared embedding (no d_model**-0.5 rescale).
// Upstream: transformers v4.46.3 src/transformers/models/mt5/modeling_mt5.py (modules
// "Copied from transformers.models.t5.modeling_t5") and configuration_mt5.py; model_type "mt5";
// classes MT5Model, MT5ForConditionalGeneration, MT5EncoderModel, MT5ForSequenceClassification,
// MT5ForTokenClassification, MT5ForQuestionAnswering.
#include "models/registry_entries.h"
#include "models/t5.h"

namespace hfx::models {

Architecture mt5_architecture() {
  // MT5Config().to_dict() (transformers 4.46.3); num_decoder_layers, dense_act_fn and is_gated_act are derived.
  json d = {{"vocab_size", 250112}, {"d_model", 512}, {"d_kv", 64}, {"d_ff", 1024}, {"num_layers", 8},
            {"num_decoder_layers", nullptr}, {"num_heads", 6}, {"relative_attention_num_buckets", 32},
            {"relative_attention_max_distance", 128}, {"dropout_rate", 0.1}, {"classifier_dropout", 0.0},
            {"layer_norm_epsilon", 1e-6}, {"initializer_factor", 1.0}, {"feed_forward_proj", "gated-gelu"},
            {"use_cache", true}, {"tie_word_embeddings", false}, {"is_encoder_decoder", true},
            {"tokenizer_class", "T5Tokenizer"}, {"pad_token_id", 0}, {"eos_token_id", 1}, {"decoder_start_token_id", 0}};
  return t5_like_architecture("mt5", "MT5", d);
}

}  // namespace hfx::models
