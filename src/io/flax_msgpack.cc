// Placeholder until the Flax msgpack reader/writer lands (issue #5).
#include "hfx/formats.h"

namespace hfx {
std::unique_ptr<TensorSource> open_flax_msgpack(const std::string& path) {
  throw_error(ErrorKind::Unsupported, "Flax msgpack checkpoints are not supported yet", path);
}
void write_flax_msgpack(const std::string& path, const NamedTensors&) {
  throw_error(ErrorKind::Unsupported, "writing Flax msgpack checkpoints is not supported yet", path);
}
}  // namespace hfx
