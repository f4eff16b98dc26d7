// hfx convert | export | diff | pt-to-tf — the conversion workflows, thin over the library.
//   hfx convert --model-type T --tf-checkpoint P --config C --pytorch-dump-output O (snake_case aliases)
//               [--finetuning_task_name N] [--safetensors]          (transformers-cli convert)
//   hfx export PATH --to {tf,flax,pt,safetensors} [--max-error 5e-5] [--out DIR] [--max-shard-size S]
//   hfx diff A B [--inputs FILE.safetensors] [--tol 1e-5] [--weights] [--class C]
//   hfx pt-to-tf --model-name ORG/NAME [--local-dir D] [--max-error E] [--new-weights] [--no-pr] [--extra-commit-description S]
#include "cli/command.h"
#include "cli/hub.h"

#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <iostream>

#include "hfx/auto.h"
#include "hfx/compare.h"
#include "hfx/convert.h"
#include "hfx/formats.h"
#include "hfx/gguf.h"
#include "hfx/io.h"
#include "hfx/hub.h"
#include "hfx/hub_files.h"
#include "hfx/model.h"
#include "hfx/pretrained.h"
#include "hfx/save.h"

#include <nlohmann/json.hpp>

namespace hfx::cli {

namespace {

namespace fs = std::filesystem;

LoadedModel load_any(const std::string& path, const std::string& cls) {
  LoadOptions o = load_options_for(path);
  o.strict = true;
  return load_pretrained(path, cls, o);
}

// The weight file from_pretrained would read from `path`, any framework.
std::string weights_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return path;
  for (const char* n : {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json",
                        "tf_model.h5", "tf_model.h5.index.json", "flax_model.msgpack", "flax_model.msgpack.index.json",
                        "model.ckpt.index"})
    if (fs::is_regular_file(fs::path(path) / n, ec)) return (fs::path(path) / n).string();
  throw_error(ErrorKind::NotFound, "no weights file (safetensors, .bin, tf_model.h5, flax_model.msgpack, model.ckpt.index) in the directory", path);
}

std::string fmt_err(double v) { return std::isinf(v) ? std::string("shape") : fmt::format("{:.3e}", v); }

// "hidden_states.3" -> "layer 2 (hidden_states.3)"; hidden_states.0 is the embeddings.
std::string describe_layer(const TensorDiff& d) {
  if (d.layer < 0) return d.name;
  if (d.layer == 0) return "embeddings (" + d.name + ")";
  return "layer " + std::to_string(d.layer - 1) + " (" + d.name + ")";
}

void print_run_table(const std::vector<TensorDiff>& diffs, double tol) {
  fmt::print("{:<36} {:>12} {:>12}\n", "tensor", "max abs", "mean abs");
  for (const auto& d : diffs)
    fmt::print("{:<36} {:>12} {:>12}{}\n", d.name, fmt_err(d.max_abs), fmt_err(d.mean_abs), d.max_abs <= tol ? "" : "  over");
}

ModelInputs read_inputs(const std::string& file, const Model& m) {
  auto src = open_checkpoint(file);
  ModelInputs in = probe_inputs(m);
  in.attention_mask = {};
  in.decoder_input_ids = {};
  bool any = false;
  for (const auto& e : src->entries()) {
    Tensor t = src->get(e.name).to(DType::I64);
    if (e.name == "input_ids") in.input_ids = t, any = true;
    else if (e.name == "attention_mask") in.attention_mask = t;
    else if (e.name == "token_type_ids") in.token_type_ids = t;
    else if (e.name == "decoder_input_ids") in.decoder_input_ids = t;
    else if (e.name == "decoder_attention_mask") in.decoder_attention_mask = t;
  }
  if (!any) throw_error(ErrorKind::InvalidArgument, "--inputs file has no 'input_ids' tensor", file);
  return in;
}

// ---- export ------------------------------------------------------------------

// A private temporary folder, removed with everything in it when the scope ends.
struct StagingDir {
  std::string path;
  explicit StagingDir(const std::string& prefix) : path((fs::temp_directory_path() / (prefix + "-XXXXXX")).string()) {
    if (!mkdtemp(path.data())) throw_error(ErrorKind::Io, "cannot create a staging folder", path);
  }
  ~StagingDir() {
    std::error_code e;
    fs::remove_all(path, e);
  }
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
};

// Where export writes without --out: beside the weights of a local folder or file, as before; for a hub repo id
// (whose snapshot folder in the cache must never be written to) ./<name>-<to> in the working directory, named
// after the repo's last component so "org/name" never becomes ./org and a single-name id works.
std::string export_out_dir(const std::string& given_path, const std::string& out, const std::string& to) {
  if (!out.empty()) return out;
  std::error_code ec;
  if (fs::is_directory(given_path, ec)) return given_path;
  if (fs::exists(given_path, ec)) return fs::path(given_path).parent_path().empty() ? "." : fs::path(given_path).parent_path().string();
  const std::string name = given_path.substr(given_path.rfind('/') == std::string::npos ? 0 : given_path.rfind('/') + 1);
  return (fs::current_path() / (name + "-" + to)).string();
}
struct ExportArgs {
  std::string path, to, out, cls, max_shard_size, perturb, outtype = "f32";
  double max_error = 5e-5, perturb_delta = 1e-2;
  bool streaming = false, max_error_set = false;
};

// export --to gguf: save_gguf into a staging folder, load that file back (config from its metadata),
// compare outputs; publish <out>/model-<outtype>.gguf (or --out FILE.gguf). F32 must be within
// --max-error; F16 / BF16 / Q8_0 are refused only when --max-error is given (their error is reported).
int run_gguf_export(const ExportArgs& a) {
  const std::string path = resolve_path_arg(a.path);
  LoadedModel src = load_any(path, a.cls);
  std::string out = a.out;
  if (out.empty() || out.size() < 5 || out.substr(out.size() - 5) != ".gguf")
    out = (fs::path(export_out_dir(a.path, a.out, a.to)) / ("model-" + a.outtype + ".gguf")).string();
  GgufSaveOptions go;
  go.outtype = a.outtype;
  std::error_code ec;
  go.tokenizer_dir = fs::is_directory(path, ec) ? path : fs::path(path).parent_path().string();
  const StagingDir staging("hfx-export");
  const std::string staged = (fs::path(staging.path) / "model.gguf").string();
  save_gguf(*src.model, staged, go);
  LoadOptions lo;
  lo.strict = true;
  LoadedModel res = load_pretrained(staged, src.model->class_name(), lo);
  const std::vector<TensorDiff> runs = compare_runs(*src.model, *res.model, probe_inputs(*src.model));
  if (!globals().json) print_run_table(runs, a.max_error);
  const TensorDiff* w = worst(runs);
  const double max_err = w ? w->max_abs : 0.0;
  if ((a.outtype == "f32" || a.max_error_set) && !(max_err <= a.max_error))
    throw_error(ErrorKind::Mismatch, fmt::format("export to gguf ({}) refused: max error {} > budget {:.1e}{}; nothing was written to {}", a.outtype,
                                                 fmt_err(max_err), a.max_error, w ? "; worst tensor: " + describe_layer(*w) : "", out));
  if (!fs::path(out).parent_path().empty()) fs::create_directories(fs::path(out).parent_path(), ec);
  save_gguf(*src.model, out, go);
  if (globals().json) {
    std::cout << nlohmann::json({{"class", src.model->class_name()}, {"out", out}, {"to", "gguf"}, {"outtype", a.outtype},
                                 {"max_error", static_cast<double>(max_err)}}).dump() << "\n";
    return 0;
  }
  fmt::print("exported {} to {} (gguf {}); max error {}\n", src.model->class_name(), out, a.outtype, fmt_err(max_err));
  return 0;
}

// export --streaming: convert_model_directory (config.json + model.safetensors, one tensor at a time).
int run_stream_export(const ExportArgs& a) {
  if (a.to != "safetensors") throw_error(ErrorKind::InvalidArgument, "--streaming writes safetensors only (--to safetensors), not '" + a.to + "'");
  if (!a.max_shard_size.empty() || !a.perturb.empty()) throw_error(ErrorKind::InvalidArgument, "--streaming takes no --max-shard-size");
  const std::string path = resolve_path_arg(a.path);
  const std::string out = export_out_dir(a.path, a.out, a.to);
  std::error_code ec;
  if (fs::equivalent(path, out, ec)) throw_error(ErrorKind::InvalidArgument, "--streaming reads the weights it would replace: give --out", out);
  convert_model_directory(path, out, a.cls, load_options_for(path));
  if (globals().json) {
    std::cout << nlohmann::json({{"out", out}, {"to", a.to}, {"streaming", true}}).dump() << "\n";
    return 0;
  }
  fmt::print("converted {} to {} (safetensors, streaming)\n", a.path, out);
  return 0;
}

int run_export(const ExportArgs& a) {
  if (a.to == "gguf") return run_gguf_export(a);
  if (a.to != "tf" && a.to != "flax" && a.to != "pt" && a.to != "safetensors")
    throw_error(ErrorKind::InvalidArgument, "--to must be tf, flax, pt or safetensors, not '" + a.to + "'");
  const std::string path = resolve_path_arg(a.path);
  LoadedModel src = load_any(path, a.cls);
  const std::string out = export_out_dir(a.path, a.out, a.to);
  SaveOptions so;
  so.framework = a.to == "safetensors" ? "pt" : a.to;
  so.safe_serialization = a.to != "pt";
  so.max_shard_size = a.max_shard_size;
  const bool drop_tied = so.framework != "pt" || so.safe_serialization;
  NamedTensors sd = state_dict_for_save(*src.model, drop_tied);
  if (!a.perturb.empty()) {  // test hook: corrupt one tensor of the result
    bool found = false;
    for (auto& [n, t] : sd) {
      if (n != a.perturb && a.perturb != "*") continue;
      Tensor c = t.to(DType::F32).clone();
      float* p = c.mutable_data<float>();
      // Uneven, so that a following LayerNorm cannot cancel it.
      for (int64_t i = 0; i < c.numel(); ++i) p[i] += static_cast<float>(a.perturb_delta * static_cast<double>(1 + i % 7) / 4.0);
      t = c.to(t.dtype());
      found = true;
    }
    if (!found) throw_error(ErrorKind::NotFound, "--perturb: the state dict has no tensor '" + a.perturb + "'");
  }
  so.state_dict = sd;

  // Convert into a private staging folder and verify there; publish only a verified result.
  const StagingDir staging("hfx-export");
  const std::string& tmpl = staging.path;
  save_pretrained(*src.model, tmpl, so);
  LoadOptions lo;
  lo.from_tf = a.to == "tf";
  lo.from_flax = a.to == "flax";
  lo.strict = true;
  LoadedModel res = load_pretrained(tmpl, src.model->class_name(), lo);

  const std::vector<TensorDiff> runs = compare_runs(*src.model, *res.model, probe_inputs(*src.model));
  const WeightsDiff wd = compare_weights(*src.model, *res.model);
  if (!globals().json) print_run_table(runs, a.max_error);
  const TensorDiff* w = worst(runs);
  const TensorDiff* ww = worst(wd.tensors);
  const TensorDiff* first = first_broken_layer(runs, a.max_error);
  const double max_err = w ? w->max_abs : 0.0;
  if (!(max_err <= a.max_error) || !wd.only_a.empty() || !wd.only_b.empty()) {
    std::string msg = fmt::format("export to {} refused: max error {} > budget {:.1e}", a.to, fmt_err(max_err), a.max_error);
    if (w) msg += "; worst tensor: " + describe_layer(*w);
    if (first) msg += "; first layer over budget: " + describe_layer(*first);
    if (ww && ww->max_abs > 0) msg += "; worst weight: " + ww->name + " (max abs " + fmt_err(ww->max_abs) + ")";
    if (!wd.only_a.empty()) msg += "; weight lost: " + wd.only_a.front();
    throw_error(ErrorKind::Mismatch, msg + "; nothing was written to " + out);
  }
  so.progress = !globals().no_progress;  // the verified save, written where the user asked
  save_pretrained(*src.model, out, so);
  if (globals().json) {
    std::cout << nlohmann::json({{"class", src.model->class_name()}, {"out", out}, {"to", a.to}, {"max_error", static_cast<double>(max_err)},
                                 {"budget", a.max_error}}).dump() << "\n";
    return 0;
  }
  fmt::print("exported {} to {} ({}); max error {} within {:.1e}\n", src.model->class_name(), out, a.to, fmt_err(max_err), a.max_error);
  return 0;
}

// ---- pt-to-tf ------------------------------------------------------------------
// transformers-cli pt-to-tf (commands/pt_to_tf.py, 4.4x; ../shared/reference/transformers.md §7): fetch the repo,
// convert its PyTorch weights to tf_model.h5 (unless present and not --new-weights), reload them and compare every
// output and hidden state with the PyTorch model (--max-error), then open a pull request with the TF files.
// hfx has no separate "crossload" (PyTorch weights in the TF class in memory): the one comparison is the
// conversion's, reported as such in the description.
struct PtToTfArgs {
  std::string model_name, local_dir, extra_description, cls;
  double max_error = 5e-5;
  bool new_weights = false, no_pr = false;
};

int run_pt_to_tf(const PtToTfArgs& a) {
  if (!is_repo_id(a.model_name) || a.model_name.find('/') == std::string::npos)
    throw_error(ErrorKind::InvalidArgument, "--model-name must be a hub repo id with its owner (ORG/NAME), not '" + a.model_name + "'");
  const std::string local = !a.local_dir.empty() ? a.local_dir
                                                 : (fs::temp_directory_path() / ("hfx-pt-to-tf-" + a.model_name.substr(a.model_name.find('/') + 1))).string();
  // The repo's files, copied out of the cache (the cache's snapshot must never be written to).
  const std::string snap = snapshot_download(a.model_name);
  std::error_code ec;
  fs::create_directories(local, ec);
  if (ec) throw_error(ErrorKind::Io, "cannot create the local folder (" + ec.message() + ")", local);
  for (auto it = fs::recursive_directory_iterator(snap); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path rel = it->path().lexically_relative(snap);  // fs::relative would follow the blob symlinks
    if (fs::is_directory(it->path())) {
      fs::create_directories(fs::path(local) / rel);
      continue;
    }
    fs::copy_file(fs::canonical(it->path()), fs::path(local) / rel, fs::copy_options::overwrite_existing);
  }
  std::string cls = a.cls;
  if (!cls.empty() && cls.rfind("TF", 0) == 0) cls = cls.substr(2);  // a TF class name means its PyTorch twin
  LoadOptions po;
  po.strict = true;
  LoadedModel pt = load_pretrained(local, cls, po);
  const bool have_tf = fs::exists(fs::path(local) / "tf_model.h5") || fs::exists(fs::path(local) / "tf_model.h5.index.json");
  if (!have_tf || a.new_weights) {
    SaveOptions so;
    so.framework = "tf";
    so.progress = !globals().no_progress;
    save_pretrained(*pt.model, local, so);
  }
  LoadOptions to;
  to.from_tf = true;
  to.strict = true;
  LoadedModel tf = load_pretrained(local, pt.model->class_name(), to);
  const std::vector<TensorDiff> runs = compare_runs(*pt.model, *tf.model, probe_inputs(*pt.model));
  double out_max = 0, hidden_max = 0;
  std::string over;
  bool any_output = false;
  for (const auto& d : runs) {
    const bool hidden = d.name.find("hidden") != std::string::npos;
    (hidden ? hidden_max : out_max) = std::max(hidden ? hidden_max : out_max, d.max_abs);
    any_output |= !hidden;
    if (!(d.max_abs <= a.max_error)) over += fmt::format("\n{}: {:.3e}", d.name, d.max_abs);
  }
  if (!any_output) throw_error(ErrorKind::Mismatch, "the model gave no output besides hidden states to compare");
  if (!over.empty())
    throw_error(ErrorKind::Mismatch, fmt::format("The converted TF model has differences above the desired tolerance ({:.1e}):{}", a.max_error, over));
  const std::string message = a.new_weights ? "Update TF weights" : "Add TF weights";
  std::string description = fmt::format(
      "Model converted by the transformers' pt_to_tf CLI. All converted model outputs and hidden layers were validated against its "
      "PyTorch counterpart.\n\nMaximum conversion output difference={:.3e}; Maximum conversion hidden layer difference={:.3e};\n",
      out_max, hidden_max);
  if (a.max_error > 5e-5) description += fmt::format("\n\nCAUTION: The maximum admissible error was manually increased to {}!", a.max_error);
  if (!a.extra_description.empty()) description += "\n\n" + a.extra_description;
  std::string pr_url;
  if (!a.no_pr) {
    // Only the TF files travel: tf_model.h5, or its index and shards.
    const StagingDir staging("hfx-pt-to-tf");
    const std::string& tmpl = staging.path;
    for (const auto& e : fs::directory_iterator(local)) {
      const std::string n = e.path().filename().string();
      if (n == "tf_model.h5" || n == "tf_model.h5.index.json" || (n.rfind("tf_model-", 0) == 0 && n.size() > 3 && n.substr(n.size() - 3) == ".h5"))
        fs::copy_file(e.path(), fs::path(tmpl) / n);
    }
    PushOptions p;
    p.commit_message = message;
    p.commit_description = description;
    p.create_pr = true;
    const CommitInfo ci = upload_folder(tmpl, a.model_name, p);
    pr_url = ci.pr_url;
  }
  if (globals().json) {
    std::cout << nlohmann::json({{"local_dir", local}, {"max_output_difference", out_max}, {"max_hidden_difference", hidden_max},
                                 {"pr_url", pr_url}, {"commit_message", message}}).dump() << "\n";
    return 0;
  }
  fmt::print("{}: maximum conversion output difference {:.3e}, hidden layer difference {:.3e} (budget {:.1e}); TF weights in {}\n",
             pt.model->class_name(), out_max, hidden_max, a.max_error, local);
  if (!pr_url.empty()) fmt::print("pull request: {}\n", pr_url);
  return 0;
}

// ---- diff --------------------------------------------------------------------
struct DiffArgs {
  std::string a, b, inputs, cls;
  double tol = 1e-5;
  bool weights = false;
};

std::unique_ptr<TensorSource> canonical_source(const std::string& path, const std::string& cls, std::unique_ptr<Model>& keep) {
  std::error_code ec;
  const fs::path dir = fs::is_directory(path, ec) ? fs::path(path) : fs::path(path).parent_path();
  Config cfg = AutoConfig::from_pretrained(dir.empty() ? "." : dir.string());
  std::string c = cls;
  if (c.empty()) {
    c = architecture(cfg.model_type()).classes.front().first;
    if (const json* ar = cfg.find("architectures"); ar && ar->is_array() && !ar->empty() && (*ar)[0].is_string())
      for (const auto& k : architecture(cfg.model_type()).classes)
        if (k.first == (*ar)[0].get<std::string>()) c = k.first;
  }
  keep = build_model(cfg, c);
  return canonical_source(open_checkpoint(weights_file(path)), *keep);
}

int run_diff(const DiffArgs& a) {
  if (a.weights) {
    std::unique_ptr<Model> ma, mb;
    auto sa = canonical_source(a.a, a.cls, ma);
    auto sb = canonical_source(a.b, a.cls, mb);
    const WeightsDiff wd = compare_weights(*sa, *sb);
    bool differ = !wd.only_a.empty() || !wd.only_b.empty();
    if (globals().json) {
      nlohmann::json t = nlohmann::json::array();
      for (const auto& d : wd.tensors) {
        differ |= d.shape_mismatch() || !(d.max_abs <= a.tol);
        t.push_back({{"name", d.name}, {"max_abs", d.shape_mismatch() ? nlohmann::json(nullptr) : nlohmann::json(d.max_abs)},
                     {"shape_a", d.shape_a}, {"shape_b", d.shape_b}});
      }
      std::cout << nlohmann::json({{"only_a", wd.only_a}, {"only_b", wd.only_b}, {"tensors", t}, {"differ", differ}, {"tol", a.tol}}).dump() << "\n";
      return differ ? 1 : 0;
    }
    for (const auto& n : wd.only_a) fmt::print("only in A: {}\n", n);
    for (const auto& n : wd.only_b) fmt::print("only in B: {}\n", n);
    for (const auto& d : wd.tensors) {
      if (d.shape_mismatch()) {
        fmt::print("shape mismatch: {} {} vs {}\n", d.name, shape_str(d.shape_a), shape_str(d.shape_b));
        differ = true;
        continue;
      }
      fmt::print("{:<60} max abs {}{}\n", d.name, fmt_err(d.max_abs), d.max_abs <= a.tol ? "" : "  over");
      differ |= !(d.max_abs <= a.tol);
    }
    fmt::print("{}\n", differ ? "weights differ" : "weights match within tolerance");
    return differ ? 1 : 0;
  }
  LoadedModel ma = load_any(a.a, a.cls);
  LoadedModel mb = load_any(a.b, a.cls.empty() ? ma.model->class_name() : a.cls);
  if (ma.model->config().model_type() != mb.model->config().model_type())
    throw_error(ErrorKind::Mismatch, "A is " + ma.model->config().model_type() + ", B is " + mb.model->config().model_type() +
                ": diff runs two checkpoints of one architecture");
  const ModelInputs in = a.inputs.empty() ? probe_inputs(*ma.model) : read_inputs(a.inputs, *ma.model);
  std::vector<TensorDiff> runs = compare_runs(*ma.model, *mb.model, in);
  // Top-down: hidden states in layer order, then the outputs.
  std::stable_partition(runs.begin(), runs.end(), [](const TensorDiff& d) { return d.layer >= 0; });
  const TensorDiff* first = first_broken_layer(runs, a.tol);
  const TensorDiff* w = worst(runs);
  if (globals().json) {
    nlohmann::json t = nlohmann::json::array();
    for (const auto& d : runs) t.push_back({{"name", d.name}, {"layer", d.layer}, {"max_abs", d.max_abs}, {"mean_abs", d.mean_abs}});
    const bool differ = first || (w && !(w->max_abs <= a.tol));
    std::cout << nlohmann::json({{"tensors", t}, {"first_broken", first ? nlohmann::json(first->name) : nlohmann::json(nullptr)},
                                 {"differ", differ}, {"tol", a.tol}}).dump() << "\n";
    return differ ? 1 : 0;
  }
  print_run_table(runs, a.tol);
  if (first) {
    fmt::print("first layer over tolerance {:.1e}: {} (max abs {}, mean abs {})\n", a.tol, describe_layer(*first),
               fmt_err(first->max_abs), fmt_err(first->mean_abs));
    return 1;
  }
  if (w && !(w->max_abs <= a.tol)) {
    fmt::print("hidden states agree; first output over tolerance: {} (max abs {})\n", w->name, fmt_err(w->max_abs));
    return 1;
  }
  fmt::print("all layers and outputs within tolerance {:.1e}\n", a.tol);
  return 0;
}

}  // namespace

