// One function per architecture file; registry.cc lists them all.
#pragma once
#include "hfx/model.h"

namespace hfx::models {
Architecture bert_architecture();
Architecture roberta_architecture();
Architecture distilbert_architecture();
Architecture albert_architecture();
Architecture electra_architecture();
Architecture gpt2_architecture();
Architecture llama_architecture();
Architecture mistral_architecture();
Architecture openai_gpt_architecture();
Architecture t5_architecture();
Architecture bart_architecture();
Architecture xlm_architecture();
Architecture transfo_xl_architecture();
Architecture xlnet_architecture();
}  // namespace hfx::models
