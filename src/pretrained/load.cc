// from_pretrained: resolve files -> config -> skeleton -> source -> bind.
// Resolution order and prefix/missing/unexpected rules follow transformers
// 4.46 (../shared/reference/transformers.md §1.3, §4.3–4.8).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <tuple>

#include "core/strings.h"
#include "hfx/auto.h"
#include "hfx/gguf.h"
#include "hfx/hub.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "hfx/pretrained.h"
#include "naming/naming.h"
#include "pretrained/load_internal.h"
#include "pretrained/load_warnings.h"
#include "pretrained/skeleton_check.h"

namespace hfx {

namespace fs = std::filesystem;

namespace {

bool exists_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// transformers' local-directory resolution (4.46, PyTorch class; modeling_utils.py
// from_pretrained): TF/Flax first when asked, then safetensors unless
// use_safetensors is false, then .bin unless it is true. When nothing fits, the
// error lists every file name looked for and the directory, like transformers'.
std::string resolve_weights(const fs::path& dir, const LoadOptions& o) {
  std::vector<std::string> looked;
  auto find = [&](const char* name) {
    looked.emplace_back(name);
    return exists_file(dir / name);
  };
  if (o.from_tf) {
    for (const char* name : {"model.ckpt.index", "tf_model.h5", "tf_model.h5.index.json"})
      if (find(name)) return (dir / name).string();
  }
  if (o.from_flax) {
    for (const char* name : {"flax_model.msgpack", "flax_model.msgpack.index.json"})
      if (find(name)) return (dir / name).string();
  }
  if (o.use_safetensors.value_or(true)) {
    for (const char* name : {"model.safetensors", "model.safetensors.index.json"})
      if (find(name)) return (dir / name).string();
  }
  if (!o.use_safetensors.value_or(false)) {
    for (const char* name : {"pytorch_model.bin", "pytorch_model.bin.index.json"})
      if (find(name)) return (dir / name).string();
  }
  std::string list;
  for (std::size_t i = 0; i < looked.size(); ++i) list += (i ? ", " : "") + looked[i];
  const std::string where = " (looked for " + list + " in " + dir.string() + ")";
  if (o.use_safetensors.value_or(false))
    throw_error(ErrorKind::NotFound, "no file named model.safetensors found in directory " + dir.string() +
                                         " and use_safetensors is true" + where, dir.string());
  if (!o.from_tf && (exists_file(dir / "model.ckpt.index") || exists_file(dir / "tf_model.h5")))
    throw_error(ErrorKind::NotFound, "no file named pytorch_model.bin or model.safetensors found in directory " +
                                         dir.string() + " but there is a file for TensorFlow weights: load them with from_tf" + where,
                dir.string());
  if (!o.from_flax && exists_file(dir / "flax_model.msgpack"))
    throw_error(ErrorKind::NotFound, "no file named pytorch_model.bin or model.safetensors found in directory " +
                                         dir.string() + " but there is a file for Flax weights: load them with from_flax" + where,
                dir.string());
  throw_error(ErrorKind::NotFound, "no file named pytorch_model.bin, model.safetensors, tf_model.h5, model.ckpt.index or "
                                   "flax_model.msgpack found in directory " + dir.string() + where, dir.string());
}

// A caller's state_dict (transformers' state_dict=) as a TensorSource.
class StateDictSource final : public TensorSource {
 public:
  explicit StateDictSource(const std::vector<std::pair<std::string, Tensor>>& sd) {
    for (const auto& [name, t] : sd) {
      if (!t.defined()) throw_error(ErrorKind::InvalidArgument, "state_dict tensor is undefined", "state_dict", name);
      if (!tensors_.emplace(name, t).second)
        throw_error(ErrorKind::InvalidArgument, "state_dict has the name twice", "state_dict", name);
      entries_.push_back({name, t.dtype(), t.shape()});
    }
  }
  std::string format() const override { return "state_dict"; }
  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& entries() const override { return entries_; }
  Tensor get(const std::string& name) const override {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) throw_error(ErrorKind::NotFound, "no such tensor", path_, name);
    return it->second;
  }

