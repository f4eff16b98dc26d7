// The layout of hfx::KVCache (opaque in hfx/generate.h) and its one appender.
// Each layer holds keys and values as f32 [B, capacity, width] (heads packed,
// width = heads * head_dim; a pruned layer has its own width) and its own
// length; a step appends its rows to every layer it runs, so the cache length
// (layer 0's) advances once per step without a separate call.
#pragma once

#include <cstdint>
#include <vector>

#include "hfx/generate.h"

namespace hfx::detail {
struct KVCacheState {
  struct Layer {
    Tensor k, v;           // f32 [B, capacity, width]
    int64_t length = 0;    // rows filled per batch entry
    int64_t capacity = 0;  // rows allocated per batch entry
  };
  std::vector<Layer> layers;
};
}  // namespace hfx::detail

namespace hfx::nn {

// Where attention reads one layer's cached keys/values: row r of batch b at
// k + b * batch_stride + r * seq_stride (likewise v); `length` rows.
struct KVView {
  const float* k = nullptr;
  const float* v = nullptr;
  int64_t batch_stride = 0, seq_stride = 0, length = 0;
};

// Appends S rows per batch entry (row r of batch b at src + b*src_bs + r*src_ss,
// `width` floats) to layer `layer`, growing it (doubling) when full; returns the
// whole layer. A cache made for another batch size or width is a Mismatch.
KVView kv_append(KVCache& cache, int64_t layer, int64_t B, int64_t S, int64_t width, const float* k, const float* v,
                 int64_t src_bs, int64_t src_ss);
// Layer `layer` as it is (cross-attention keys/values computed once).
KVView kv_read(const KVCache& cache, int64_t layer);
// Sets layer `layer` to k, v [B, S, width] (f32, contiguous), full (length = capacity = S):
// the cross-attention keys/values of an encoder-decoder model.
void kv_set(KVCache& cache, int64_t layer, const Tensor& k, const Tensor& v);

}  // namespace hfx::nn
