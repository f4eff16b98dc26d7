// Validate before allocating (issue 24, defect 6): after the model skeleton is
// built from config.json and before any parameter buffer is made (loaded,
// converted or initialised), its declared size is checked against the
// weights it is to be loaded from.
#pragma once

#include <string>

#include "hfx/io.h"
#include "hfx/model.h"

namespace hfx::detail {

// Throws Format (naming `where` and the config) when the parameters the
// config declares hold more than twice the checkpoint's elements plus 2^28
// (1 GiB of fp32 for heads and other parameters a checkpoint may lack): such a
// config does not describe these weights (e.g. num_hidden_layers: 10000000
// next to a 1 MB file), and initialising the difference randomly would
// allocate GBs first. ParamTable::declare already bounds the count and total
// of declared parameters while the skeleton is built.
void check_skeleton_fits(const Model& model, const TensorSource& src, const std::string& where);

}  // namespace hfx::detail
