// Output / hidden-state / weight comparisons for hfx export and hfx diff.
#include "hfx/compare.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "hfx/io.h"

namespace hfx {

namespace {

// "hidden_states.3" / "encoder_hidden_states.3" / "decoder_hidden_states.3" -> 3.
int64_t layer_of(const std::string& name) {
  const std::size_t dot = name.rfind('.');
  if (dot == std::string::npos || name.find("hidden_states") == std::string::npos) return -1;
  const std::string idx = name.substr(dot + 1);
  if (idx.empty() || idx.find_first_not_of("0123456789") != std::string::npos || idx.size() > 9) return -1;
  return std::stoll(idx);
}

TensorDiff diff_of(const std::string& name, const Tensor* a, const Tensor* b) {
  TensorDiff d;
  d.name = name;
  d.layer = layer_of(name);
  if (a) d.shape_a = a->shape();
  if (b) d.shape_b = b->shape();
  if (!a || !b) {
    if (!a) d.shape_a = {-1};
    if (!b) d.shape_b = {-1};
  }
  if (!a || !b || a->shape() != b->shape()) {
    d.max_abs = d.mean_abs = std::numeric_limits<double>::infinity();
    return d;
  }
  const Tensor fa = a->dtype() == DType::F32 ? a->contiguous() : a->to(DType::F32);
  const Tensor fb = b->dtype() == DType::F32 ? b->contiguous() : b->to(DType::F32);
  if (!is_floating(a->dtype())) {
    for (int64_t i = 0; i < a->numel(); ++i) d.max_abs = std::max(d.max_abs, std::fabs(a->item(i) - b->item(i)));
    return d;
  }
  const float* pa = fa.data<float>();
  const float* pb = fb.data<float>();
  double sum = 0;
  for (int64_t i = 0; i < fa.numel(); ++i) {
    const double e = std::fabs(static_cast<double>(pa[i]) - static_cast<double>(pb[i]));
    if (std::isnan(e)) {
      d.max_abs = std::numeric_limits<double>::infinity();
      sum = d.max_abs;
      break;
    }
    d.max_abs = std::max(d.max_abs, e);
    sum += e;
  }
  d.mean_abs = fa.numel() ? sum / static_cast<double>(fa.numel()) : 0.0;
  return d;
}

}  // namespace

ModelInputs probe_inputs(const Model& model) {
  const int64_t vocab = std::max<int64_t>(2, model.config().get<int64_t>("vocab_size", 100));
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < 14; ++i) ids.push_back((7 * i + 3) % vocab);
  ModelInputs in;
  in.input_ids = Tensor::from_vector(DType::I64, {2, 7}, ids);
  in.attention_mask = Tensor::from_vector(DType::I64, {2, 7}, std::vector<int64_t>(14, 1));
  if (model.config().get<bool>("is_encoder_decoder", false)) {
    std::vector<int64_t> dec;
    for (int64_t i = 0; i < 10; ++i) dec.push_back((5 * i + 1) % vocab);
    in.decoder_input_ids = Tensor::from_vector(DType::I64, {2, 5}, dec);
  }
  in.output_hidden_states = true;
  return in;
}

std::vector<TensorDiff> compare_runs(const Model& a, const Model& b, const ModelInputs& inputs) {
  ModelInputs in = inputs;
  in.output_hidden_states = true;
  const Outputs oa = a.forward(in), ob = b.forward(in);
  std::vector<std::string> names;
  for (const auto& [n, t] : oa.items()) names.push_back(n);
  for (const auto& [n, t] : ob.items())
    if (!oa.has(n)) names.push_back(n);
  std::vector<TensorDiff> out;
  for (const auto& n : names) out.push_back(diff_of(n, oa.has(n) ? &oa.get(n) : nullptr, ob.has(n) ? &ob.get(n) : nullptr));
  // Outputs first, then hidden states by stack and layer.
  std::stable_sort(out.begin(), out.end(), [](const TensorDiff& x, const TensorDiff& y) {
    if ((x.layer >= 0) != (y.layer >= 0)) return x.layer < 0;
    if (x.layer < 0) return false;
    const std::string sx = x.name.substr(0, x.name.rfind('.')), sy = y.name.substr(0, y.name.rfind('.'));
    if (sx != sy) return sx < sy;
    return x.layer < y.layer;
  });
  return out;
}

WeightsDiff compare_weights(const TensorSource& a, const TensorSource& b) {
  WeightsDiff w;
  for (const auto& e : a.entries()) {
    if (!b.contains(e.name)) {
      w.only_a.push_back(e.name);
      continue;
    }
    const Tensor ta = a.get(e.name), tb = b.get(e.name);
    w.tensors.push_back(diff_of(e.name, &ta, &tb));
    w.tensors.back().layer = -1;
  }
  for (const auto& e : b.entries())
    if (!a.contains(e.name)) w.only_b.push_back(e.name);
  return w;
}

WeightsDiff compare_weights(const Model& a, const Model& b) {
  WeightsDiff w;
  std::map<std::string, std::size_t> in_b;
  for (std::size_t i = 0; i < b.params().size(); ++i)
    if (b.params().specs()[i].tied_to.empty()) in_b[b.params().specs()[i].name] = i;
  std::map<std::string, bool> seen;
  for (std::size_t i = 0; i < a.params().size(); ++i) {
    const auto& s = a.params().specs()[i];
    if (!s.tied_to.empty()) continue;
    seen[s.name] = true;
    auto it = in_b.find(s.name);
    if (it == in_b.end()) {
      w.only_a.push_back(s.name);
      continue;
    }
    w.tensors.push_back(diff_of(s.name, &a.params().value(i), &b.params().value(it->second)));
    w.tensors.back().layer = -1;
  }
  for (const auto& [n, i] : in_b)
    if (!seen.count(n)) w.only_b.push_back(n);
  return w;
}

const TensorDiff* worst(const std::vector<TensorDiff>& d) {
  const TensorDiff* w = nullptr;
  for (const auto& x : d)
    if (!w || x.max_abs > w->max_abs) w = &x;
  return w;
}

const TensorDiff* first_broken_layer(const std::vector<TensorDiff>& d, double tol) {
  for (const auto& x : d)
    if (x.layer >= 0 && !(x.max_abs <= tol)) return &x;
  return nullptr;
}

}  // namespace hfx
