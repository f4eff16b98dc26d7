// Placeholder until the TF1 bundle reader lands (issue #5).
#include "hfx/formats.h"

namespace hfx {
std::unique_ptr<TensorSource> open_tf1_checkpoint(const std::string& prefix) {
  throw_error(ErrorKind::Unsupported, "TF1 checkpoints are not supported yet", prefix);
}
}  // namespace hfx