 private:
  std::string path_ = "state_dict";
  std::vector<TensorInfo> entries_;
  std::map<std::string, Tensor> tensors_;
};

// transformers' torch_dtype strings (a torch attribute name, or "auto").
std::optional<DType> parse_torch_dtype(const std::string& s) {
  if (s == "float" || s == "f32") return DType::F32;
  if (s == "half" || s == "f16") return DType::F16;
  if (s == "bf16") return DType::BF16;
  const std::optional<DType> d = dtype_from_torch(s);  // "float16", "torch.float16", ...
  if (d == DType::F32 || d == DType::F16 || d == DType::BF16) return d;
  return std::nullopt;
}

// The dtype parameters are bound in; nullopt: each as stored (keep_file_dtype).
std::optional<DType> target_dtype(const LoadOptions& o, const Config& config, const TensorSource& src) {
  if (o.torch_dtype.empty()) {
    if (o.keep_file_dtype) return std::nullopt;
    return o.dtype.value_or(DType::F32);
  }
  if (o.torch_dtype != "auto") {
    if (auto d = parse_torch_dtype(o.torch_dtype)) return d;
    throw_error(ErrorKind::InvalidArgument, "torch_dtype can be \"auto\", \"float32\", \"float16\" or \"bfloat16\", but received \"" +
                                                o.torch_dtype + "\"");
  }
  // "auto", in transformers' order: config.torch_dtype, sharded metadata "dtype", first floating weight.
  if (const json* d = config.find("torch_dtype"); d && d->is_string()) {
    if (auto t = parse_torch_dtype(d->get<std::string>())) return t;
    throw_error(ErrorKind::Unsupported, "config torch_dtype \"" + d->get<std::string>() + "\" is not a floating dtype hfx binds",
                config.source());
  }
  const auto meta = src.metadata();
  if (auto m = meta.find("dtype"); m != meta.end())
    if (auto t = parse_torch_dtype(m->second)) return t;
  for (const auto& e : src.entries())
    if (is_floating(e.dtype)) {
      if (e.dtype == DType::F32 || e.dtype == DType::F16 || e.dtype == DType::BF16) return e.dtype;
      return DType::F32;  // f64 checkpoints: hfx's kernels run f32/f16/bf16 weights
    }
  return DType::F32;
}

// transformers' class attributes _keys_to_ignore_on_load_missing /
// _keys_to_ignore_on_load_unexpected (4.46), declared by the model files
// (ModelTraits): keys dropped from the loading info. transformers matches them
// with re.search; the patterns have no regex syntax besides '.', which matches
// the dots of the keys, so a substring search is the same test.
void drop_ignored(std::vector<std::string>& keys, const std::vector<std::string>& patterns) {
  for (const auto& p : patterns)
    keys.erase(std::remove_if(keys.begin(), keys.end(), [&](const std::string& k) { return k.find(p) != std::string::npos; }),
               keys.end());
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

// What transformers' _init_weights gives a parameter that the checkpoint lacks:
// the model file's rule (ModelTraits::init), else default_init_rule (hfx/model.h).
Tensor init_missing(const Model& m, const ParamSpec& s, DType dtype, std::mt19937_64& rng) {
  const InitRule r = m.traits().init ? m.traits().init(s, m.config()) : default_init_rule(s, m.config());
  Tensor t = Tensor::zeros(DType::F32, s.shape);
  float* p = t.mutable_data<float>();
  if (r.kind == InitRule::Ones) {
    std::fill_n(p, t.numel(), 1.0f);
  } else if (r.kind == InitRule::Normal) {
    std::normal_distribution<float> nd(0.0f, static_cast<float>(r.stddev));
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = nd(rng);
  }
  return t.to(s.dtype.value_or(dtype));
}

// The config from_pretrained uses: the caller's object or path, else the
// config.json in `dir`; config_overrides on top (transformers' **kwargs).
Config resolve_config(const fs::path& dir, const LoadOptions& o, const std::string& weights = {}) {
  if (!o.config && o.config_path.empty() && !weights.empty() && !fs::is_directory(weights) && is_gguf_file(weights)) {
    Config c = gguf_config(weights);  // a lone .gguf file: its metadata is the config
    c.apply_overrides(o.config_overrides);
    return c;
  }
  if (o.config) {
    Config c = *o.config;
    c.apply_overrides(o.config_overrides);
    return c;
  }
  if (!o.config_path.empty()) return AutoConfig::from_pretrained(o.config_path, o.config_overrides);
  if (dir.empty())
    throw_error(ErrorKind::InvalidArgument, "no path to load from: give a directory, or a state_dict with a config");
  return AutoConfig::from_pretrained(dir.string(), o.config_overrides);
}

// The directory named by `path` (or holding the file `path`), and the weight
// file when `path` is one; empty dir when path is empty (state_dict + config).
std::pair<fs::path, std::string> split_path(const std::string& path, const LoadOptions& o) {
  if (path.empty() && o.state_dict) return {};
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) return {p, std::string()};
  if (fs::exists(p, ec)) return {p.parent_path().empty() ? fs::path(".") : p.parent_path(), p.string()};
  // A TF1 checkpoint prefix ("model.ckpt" beside "model.ckpt.index").
  if (fs::exists(path + ".index", ec)) return {p.parent_path().empty() ? fs::path(".") : p.parent_path(), path + ".index"};
  throw_error(ErrorKind::NotFound, "no such file or directory", path);
}

std::string size_mismatch_line(const std::string& key, const Shape& ckpt, const Shape& model) {
  return "size mismatch for " + key + ": copying a param with shape " + shape_str(ckpt) +
         " from checkpoint, the shape in current model is " + shape_str(model) + ".";
}

// A repo id becomes its snapshot folder in the hub cache (downloaded as needed); a path stays.
std::string resolve(const std::string& id_or_path, const LoadOptions& o) {
  std::error_code ec;  // nothing to resolve: a state_dict only, or a TF1 checkpoint prefix
  if (id_or_path.empty() || fs::exists(id_or_path + ".index", ec)) return id_or_path;
  HubOptions h = o.hub;
  h.from_tf = h.from_tf || o.from_tf;
  h.from_flax = h.from_flax || o.from_flax;
  // The repo's config.json decides the architecture unless the caller gave a config: an unknown
  // model_type is Unsupported before any weight file is requested (issue 18).
  if (!o.config && o.config_path.empty() && !h.check_config)
    h.check_config = [](const std::string& config_path) { (void)Config::from_file(config_path); };
  return resolve_pretrained(id_or_path, h);
}

}  // namespace

