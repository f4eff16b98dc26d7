// mBART: BART with pre-norm layers, a final layer_norm after each stack and a
// shift_tokens_right that starts the decoder with the language code (the last
// non-pad token of each row).
// Upstream: transformers v4.46.3 src/transformers/models/mbart/modeling_mbart.py
// model_type "mbart"; classes MBartModel, MBartForConditionalGeneration,
// MBartForSequenceClassification, MBartForQuestionAnswering, MBartForCausalLM.
#include "models/bart.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture mbart_architecture() {
  // MBartConfig().to_dict() (transformers 4.46.3).
  json d = {{"vocab_size", 50265}, {"max_position_embeddings", 1024}, {"d_model", 1024}, {"encoder_ffn_dim", 4096},
            {"encoder_layers", 12}, {"encoder_attention_heads", 16}, {"decoder_ffn_dim", 4096}, {"decoder_layers", 12},
            {"decoder_attention_heads", 16}, {"dropout", 0.1}, {"attention_dropout", 0.0}, {"activation_dropout", 0.0},
            {"activation_function", "gelu"}, {"init_std", 0.02}, {"encoder_layerdrop", 0.0}, {"decoder_layerdrop", 0.0},
            {"classifier_dropout", 0.0}, {"use_cache", true}, {"num_hidden_layers", 12}, {"scale_embedding", false},
            {"is_encoder_decoder", true}, {"forced_eos_token_id", 2}, {"bos_token_id", 0}, {"pad_token_id", 1},
            {"eos_token_id", 2}};
  BartFlavor f;
  f.pre_norm = true;
  f.wrap_last_token = true;
  return bart_like_architecture("mbart", d, f,
                                {{"MBartModel", "Model"},
                                 {"MBartForConditionalGeneration", "ConditionalGeneration"},
                                 {"MBartForSequenceClassification", "SequenceClassification"},
                                 {"MBartForQuestionAnswering", "QuestionAnswering"},
                                 {"MBartForCausalLM", "CausalLM"}},
                                {{"AutoModel", "MBartModel"},
                                 {"AutoModelForSeq2SeqLM", "MBartForConditionalGeneration"},
                                 {"AutoModelForMaskedLM", "MBartForConditionalGeneration"},
                                 {"AutoModelForCausalLM", "MBartForCausalLM"},
                                 {"AutoModelForSequenceClassification", "MBartForSequenceClassification"},
                                 {"AutoModelForQuestionAnswering", "MBartForQuestionAnswering"}});
}

}  // namespace hfx::models
