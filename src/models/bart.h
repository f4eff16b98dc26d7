// The BART encoder-decoder classes, shared by the bart, mbart, marian and pegasus
// model files (transformers 4.46.3 copies BartAttention and the layer bodies into
// each; the families differ in where the LayerNorms sit, the position embeddings
// and the embedding scale).
#pragma once

#include <map>
#include <utility>
#include <vector>

#include "hfx/model.h"

namespace hfx::models {

struct BartFlavor {
  bool pre_norm = false;         // mBART / Pegasus: LayerNorm before each sublayer + encoder/decoder `layer_norm` at the end
  bool ln_embedding = true;      // layernorm_embedding after the embeddings (BART, mBART)
  bool sinusoidal = false;       // Marian / Pegasus: fixed sinusoidal positions, no offset (computed, not loaded)
  bool wrap_last_token = false;  // mBART's shift_tokens_right (the last non-pad token starts the decoder)
};

// classes: (class name, head) with head one of "Model", "ConditionalGeneration", "SequenceClassification",
// "QuestionAnswering", "CausalLM"; auto_classes: (Auto class, class name).
Architecture bart_like_architecture(const std::string& model_type, json defaults, const BartFlavor& flavor,
                                   const std::vector<std::pair<std::string, std::string>>& classes,
                                   std::map<std::string, std::string> auto_classes);

}  // namespace hfx::models
