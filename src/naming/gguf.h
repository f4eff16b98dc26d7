// GGUF names and hyper-parameters (src/naming/gguf.cc): llama.cpp's converter tables, both ways.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hfx/config.h"
#include "hfx/gguf.h"
#include "hfx/model.h"
#include "naming/naming.h"

namespace hfx::naming {

// One tensor: GGUF name, canonical name (with the base model prefix), and what the converter does to it.
struct GgufRow {
  std::string gguf, canonical;
  enum Op { Copy, Permute, Transpose, AddOne } op = Copy;
  int64_t heads = 0;  // Permute: the head count whose rows are permuted
};
// general.architecture for a model_type (mistral -> llama); Unsupported when unmapped.
std::string gguf_arch_for(const std::string& model_type);
// Every row of the config's architecture (llama, mistral, qwen2, gemma, gpt2).
std::vector<GgufRow> gguf_rows(const Config& c);
// The row's transform: canonical -> GGUF when to_gguf, else back.
Tensor gguf_apply(const GgufRow& row, const Tensor& t, bool to_gguf, const std::string& path);
// The GGUF source under canonical names for `model` (which must outlive it).
std::unique_ptr<TensorSource> gguf_to_canonical(std::unique_ptr<TensorSource> src, const Model& model);
// config.json fields from a GGUF file's metadata and tensors; Format / Unsupported naming the key.
json gguf_config_json(const std::vector<GgufKV>& kvs, const TensorSource& src);
// {arch}.* hyper-parameters as convert_hf_to_gguf.py writes them for this config.
std::vector<GgufKV> gguf_hparams(const Config& c);
// tokenizer.ggml.model for a byte-level BPE ("gpt2") or sentencepiece-style ("llama") vocab.
std::string gguf_vocab_model(bool sentencepiece);
// tokenizer.ggml.pre for a byte-level BPE vocab of this model_type.
std::string gguf_tokenizer_pre(const std::string& model_type);
// True where the converter writes output.weight as a copy of token_embd (GPT2Model).
bool gguf_output_copies_embedding(const Config& c);

}  // namespace hfx::naming
