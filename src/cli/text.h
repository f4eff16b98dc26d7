// Text subcommands of the hfx CLI (tokenize, embed, generate) and `run --text`, over hfx/tokenizer.h.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "hfx/model.h"

namespace hfx::cli {

struct TextCommands {
  std::string path, pair, prompt, input_ids, cls;
  std::string pooling, prompt_name, embed_prompt;  // embed: --pooling, --prompt-name, --prompt
  bool normalize = false, no_normalize = false;
  std::vector<std::string> stop;  // generate --stop
  // generate: the options given on the command line override generation_config.json; the others keep its values.
  CLI::Option *max_new_opt = nullptr, *temperature_opt = nullptr, *top_k_opt = nullptr, *top_p_opt = nullptr,
              *seed_opt = nullptr, *beams_opt = nullptr;
  std::vector<std::string> texts;
  bool no_special = false, do_sample = false;
  int64_t max_new_tokens = 20, top_k = 50, num_beams = 1, max_length = 0;
  int64_t batch_size = 32;    // embed: encode's batch_size
  std::string texts_file;     // embed --file: one sentence per line, after the literal ones
  double temperature = 1.0, top_p = 1.0;
  uint64_t seed = 0;
};

// `run --text`: tokenizes `texts` with the tokenizer in `model_path` (padded batch) into `in`, as transformers'
// tokenizer(texts, padding=True) gives them to the model.
void text_inputs(const std::string& model_path, const Model& model, const std::vector<std::string>& texts,
                 ModelInputs& in);

}  // namespace hfx::cli
