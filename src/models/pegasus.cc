// Pegasus: BART's classes with pre-norm layers, final layer_norms, fixed
// sinusoidal positions (no offset) and no layernorm_embedding.
// Upstream: transformers v4.46.3 src/transformers/models/pegasus/modeling_pegasus.py
// model_type "pegasus"; classes PegasusModel, PegasusForConditionalGeneration, PegasusForCausalLM.
#include "models/bart.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture pegasus_architecture() {
  // PegasusConfig().to_dict() (transformers 4.46.3).
  json d = {{"vocab_size", 50265}, {"max_position_embeddings", 1024}, {"d_model", 1024}, {"encoder_ffn_dim", 4096},
            {"encoder_layers", 12}, {"encoder_attention_heads", 16}, {"decoder_ffn_dim", 4096}, {"decoder_layers", 12},
            {"decoder_attention_heads", 16}, {"dropout", 0.1}, {"attention_dropout", 0.0}, {"activation_dropout", 0.0},
            {"activation_function", "gelu"}, {"init_std", 0.02}, {"encoder_layerdrop", 0.0}, {"decoder_layerdrop", 0.0},
            {"use_cache", true}, {"num_hidden_layers", 12}, {"scale_embedding", false}, {"is_encoder_decoder", true},
            {"forced_eos_token_id", 1}, {"pad_token_id", 0}, {"eos_token_id", 1}, {"decoder_start_token_id", 0}};
  BartFlavor f;
  f.pre_norm = true;
  f.ln_embedding = false;
  f.sinusoidal = true;
  return bart_like_architecture("pegasus", d, f,
                                {{"PegasusModel", "Model"},
                                 {"PegasusForConditionalGeneration", "ConditionalGeneration"},
                                 {"PegasusForCausalLM", "CausalLM"}},
                                {{"AutoModel", "PegasusModel"},
                                 {"AutoModelForSeq2SeqLM", "PegasusForConditionalGeneration"},
                                 {"AutoModelForCausalLM", "PegasusForCausalLM"}});
}

}  // namespace hfx::models
