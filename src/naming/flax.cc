// PyTorch <-> Flax parameter names (transformers 4.46
// modeling_flax_pytorch_utils.py: load_flax_weights_in_pytorch_model and
// convert_pytorch_state_dict_to_flax; ../shared/reference/transformers.md
// §5.5–5.7).
//
// Flax -> canonical (reading), as load_flax_weights_in_pytorch_model does it:
//   - bf16 leaves are presented as float32 (transformers casts every bf16 leaf);
//   - a top-level "batch_stats" means every path starts with params/ or
//     batch_stats/, which is dropped; hfx also drops a lone "params" root
//     (some saves nest the tree under it) when the model has no such module;
//   - base-model prefix: a head checkpoint into a base model loses the
//     prefix, a base checkpoint into a head model gains it. transformers tests
//     the gain on the *Flax* name (so only biases would gain it and kernels
//     would end up unexpected); hfx tests the renamed name, so every parameter
//     of a base checkpoint lands in the head model;
//   - last component: `kernel` -> `weight` (rank 4: transpose (3,2,0,1),
//     else all axes reversed: .T), unless "…kernel" is itself a model
//     parameter; `scale`, `embedding` -> `weight`; "*mean*" -> running_mean,
//     "*var*" -> running_var; weight-norm `X_g`/`X_v` ->
//     parametrizations.X.original0/1 where the model has those;
//   - '/' -> '.', so layer lists "layer/0" become "layer.0".
//
// Canonical -> Flax (writing), as convert_pytorch_state_dict_to_flax does it
// against the Flax module tree. hfx has no Flax modules, so the tree's
// answers come from the parameter itself plus a small table:
//   - `weight` of rank 1 is a norm: `scale` (LayerNorm), except in the
//     architectures whose Flax norm keeps a `weight` param (RMSNorm/T5 norm);
//   - `weight` of an embedding module -> `embedding` (module names below);
//   - any other `weight` -> `kernel`, transposed (rank 4: (2,3,1,0), else .T);
//   - `gamma`/`beta` -> scale/weight, bias;
//   - tied parameters (ParamSpec::tied_to) are not written: the Flax module
//     reuses the tied-to array (e.g. the MLM decoder uses the word embedding);
//     nor are the few parameters a Flax class lacks (absent_in_flax).
// Both directions are checked against the Flax names transformers' Flax
// classes really have (tests/fixtures/**/params.json "flax").
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "core/strings.h"
#include "naming/naming.h"

