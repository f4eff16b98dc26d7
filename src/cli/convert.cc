// hfx convert | export | diff — the conversion workflows, thin over the library.
//   hfx convert --model_type T --tf_checkpoint P --config C --pytorch_dump_output O
//               [--finetuning_task_name N] [--safetensors]          (transformers-cli convert)
//   hfx export PATH --to {tf,flax,pt,safetensors} [--max-error 5e-5] [--out DIR] [--max-shard-size S]
//   hfx diff A B [--inputs FILE.safetensors] [--tol 1e-5] [--weights] [--class C]
#include "cli/convert.h"

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
#include "hfx/io.h"
#include "hfx/model.h"
#include "hfx/save.h"

namespace hfx::cli {

namespace {

namespace fs = std::filesystem;

bool has_any(const fs::path& dir, std::initializer_list<const char*> names) {
  std::error_code ec;
  for (const char* n : names)
    if (fs::is_regular_file(dir / n, ec)) return true;
  return false;
}

// What a directory holds decides from_tf / from_flax (PyTorch weights win, as in from_pretrained).
LoadOptions options_for(const std::string& path) {
  LoadOptions o;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    const std::string f = fs::path(path).filename().string();
    o.from_tf = f.find("tf_model") == 0 || f.find(".ckpt") != std::string::npos;
    o.from_flax = f.find("flax_model") == 0;
    return o;
  }
  const fs::path d(path);
  if (has_any(d, {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"})) return o;
  o.from_tf = has_any(d, {"tf_model.h5", "tf_model.h5.index.json", "model.ckpt.index"});
  o.from_flax = !o.from_tf && has_any(d, {"flax_model.msgpack", "flax_model.msgpack.index.json"});
  return o;
}

LoadedModel load_any(const std::string& path, const std::string& cls, LoadOptions o) {
  const LoadOptions f = options_for(path);
  o.from_tf = f.from_tf;
  o.from_flax = f.from_flax;
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
struct ExportArgs {
  std::string path, to, out, cls, max_shard_size, perturb;
  double max_error = 5e-5, perturb_delta = 1e-2;
};

int run_export(const ExportArgs& a) {
  if (a.to != "tf" && a.to != "flax" && a.to != "pt" && a.to != "safetensors")
    throw_error(ErrorKind::InvalidArgument, "--to must be tf, flax, pt or safetensors, not '" + a.to + "'");
  LoadedModel src = load_any(a.path, a.cls, {});
  std::error_code ec;
  const std::string out = !a.out.empty() ? a.out : fs::is_directory(a.path, ec) ? a.path : fs::path(a.path).parent_path().string();
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
  std::string tmpl = (fs::temp_directory_path() / "hfx-export-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw_error(ErrorKind::Io, "cannot create a staging folder", tmpl);
  struct Cleanup {
    std::string d;
    ~Cleanup() {
      std::error_code e;
      fs::remove_all(d, e);
    }
  } cleanup{tmpl};
  save_pretrained(*src.model, tmpl, so);
  LoadOptions lo;
  lo.from_tf = a.to == "tf";
  lo.from_flax = a.to == "flax";
  lo.strict = true;
  LoadedModel res = load_pretrained(tmpl, src.model->class_name(), lo);

  const std::vector<TensorDiff> runs = compare_runs(*src.model, *res.model, probe_inputs(*src.model));
  const WeightsDiff wd = compare_weights(*src.model, *res.model);
  print_run_table(runs, a.max_error);
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
  save_pretrained(*src.model, out, so);
  fmt::print("exported {} to {} ({}); max error {} within {:.1e}\n", src.model->class_name(), out, a.to, fmt_err(max_err), a.max_error);
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
  LoadedModel ma = load_any(a.a, a.cls, {});
  LoadedModel mb = load_any(a.b, a.cls.empty() ? ma.model->class_name() : a.cls, {});
  if (ma.model->config().model_type() != mb.model->config().model_type())
    throw_error(ErrorKind::Mismatch, "A is " + ma.model->config().model_type() + ", B is " + mb.model->config().model_type() +
                ": diff runs two checkpoints of one architecture");
  const ModelInputs in = a.inputs.empty() ? probe_inputs(*ma.model) : read_inputs(a.inputs, *ma.model);
  std::vector<TensorDiff> runs = compare_runs(*ma.model, *mb.model, in);
  // Top-down: hidden states in layer order, then the outputs.
  std::stable_partition(runs.begin(), runs.end(), [](const TensorDiff& d) { return d.layer >= 0; });
  print_run_table(runs, a.tol);
  const TensorDiff* first = first_broken_layer(runs, a.tol);
  const TensorDiff* w = worst(runs);
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

void add_conversion_commands(CLI::App& app, std::function<int()>& action) {
  auto conv = std::make_shared<ConvertOptions>();
  auto* c = app.add_subcommand("convert", "Convert an original TF1 / OpenAI / XLM release checkpoint (transformers-cli convert)");
  c->add_option("--model_type", conv->model_type, "bert, albert, gpt, gpt2, xlnet, xlm, t5, transfo_xl")->required();
  c->add_option("--tf_checkpoint", conv->tf_checkpoint, "TF1 checkpoint prefix (model.ckpt) or the gpt numpy folder")->required();
  c->add_option("--config", conv->config, "the release's config JSON");
  c->add_option("--pytorch_dump_output", conv->output, "output file (bert, albert) or folder")->required();
  c->add_option("--finetuning_task_name", conv->finetuning_task, "xlnet: GLUE task of a fine-tuned classifier");
  c->add_flag("--safetensors", conv->safetensors, "write safetensors instead of torch.save");
  c->callback([&action, conv] {
    action = [conv] {
      ConvertResult r = convert_original_checkpoint(*conv);
      for (const auto& f : r.files) fmt::print("wrote {}\n", f);
      fmt::print("{}: {} tensors; skipped {} optimizer/step variables\n", r.class_name, r.tensors, r.skipped.size());
      return 0;
    };
  });

  auto ex = std::make_shared<ExportArgs>();
  auto* e = app.add_subcommand("export", "Convert a model to another framework's weights, then check both give the same outputs");
  e->add_option("path", ex->path, "model directory or weight file")->required();
  e->add_option("--to", ex->to, "tf, flax, pt or safetensors")->required();
  e->add_option("--max-error", ex->max_error, "largest allowed max abs difference of any output or hidden state (default 5e-5)");
  e->add_option("--out", ex->out, "output directory (default: the model's own directory)");
  e->add_option("--max-shard-size", ex->max_shard_size, "shard the weights (e.g. 5GB, 10KB)");
  e->add_option("--class", ex->cls, "model class (default: config.json architectures[0])");
  // Test hooks: add --perturb-delta (unevenly) to this tensor of the result ("*": to every tensor).
  e->add_option("--perturb", ex->perturb, "")->group("");
  e->add_option("--perturb-delta", ex->perturb_delta, "")->group("");
  e->callback([&action, ex] { action = [ex] { return run_export(*ex); }; });

  auto df = std::make_shared<DiffArgs>();
  auto* d = app.add_subcommand("diff", "Run two checkpoints of one architecture and find the first layer where they part");
  d->add_option("a", df->a, "first model (directory or weight file, any framework)")->required();
  d->add_option("b", df->b, "second model")->required();
  d->add_option("--inputs", df->inputs, "safetensors file with input_ids [attention_mask, token_type_ids, decoder_input_ids]");
  d->add_option("--tol", df->tol, "tolerance on max abs difference (default 1e-5)");
  d->add_flag("--weights", df->weights, "compare tensors only: names only in A or B, shape mismatches, max abs diff");
  d->add_option("--class", df->cls, "model class (default: config.json architectures[0])");
  d->callback([&action, df] { action = [df] { return run_diff(*df); }; });
}

}  // namespace hfx::cli
