// Text subcommands of the hfx CLI (tokenize, embed, generate) and `run --text`, over hfx/tokenizer.h.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "hfx/model.h"

namespace hfx::cli {

struct TextCommands {
  CLI::App *tokenize = nullptr, *embed = nullptr, *generate = nullptr;
  std::string path, pair, prompt, input_ids, cls;
  std::vector<std::string> texts;
  bool json = false, no_special = false, do_sample = false;
  int64_t max_new_tokens = 20, top_k = 50, num_beams = 1, max_length = 0;
  double temperature = 1.0, top_p = 1.0;
  uint64_t seed = 0;
};

// Registers `tokenize`, `embed` and `generate` on `app`.
void add_text_commands(CLI::App& app, TextCommands& t);
// Runs the selected text subcommand; nullopt when none of them was selected.
std::optional<int> run_text_command(const TextCommands& t);
// `run --text`: tokenizes `texts` with the tokenizer in `model_path` (padded batch) into `in`, as transformers'
// tokenizer(texts, padding=True) gives them to the model.
void text_inputs(const std::string& model_path, const Model& model, const std::vector<std::string>& texts,
                 ModelInputs& in);

}  // namespace hfx::cli
