// Framework names <-> canonical (PyTorch state_dict) names.
//
// A format reader yields its framework's names; canonical_names() wraps it in
// a TensorSource that speaks canonical names for this model (renaming, and
// transposing kernels where the framework stores them transposed). For
// writing, framework_names() does the reverse. Readers know no model, models
// know no format: this layer is the only place the two meet.
#pragma once

#include <map>
#include <memory>

#include "hfx/formats.h"
#include "hfx/model.h"

namespace hfx::naming {

// Base of the sources that present another source's tensors under canonical
// names (the TF2 and Flax maps): it owns the wrapped source, the renamed
// entries in file order and the name -> entry index the subclass fills in.
class RenamingSource : public TensorSource {
 public:
  explicit RenamingSource(std::unique_ptr<TensorSource> src) : src_(std::move(src)) {}
  std::string format() const override { return src_->format(); }
  const std::string& path() const override { return src_->path(); }
  const std::vector<TensorInfo>& entries() const override { return entries_; }
  bool contains(const std::string& name) const override { return index_.count(name) > 0; }
  const TensorInfo& info(const std::string& name) const override { return entries_[find(name)]; }
  std::map<std::string, std::string> metadata() const override { return src_->metadata(); }
  // Releases the wrapped source's tensor that entry `name` is read from.
  void release(const std::string& name) const override;

 protected:
  std::size_t find(const std::string& name) const;  // throws NotFound
  // The wrapped source's name of entry i.
  virtual const std::string& source_name(std::size_t i) const = 0;
  std::unique_ptr<TensorSource> src_;
  std::vector<TensorInfo> entries_;
  std::map<std::string, std::size_t> index_;
};

// Dispatches on src->format(): "safetensors"/"pytorch" pass through;
// "tf_h5" -> tf2_to_canonical; "flax" -> flax_to_canonical.
std::unique_ptr<TensorSource> canonical_names(std::unique_ptr<TensorSource> src, const Model& model);

// PyTorch <-> TF2 (transformers' convert_tf_weight_name_to_pt_weight_name and its inverse).
std::unique_ptr<TensorSource> tf2_to_canonical(std::unique_ptr<TensorSource> src, const Model& model);
// Transposed tensors come back as strided views of the inputs: a writer makes
// each one contiguous as it writes it, so a save holds one transposed copy at a time.
NamedTensors canonical_to_tf2(const NamedTensors& canonical, const Model& model);

// PyTorch <-> Flax (convert_pytorch_state_dict_to_flax and its inverse).
std::unique_ptr<TensorSource> flax_to_canonical(std::unique_ptr<TensorSource> src, const Model& model);
// Transposed tensors come back as strided views, as canonical_to_tf2's.
NamedTensors canonical_to_flax(const NamedTensors& canonical, const Model& model);

}  // namespace hfx::naming

namespace hfx::naming {

// ---- original-release (TF1) checkpoints: src/naming/tf1.cc ----------------
// How one variable becomes a PyTorch tensor.
enum class Tf1Op { Copy, Transpose, Squeeze, Index, InvFreq };

struct Tf1Param {
  std::string name;    // canonical (PyTorch state_dict key)
  std::string source;  // TF variable; for a tie, the canonical name whose tensor it shares
  Tf1Op op = Tf1Op::Copy;
  int64_t index = -1;  // Index: the layer slice of a [n_layer, ...] stack; InvFreq: d_model
  bool tied = false;
};

struct Tf1Plan {
  std::string type, model_type, class_name, finetuning_task;
  int64_t num_labels = 0;             // > 0 for an XLNet GLUE classifier
  bool cast_f32 = false;              // T5: every tensor astype(float32)
  std::vector<Tf1Param> params;       // in checkpoint order, then ties and buffers
  std::vector<std::string> skipped;   // optimizer slots, global_step, ...
  std::vector<std::string> missing;   // parameters of the class that no variable provides
};

struct Tf1PlanOptions {
  std::string finetuning_task;   // xlnet only (GLUE task name, any case)
  bool require_complete = true;  // missing parameters are an error
};

// transformers-cli convert's model types: bert albert gpt gpt2 xlnet xlm t5 transfo_xl.
std::vector<std::string> tf1_convert_types();
// config.json model_type -> convert type ("openai-gpt" -> "gpt"); empty if none.
std::string tf1_convert_type_for(const std::string& model_type);
// The name table for `type` applied to a checkpoint's variables; `config` is the
// config's merged JSON. Unknown variables -> Unsupported naming them.
Tf1Plan tf1_plan(const std::string& type, const json& config, const std::vector<TensorInfo>& vars,
                 const Tf1PlanOptions& opts = {});
// One converted tensor; ties are looked up in `done` (canonical name -> tensor).
Tensor tf1_tensor(const Tf1Param& p, const TensorSource& src, const std::map<std::string, Tensor>& done, bool cast_f32);
// The dtype and shape tf1_tensor(p, …) returns, from the checkpoint's index
// alone (p not tied).
TensorInfo tf1_param_info(const Tf1Param& p, const TensorSource& src, bool cast_f32);
// from_tf with a TF1 checkpoint: canonical names for this model's type.
std::unique_ptr<TensorSource> tf1_to_canonical(std::unique_ptr<TensorSource> src, const Model& model);

}  // namespace hfx::naming
