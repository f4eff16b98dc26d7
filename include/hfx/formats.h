// hfx/formats.h — readers and writers for each framework's weight format.
//
// Readers return a TensorSource whose names are the framework's own (PyTorch
// state_dict keys, Keras h5 weight names, Flax parameter paths joined with
// '/', TF1 variable names). Writers take tensors already named for their
// framework (see naming/). Every writer is atomic (AtomicFile). Every reader
// validates before it allocates or reads and throws hfx::Error naming the file
// and tensor. open_checkpoint() (io.h) sniffs a file and picks the reader.
#pragma once

#include "hfx/export.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "hfx/io.h"

namespace hfx {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// PyTorch torch.save zip archive (format() == "pytorch"): restricted unpickler,
// stored entries viewed in place (zero-copy). Writer output loads with
// torch.load(weights_only=True).
HFX_API std::unique_ptr<TensorSource> open_torch_zip(const std::string& path);
HFX_API void write_torch_zip(const std::string& path, const NamedTensors& tensors);
// The same file, streamed: each tensor is got when its record is written and
// done() is called after it (at most one tensor held at a time).
HFX_API void write_torch_zip(const std::string& path, const std::vector<LazyTensor>& tensors);
// A torch.save zip holding a dict with a state dict under `state_key` and plain
// data beside it (the original XLM dump: model, params, dico_*): the tensors of
// the state dict, and the rest as JSON in `rest` (tensors and numpy arrays
// dropped, which the restricted unpickler accepts here as inert placeholders).
HFX_API std::unique_ptr<TensorSource> open_torch_dump(const std::string& path, const std::string& state_key, nlohmann::json& rest);
// Legacy pre-1.6 torch.save (magic number, pickles, raw storages): read only.
HFX_API std::unique_ptr<TensorSource> open_torch_legacy(const std::string& path);

// Keras HDF5 weights, tf_model.h5 (format() == "tf_h5"); names like
// "tf_bert_model/bert/embeddings/word_embeddings/weight:0".
HFX_API std::unique_ptr<TensorSource> open_keras_h5(const std::string& path);
HFX_API void write_keras_h5(const std::string& path, const NamedTensors& tensors);

// Flax flax_model.msgpack (format() == "flax"); names are parameter paths
// joined with '/', e.g. "bert/encoder/layer/0/attention/self/query/kernel".
HFX_API std::unique_ptr<TensorSource> open_flax_msgpack(const std::string& path);
HFX_API void write_flax_msgpack(const std::string& path, const NamedTensors& tensors);

// Original TF1 checkpoint: `prefix` is the path without ".index"
// (format() == "tf1"); names are TF variable names.
HFX_API std::unique_ptr<TensorSource> open_tf1_checkpoint(const std::string& prefix);

// The original OpenAI GPT numpy release folder (format() == "openai-npy"):
// parameters_names.json, params_shapes.json, params_N.npy (src/io/openai_npy.cc).
HFX_API std::unique_ptr<TensorSource> open_openai_npy_folder(const std::string& dir);

class Model;
// A checkpoint's tensors under `model`'s canonical (PyTorch state_dict) names:
// TF2, Flax and TF1 names mapped and kernels transposed as transformers' loaders
// do; PyTorch checkpoints pass through. The source refers to `model`, which must
// outlive it (src/naming/naming.cc).
HFX_API std::unique_ptr<TensorSource> canonical_source(std::unique_ptr<TensorSource> src, const Model& model);

}  // namespace hfx