namespace hfx::naming {

namespace {

std::string join(const std::vector<std::string>& parts, char sep, std::size_t from = 0) {
  std::string out;
  for (std::size_t i = from; i < parts.size(); ++i) {
    if (i > from) out += sep;
    out += parts[i];
  }
  return out;
}


// How a tensor changes between the frameworks.
enum class Xform { None, Reverse, ConvToPt, ConvToFlax };

Shape transformed_shape(const Shape& s, Xform x) {
  switch (x) {
    case Xform::None: return s;
    case Xform::Reverse: return Shape(s.rbegin(), s.rend());
    case Xform::ConvToPt: return {s[3], s[2], s[0], s[1]};    // HWIO -> OIHW
    case Xform::ConvToFlax: return {s[2], s[3], s[1], s[0]};  // OIHW -> HWIO
  }
  return s;
}

// x applied to t as a strided view (no copy).
Tensor apply_view(const Tensor& t, Xform x) {
  switch (x) {
    case Xform::None: return t;
    case Xform::Reverse: {
      Tensor v = t;
      for (int64_t i = 0, j = t.dim() - 1; i < j; ++i, --j) v = v.transpose(i, j);
      return v;
    }
    case Xform::ConvToPt:  // out[o,i,h,w] = in[h,w,i,o]: permute (3,2,0,1)
      return t.transpose(0, 3).transpose(1, 2).transpose(2, 3);
    case Xform::ConvToFlax:  // out[h,w,i,o] = in[o,i,h,w]: permute (2,3,1,0)
      return t.transpose(0, 2).transpose(1, 3).transpose(2, 3);
  }
  return t;
}

// x applied to t, contiguous (a copy unless x is None).
Tensor apply(const Tensor& t, Xform x) { return x == Xform::None ? t : apply_view(t, x).contiguous(); }

// Flax norms that keep a `weight` param instead of LayerNorm's `scale`
// (FlaxT5LayerNorm, FlaxLlamaRMSNorm and their relatives).
const std::set<std::string>& weight_norm_archs() {
  static const std::set<std::string> s = {"t5", "mt5", "umt5", "longt5", "llama", "mistral", "gemma", "gemma2", "mixtral", "qwen2"};
  return s;
}

// Parameters that a PyTorch model can have and transformers' Flax class has
// not (its conversion keeps them, then Flax drops them as unexpected): not
// written. transformers 4.46 FlaxLlamaMLP has no biases (config.mlp_bias).
bool absent_in_flax(const std::string& model_type, const std::string& name) {
  static const std::map<std::string, std::vector<std::string>> table = {
      {"llama", {".mlp.gate_proj.bias", ".mlp.up_proj.bias", ".mlp.down_proj.bias"}},
  };
  auto it = table.find(model_type);
  if (it == table.end()) return false;
  for (const auto& suffix : it->second)
    if (ends_with(name, suffix)) return true;
  return false;
}

// Modules that are nn.Embed in transformers' Flax classes.
bool is_embedding_module(const std::string& m) {
  static const std::set<std::string> names = {"shared", "wte", "wpe", "relative_attention_bias", "embed_tokens",
                                              "embed_positions"};
  return names.count(m) > 0 || ends_with(m, "_embeddings") || m == "embeddings";
}

class FlaxCanonicalSource final : public RenamingSource {
 public:
  FlaxCanonicalSource(std::unique_ptr<TensorSource> src, const Model& model) : RenamingSource(std::move(src)) {
    std::set<std::string> pt;  // model.state_dict() keys
    std::set<std::string> pt_first;
    for (const auto& s : model.params().specs()) {
      pt.insert(s.name);
      pt_first.insert(s.name.substr(0, s.name.find('.')));
    }
    const std::string& prefix = model.base_model_prefix();
    std::vector<std::vector<std::string>> keys;
    std::set<std::string> top;
    for (const auto& e : src_->entries()) {
      keys.push_back(split(e.name, '/'));
      top.insert(keys.back()[0]);
    }
    const bool batch_stats = top.count("batch_stats") > 0;
    const bool params_root = !batch_stats && top.size() == 1 && top.count("params") && !pt_first.count("params");
    std::size_t drop = (batch_stats || params_root) ? 1 : 0;
    if (drop) {
      top.clear();
      for (const auto& k : keys)
        if (k.size() > 1) top.insert(k[1]);
    }
    const bool head_into_base = !prefix.empty() && top.count(prefix) && !pt_first.count(prefix);
    const bool base_into_head = !prefix.empty() && !top.count(prefix) && pt_first.count(prefix);

    // Weight norm: "…X_g" / "…X_v" stand for "…parametrizations.X.original0/1".
    std::map<std::string, std::string> special;
    for (const auto& k : pt) {
      auto c = split(k, '.');
      if (c.size() >= 3 && c[c.size() - 3] == "parametrizations" && (c.back() == "original0" || c.back() == "original1")) {
        std::string n = c[c.size() - 2] + (c.back() == "original0" ? "_g" : "_v");
        c.resize(c.size() - 3);
        c.push_back(n);
        special[join(c, '.')] = k;
      }
    }

    const auto& src_entries = src_->entries();
    for (std::size_t i = 0; i < src_entries.size(); ++i) {
      const TensorInfo& e = src_entries[i];
      std::vector<std::string> k(keys[i].begin() + static_cast<std::ptrdiff_t>(std::min(drop, keys[i].size() - 1)), keys[i].end());
      if (head_into_base && k.size() > 1 && k[0] == prefix) k.erase(k.begin());
      Xform x = Xform::None;
      std::string& last = k.back();
      if (last == "kernel" && !pt.count(join(k, '.'))) {
        x = e.shape.size() == 4 ? Xform::ConvToPt : Xform::Reverse;
        last = "weight";
      } else if (last == "scale" || last == "embedding") {
        last = "weight";
      } else if (last.find("mean") != std::string::npos) {
        last = "running_mean";
      } else if (last.find("var") != std::string::npos) {
        last = "running_var";
      }
      std::string name = join(k, '.');
      if (base_into_head && !pt.count(name) && pt.count(prefix + "." + name)) name = prefix + "." + name;
      if (auto it = special.find(name); it != special.end()) name = it->second;
      if (index_.count(name))
        throw_error(ErrorKind::Format, "two Flax parameters map to the same PyTorch name '" + name + "' ('" +
                                           entries_[index_[name]].name + "' and this one)", src_->path(), e.name);
      index_[name] = entries_.size();
      entries_.push_back({name, e.dtype == DType::BF16 ? DType::F32 : e.dtype, transformed_shape(e.shape, x)});
      from_.push_back({e.name, x});
    }
  }

