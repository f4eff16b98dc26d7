#include "naming/gguf.h"
#include "naming/naming.h"

namespace hfx::naming {

std::size_t RenamingSource::find(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw_error(ErrorKind::NotFound, "no such tensor in checkpoint", src_->path(), name);
  return it->second;
}

void RenamingSource::release(const std::string& name) const {
  if (auto it = index_.find(name); it != index_.end()) src_->release(source_name(it->second));
}

std::unique_ptr<TensorSource> canonical_names(std::unique_ptr<TensorSource> src, const Model& model) {
  const std::string f = src->format();
  auto base = [&](const std::string& x) { return f == x || f == x + "-sharded"; };
  if (base("tf_h5")) return tf2_to_canonical(std::move(src), model);
  if (base("flax")) return flax_to_canonical(std::move(src), model);
  if (f == "tf1") return tf1_to_canonical(std::move(src), model);
  if (f == "gguf") return gguf_to_canonical(std::move(src), model);
  return src;  // safetensors, pytorch: already canonical
}

}  // namespace hfx::naming

namespace hfx {
std::unique_ptr<TensorSource> canonical_source(std::unique_ptr<TensorSource> src, const Model& model) {
  return naming::canonical_names(std::move(src), model);
}
}  // namespace hfx
