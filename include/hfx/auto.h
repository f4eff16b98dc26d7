// hfx/auto.h — loading a checkpoint: LoadOptions, LoadingInfo, load_pretrained
// and the AutoModel classes (transformers' from_pretrained).
//
//   auto model = hfx::AutoModelForMaskedLM::from_pretrained("path/to/dir");  // or "org/name"
//   hfx::ModelInputs in; in.input_ids = ...;  // [batch, seq] int64
//   hfx::Outputs out = model->forward(in);
//   const hfx::Tensor& logits = out.get("logits");
//
// Errors: NotFound (no config/weights, unknown class), Format (malformed
// files), Mismatch (shapes that do not fit, listed together), Network/Io (hub).
#pragma once

#include "hfx/export.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hfx/hub.h"
#include "hfx/model.h"

namespace hfx {

// ---- loading --------------------------------------------------------------
struct HFX_API LoadOptions {
  // nullopt: like transformers' default, parameters become float32 (a copy
  // when the file holds another dtype). "auto" behaviour: keep_file_dtype.
  std::optional<DType> dtype;
  bool keep_file_dtype = false;
  json config_overrides = json::object();
  // Error (rather than LoadingInfo) when a parameter is missing.
  bool strict = false;
  bool ignore_mismatched_sizes = false;
  // Like transformers' from_tf / from_flax: prefer TF (model.ckpt.index,
  // tf_model.h5) or Flax (flax_model.msgpack) weights in a directory.
  bool from_tf = false;
  bool from_flax = false;
  // transformers' use_safetensors: nullopt prefers model.safetensors (or its
  // sharded index) over pytorch_model.bin; true loads only safetensors
  // (NotFound when the directory has none); false never loads safetensors.
  std::optional<bool> use_safetensors;
  // transformers' torch_dtype, spelled as a string: "" uses `dtype` above;
  // "float32"/"float"/"float16"/"half"/"bfloat16" (or "f32"/"f16"/"bf16");
  // "auto" is the checkpoint's dtype: config.json's torch_dtype, else the
  // sharded index's metadata "dtype", else the first floating tensor's dtype.
  std::string torch_dtype;
  // Quantization::Int8: dynamic int8 inference (hfx/model.h says which layers;
  // the checkpoint is read as usual and quantized once, on each Linear's first
  // call). Like PyTorch's quantize_dynamic, the loaded parameters themselves
  // stay floating point (save_pretrained writes them unquantized).
  Quantization quantize = Quantization::None;
  // transformers' config=: an object (used instead of config.json; the
  // overrides above still apply) or a path (a config.json, or a directory
  // holding one).
  std::optional<Config> config;
  std::string config_path;
  // transformers' state_dict=: canonical name -> tensor, bound instead of any
  // weight file. With a config (above) the path may be empty.
  std::optional<std::vector<std::pair<std::string, Tensor>>> state_dict;
  // `path` may be a hub repo id ("org/name"): revision, cache, offline, token (hfx/hub.h).
  HubOptions hub;
};

struct HFX_API LoadingInfo {
  // Sorted and named as transformers reports them: missing keys in the
  // checkpoint's namespace (base_model_prefix added or removed), unexpected
  // keys as the checkpoint names them (legacy gamma/beta fixed).
  std::vector<std::string> missing_keys, unexpected_keys;
  std::vector<std::string> mismatched_keys;  // "key: checkpoint [..] vs model [..]"
  std::size_t zero_copy = 0, converted = 0;  // how parameters were bound
  std::vector<std::string> files;            // weight files read
  // transformers' mismatched_keys tuples: (checkpoint key, checkpoint shape, model shape).
  struct Mismatched {
    std::string key;
    Shape checkpoint, model;
  };
  std::vector<Mismatched> mismatched;
  // transformers' error_msgs: state_dict copy errors. As in transformers, a
  // load that has any throws (listing them all), so a returned info has none.
  std::vector<std::string> error_msgs;
};

struct HFX_API LoadedModel {
  std::unique_ptr<Model> model;
  LoadingInfo info;
};

// Resolves the weights in `path` (a directory with config.json, or a weight
// file beside one, or a hub repo id fetched into the cache: hfx/hub.h), builds `class_name` (empty: the config's architectures[0],
// else the base model) and binds the checkpoint to it.
HFX_API LoadedModel load_pretrained(const std::string& path, const std::string& class_name, const LoadOptions& opts = {});

// AutoModel classes: pick the class for the config's model_type.
#define HFX_AUTO_CLASS(NAME)                                                                    \
  struct HFX_API NAME {                                                                         \
    static std::unique_ptr<Model> from_pretrained(const std::string& path, const LoadOptions& opts = {}, \
                                                  LoadingInfo* info = nullptr);                 \
  };
HFX_AUTO_CLASS(AutoModel)
HFX_AUTO_CLASS(AutoModelForMaskedLM)
HFX_AUTO_CLASS(AutoModelForSequenceClassification)
HFX_AUTO_CLASS(AutoModelForTokenClassification)
HFX_AUTO_CLASS(AutoModelForQuestionAnswering)
HFX_AUTO_CLASS(AutoModelForPreTraining)
HFX_AUTO_CLASS(AutoModelForCausalLM)
HFX_AUTO_CLASS(AutoModelForMultipleChoice)
HFX_AUTO_CLASS(AutoModelForSeq2SeqLM)
#undef HFX_AUTO_CLASS

}  // namespace hfx
