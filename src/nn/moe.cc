#include "nn/moe.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "hfx/error.h"

namespace hfx::nn {

GatedMlp GatedMlp::make(const Scope& s, int64_t hidden, int64_t inter, const char* gate, const char* up, const char* down) {
  return {Linear::make(s / gate, hidden, inter, false), Linear::make(s / up, hidden, inter, false),
          Linear::make(s / down, inter, hidden, false)};
}

Tensor GatedMlp::operator()(const Tensor& x, Activation act) const {
  Tensor g = gate(x);
  activate(g, act);
  mul_(g, up(x));
  return down(g);
}

std::vector<int64_t> top_k_indices(const float* v, int64_t n, int64_t k) {
  // torch.topk(largest=True, sorted=True) on CPU, step for step (aten/src/ATen/native/cpu/SortingKernel.cpp
  // topk_impl_loop of torch 2.5): (value, index) pairs in index order, std::partial_sort when k * 64 <= n, else
  // std::nth_element at k - 1 and std::sort of the first k - 1; NaN counts as the largest. Tied values come out in
  // the order these libstdc++ algorithms leave them, which is torch's order (checked against torch.topk by
  // the mixtral/ties fixture: every router row equal).
  std::vector<std::pair<float, int64_t>> q(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) q[static_cast<std::size_t>(i)] = {v[i], i};
  auto cmp = [](const std::pair<float, int64_t>& x, const std::pair<float, int64_t>& y) {
    return (std::isnan(x.first) && !std::isnan(y.first)) || x.first > y.first;
  };
  if (k * 64 <= n) {
    std::partial_sort(q.begin(), q.begin() + k, q.end(), cmp);
  } else {
    std::nth_element(q.begin(), q.begin() + (k - 1), q.end(), cmp);
    std::sort(q.begin(), q.begin() + (k - 1), cmp);
  }
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < k; ++i) idx.push_back(q[static_cast<std::size_t>(i)].second);
  return idx;
}

namespace {
// Row-wise softmax of [N, E] logits (max subtracted), as F.softmax(dim=1, dtype=float).
Tensor softmax_copy(const Tensor& logits) {
  Tensor p = logits.clone();
  softmax_rows_(p);
  return p;
}
}  // namespace

Tensor SparseMoe::operator()(const Tensor& x, Tensor* router_logits) const {
  if (x.dim() != 3) throw_error(ErrorKind::Mismatch, "the MoE block takes [batch, seq, hidden], got " + shape_str(x.shape()));
  const int64_t H = x.size(2), N = x.size(0) * x.size(1), E = static_cast<int64_t>(experts.size());
  if (top_k <= 0 || top_k > E)
    throw_error(ErrorKind::InvalidArgument, "num_experts_per_tok (" + std::to_string(top_k) +
                                                ") must be between 1 and the number of experts (" + std::to_string(E) + ")");
  Tensor flat = x.contiguous().reshape({N, H});
  Tensor logits = router(flat);  // [N, E]
  Tensor probs = softmax_copy(logits);
  const float* p = probs.data<float>();
  // Per expert: the (token, weight) pairs routed to it, tokens ascending (torch.where over expert_mask[e]).
  std::vector<std::vector<std::pair<int64_t, float>>> routed(static_cast<std::size_t>(E));
  for (int64_t t = 0; t < N; ++t) {
    const std::vector<int64_t> top = top_k_indices(p + t * E, E, top_k);
    float sum = 0;
    for (int64_t e : top) sum += p[t * E + e];
    for (int64_t e : top)
      routed[static_cast<std::size_t>(e)].emplace_back(t, norm_topk_prob ? p[t * E + e] / sum : p[t * E + e]);
  }
  Tensor out = Tensor::zeros(DType::F32, {N, H});
  float* o = out.mutable_data<float>();
  const float* xf = flat.data<float>();
  for (int64_t e = 0; e < E; ++e) {
    const auto& r = routed[static_cast<std::size_t>(e)];
    if (r.empty()) continue;
    const int64_t n = static_cast<int64_t>(r.size());
    Tensor sel = Tensor::uninitialized(DType::F32, {n, H});
    float* sp = sel.mutable_data<float>();
    for (int64_t i = 0; i < n; ++i) std::copy_n(xf + r[static_cast<std::size_t>(i)].first * H, H, sp + i * H);
    const Tensor y = experts[static_cast<std::size_t>(e)](sel, act);
    const float* yp = y.data<float>();
    for (int64_t i = 0; i < n; ++i) {
      const auto [t, w] = r[static_cast<std::size_t>(i)];
      for (int64_t j = 0; j < H; ++j) o[t * H + j] += yp[i * H + j] * w;
    }
  }
  if (shared) {
    Tensor s = (*shared)(flat, act);
    Tensor g = shared_gate(flat);  // [N, 1]
    activate(g, Activation::Sigmoid);
    float* sp = s.mutable_data<float>();
    const float* gp = g.data<float>();
    for (int64_t t = 0; t < N; ++t)
      for (int64_t j = 0; j < H; ++j) sp[t * H + j] *= gp[t];
    add_(out, s);
  }
  if (router_logits) *router_logits = logits;
  return out.reshape(x.shape());
}

Tensor load_balancing_loss(const std::vector<Tensor>& router_logits, int64_t num_experts, int64_t top_k,
                           const Tensor& attention_mask) {
  const int64_t E = num_experts;
  std::vector<double> tokens(static_cast<std::size_t>(top_k * E), 0.0), prob(static_cast<std::size_t>(E), 0.0);
  double count = 0;
  Tensor keep;
  if (attention_mask.defined()) keep = attention_mask.to(DType::F32).contiguous();
  for (const Tensor& l : router_logits) {
    const int64_t N = l.size(0);
    if (keep.defined() && keep.numel() != N)
      throw_error(ErrorKind::Mismatch, "attention_mask does not cover the router logits' tokens");
    Tensor pr = softmax_copy(l);
    const float* p = pr.data<float>();
    for (int64_t t = 0; t < N; ++t) {
      const double m = keep.defined() ? keep.data<float>()[t] : 1.0;
      const std::vector<int64_t> top = top_k_indices(p + t * E, E, top_k);
      for (int64_t k = 0; k < top_k; ++k) tokens[static_cast<std::size_t>(k * E + top[static_cast<std::size_t>(k)])] += m;
      for (int64_t e = 0; e < E; ++e) prob[static_cast<std::size_t>(e)] += p[t * E + e] * m;
      count += m;
    }
  }
  double loss = 0;
  for (int64_t k = 0; k < top_k; ++k)
    for (int64_t e = 0; e < E; ++e)
      loss += (tokens[static_cast<std::size_t>(k * E + e)] / count) * (prob[static_cast<std::size_t>(e)] / count);
  Tensor out = Tensor::zeros(DType::F32, {});
  out.mutable_data<float>()[0] = static_cast<float>(loss * static_cast<double>(E));
  return out;
}

}  // namespace hfx::nn