void add_conversion_commands(CommandTable& table) {
  // convert keeps transformers-cli's snake_case flags as aliases of the kebab-case ones.
  auto conv = std::make_shared<ConvertOptions>();
  auto* c = table.add("convert", "Convert an original TF1 / OpenAI / XLM release checkpoint (transformers-cli convert)", [conv] {
    conv->progress = !globals().no_progress;
    ConvertResult r = convert_original_checkpoint(*conv);
    if (globals().json) {
      std::cout << nlohmann::json({{"class", r.class_name}, {"files", r.files}, {"tensors", r.tensors}, {"skipped", r.skipped}}).dump() << "\n";
      return 0;
    }
    for (const auto& f : r.files) fmt::print("wrote {}\n", f);
    fmt::print("{}: {} tensors; skipped {} optimizer/step variables\n", r.class_name, r.tensors, r.skipped.size());
    return 0;
  });
  c->add_option("--model-type,--model_type", conv->model_type, "bert, albert, gpt, gpt2, xlnet, xlm, t5, transfo_xl")->required();
  c->add_option("--tf-checkpoint,--tf_checkpoint", conv->tf_checkpoint, "TF1 checkpoint prefix (model.ckpt) or the gpt numpy folder")->required();
  c->add_option("--config", conv->config, "the release's config JSON");
  c->add_option("--pytorch-dump-output,--pytorch_dump_output", conv->output, "output file (bert, albert) or folder")->required();
  c->add_option("--finetuning-task-name,--finetuning_task_name", conv->finetuning_task, "xlnet: GLUE task of a fine-tuned classifier");
  c->add_flag("--safetensors", conv->safetensors, "write safetensors instead of torch.save");

  auto ex = std::make_shared<ExportArgs>();
  auto* e = table.add("export", "Convert a model to another framework's weights, then check both give the same outputs",
                      [ex] { return ex->streaming ? run_stream_export(*ex) : run_export(*ex); });
  e->add_option("path", ex->path, "model directory, weight file or repo id")->required();
  e->add_option("--to,--format", ex->to, "tf, flax, pt, safetensors or gguf")->required();
  e->add_option("--outtype", ex->outtype, "--to gguf: f32, f16, bf16 or q8_0 (default f32)");
  e->add_option_function<double>("--max-error", [ex](double v) { ex->max_error = v; ex->max_error_set = true; },
                                 "largest allowed max abs difference of any output or hidden state (default 5e-5)");
  e->add_option("--out", ex->out, "output directory (default: the model's own directory; for a repo id ./NAME-TO)");
  e->add_option("--max-shard-size", ex->max_shard_size, "shard the weights (e.g. 5GB, 10KB)");
  e->add_option("--class", ex->cls, "model class (default: config.json architectures[0])");
  e->add_flag("--streaming", ex->streaming, "--to safetensors only: convert_model_directory, one tensor at a time (peak memory "
                                            "about the largest tensor; no output check)");
  // Test hooks: add --perturb-delta (unevenly) to this tensor of the result ("*": to every tensor).
  e->add_option("--perturb", ex->perturb, "")->group("");
  e->add_option("--perturb-delta", ex->perturb_delta, "")->group("");

  auto pt = std::make_shared<PtToTfArgs>();
  auto* p = table.add("pt-to-tf", "Convert a hub model's PyTorch weights to TF, validate them and open a pull request (transformers-cli pt-to-tf)",
                      [pt] { return run_pt_to_tf(*pt); });
  p->add_option("--model-name", pt->model_name, "hub repo id with its owner (ORG/NAME)")->required();
  p->add_option("--local-dir", pt->local_dir, "folder for the repo's files and the TF weights (default: a temporary folder named after the model)");
  p->add_option("--max-error", pt->max_error, "largest allowed difference of any output or hidden state (default 5e-5)");
  p->add_flag("--new-weights", pt->new_weights, "convert again even if the repo has TF weights (commit message \"Update TF weights\")");
  p->add_flag("--no-pr", pt->no_pr, "validate only, open no pull request");
  p->add_option("--extra-commit-description", pt->extra_description, "appended to the pull request's description");
  p->add_option("--override-model-class", pt->cls, "model class (default: config.json architectures[0]); a TF class name means its PyTorch twin");

  auto df = std::make_shared<DiffArgs>();
  auto* d = table.add("diff", "Run two checkpoints of one architecture and find the first layer where they part", [df] { return run_diff(*df); });
  d->add_option("a", df->a, "first model (directory or weight file, any framework)")->required();
  d->add_option("b", df->b, "second model")->required();
  d->add_option("--inputs", df->inputs, "safetensors file with input_ids [attention_mask, token_type_ids, decoder_input_ids]");
  d->add_option("--tol", df->tol, "tolerance on max abs difference (default 1e-5)");
  d->add_flag("--weights", df->weights, "compare tensors only: names only in A or B, shape mismatches, max abs diff");
  d->add_option("--class", df->cls, "model class (default: config.json architectures[0])");
}

}  // namespace hfx::cli
