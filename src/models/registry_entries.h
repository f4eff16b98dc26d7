// hfx's own architectures: one line per file in src/models/ (each defines
// Architecture hfx::models::<name>_architecture()); registry.cc registers them
// in this order. Adding an architecture adds one line here (docs/adding-a-model.md).
#pragma once
#include "hfx/model.h"

#define HFX_ARCHITECTURES(X) \
  X(bert)                    \
  X(roberta)                 \
  X(xlm_roberta)             \
  X(camembert)               \
  X(mpnet)                   \
  X(modernbert)              \
  X(deberta)                 \
  X(deberta_v2)              \
  X(distilbert)              \
  X(albert)                  \
  X(electra)                 \
  X(gpt2)                    \
  X(llama)                   \
  X(mistral)                 \
  X(qwen2)                   \
  X(qwen2_moe)               \
  X(qwen3)                   \
  X(mixtral)                 \
  X(gemma)                   \
  X(gemma2)                  \
  X(gemma3_text)             \
  X(olmo)                    \
  X(starcoder2)              \
  X(stablelm)                \
  X(phi)                     \
  X(phi3)                    \
  X(gpt_neox)                \
  X(gptj)                    \
  X(opt)                     \
  X(falcon)                  \
  X(bloom)                   \
  X(openai_gpt)              \
  X(t5)                      \
  X(mt5)                     \
  X(bart)                    \
  X(mbart)                   \
  X(marian)                  \
  X(pegasus)                 \
  X(xlm)                     \
  X(transfo_xl)              \
  X(xlnet)

namespace hfx::models {
#define HFX_DECLARE_ARCHITECTURE(name) Architecture name##_architecture();
HFX_ARCHITECTURES(HFX_DECLARE_ARCHITECTURE)
#undef HFX_DECLARE_ARCHITECTURE
}  // namespace hfx::models