  Tensor get(const std::string& name) const override {
    const std::size_t i = find(name);
    const auto& [from, x] = from_[i];
    const TensorInfo& in = src_->info(from);
    std::optional<Tensor> kernel;
    if (x == Xform::Reverse && in.shape.size() == 2)  // a Dense kernel: transposed straight from the file's bytes, so
      if (Bytes b = src_->bytes(from); b.data)       // that a misaligned array (most are) is not copied twice
        kernel = transposed_copy(b.data, in.dtype, in.shape[0], in.shape[1]);
    Tensor t = kernel ? std::move(*kernel) : apply(src_->get(from), x);
    if (t.dtype() == DType::BF16) t = t.to(DType::F32);
    return t;
  }

  const std::string& source_name(std::size_t i) const override { return from_[i].first; }
  // An untransformed array is the file's bytes (bfloat16 ones are widened by get()).
  Bytes bytes(const std::string& name) const override {
    const auto& [from, x] = from_[find(name)];
    if (x != Xform::None || src_->info(from).dtype == DType::BF16) return {};
    return src_->bytes(from);
  }

 private:
  std::vector<std::pair<std::string, Xform>> from_;  // Flax name, transform
};

}  // namespace

std::unique_ptr<TensorSource> flax_to_canonical(std::unique_ptr<TensorSource> src, const Model& model) {
  return std::make_unique<FlaxCanonicalSource>(std::move(src), model);
}

NamedTensors canonical_to_flax(const NamedTensors& canonical, const Model& model) {
  std::map<std::string, const ParamSpec*> specs;
  for (const auto& s : model.params().specs()) specs[s.name] = &s;
  const std::string& prefix = model.base_model_prefix();
  const bool weight_norms = weight_norm_archs().count(model.config().model_type()) > 0;
  NamedTensors out;
  std::set<std::string> seen;
  for (const auto& [name0, t] : canonical) {
    if (!t.defined()) throw_error(ErrorKind::InvalidArgument, "undefined tensor", {}, name0);
    std::string name = name0;
    // A checkpoint of the base model for a head model, or the other way round.
    if (!specs.count(name) && !prefix.empty()) {
      if (specs.count(prefix + "." + name)) name = prefix + "." + name;
      else if (starts_with(name, prefix + ".") && specs.count(name.substr(prefix.size() + 1))) name = name.substr(prefix.size() + 1);
    }
    auto sp = specs.find(name);
    if (sp != specs.end() && !sp->second->tied_to.empty()) continue;  // the Flax module reuses the tied-to array
    if (absent_in_flax(model.config().model_type(), name)) continue;
    auto c = split(name, '.');
    Xform x = Xform::None;
    std::string& last = c.back();
    const std::string module = c.size() > 1 ? c[c.size() - 2] : std::string();
    if (last == "weight" || last == "gamma") {
      if (t.dim() == 1 && !(weight_norms && last == "weight")) {
        last = "scale";
      } else if (last == "gamma") {
        last = "weight";
      } else if (is_embedding_module(module) && t.dim() == 2) {
        last = "embedding";
      } else if (t.dim() >= 2) {
        x = t.dim() == 4 ? Xform::ConvToFlax : Xform::Reverse;
        last = "kernel";
      }
    } else if (last == "beta") {
      last = "bias";
    }
    std::string fname = join(c, '/');
    if (!seen.insert(fname).second)
      throw_error(ErrorKind::InvalidArgument, "two PyTorch parameters map to the same Flax name '" + fname + "'", {}, name0);
    out.emplace_back(std::move(fname), apply_view(t, x));  // transposed when written
  }
  return out;
}

}  // namespace hfx::naming