namespace {

// ---- stage 1: resolve — which files, which config, which class -------------
struct Resolved {
  fs::path dir;         // empty: a state_dict with a config
  std::string weights;  // the weight file when the path named one (else found by the bind stage)
  Config config;
  std::string class_name;
};

Resolved resolve_stage(const std::string& id_or_path, const std::string& class_name, const LoadOptions& opts) {
  Resolved r;
  const std::string path = resolve(id_or_path, opts);
  std::tie(r.dir, r.weights) = split_path(path, opts);
  r.config = resolve_config(r.dir, opts, r.weights);
  r.class_name = class_name;
  if (r.class_name.empty()) {  // the config's architectures[0] when registered, else the first (base) class
    const Architecture& arch = architecture(r.config.model_type());
    r.class_name = arch.classes.front().first;
    if (const json* a = r.config.find("architectures"); a && a->is_array() && !a->empty() && (*a)[0].is_string())
      for (const auto& c : arch.classes)
        if (c.first == (*a)[0].get<std::string>()) r.class_name = c.first;
  }
  return r;
}

// The tensors to bind: the caller's state_dict, or the weight file in canonical names.
std::unique_ptr<TensorSource> open_source(Resolved& r, const Model& model, const LoadOptions& opts, LoadingInfo& li) {
  if (opts.state_dict) return std::make_unique<StateDictSource>(*opts.state_dict);
  if (r.weights.empty()) r.weights = resolve_weights(r.dir, opts);
  li.files.push_back(r.weights);
  return naming::canonical_names(open_checkpoint(r.weights), model);
}

// ---- stage 2: bind — checkpoint tensors -> parameters, LoadingInfo -----------
// With `plan`, parameters found in the checkpoint are listed there instead of read.
void bind_stage(Model& model, const TensorSource& src, const LoadOptions& opts, const std::string& where, LoadingInfo& li,
                detail::LoadPlan* plan) {
  const ParamTable& table = model.params();
  const std::string prefix = model.base_model_prefix();

  // Checkpoint keys after legacy renames.
  std::map<std::string, std::string> ckpt;  // fixed name -> name in file
  for (const auto& e : src.entries()) ckpt[fix_key(e.name)] = e.name;
  bool has_prefix = false, expects_prefix = false;
  if (!prefix.empty()) {
    for (const auto& [k, v] : ckpt) has_prefix |= starts_with(k, prefix);
    for (const auto& s : table.specs()) expects_prefix |= starts_with(s.name, prefix);
  }
  const bool remove_prefix = !has_prefix && expects_prefix;  // head model, base checkpoint
  const bool add_prefix = has_prefix && !expects_prefix;     // base model, head checkpoint
  // A model key in the checkpoint's namespace (transformers' expected_keys).
  auto ckpt_name_for = [&](const std::string& model_key) -> std::string {
    if (remove_prefix && starts_with(model_key, prefix + ".")) return model_key.substr(prefix.size() + 1);
    if (add_prefix) return prefix + "." + model_key;
    return model_key;
  };

  const std::optional<DType> target = target_dtype(opts, model.config(), src);
  const DType init_dtype = target.value_or(DType::F32);
  // Tied parameters share one tensor: a group (target + specs tied to it) is
  // loaded from whichever member the checkpoint has, and reported missing only
  // when it has none (transformers: missing keys of a partly loaded tie group are dropped).
  // Tie groups by their root (tied_to chains followed to an untied spec).
  std::map<std::string, std::string> tied_to;
  for (const auto& s : table.specs())
    if (!s.tied_to.empty()) tied_to[s.name] = s.tied_to;
  auto root_of = [&](std::string n) {
    for (std::size_t hops = 0; hops <= tied_to.size(); ++hops) {
      auto t = tied_to.find(n);
      if (t == tied_to.end()) break;
      n = t->second;
    }
    return n;
  };
  std::map<std::string, std::vector<std::string>> group;  // root -> every member, root included
  for (const auto& s : table.specs()) group[root_of(s.name)].push_back(s.name);
  auto group_in_ckpt = [&](const std::string& root) -> std::map<std::string, std::string>::iterator {
    if (auto r = ckpt.find(ckpt_name_for(root)); r != ckpt.end()) return r;
    for (const auto& other : group[root])
      if (auto o = ckpt.find(ckpt_name_for(other)); o != ckpt.end()) return o;
    return ckpt.end();
  };
  std::set<std::string> used;
  std::vector<std::string> size_errors;
  std::mt19937_64 rng(0);
  ParamTable& mut = model.mutable_params();
  for (std::size_t i = 0; i < table.size(); ++i) {
    const ParamSpec& spec = table.specs()[i];
    auto it = ckpt.find(ckpt_name_for(spec.name));
    if (!spec.tied_to.empty()) {  // tied: the root's tensor serves; a stored copy is used up
      if (it != ckpt.end()) used.insert(it->first);
      else if (group_in_ckpt(root_of(spec.name)) == ckpt.end()) li.missing_keys.push_back(ckpt_name_for(spec.name));
      continue;
    }
    if (it == ckpt.end()) it = group_in_ckpt(spec.name);  // e.g. only lm_head.weight stored
    if (it == ckpt.end()) {
      li.missing_keys.push_back(ckpt_name_for(spec.name));
      mut.set(i, init_missing(model, spec, init_dtype, rng));
      continue;
    }
    used.insert(it->first);
    const TensorInfo& ti = src.info(it->second);
    if (ti.shape != spec.shape) {
      if (!opts.ignore_mismatched_sizes) {
        size_errors.push_back(size_mismatch_line(it->first, ti.shape, spec.shape));
        continue;
      }
      li.mismatched_keys.push_back(spec.name + ": found shape " + shape_str(ti.shape) + " in the checkpoint and " +
                                   shape_str(spec.shape) + " in the model instantiated");
      li.mismatched.push_back({it->first, ti.shape, spec.shape});
      mut.set(i, init_missing(model, spec, init_dtype, rng));
      continue;
    }
    if (!is_floating(ti.dtype))
      throw_error(ErrorKind::Mismatch, "parameter has non-floating dtype " + std::string(to_string(ti.dtype)), src.path(), it->second);
    const DType want = spec.dtype.value_or(target.value_or(ti.dtype));  // a fixed dtype wins
    if (plan) {
      plan->params.push_back({i, it->second, want});
      continue;
    }
    Tensor t = src.get(it->second);
    if (t.dtype() == want) {
      ++li.zero_copy;
    } else {
      t = t.to(want);
      ++li.converted;
    }
    // A copy (transposed, converted, misaligned): the checkpoint's pages it was
    // read from are not needed any more, so they leave the process's RSS.
    if (t.storage() && t.storage()->owned()) src.release(it->second);
    mut.set(i, std::move(t));
  }
  if (!size_errors.empty()) {  // all of them at once, as transformers' RuntimeError lists them
    std::string m = "Error(s) in loading state_dict for " + model.class_name() + ":";
    for (const auto& e : size_errors) m += "\n\t" + e;
    m += "\n\tYou may consider adding ignore_mismatched_sizes=true (LoadOptions) to load it anyway.";
    throw_error(ErrorKind::Mismatch, m, where);
  }
  std::set<std::string> ignored(model.ignored_checkpoint_keys().begin(), model.ignored_checkpoint_keys().end());
  for (const auto& [k, v] : ckpt) {
    if (used.count(k)) continue;
    std::string mk = k;
    if (add_prefix && starts_with(k, prefix + ".")) mk = k.substr(prefix.size() + 1);
    if (ignored.count(mk) || ignored.count(k)) continue;
    li.unexpected_keys.push_back(k);
  }
  drop_ignored(li.missing_keys, model.traits().ignore_on_load_missing);
  drop_ignored(li.unexpected_keys, model.traits().ignore_on_load_unexpected);
  std::sort(li.missing_keys.begin(), li.missing_keys.end());
  std::sort(li.unexpected_keys.begin(), li.unexpected_keys.end());
  std::sort(li.mismatched_keys.begin(), li.mismatched_keys.end());
  std::sort(li.mismatched.begin(), li.mismatched.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  if (opts.strict && !li.missing_keys.empty())
    throw_error(ErrorKind::NotFound, "missing " + std::to_string(li.missing_keys.size()) + " parameter(s), first: " +
                                         li.missing_keys.front(), where);
}

// load_pretrained: resolve, build the skeleton, bind.
LoadedModel load_impl(const std::string& id_or_path, const std::string& class_name, const LoadOptions& opts,
                      detail::LoadPlan* plan) {
  Resolved r = resolve_stage(id_or_path, class_name, opts);
  std::unique_ptr<Model> model = build_model(r.config, r.class_name);
  apply_config_pruned_heads(*model);  // a pruned checkpoint: declared shapes follow config.pruned_heads
  LoadingInfo li;
  std::unique_ptr<TensorSource> src = open_source(r, *model, opts, li);
  const std::string where = opts.state_dict ? std::string("state_dict") : r.weights;
  detail::check_skeleton_fits(*model, *src, where);  // before any parameter buffer is made (issue 24)
  bind_stage(*model, *src, opts, where, li, plan);
  if (plan) plan->src = std::move(src);
  return {std::move(model), std::move(li)};
}
}  // namespace

LoadedModel load_pretrained(const std::string& id_or_path, const std::string& class_name, const LoadOptions& opts) {
  LoadedModel lm = load_impl(id_or_path, class_name, opts, nullptr);
  lm.model->mutable_params().set_quantization(opts.quantize);
  detail::log_loading_info(*lm.model, lm.info, id_or_path);  // transformers' closing warnings (pretrained/load_warnings.cc)
  return lm;
}

detail::LoadPlan detail::plan_pretrained(const std::string& id_or_path, const std::string& class_name, const LoadOptions& opts) {
  LoadPlan plan;
  plan.loaded = load_impl(id_or_path, class_name, opts, &plan);
  return plan;
}

namespace {
std::unique_ptr<Model> auto_load(const char* auto_name, const std::string& id_or_path, const LoadOptions& opts, LoadingInfo* info) {
  const std::string path = resolve(id_or_path, opts);
  const auto [dir, weights] = split_path(path, opts);
  Config config = resolve_config(dir, opts, weights);
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
