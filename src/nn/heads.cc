#include "nn/heads.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace hfx::nn {

SequenceSummary SequenceSummary::make(const Scope& s, const Config& c, int64_t hidden) {
  SequenceSummary m;
  m.type = c.get<std::string>("summary_type", "last");
  if (m.type != "last" && m.type != "first" && m.type != "mean" && m.type != "cls_index")
    throw_error(ErrorKind::Unsupported, "summary_type '" + m.type + "' is not supported (last, first, mean, cls_index)", c.source());
  m.out_dim = hidden;
  if (c.get<bool>("summary_use_proj", false)) {
    const int64_t n = c.get<bool>("summary_proj_to_labels", false) && c.num_labels() > 0 ? c.num_labels() : hidden;
    m.proj = Linear::make(s / "summary", hidden, n);
    m.out_dim = n;
  }
  if (const json* a = c.find("summary_activation"); a && a->is_string() && !a->get<std::string>().empty())
    m.act = parse_activation(a->get<std::string>());
  return m;
}

Tensor SequenceSummary::forward(const Tensor& h) const {
  const int64_t B = h.size(0), S = h.size(1), H = h.size(2);
  Tensor v = Tensor::zeros(DType::F32, {B, H});
  const float* x = h.data<float>();
  float* o = v.mutable_data<float>();
  for (int64_t b = 0; b < B; ++b) {
    if (type == "mean") {
      for (int64_t i = 0; i < S; ++i)
        for (int64_t d = 0; d < H; ++d) o[b * H + d] += x[(b * S + i) * H + d];
      for (int64_t d = 0; d < H; ++d) o[b * H + d] /= static_cast<float>(S);
    } else {
      const int64_t i = type == "first" ? 0 : S - 1;
      std::copy_n(x + (b * S + i) * H, H, o + b * H);
    }
  }
  if (proj) v = (*proj)(v);
  if (act) activate(v, *act);
  return v;
}

SquadHead SquadHead::make(const Scope& s, const Config& c, int64_t hidden, float eps) {
  SquadHead q;
  q.hidden = hidden;
  q.start_n_top = c.get<int64_t>("start_n_top", 5);
  q.end_n_top = c.get<int64_t>("end_n_top", 5);
  if (q.start_n_top <= 0 || q.end_n_top <= 0)
    throw_error(ErrorKind::InvalidArgument, "start_n_top and end_n_top must be positive", c.source());
  q.start_dense = Linear::make(s / "start_logits" / "dense", hidden, 1);
  q.end_dense_0 = Linear::make(s / "end_logits" / "dense_0", 2 * hidden, hidden);
  q.end_norm = LayerNorm::make(s / "end_logits" / "LayerNorm", hidden, eps);
  q.end_dense_1 = Linear::make(s / "end_logits" / "dense_1", hidden, 1);
  q.answer_dense_0 = Linear::make(s / "answer_class" / "dense_0", 2 * hidden, hidden);
  q.answer_dense_1 = Linear::make(s / "answer_class" / "dense_1", hidden, 1, false);
  return q;
}

namespace {
// torch.topk(x, k, largest, sorted) on CPU (aten TopKImpl.h): the same
// partial_sort / nth_element + sort over (value, index) pairs, so that ties
// come out in the reference's order.
std::vector<int64_t> topk(const float* x, int64_t n, int64_t k) {
  using Elem = std::pair<float, int64_t>;
  std::vector<Elem> q(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) q[static_cast<std::size_t>(i)] = {x[i], i};
  auto greater = [](const Elem& a, const Elem& b) {
    return (std::isnan(a.first) && !std::isnan(b.first)) || a.first > b.first;
  };
  if (k * 64 <= n) {
    std::partial_sort(q.begin(), q.begin() + k, q.end(), greater);
  } else {
    std::nth_element(q.begin(), q.begin() + k - 1, q.end(), greater);
    std::sort(q.begin(), q.begin() + k - 1, greater);
  }
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < k; ++i) idx.push_back(q[static_cast<std::size_t>(i)].second);
  return idx;
}
}  // namespace

