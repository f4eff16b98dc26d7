// from_pretrained: resolve files -> config -> skeleton -> source -> bind.
// Resolution order and prefix/missing/unexpected rules follow transformers
// 4.46 (../shared/reference/transformers.md §1.3, §4.3–4.8).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>

#include "hfx/hub.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "hfx/pretrained.h"
#include "naming/naming.h"

namespace hfx {

namespace fs = std::filesystem;

namespace {

bool exists_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// transformers' local-directory resolution (4.46, PyTorch class).
std::string resolve_weights(const fs::path& dir, const LoadOptions& o) {
  if (o.from_tf && exists_file(dir / "model.ckpt.index")) return (dir / "model.ckpt.index").string();
  if (o.from_tf && exists_file(dir / "tf_model.h5")) return (dir / "tf_model.h5").string();
  if (o.from_tf && exists_file(dir / "tf_model.h5.index.json")) return (dir / "tf_model.h5.index.json").string();
  if (o.from_flax && exists_file(dir / "flax_model.msgpack")) return (dir / "flax_model.msgpack").string();
  if (o.from_flax && exists_file(dir / "flax_model.msgpack.index.json")) return (dir / "flax_model.msgpack.index.json").string();
  for (const char* name : {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                           "pytorch_model.bin.index.json"})
    if (exists_file(dir / name)) return (dir / name).string();
  if (exists_file(dir / "model.ckpt.index") || exists_file(dir / "tf_model.h5"))
    throw_error(ErrorKind::NotFound, "no file named pytorch_model.bin or model.safetensors in the directory, but TensorFlow weights exist: load them with from_tf", dir.string());
  if (exists_file(dir / "flax_model.msgpack"))
    throw_error(ErrorKind::NotFound, "no file named pytorch_model.bin or model.safetensors in the directory, but Flax weights exist: load them with from_flax", dir.string());
  throw_error(ErrorKind::NotFound, "no file named pytorch_model.bin, model.safetensors, tf_model.h5, model.ckpt.index or flax_model.msgpack in the directory", dir.string());
}

// transformers 4.46 _fix_key: legacy gamma/beta names.
std::string fix_key(std::string k) {
  auto replace_all = [](std::string s, const std::string& a, const std::string& b) {
    for (std::size_t p = s.find(a); p != std::string::npos; p = s.find(a, p + b.size())) s.replace(p, a.size(), b);
    return s;
  };
  if (k.find("beta") != std::string::npos) return replace_all(k, "beta", "bias");
  if (k.find("gamma") != std::string::npos) return replace_all(k, "gamma", "weight");
  return k;
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// What transformers' _init_weights gives a parameter that the checkpoint lacks
// (BERT family: normal(0, initializer_range) for matrices, 0 for biases, 1 for norm weights).
Tensor init_missing(const ParamSpec& s, const Config& cfg, DType dtype, std::mt19937_64& rng) {
  Tensor t = Tensor::zeros(DType::F32, s.shape);
  float* p = t.mutable_data<float>();
  const bool is_bias = s.name.size() >= 4 && s.name.compare(s.name.size() - 4, 4, "bias") == 0;
  const bool is_norm = s.shape.size() == 1 && !is_bias;
  if (is_norm) {
    std::fill_n(p, t.numel(), 1.0f);
  } else if (!is_bias) {
    std::normal_distribution<float> nd(0.0f, static_cast<float>(cfg.get<double>("initializer_range", 0.02)));
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = nd(rng);
  }
  return t.to(dtype);
}

// A repo id becomes its snapshot folder in the hub cache (downloaded as needed); a path stays.
std::string resolve(const std::string& id_or_path, const LoadOptions& o) {
  HubOptions h = o.hub;
  h.from_tf = h.from_tf || o.from_tf;
  h.from_flax = h.from_flax || o.from_flax;
  return resolve_pretrained(id_or_path, h);
}

}  // namespace

LoadedModel load_pretrained(const std::string& id_or_path, const std::string& class_name, const LoadOptions& opts) {
  const std::string path = resolve(id_or_path, opts);
  std::error_code ec;
  fs::path p(path);
  fs::path dir;
  std::string weights;
  if (fs::is_directory(p, ec)) {
    dir = p;
  } else if (fs::exists(p, ec)) {
    dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
    weights = p.string();
  } else {
    throw_error(ErrorKind::NotFound, "no such file or directory", path);
  }
  Config config = AutoConfig::from_pretrained(dir.string(), opts.config_overrides);
  std::string cls = class_name;
  if (cls.empty()) {
    const Architecture& arch = architecture(config.model_type());
    cls = arch.classes.front().first;
    if (const json* a = config.find("architectures"); a && a->is_array() && !a->empty() && (*a)[0].is_string())
      for (const auto& c : arch.classes)
        if (c.first == (*a)[0].get<std::string>()) cls = c.first;
  }
  std::unique_ptr<Model> model = build_model(config, cls);
  apply_config_pruned_heads(*model);  // a pruned checkpoint: declared shapes follow config.pruned_heads
  if (weights.empty()) weights = resolve_weights(dir, opts);
  std::unique_ptr<TensorSource> src = naming::canonical_names(open_checkpoint(weights), *model);

  LoadingInfo li;
  li.files.push_back(weights);
  const ParamTable& table = model->params();
  const std::string prefix = model->base_model_prefix();

  // Checkpoint keys after legacy renames.
  std::map<std::string, std::string> ckpt;  // fixed name -> name in file
  for (const auto& e : src->entries()) ckpt[fix_key(e.name)] = e.name;
  bool has_prefix = false, expects_prefix = false;
  if (!prefix.empty()) {
    for (const auto& [k, v] : ckpt) has_prefix |= starts_with(k, prefix);
    for (const auto& s : table.specs()) expects_prefix |= starts_with(s.name, prefix);
  }
  const bool remove_prefix = !has_prefix && expects_prefix;  // head model, base checkpoint
  const bool add_prefix = has_prefix && !expects_prefix;     // base model, head checkpoint
  auto ckpt_name_for = [&](const std::string& model_key) -> std::string {
    if (remove_prefix && starts_with(model_key, prefix + ".")) return model_key.substr(prefix.size() + 1);
    if (add_prefix) return prefix + "." + model_key;
    return model_key;
  };

  const DType target = opts.dtype.value_or(DType::F32);
  std::set<std::string> used;
  std::mt19937_64 rng(0);
  ParamTable& mut = model->mutable_params();
  for (std::size_t i = 0; i < table.size(); ++i) {
    const ParamSpec& spec = table.specs()[i];
    const std::string key = ckpt_name_for(spec.name);
    auto it = ckpt.find(key);
    if (!spec.tied_to.empty()) {  // tied: the target's tensor serves; a stored copy is used up
      if (it != ckpt.end()) used.insert(it->first);
      continue;
    }
    if (it == ckpt.end()) {
      li.missing_keys.push_back(spec.name);
      mut.set(i, init_missing(spec, model->config(), target, rng));
      continue;
    }
    used.insert(it->first);
    const TensorInfo& ti = src->info(it->second);
    if (ti.shape != spec.shape) {
      std::string m = spec.name + ": found shape " + shape_str(ti.shape) + " in the checkpoint and " +
                      shape_str(spec.shape) + " in the model instantiated";
      if (!opts.ignore_mismatched_sizes)
        throw_error(ErrorKind::Mismatch, "size mismatch for " + m + " (consider ignore_mismatched_sizes)", src->path(), it->second);
      li.mismatched_keys.push_back(m);
      mut.set(i, init_missing(spec, model->config(), target, rng));
      continue;
    }
    if (!is_floating(ti.dtype))
      throw_error(ErrorKind::Mismatch, "parameter has non-floating dtype " + std::string(to_string(ti.dtype)), src->path(), it->second);
    Tensor t = src->get(it->second);
    const DType want = opts.keep_file_dtype ? ti.dtype : target;
    if (t.dtype() == want) {
      ++li.zero_copy;
    } else {
      t = t.to(want);
      ++li.converted;
    }
    mut.set(i, std::move(t));
  }
  std::set<std::string> ignored(model->ignored_checkpoint_keys().begin(), model->ignored_checkpoint_keys().end());
  for (const auto& [k, v] : ckpt) {
    if (used.count(k)) continue;
    std::string mk = k;
    if (add_prefix && starts_with(k, prefix + ".")) mk = k.substr(prefix.size() + 1);
    if (ignored.count(mk) || ignored.count(k)) continue;
    li.unexpected_keys.push_back(v);
  }
  if (opts.strict && !li.missing_keys.empty())
    throw_error(ErrorKind::NotFound, "missing " + std::to_string(li.missing_keys.size()) + " parameter(s), first: " +
                                         li.missing_keys.front(), weights);
  return {std::move(model), std::move(li)};
}

namespace {
std::unique_ptr<Model> auto_load(const char* auto_name, const std::string& id_or_path, const LoadOptions& opts, LoadingInfo* info) {
  const std::string path = resolve(id_or_path, opts);
  std::error_code ec;
  fs::path dir = fs::is_directory(path, ec) ? fs::path(path) : fs::path(path).parent_path();
  Config config = AutoConfig::from_pretrained(dir.empty() ? "." : dir.string(), opts.config_overrides);
  LoadedModel lm = load_pretrained(path, auto_class_for(config, auto_name), opts);
  if (info) *info = std::move(lm.info);
  return std::move(lm.model);
}
}  // namespace

#define HFX_AUTO_IMPL(NAME)                                                                          \
  std::unique_ptr<Model> NAME::from_pretrained(const std::string& path, const LoadOptions& opts, LoadingInfo* info) { \
    return auto_load(#NAME, path, opts, info);                                                       \
  }
HFX_AUTO_IMPL(AutoModel)
HFX_AUTO_IMPL(AutoModelForMaskedLM)
HFX_AUTO_IMPL(AutoModelForSequenceClassification)
HFX_AUTO_IMPL(AutoModelForTokenClassification)
HFX_AUTO_IMPL(AutoModelForQuestionAnswering)
HFX_AUTO_IMPL(AutoModelForPreTraining)
HFX_AUTO_IMPL(AutoModelForCausalLM)
HFX_AUTO_IMPL(AutoModelForMultipleChoice)
HFX_AUTO_IMPL(AutoModelForSeq2SeqLM)
#undef HFX_AUTO_IMPL

}  // namespace hfx
