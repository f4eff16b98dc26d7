// Marian (MarianMT): BART's post-norm classes with fixed sinusoidal positions
// (no offset; checkpoints leave them out) and no layernorm_embedding.
// Upstream: transformers v4.46.3 src/transformers/models/marian/modeling_marian.py
// model_type "marian"; classes MarianModel, MarianMTModel, MarianForCausalLM.
// Not supported: share_encoder_decoder_embeddings = false (a separate decoder vocabulary).
#include "models/bart.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture marian_architecture() {
  // MarianConfig().to_dict() (transformers 4.46.3); decoder_vocab_size is derived (__init__: decoder_vocab_size or vocab_size).
  json d = {{"vocab_size", 58101}, {"decoder_vocab_size", nullptr}, {"max_position_embeddings", 1024}, {"d_model", 1024},
            {"encoder_ffn_dim", 4096}, {"encoder_layers", 12}, {"encoder_attention_heads", 16}, {"decoder_ffn_dim", 4096},
            {"decoder_layers", 12}, {"decoder_attention_heads", 16}, {"dropout", 0.1}, {"attention_dropout", 0.0},
            {"activation_dropout", 0.0}, {"activation_function", "gelu"}, {"init_std", 0.02}, {"encoder_layerdrop", 0.0},
            {"decoder_layerdrop", 0.0}, {"use_cache", true}, {"num_hidden_layers", 12}, {"scale_embedding", false},
            {"share_encoder_decoder_embeddings", true}, {"is_encoder_decoder", true}, {"forced_eos_token_id", 0},
            {"pad_token_id", 58100}, {"eos_token_id", 0}, {"decoder_start_token_id", 58100}};
  BartFlavor f;
  f.ln_embedding = false;
  f.sinusoidal = true;
  return bart_like_architecture("marian", d, f,
                                {{"MarianModel", "Model"}, {"MarianMTModel", "ConditionalGeneration"}, {"MarianForCausalLM", "CausalLM"}},
                                {{"AutoModel", "MarianModel"},
                                 {"AutoModelForSeq2SeqLM", "MarianMTModel"},
                                 {"AutoModelForCausalLM", "MarianForCausalLM"}});
}

}  // namespace hfx::models
