// Placeholder until the PyTorch <-> TF2 name map lands (issue #5).
#include "naming/naming.h"

namespace hfx::naming {
std::unique_ptr<TensorSource> tf2_to_canonical(std::unique_ptr<TensorSource> src, const Model&) {
  throw_error(ErrorKind::Unsupported, "TF2 weight names are not mapped yet", src->path());
}
NamedTensors canonical_to_tf2(const NamedTensors&, const Model& model) {
  throw_error(ErrorKind::Unsupported, "TF2 weight names are not mapped yet for " + model.class_name());
}
}  // namespace hfx::naming
