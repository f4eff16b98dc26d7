// Placeholder until the PyTorch <-> Flax name map lands (issue #5).
#include "naming/naming.h"

namespace hfx::naming {
std::unique_ptr<TensorSource> flax_to_canonical(std::unique_ptr<TensorSource> src, const Model&) {
  throw_error(ErrorKind::Unsupported, "Flax parameter names are not mapped yet", src->path());
}
NamedTensors canonical_to_flax(const NamedTensors&, const Model& model) {
  throw_error(ErrorKind::Unsupported, "Flax parameter names are not mapped yet for " + model.class_name());
}
}  // namespace hfx::naming
