// Placeholder until the PyTorch readers land (issue #5).
#include "hfx/formats.h"

namespace hfx {
std::unique_ptr<TensorSource> open_torch_zip(const std::string& path) {
  throw_error(ErrorKind::Unsupported, "PyTorch zip checkpoints are not supported yet", path);
}
void write_torch_zip(const std::string& path, const NamedTensors&) {
  throw_error(ErrorKind::Unsupported, "writing PyTorch checkpoints is not supported yet", path);
}
std::unique_ptr<TensorSource> open_torch_legacy(const std::string& path) {
  throw_error(ErrorKind::Unsupported, "legacy PyTorch checkpoints are not supported yet", path);
}
}  // namespace hfx
