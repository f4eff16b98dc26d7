// from_pretrained without reading the weights: what load_pretrained would bind
// to each parameter, for conversions that stream one tensor at a time
// (convert_model_directory) instead of holding the whole model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hfx/auto.h"
#include "hfx/io.h"
#include "hfx/model.h"

namespace hfx::detail {

struct PlannedParam {
  std::size_t index;      // into model.params()
  std::string ckpt_name;  // in `src`
  DType dtype;            // the dtype load_pretrained binds it in (src's, converted if it differs)
};

struct LoadPlan {
  LoadedModel loaded;                 // checks, missing/unexpected keys as load_pretrained; the planned
                                      // parameters are left unbound, missing ones initialised
  std::unique_ptr<TensorSource> src;  // canonical names
  std::vector<PlannedParam> params;
};

LoadPlan plan_pretrained(const std::string& id_or_path, const std::string& class_name, const LoadOptions& opts);

}  // namespace hfx::detail
