// Placeholder until the Keras h5 reader/writer lands (issue #5).
#include "hfx/formats.h"

namespace hfx {
std::unique_ptr<TensorSource> open_keras_h5(const std::string& path) {
  throw_error(ErrorKind::Unsupported, "Keras h5 checkpoints are not supported yet", path);
}
void write_keras_h5(const std::string& path, const NamedTensors&) {
  throw_error(ErrorKind::Unsupported, "writing Keras h5 checkpoints is not supported yet", path);
}
}  // namespace hfx
