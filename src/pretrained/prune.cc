// prune_heads (transformers 4.46: PreTrainedModel.prune_heads,
// find_pruneable_heads_and_indices, prune_linear_layer, prune_conv1d_layer) for
// every class whose model file declares its attention modules and head
// geometry (ModelTraits::prune in src/models/; fused Conv1D q/k/v column blocks
// included), or refused with the reason the file declares. Works on the ParamTable:
// every attention reads its head count from the bound weights, so pruned shapes
// (and, for T5's shared relative position bias, config.pruned_heads) are all it takes.
#include <algorithm>
#include <cstring>
#include <set>
#include <sstream>

#include "hfx/pretrained.h"

namespace hfx {

namespace {

// The model file declares the geometry and the attention modules (ModelTraits::prune).
using AttnParams = AttentionModule;
struct PruneGeometry {
  int64_t heads = 0, head_dim = 0;
};

PruneGeometry geometry(const Model& m) { return {m.traits().prune.heads, m.traits().prune.head_dim}; }

// Why the reference cannot prune this model (declared by the model file; the
// default: its base model has no _prune_heads).
std::string unsupported_reason(const Model& m) {
  std::string why = m.traits().prune.unsupported;
  if (why.empty()) why = "the transformers 4.46 base model has no _prune_heads (prune_heads raises AttributeError)";
  return "prune_heads is not supported for model_type '" + m.config().model_type() + "' (" + m.class_name() + "): " + why;
}

// The attention module of (flattened) layer `layer`, or NotFound / Unsupported.
AttnParams attention_of(const Model& m, int64_t layer) {
  const PruneTraits& p = m.traits().prune;
  if (!p.attention || !p.unsupported.empty()) throw_error(ErrorKind::Unsupported, unsupported_reason(m));
  const std::string L = std::to_string(layer);
  if (layer < 0 || layer >= p.layers)
    throw_error(ErrorKind::NotFound, "prune_heads: layer " + L + " does not exist (the model has " + std::to_string(p.layers) +
                                         (p.layers_note.empty() ? " layers)" : " " + p.layers_note + ")"));
  AttnParams a = p.attention(layer);
  if (!m.params().index_of(a.q + ".weight"))
    throw_error(ErrorKind::NotFound, "prune_heads: no parameter " + a.q + ".weight");
  return a;
}

// Keeps rows (dim 0) or columns (dim 1) `index` of a 1-D/2-D tensor, same dtype.
Tensor select(const Tensor& t0, int dim, const std::vector<int64_t>& index) {
  Tensor t = t0.contiguous();
  const std::size_t es = dtype_size(t.dtype());
  const auto* src = static_cast<const uint8_t*>(t.raw());
  Shape s = t.shape();
  s[static_cast<std::size_t>(dim)] = static_cast<int64_t>(index.size());
  Tensor o = Tensor::zeros(t.dtype(), s);
  auto* dst = static_cast<uint8_t*>(o.mutable_raw());
  if (dim == 0) {
    const int64_t row = t.dim() > 1 ? t.size(1) : 1;
    for (std::size_t r = 0; r < index.size(); ++r)
      std::memcpy(dst + r * static_cast<std::size_t>(row) * es, src + static_cast<std::size_t>(index[r] * row) * es,
                  static_cast<std::size_t>(row) * es);
  } else {
    const int64_t rows = t.size(0), cols = t.size(1), nc = static_cast<int64_t>(index.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < nc; ++j)
        std::memcpy(dst + static_cast<std::size_t>(r * nc + j) * es,
                    src + static_cast<std::size_t>(r * cols + index[static_cast<std::size_t>(j)]) * es, es);
  }
  return o;
}

void prune_param(ParamTable& t, const std::string& name, int dim, const std::vector<int64_t>& index) {
  auto i = t.index_of(name);
  if (!i) return;  // e.g. a bias-free projection
  Shape s = t.specs()[*i].shape;
  s[static_cast<std::size_t>(dim)] = static_cast<int64_t>(index.size());
  if (t.bound(*i)) t.set(*i, select(t.value(*i), dim, index));
  t.set_shape(*i, s);
}

// Removes heads `remove` (original numbering) from a layer whose heads
// `already` (original numbering) are gone.
void prune_layer(Model& m, const AttnParams& a, const PruneGeometry& g, const std::set<int64_t>& remove,
                 const std::set<int64_t>& already) {
  ParamTable& t = m.mutable_params();
  const int64_t cur = g.heads - static_cast<int64_t>(already.size());
  const Shape& qs = t.specs()[*t.index_of(a.q + ".weight")].shape;
  const int64_t rows = a.fused ? (qs.size() == 2 ? qs[1] / 3 : 0) : qs[0];
  if (rows != cur * g.head_dim)
    throw_error(ErrorKind::Mismatch, "config.pruned_heads says " + std::to_string(cur) + " heads remain but the weights hold " +
                                         std::to_string(rows / std::max<int64_t>(g.head_dim, 1)), {}, a.q + ".weight");
  std::vector<int64_t> index;  // rows kept, in the current numbering
  int64_t c = 0;
  for (int64_t h = 0; h < g.heads; ++h) {
    if (already.count(h)) continue;
    if (!remove.count(h))
      for (int64_t d = 0; d < g.head_dim; ++d) index.push_back(c * g.head_dim + d);
    ++c;
  }
  if (static_cast<int64_t>(index.size()) == rows) return;
  if (a.fused) {  // GPT2Attention.prune_heads: index_attn = [index, index + split, index + 2 split]
    std::vector<int64_t> qkv;
    for (int64_t part = 0; part < 3; ++part)
      for (int64_t i : index) qkv.push_back(i + part * rows);
    prune_param(t, a.q + ".weight", 1, qkv);
    prune_param(t, a.q + ".bias", 0, qkv);
    prune_param(t, a.o + ".weight", 0, index);  // Conv1D [in, out]: c_proj's inputs are rows
    return;
  }
  for (const std::string& p : {a.q, a.k, a.v}) {
    prune_param(t, p + ".weight", 0, index);
    prune_param(t, p + ".bias", 0, index);
  }
  prune_param(t, a.o + ".weight", 1, index);  // the output bias is untouched
}

std::set<int64_t> recorded(const Config& c, int64_t layer) {
  std::set<int64_t> out;
  if (const json* ph = c.find("pruned_heads"); ph && ph->is_object()) {
    auto it = ph->find(std::to_string(layer));
    if (it != ph->end() && it->is_array())
      for (const auto& h : *it)
        if (h.is_number_integer()) out.insert(h.get<int64_t>());  // anything else is refused where pruned_heads is applied
  }
  return out;
}

}  // namespace

void prune_heads(Model& model, const HeadsToPrune& heads) {
  const PruneGeometry g = geometry(model);
  // Validate everything before changing anything.
  std::map<int64_t, AttnParams> attn;
  for (const auto& [layer, hs] : heads) {
    attn[layer] = attention_of(model, layer);
    std::set<int64_t> all = recorded(model.config(), layer);
    for (int64_t h : hs) {
      if (h < 0 || h >= g.heads)
        throw_error(ErrorKind::InvalidArgument, "prune_heads: head " + std::to_string(h) + " of layer " + std::to_string(layer) +
                                                    " is out of range (the layer has " + std::to_string(g.heads) + " heads)");
      all.insert(h);
    }
    if (static_cast<int64_t>(all.size()) == g.heads)
      throw_error(ErrorKind::InvalidArgument, "prune_heads: pruning every head of layer " + std::to_string(layer) +
                                                  " would leave an attention without heads (hfx refuses)");
  }
  json ph = json::object();
  if (const json* old = model.config().find("pruned_heads"); old && old->is_object()) ph = *old;
  for (const auto& [layer, hs] : heads) {
    std::set<int64_t> already = recorded(model.config(), layer);
    std::set<int64_t> remove(hs.begin(), hs.end());
    prune_layer(model, attn[layer], g, remove, already);
    std::set<int64_t> all = already;
    all.insert(remove.begin(), remove.end());
    ph[std::to_string(layer)] = std::vector<int64_t>(all.begin(), all.end());
  }
  model.mutable_config().set("pruned_heads", ph);
}

void apply_config_pruned_heads(Model& model) {
  const json* ph = model.config().find("pruned_heads");
  if (!ph || !ph->is_object() || ph->empty()) return;
  const PruneGeometry g = geometry(model);
  for (auto it = ph->begin(); it != ph->end(); ++it) {
    int64_t layer = 0;
    try {
      layer = std::stoll(it.key());
    } catch (const std::exception&) {
      throw_error(ErrorKind::Format, "config.pruned_heads has a non-integer layer key '" + it.key() + "'", model.config().source());
    }
    if (!it->is_array()) throw_error(ErrorKind::Format, "config.pruned_heads values must be lists", model.config().source());
    if (!it->empty()) attention_of(model, layer);  // a class that cannot prune: Unsupported, naming why
    std::set<int64_t> remove;
    for (const auto& h : *it) {
      if (!h.is_number_integer())  // get<int64_t>() of a float such as 1e300 is an undefined cast
        throw_error(ErrorKind::Format, "config.pruned_heads: head " + h.dump() + " is not an integer", model.config().source());
      const int64_t v = h.get<int64_t>();
      if (v < 0 || v >= g.heads)
        throw_error(ErrorKind::Format, "config.pruned_heads: head " + std::to_string(v) + " out of range", model.config().source());
      remove.insert(v);
    }
    if (remove.empty()) continue;
    if (static_cast<int64_t>(remove.size()) >= g.heads)
      throw_error(ErrorKind::Unsupported, "config.pruned_heads removes every head of layer " + it.key(), model.config().source());
    prune_layer(model, attention_of(model, layer), g, remove, {});
  }
}

HeadsToPrune parse_heads_spec(const std::string& spec) {
  HeadsToPrune out;
  std::stringstream ss(spec);
  std::string part;
  auto num = [&](const std::string& s) -> int64_t {
    try {
      std::size_t used = 0;
      const int64_t v = std::stoll(s, &used);
      if (s.find_first_not_of(" \t", used) != std::string::npos) throw std::invalid_argument(s);
      return v;
    } catch (const std::exception&) {
      throw_error(ErrorKind::InvalidArgument, "heads spec '" + spec + "': '" + s + "' is not an integer");
    }
  };
  while (std::getline(ss, part, ';')) {
    if (part.find_first_not_of(" \t") == std::string::npos) continue;
    const std::size_t colon = part.find(':');
    if (colon == std::string::npos)
      throw_error(ErrorKind::InvalidArgument, "heads spec '" + spec + "': expected LAYER:HEAD,HEAD (layers separated by ';')");
    auto& heads = out[num(part.substr(0, colon))];
    std::stringstream hs(part.substr(colon + 1));
    std::string h;
    while (std::getline(hs, h, ',')) heads.push_back(num(h));
    if (heads.empty()) throw_error(ErrorKind::InvalidArgument, "heads spec '" + spec + "': layer without heads");
  }
  if (out.empty()) throw_error(ErrorKind::InvalidArgument, "heads spec is empty");
  return out;
}

}  // namespace hfx
