#include "nn/kv_cache.h"

#include <algorithm>

namespace hfx {

KVCache::KVCache() : s_(std::make_unique<detail::KVCacheState>()) {}
KVCache::~KVCache() = default;
KVCache::KVCache(const KVCache& o) : s_(std::make_unique<detail::KVCacheState>(*o.s_)) {}
KVCache& KVCache::operator=(const KVCache& o) {
  if (this != &o) *s_ = *o.s_;
  return *this;
}
// A moved-from cache is empty, not null.
KVCache::KVCache(KVCache&& o) noexcept : s_(std::make_unique<detail::KVCacheState>()) { s_.swap(o.s_); }
KVCache& KVCache::operator=(KVCache&& o) noexcept {
  s_.swap(o.s_);
  return *this;
}

int64_t KVCache::length() const { return s_->layers.empty() ? 0 : s_->layers.front().length; }
int64_t KVCache::layers() const { return static_cast<int64_t>(s_->layers.size()); }
int64_t KVCache::width(int64_t layer) const {
  if (layer < 0 || layer >= layers()) return 0;
  const Tensor& k = s_->layers[static_cast<std::size_t>(layer)].k;
  return k.defined() ? k.size(2) : 0;
}

void KVCache::reorder(const std::vector<int64_t>& index) {
  for (auto& ly : s_->layers)
    for (Tensor* t : {&ly.k, &ly.v}) {
      if (!t->defined()) continue;
      const int64_t rows = t->size(0), row = t->size(1) * t->size(2);
      Tensor n = Tensor::uninitialized(DType::F32, {static_cast<int64_t>(index.size()), t->size(1), t->size(2)});
      for (std::size_t i = 0; i < index.size(); ++i) {
        if (index[i] < 0 || index[i] >= rows)
          throw_error(ErrorKind::InvalidArgument, "row " + std::to_string(index[i]) + " out of range for a cache of batch " + std::to_string(rows));
        std::copy_n(t->data<float>() + index[i] * row, row, n.mutable_data<float>() + static_cast<int64_t>(i) * row);
      }
      *t = n;
    }
}

}  // namespace hfx

namespace hfx::nn {

namespace {
detail::KVCacheState::Layer& layer_of(KVCache& cache, int64_t layer) {
  auto& ls = cache.state().layers;
  if (layer < 0) throw_error(ErrorKind::InvalidArgument, "negative cache layer");
  if (static_cast<std::size_t>(layer) >= ls.size()) ls.resize(static_cast<std::size_t>(layer) + 1);
  return ls[static_cast<std::size_t>(layer)];
}
KVView view_of(const detail::KVCacheState::Layer& ly) {
  if (!ly.k.defined()) return {};
  const int64_t width = ly.k.size(2);
  return {ly.k.data<float>(), ly.v.data<float>(), ly.capacity * width, width, ly.length};
}
}  // namespace

KVView kv_append(KVCache& cache, int64_t layer, int64_t B, int64_t S, int64_t width, const float* k, const float* v,
                 int64_t src_bs, int64_t src_ss) {
  auto& ly = layer_of(cache, layer);
  if (ly.k.defined() && (ly.k.size(0) != B || ly.k.size(2) != width))
    throw_error(ErrorKind::Mismatch, "key/value cache layer " + std::to_string(layer) + " holds " + shape_str(ly.k.shape()) +
                                         ", new entries are " + shape_str({B, S, width}));
  const int64_t need = ly.length + S;
  if (need > ly.capacity) {
    const int64_t cap = std::max<int64_t>(need, 2 * ly.capacity);
    for (Tensor* t : {&ly.k, &ly.v}) {
      Tensor n = Tensor::zeros(DType::F32, {B, cap, width});
      if (t->defined())
        for (int64_t b = 0; b < B; ++b)
          std::copy_n(t->data<float>() + b * ly.capacity * width, ly.length * width, n.mutable_data<float>() + b * cap * width);
      *t = n;
    }
    ly.capacity = cap;
  }
  float* kc = ly.k.mutable_data<float>();
  float* vc = ly.v.mutable_data<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < S; ++i) {
      const int64_t dst = (b * ly.capacity + ly.length + i) * width;
      std::copy_n(k + b * src_bs + i * src_ss, width, kc + dst);
      std::copy_n(v + b * src_bs + i * src_ss, width, vc + dst);
    }
  ly.length = need;
  return view_of(ly);
}

KVView kv_read(const KVCache& cache, int64_t layer) {
  const auto& ls = cache.state().layers;
  if (layer < 0 || static_cast<std::size_t>(layer) >= ls.size() || !ls[static_cast<std::size_t>(layer)].k.defined())
    throw_error(ErrorKind::InvalidArgument, "key/value cache has no layer " + std::to_string(layer));
  return view_of(ls[static_cast<std::size_t>(layer)]);
}

void kv_set(KVCache& cache, int64_t layer, const Tensor& k, const Tensor& v) {
  if (k.dim() != 3 || k.shape() != v.shape() || k.dtype() != DType::F32 || v.dtype() != DType::F32)
    throw_error(ErrorKind::Mismatch, "cached keys " + shape_str(k.shape()) + " and values " + shape_str(v.shape()) +
                                         " must be f32 [batch, seq, width] alike");
  auto& ly = layer_of(cache, layer);
  ly.k = k.contiguous();
  ly.v = v.contiguous();
  ly.length = ly.capacity = k.size(1);
}

}  // namespace hfx::nn
