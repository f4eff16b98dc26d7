// hfx/convert.h — `transformers-cli convert` natively: an original-release
// checkpoint (TF1 bundle, the OpenAI GPT numpy folder) plus its config becomes
// what transformers 4.46's per-model converter writes — the same file names,
// state-dict keys, shapes and bit-identical values, and config.json with the
// same fields (to_json_string's diff against the config class defaults).
//
//   bert, albert     torch.save(BertForPreTraining / AlbertForPreTraining) to the
//                    `output` *file*; no config.json (as the reference)
//   gpt, gpt2, xlnet, transfo_xl   `output` folder: pytorch_model.bin + config.json
//   t5               `output` folder via save_pretrained: model.safetensors,
//                    config.json, generation_config.json
//   xlm              the original PyTorch dump (`tf_checkpoint`, no config): `output`
//                    folder with pytorch_model.bin, config.json (its params), vocab.json
// `safetensors`: weights as safetensors instead of torch.save (model.safetensors
// in the folder; for bert/albert the output path with its extension replaced).
// Optimizer slots and global_step are skipped; any other variable the name
// table (src/naming/tf1.cc) does not know is an Unsupported error naming it.
// Everything is written atomically.
#pragma once

#include "hfx/export.h"

#include <string>
#include <vector>

#include "hfx/config.h"

namespace hfx {

struct HFX_API ConvertOptions {
  std::string model_type;       // bert albert gpt gpt2 xlnet xlm t5 transfo_xl
  std::string tf_checkpoint;    // TF1 prefix ("model.ckpt", or with ".index"), or the gpt folder
  std::string config;           // config JSON path ("" = the class defaults, where the reference allows it)
  std::string output;           // pytorch_dump_output
  std::string finetuning_task;  // xlnet: a GLUE task builds XLNetForSequenceClassification
  bool safetensors = false;
  // A progress bar for the weights written, drawn only on a terminal (SaveOptions::progress); the CLI sets it.
  bool progress = false;
};

struct HFX_API ConvertResult {
  std::vector<std::string> files;    // written
  std::vector<std::string> skipped;  // checkpoint variables deliberately not converted
  std::size_t tensors = 0;
  std::string class_name;
};

HFX_API ConvertResult convert_original_checkpoint(const ConvertOptions& opts);

// config.json as the reference converter writes it for `model_type` from the
// given config JSON (the raw file contents), after an optional GLUE task.
HFX_API json converted_config(const std::string& model_type, const json& input, const std::string& finetuning_task = "",
                      int64_t num_labels = 0);

}  // namespace hfx
