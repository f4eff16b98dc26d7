// Framework names <-> canonical (PyTorch state_dict) names.
//
// A format reader yields its framework's names; canonical_names() wraps it in
// a TensorSource that speaks canonical names for this model (renaming, and
// transposing kernels where the framework stores them transposed). For
// writing, framework_names() does the reverse. Readers know no model, models
// know no format: this layer is the only place the two meet.
#pragma once

#include <memory>

#include "hfx/formats.h"
#include "hfx/model.h"

namespace hfx::naming {

// Dispatches on src->format(): "safetensors"/"pytorch" pass through;
// "tf_h5" -> tf2_to_canonical; "flax" -> flax_to_canonical.
std::unique_ptr<TensorSource> canonical_names(std::unique_ptr<TensorSource> src, const Model& model);

// PyTorch <-> TF2 (transformers' convert_tf_weight_name_to_pt_weight_name and its inverse).
std::unique_ptr<TensorSource> tf2_to_canonical(std::unique_ptr<TensorSource> src, const Model& model);
NamedTensors canonical_to_tf2(const NamedTensors& canonical, const Model& model);

// PyTorch <-> Flax (convert_pytorch_state_dict_to_flax and its inverse).
std::unique_ptr<TensorSource> flax_to_canonical(std::unique_ptr<TensorSource> src, const Model& model);
NamedTensors canonical_to_flax(const NamedTensors& canonical, const Model& model);

}  // namespace hfx::naming
