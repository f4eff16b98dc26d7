// TensorSource's defaults: lookups over entries().
#include "hfx/io.h"

namespace hfx {

bool TensorSource::contains(const std::string& name) const {
  for (const auto& e : entries())
    if (e.name == name) return true;
  return false;
}

const TensorInfo& TensorSource::info(const std::string& name) const {
  for (const auto& e : entries())
    if (e.name == name) return e;
  throw_error(ErrorKind::NotFound, "no such tensor in checkpoint", path(), name);
}

}  // namespace hfx