void SquadHead::forward(const Tensor& h, Outputs& out) const {
  const int64_t B = h.size(0), S = h.size(1), H = h.size(2), K = start_n_top, E = end_n_top;
  if (S < K || S < E)
    throw_error(ErrorKind::InvalidArgument, "sequence length " + std::to_string(S) + " is shorter than start_n_top / end_n_top (" +
                                                std::to_string(K) + ", " + std::to_string(E) + ")");
  const float* x = h.data<float>();
  Tensor start = start_dense(h).reshape({B, S});  // start logits
  Tensor start_p = start.clone();
  softmax_rows_(start_p);
  Tensor stl = Tensor::zeros(DType::F32, {B, K}), sti = Tensor::zeros(DType::I64, {B, K});
  Tensor pair = Tensor::zeros(DType::F32, {B, S, K, 2 * H});  // cat([h_s, start_state_k])
  for (int64_t b = 0; b < B; ++b) {
    auto top = topk(start_p.data<float>() + b * S, S, K);
    for (int64_t k = 0; k < K; ++k) {
      stl.mutable_data<float>()[b * K + k] = start_p.data<float>()[b * S + top[static_cast<std::size_t>(k)]];
      sti.mutable_data<int64_t>()[b * K + k] = top[static_cast<std::size_t>(k)];
      for (int64_t s = 0; s < S; ++s) {
        float* dst = pair.mutable_data<float>() + ((b * S + s) * K + k) * 2 * H;
        std::copy_n(x + (b * S + s) * H, H, dst);
        std::copy_n(x + (b * S + top[static_cast<std::size_t>(k)]) * H, H, dst + H);
      }
    }
  }
  Tensor e = end_dense_0(pair);
  activate(e, Activation::Tanh);
  end_norm.inplace(e);
  Tensor end = end_dense_1(e).reshape({B, S, K});
  // softmax over the sequence (dim 1) for every start candidate
  Tensor end_p = Tensor::zeros(DType::F32, {B, K, S});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t s = 0; s < S; ++s) end_p.mutable_data<float>()[(b * K + k) * S + s] = end.data<float>()[(b * S + s) * K + k];
  softmax_rows_(end_p);
  Tensor etl = Tensor::zeros(DType::F32, {B, E * K}), eti = Tensor::zeros(DType::I64, {B, E * K});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < K; ++k) {
      const float* row = end_p.data<float>() + (b * K + k) * S;
      auto top = topk(row, S, E);
      for (int64_t j = 0; j < E; ++j) {  // [B, E, K] viewed as [B, E*K]
        etl.mutable_data<float>()[b * E * K + j * K + k] = row[top[static_cast<std::size_t>(j)]];
        eti.mutable_data<int64_t>()[b * E * K + j * K + k] = top[static_cast<std::size_t>(j)];
      }
    }
  // answer class from the start-probability-weighted state and the last token
  Tensor ac = Tensor::zeros(DType::F32, {B, 2 * H});
  for (int64_t b = 0; b < B; ++b) {
    float* dst = ac.mutable_data<float>() + b * 2 * H;
    for (int64_t s = 0; s < S; ++s) {
      const float p = start_p.data<float>()[b * S + s];
      for (int64_t d = 0; d < H; ++d) dst[d] += x[(b * S + s) * H + d] * p;
    }
    std::copy_n(x + (b * S + S - 1) * H, H, dst + H);
  }
  Tensor a = answer_dense_0(ac);
  activate(a, Activation::Tanh);
  out.set("start_top_log_probs", stl);
  out.set("start_top_index", sti);
  out.set("end_top_log_probs", etl);
  out.set("end_top_index", eti);
  out.set("cls_logits", answer_dense_1(a).reshape({B}));
}

void apply_task_head(TaskHead kind, const Linear& proj, const Tensor& h, const Tensor& pooled, int64_t choices, Outputs& out) {
  switch (kind) {
    case TaskHead::SequenceClassification:
    case TaskHead::MultipleChoice: {
      Tensor x = proj(pooled);
      out.set("logits", kind == TaskHead::MultipleChoice ? x.reshape({-1, choices}) : x);
      break;
    }
    case TaskHead::TokenClassification:
      out.set("logits", proj(h));
      break;
    case TaskHead::QuestionAnsweringSimple:
      set_qa_logits(out, proj(h));
      break;
    case TaskHead::QuestionAnswering:
      throw_error(ErrorKind::InvalidArgument, "beam-search QA runs through SquadHead", {}, proj.w.name());
  }
}

void TaskHeads::apply(const Tensor& h, int64_t choices, Outputs& out) const {
  switch (kind) {
    case TaskHead::SequenceClassification:
    case TaskHead::MultipleChoice: {
      Tensor x = summary->forward(h);
      if (proj) return apply_task_head(kind, *proj, h, x, choices, out);
      out.set("logits", kind == TaskHead::MultipleChoice ? x.reshape({-1, choices}) : x);
      break;
    }
    case TaskHead::TokenClassification:
    case TaskHead::QuestionAnsweringSimple:
      apply_task_head(kind, *proj, h, Tensor(), choices, out);
      break;
    case TaskHead::QuestionAnswering:
      squad->forward(h, out);
      break;
  }
}

}  // namespace hfx::nn
