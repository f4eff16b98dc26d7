// Internal: the hub's parallel downloads — fn(i) for every i in [0, n) on up to `workers` threads (the
// caller's among them), as huggingface_hub's thread_map does; the first exception is rethrown once all finished.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace hfx::hub {

template <class F>
void parallel_for(std::size_t n, int workers, F&& fn) {
  std::atomic<std::size_t> next{0};
  std::exception_ptr first_error;
  std::mutex mu;
  auto worker = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> g(mu);
        if (!first_error) first_error = std::current_exception();
      }
    }
  };
  const std::size_t k = std::min<std::size_t>(n, static_cast<std::size_t>(std::max(1, workers)));
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < k; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace hfx::hub
