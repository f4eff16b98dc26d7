// Internal: one progress bar (core/progress.h) for the tensor bytes a save or a conversion writes, moved
// tensor by tensor: the streaming writers (safetensors, torch.save zip) call each LazyTensor's done() after
// its bytes are written; the Keras h5 and Flax msgpack writers take whole shards, so there it moves shard by
// shard. Drawn only when enabled and stderr is a terminal (HF_HUB_DISABLE_PROGRESS_BARS honoured).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/progress.h"
#include "hfx/formats.h"
#include "hfx/io.h"
#include "io/lazy_views.h"

namespace hfx::detail {

// Bytes a writer stores for `t`: none for a tensor sharing an earlier one's storage (a tie, stored once).
inline uint64_t lazy_bytes(const LazyTensor& t) {
  if (!t.shares.empty()) return 0;
  uint64_t n = dtype_size(t.dtype);
  for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
  return n;
}
inline uint64_t tensor_bytes(const std::vector<LazyTensor>& ts) {
  uint64_t n = 0;
  for (const LazyTensor& t : ts) n += lazy_bytes(t);
  return n;
}
inline uint64_t tensor_bytes(const NamedTensors& ts) {
  uint64_t n = 0;
  for (const auto& nt : ts)
    if (nt.second.defined()) n += nt.second.nbytes();
  return n;
}

class WriteProgress {
 public:
  WriteProgress(std::string name, bool enabled, uint64_t total) : bar_(std::move(name), enabled), total_(total) {
    bar_.update(0, total_);
  }
  WriteProgress(const WriteProgress&) = delete;
  WriteProgress& operator=(const WriteProgress&) = delete;
  void add(uint64_t bytes) {
    done_ += bytes;
    bar_.update(done_, total_);
  }
  // Each tensor's done() also moves the bar by its bytes. The tensors must not be written after this object
  // is gone.
  void track(std::vector<LazyTensor>& ts) {
    for (LazyTensor& t : ts)
      t.done = [this, n = lazy_bytes(t), inner = std::move(t.done)] {
        if (inner) inner();
        add(n);
      };
  }
  // `ts` as the views the eager writers write (io_internal::lazy_views, so the bytes are the same), each
  // moving the bar when written. `ts` must outlive the result.
  std::vector<LazyTensor> lazy(const NamedTensors& ts) {
    std::vector<LazyTensor> out = io_internal::lazy_views(ts);
    track(out);
    return out;
  }

 private:
  ProgressBar bar_;
  uint64_t done_ = 0, total_ = 0;
};

}  // namespace hfx::detail
