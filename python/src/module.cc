// hfx._hfx — the extension module behind the Python package (python/hfx/).
//
// Thin: each function converts arguments, releases the GIL around the library
// call where it may take long (loading, forward, generate, saving, converting),
// and converts results. NumPy arrays cross in both directions without copies
// (arrays.h). JSON (configs, options) crosses as text, parsed by Python's json.
// The Python layer (python/hfx/*.py) gives the transformers-shaped API.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "arrays.h"
#include "hfx/auto.h"
#include "hfx/compare.h"
#include "hfx/convert.h"
#include "hfx/error.h"
#include "hfx/generate.h"
#include "hfx/hub.h"
#include "hfx/log.h"
#include "hfx/pretrained.h"
#include "hfx/save.h"
#include "hfx/threads.h"
#include "hfx/version.h"

namespace py = pybind11;

namespace hfxpy {

// A keyword argument, or nullopt when absent or None.
template <class T>
std::optional<T> opt(const py::dict& d, const char* key) {
  if (!d.contains(key) || d[key].is_none()) return std::nullopt;
  return d[key].cast<T>();
}

// from_pretrained's hub keywords (python/hfx/_options.py HUB_KEYS, plus from_tf / from_flax).
hfx::HubOptions hub_options(const py::dict& d) {
  hfx::HubOptions h;
  if (auto v = opt<std::string>(d, "revision")) h.revision = *v;
  if (auto v = opt<std::string>(d, "cache_dir")) h.cache_dir = *v;
  if (auto v = opt<std::string>(d, "token")) h.token = *v;
  if (auto v = opt<bool>(d, "local_files_only")) h.local_files_only = *v;
  if (auto v = opt<bool>(d, "force_download")) h.force_download = *v;
  if (auto v = opt<bool>(d, "from_tf")) h.from_tf = *v;
  if (auto v = opt<bool>(d, "from_flax")) h.from_flax = *v;
  return h;
}

void bind_tokenizer(py::module_& m);  // tokenizer.cc
void bind_sentence(py::module_& m);   // sentence.cc

namespace {

// One loaded model, shared by every Python reference to it.
struct ModelHandle {
  std::shared_ptr<hfx::Model> model;
};

// ---- options ------------------------------------------------------------------
hfx::json parse_json(const std::string& text, const char* what) {
  try {
    return hfx::json::parse(text);
  } catch (const hfx::json::exception& e) {
    throw hfx::Error(hfx::ErrorKind::InvalidArgument, std::string(what) + ": " + e.what());
  }
}

hfx::LoadOptions load_options(const py::dict& d) {
  hfx::LoadOptions o;
  o.hub = hub_options(d);
  if (auto v = opt<std::string>(d, "torch_dtype")) o.torch_dtype = *v;
  if (auto v = opt<bool>(d, "use_safetensors")) o.use_safetensors = *v;
  if (auto v = opt<bool>(d, "from_tf")) o.from_tf = *v;
  if (auto v = opt<bool>(d, "from_flax")) o.from_flax = *v;
  if (auto v = opt<bool>(d, "ignore_mismatched_sizes")) o.ignore_mismatched_sizes = *v;
  if (auto v = opt<bool>(d, "strict")) o.strict = *v;
  if (auto v = opt<std::string>(d, "config_overrides")) o.config_overrides = parse_json(*v, "config overrides");
  if (auto v = opt<std::string>(d, "config_json")) o.config = hfx::Config::from_json(parse_json(*v, "config"));
  if (auto v = opt<std::string>(d, "config_path")) o.config_path = *v;
  if (d.contains("state_dict") && !d["state_dict"].is_none()) {
    std::vector<std::pair<std::string, hfx::Tensor>> sd;
    for (auto [k, v] : d["state_dict"].cast<py::dict>()) {
      const auto name = k.cast<std::string>();
      sd.emplace_back(name, from_numpy(v, "state_dict['" + name + "']"));
    }
    o.state_dict = std::move(sd);
  }
  return o;
}

py::dict loading_info(const hfx::LoadingInfo& info) {
  py::dict d;
  d["missing_keys"] = info.missing_keys;
  d["unexpected_keys"] = info.unexpected_keys;
  py::list mism;
  for (const auto& m : info.mismatched) mism.append(py::make_tuple(m.key, py::tuple(py::cast(m.checkpoint)), py::tuple(py::cast(m.model))));
  d["mismatched_keys"] = mism;
  d["error_msgs"] = info.error_msgs;
  d["files"] = info.files;
  d["zero_copy"] = info.zero_copy;
  d["converted"] = info.converted;
  return d;
}

using AutoFn = std::unique_ptr<hfx::Model> (*)(const std::string&, const hfx::LoadOptions&, hfx::LoadingInfo*);
const std::map<std::string, AutoFn>& auto_classes() {
  static const std::map<std::string, AutoFn> m = {
      {"AutoModel", &hfx::AutoModel::from_pretrained},
      {"AutoModelForMaskedLM", &hfx::AutoModelForMaskedLM::from_pretrained},
      {"AutoModelForSequenceClassification", &hfx::AutoModelForSequenceClassification::from_pretrained},
      {"AutoModelForTokenClassification", &hfx::AutoModelForTokenClassification::from_pretrained},
      {"AutoModelForQuestionAnswering", &hfx::AutoModelForQuestionAnswering::from_pretrained},
      {"AutoModelForPreTraining", &hfx::AutoModelForPreTraining::from_pretrained},
      {"AutoModelForCausalLM", &hfx::AutoModelForCausalLM::from_pretrained},
      {"AutoModelForMultipleChoice", &hfx::AutoModelForMultipleChoice::from_pretrained},
      {"AutoModelForSeq2SeqLM", &hfx::AutoModelForSeq2SeqLM::from_pretrained},
  };
  return m;
}

// auto_name: an Auto class ("AutoModelForMaskedLM"); or "" and class_name
// ("" too: the config's architectures[0], as load_pretrained does).
py::tuple load(const std::string& path, const std::string& auto_name, const std::string& class_name, const py::dict& options) {
  hfx::LoadOptions o = load_options(options);
  hfx::LoadedModel lm;
  {
    py::gil_scoped_release nogil;
    if (!auto_name.empty()) {
      auto it = auto_classes().find(auto_name);
      if (it == auto_classes().end()) throw hfx::Error(hfx::ErrorKind::InvalidArgument, "unknown Auto class '" + auto_name + "'");
      lm.model = it->second(path, o, &lm.info);
    } else {
      lm = hfx::load_pretrained(path, class_name, o);
    }
  }
  ModelHandle h{std::shared_ptr<hfx::Model>(std::move(lm.model))};
  return py::make_tuple(std::move(h), loading_info(lm.info));
}

// ---- forward --------------------------------------------------------------------
hfx::ModelInputs model_inputs(const py::dict& arrays, const py::object& mems, bool hidden, bool attentions) {
  static const std::map<std::string, hfx::Tensor hfx::ModelInputs::*> fields = {
      {"input_ids", &hfx::ModelInputs::input_ids},
      {"attention_mask", &hfx::ModelInputs::attention_mask},
      {"token_type_ids", &hfx::ModelInputs::token_type_ids},
      {"position_ids", &hfx::ModelInputs::position_ids},
      {"head_mask", &hfx::ModelInputs::head_mask},
      {"decoder_input_ids", &hfx::ModelInputs::decoder_input_ids},
      {"decoder_attention_mask", &hfx::ModelInputs::decoder_attention_mask},
      {"mc_token_ids", &hfx::ModelInputs::mc_token_ids},
      {"langs", &hfx::ModelInputs::langs},
      {"perm_mask", &hfx::ModelInputs::perm_mask},
      {"target_mapping", &hfx::ModelInputs::target_mapping},
      // training targets: Model::call adds "loss" (include/hfx/model.h)
      {"labels", &hfx::ModelInputs::labels},
      {"start_positions", &hfx::ModelInputs::start_positions},
      {"end_positions", &hfx::ModelInputs::end_positions},
      {"next_sentence_label", &hfx::ModelInputs::next_sentence_label},
      {"sentence_order_label", &hfx::ModelInputs::sentence_order_label},
      {"mc_labels", &hfx::ModelInputs::mc_labels},
  };
  hfx::ModelInputs in;
  for (auto [k, v] : arrays) {
    const auto name = k.cast<std::string>();
    if (v.is_none()) continue;
    auto it = fields.find(name);
    if (it == fields.end()) throw hfx::Error(hfx::ErrorKind::InvalidArgument, "forward() got an unexpected input '" + name + "'");
    in.*(it->second) = from_numpy(v, name);
  }
  if (!mems.is_none())
    for (auto m : mems) in.mems.push_back(from_numpy(m, "mems"));
  in.output_hidden_states = hidden;
  in.output_attentions = attentions;
  return in;
}

py::list outputs_list(const hfx::Outputs& out) {
  py::list l;
  for (const auto& [name, t] : out.items()) l.append(py::make_tuple(name, to_numpy(t)));
  return l;
}

py::list forward(const ModelHandle& h, const py::dict& arrays, const py::object& mems, bool hidden, bool attentions) {
  const hfx::ModelInputs in = model_inputs(arrays, mems, hidden, attentions);
  hfx::Outputs out;
  {
    py::gil_scoped_release nogil;
    out = h.model->call(in);  // forward, plus the loss when targets are given
  }
  return outputs_list(out);
}

// The C++ side of bench/python_overhead.py: `n` forwards of the same inputs
// in a C++ loop (no Python between them); returns the seconds of each.
std::vector<double> bench_forward(const ModelHandle& h, const py::dict& arrays, int n) {
  const hfx::ModelInputs in = model_inputs(arrays, py::none(), false, false);
  std::vector<double> secs;
  py::gil_scoped_release nogil;
  for (int i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    hfx::Outputs out = h.model->forward(in);
    secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return secs;
}

// ---- generate ---------------------------------------------------------------------
hfx::GenerationConfig generation_config(const hfx::Model& model, const py::dict& kw) {
  hfx::GenerationConfig g = hfx::GenerationConfig::from_model(model);
  for (auto [k, v] : kw) {
    const auto key = k.cast<std::string>();
    if (key == "max_new_tokens") g.max_new_tokens = v.cast<int64_t>();
    else if (key == "min_new_tokens") g.min_new_tokens = v.cast<int64_t>();
    else if (key == "do_sample") g.do_sample = v.cast<bool>();
    else if (key == "num_beams") g.num_beams = v.cast<int64_t>();
    else if (key == "temperature") g.temperature = v.cast<float>();
    else if (key == "top_k") g.top_k = v.cast<int64_t>();
    else if (key == "top_p") g.top_p = v.cast<float>();
    else if (key == "repetition_penalty") g.repetition_penalty = v.cast<float>();
    else if (key == "length_penalty") g.length_penalty = v.cast<float>();
    else if (key == "early_stopping") g.early_stopping = v.cast<bool>();
    else if (key == "num_return_sequences") g.num_return_sequences = v.cast<int64_t>();
    else if (key == "eos_token_id") g.eos_token_id = v.is_none() ? std::nullopt : std::optional<int64_t>(v.cast<int64_t>());
    else if (key == "pad_token_id") g.pad_token_id = v.is_none() ? std::nullopt : std::optional<int64_t>(v.cast<int64_t>());
    else if (key == "forced_bos_token_id") g.forced_bos_token_id = v.is_none() ? std::nullopt : std::optional<int64_t>(v.cast<int64_t>());
    else if (key == "forced_eos_token_id") g.forced_eos_token_id = v.is_none() ? std::nullopt : std::optional<int64_t>(v.cast<int64_t>());
    else if (key == "decoder_start_token_id") g.decoder_start_token_id = v.is_none() ? std::nullopt : std::optional<int64_t>(v.cast<int64_t>());
    else if (key == "seed") g.seed = v.cast<uint64_t>();
    else if (key == "use_cache") g.use_cache = v.cast<bool>();
    else throw hfx::Error(hfx::ErrorKind::InvalidArgument, "generate() got an unknown argument '" + key + "'");
  }
  return g;
}

py::dict generation_defaults(const ModelHandle& h) {
  const hfx::GenerationConfig g = hfx::GenerationConfig::from_model(*h.model);
  py::dict d;
  d["max_new_tokens"] = g.max_new_tokens;
  d["min_new_tokens"] = g.min_new_tokens;
  d["do_sample"] = g.do_sample;
  d["num_beams"] = g.num_beams;
  d["temperature"] = g.temperature;
  d["top_k"] = g.top_k;
  d["top_p"] = g.top_p;
  d["repetition_penalty"] = g.repetition_penalty;
  d["length_penalty"] = g.length_penalty;
  d["early_stopping"] = g.early_stopping;
  d["num_return_sequences"] = g.num_return_sequences;
  d["eos_token_id"] = g.eos_token_id;
  d["pad_token_id"] = g.pad_token_id;
  d["forced_bos_token_id"] = g.forced_bos_token_id;
  d["forced_eos_token_id"] = g.forced_eos_token_id;
  d["decoder_start_token_id"] = g.decoder_start_token_id;
  d["use_cache"] = g.use_cache;
  return d;
}

py::object generate(const ModelHandle& h, const py::handle& ids, const py::handle& mask, const py::dict& kw) {
  const hfx::GenerationConfig g = generation_config(*h.model, kw);
  const hfx::Tensor in = from_numpy(ids, "input_ids");
  const hfx::Tensor am = mask.is_none() ? hfx::Tensor() : from_numpy(mask, "attention_mask");
  hfx::Tensor out;
  {
    py::gil_scoped_release nogil;
    out = hfx::generate(*h.model, in, am, g);
  }
  return to_numpy(out);
}

// ---- saving, comparing, converting ------------------------------------------------
void save_pretrained(const ModelHandle& h, const std::string& dir, const std::string& framework, bool safe,
                     const std::string& max_shard_size) {
  hfx::SaveOptions o;
  o.framework = framework;
  o.safe_serialization = safe;
  o.max_shard_size = max_shard_size;
  py::gil_scoped_release nogil;
  hfx::save_pretrained(*h.model, dir, o);
}

py::dict diff_dict(const hfx::TensorDiff& d) {
  py::dict r;
  r["name"] = d.name;
  r["layer"] = d.layer;
  r["max_abs"] = d.max_abs;
  r["mean_abs"] = d.mean_abs;
  r["shape_a"] = py::tuple(py::cast(d.shape_a));
  r["shape_b"] = py::tuple(py::cast(d.shape_b));
  return r;
}

// compare_runs on probe_inputs(a) and compare_weights: what `hfx export` checks (hfx/compare.h).
py::dict compare(const ModelHandle& a, const ModelHandle& b) {
  std::vector<hfx::TensorDiff> runs;
  hfx::WeightsDiff wd;
  {
    py::gil_scoped_release nogil;
    runs = hfx::compare_runs(*a.model, *b.model, hfx::probe_inputs(*a.model));
    wd = hfx::compare_weights(*a.model, *b.model);
  }
  py::list rl, wl;
  for (const auto& d : runs) rl.append(diff_dict(d));
  for (const auto& d : wd.tensors) wl.append(diff_dict(d));
  py::dict r;
  r["runs"] = rl;
  r["weights"] = wl;
  r["weights_only_a"] = wd.only_a;
  r["weights_only_b"] = wd.only_b;
  return r;
}

py::dict convert(const py::dict& d) {
  hfx::ConvertOptions o;
  o.model_type = d["model_type"].cast<std::string>();
  o.tf_checkpoint = d["tf_checkpoint"].cast<std::string>();
  o.config = d["config"].cast<std::string>();
  o.output = d["output"].cast<std::string>();
  o.finetuning_task = d["finetuning_task"].cast<std::string>();
  o.safetensors = d["safetensors"].cast<bool>();
  hfx::ConvertResult res;
  {
    py::gil_scoped_release nogil;
    res = hfx::convert_original_checkpoint(o);
  }
  py::dict r;
  r["files"] = res.files;
  r["skipped"] = res.skipped;
  r["tensors"] = res.tensors;
  r["class_name"] = res.class_name;
  return r;
}

void convert_directory(const std::string& src, const std::string& dst, const std::string& class_name, const py::dict& options) {
  const hfx::LoadOptions o = load_options(options);
  py::gil_scoped_release nogil;
  hfx::convert_model_directory(src, dst, class_name, o);
}

py::tuple auto_config(const std::string& path, const std::string& overrides, const py::dict& options) {
  hfx::Config c;
  {
    const hfx::json ov = parse_json(overrides, "config overrides");
    const hfx::HubOptions hub = hub_options(options);
    py::gil_scoped_release nogil;
    std::string p = path;
    // A repo id that is no local path: config.json from the hub cache (downloaded if needed).
    if (hfx::is_repo_id(path) && !std::filesystem::exists(path)) p = hfx::hf_hub_download(path, "config.json", hub);
    c = hfx::AutoConfig::from_pretrained(p, ov);
  }
  return py::make_tuple(c.fields().dump(), c.merged().dump(), c.source());
}

py::dict state_dict(const ModelHandle& h) {
  py::dict d;
  const auto& t = h.model->params();
  for (std::size_t i = 0; i < t.size(); ++i)
    if (t.bound(i)) d[py::str(t.specs()[i].name)] = to_numpy(t.value(i));
  return d;
}

// ---- errors ------------------------------------------------------------------------
// hfx::Error -> the hfx.errors class for its kind (python/hfx/errors.py), with
// .kind, .file and .tensor set.
void translate(const hfx::Error& e) {
  py::module_ errors = py::module_::import("hfx.errors");
  py::object cls = errors.attr("class_for_kind")(std::string(hfx::to_string(e.kind())));
  py::object exc = cls(e.what());
  exc.attr("kind") = std::string(hfx::to_string(e.kind()));
  exc.attr("file") = e.file();
  exc.attr("tensor") = e.tensor();
  PyErr_SetObject(cls.ptr(), exc.ptr());
}

}  // namespace
}  // namespace hfxpy

PYBIND11_MODULE(_hfx, m) {
  using namespace hfxpy;
  m.doc() = "hfx's C++ library (use the hfx package, not this module)";
  m.attr("__version__") = hfx::kVersion;
  m.attr("transformers_reference") = hfx::kTransformersReference;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const hfx::Error& e) {
      translate(e);
    }
  });

  py::class_<ModelHandle>(m, "_Model")
      .def_property_readonly("class_name", [](const ModelHandle& h) { return h.model->class_name(); })
      .def_property_readonly("base_model_prefix", [](const ModelHandle& h) { return h.model->base_model_prefix(); })
      .def("config_json", [](const ModelHandle& h) { return h.model->config().fields().dump(); })
      .def("config_merged_json", [](const ModelHandle& h) { return h.model->config().merged().dump(); })
      .def("forward", &forward, py::arg("inputs"), py::arg("mems"), py::arg("output_hidden_states"), py::arg("output_attentions"))
      .def("bench_forward", &bench_forward, py::arg("inputs"), py::arg("n"))
      .def("generate", &generate, py::arg("input_ids"), py::arg("attention_mask"), py::arg("kwargs"))
      .def("generation_defaults", &generation_defaults)
      .def("save_pretrained", &save_pretrained, py::arg("dir"), py::arg("framework"), py::arg("safe_serialization"),
           py::arg("max_shard_size"))
      .def("state_dict", &state_dict)
      .def("num_parameters", [](const ModelHandle& h, bool only_trainable, bool exclude_embeddings) {
        return hfx::num_parameters(*h.model, only_trainable, exclude_embeddings);
      }, py::arg("only_trainable") = false, py::arg("exclude_embeddings") = false)
      .def("dtype", [](const ModelHandle& h) { return std::string(hfx::to_string(hfx::model_dtype(*h.model))); })
      .def("set_training", [](const ModelHandle& h, bool on, uint64_t seed) { h.model->set_training(on, seed); })
      .def_property_readonly("training", [](const ModelHandle& h) { return h.model->training(); });

  m.def("load", &load, py::arg("path"), py::arg("auto_name"), py::arg("class_name"), py::arg("options"));
  m.def("auto_classes", [] {
    std::vector<std::string> names;
    for (const auto& [k, v] : auto_classes()) names.push_back(k);
    return names;
  });
  m.def("auto_config", &auto_config, py::arg("path"), py::arg("overrides"), py::arg("options"));
  m.def("compare", &compare, py::arg("a"), py::arg("b"));
  m.def("convert", &convert, py::arg("options"));
  m.def("convert_directory", &convert_directory, py::arg("src"), py::arg("dst"), py::arg("class_name"), py::arg("options"));
  m.def("set_verbosity", [](const std::string& level) {
    const auto l = hfx::parse_log_level(level);
    if (!l) throw hfx::Error(hfx::ErrorKind::InvalidArgument, "unknown log level '" + level + "'");
    hfx::set_verbosity(*l);
  }, py::arg("level"));
  m.def("set_num_threads", [](int n) {
    if (n <= 0) throw hfx::Error(hfx::ErrorKind::InvalidArgument, "set_num_threads: n must be > 0, not " + std::to_string(n));
    hfx::set_num_threads(n);
  }, py::arg("n"));
  m.def("get_num_threads", &hfx::num_threads);
  m.def("verbosity", [] { return std::string(hfx::to_string(hfx::verbosity())); });
  m.def("supported_model_types", &hfx::supported_model_types);
  m.def("is_repo_id", &hfx::is_repo_id);
  m.def("is_tensor_capsule", [](const py::handle& h) { return is_tensor_capsule(h); });
  m.def("from_numpy_roundtrip", [](const py::handle& a) { return to_numpy(from_numpy(a, "array")); },
        "An array's memory through hfx::Tensor and back (tests: input arrays are not copied).");
  bind_tokenizer(m);
  bind_sentence(m);
}
