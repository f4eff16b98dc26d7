// hfx — command-line front end, thin over the library. The verbs live in one table (cli/command.h):
//   hfx info PATH [--flops --tokens N]   what the checkpoint is (a folder, any weight file, or a repo id)
//   hfx run PATH (--input-ids "1,2,3;4,5,0" | --text "...") [--attention-mask ...] [--class C] [--hidden-states]
//   hfx resize PATH --new-num-tokens N [--pad-to-multiple-of M] --out DIR
//   hfx prune PATH --heads "0:1,2;1:0" [--heads ...] --out DIR
//   tokenize | embed | generate: cli/text.cc; download | scan-cache | push: cli/hub.cc; convert | export | diff: cli/convert.cc;
//   serve: cli/serve.cc
//   Shared flags (before or after the verb): --json --dtype --quantize --from-tf --from-flax --threads -v/--verbose -q/--quiet
//   --no-progress --version. Every PATH may also be a hub repo id.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <sstream>

#include <cstdlib>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/hub.h"
#include "cli/text.h"
#include "hfx/auto.h"
#include "hfx/config.h"
#include "hfx/dtype.h"
#include "hfx/io.h"
#include "hfx/log.h"
#include "hfx/model.h"
#include "hfx/pretrained.h"
#include "hfx/threads.h"
#include "hfx/version.h"

namespace {

// "1,2,3;4,5,6" -> int64 [rows, cols]
hfx::Tensor parse_matrix(const std::string& s, const char* what) {
  std::vector<std::vector<int64_t>> rows;
  std::stringstream rs(s);
  std::string row;
  while (std::getline(rs, row, ';')) {
    std::vector<int64_t> r;
    std::stringstream cs(row);
    std::string cell;
    while (std::getline(cs, cell, ',')) {
      try {
        std::size_t used = 0;
        r.push_back(std::stoll(cell, &used));
        if (cell.find_first_not_of(" \t", used) != std::string::npos) throw std::invalid_argument(cell);
      } catch (const std::exception&) {
        hfx::throw_error(hfx::ErrorKind::InvalidArgument, std::string(what) + ": '" + cell + "' is not an integer");
      }
    }
    rows.push_back(std::move(r));
  }
  if (rows.empty() || rows[0].empty()) hfx::throw_error(hfx::ErrorKind::InvalidArgument, std::string(what) + " is empty");
  std::vector<int64_t> flat;
  for (const auto& r : rows) {
    if (r.size() != rows[0].size())
      hfx::throw_error(hfx::ErrorKind::InvalidArgument, std::string(what) + ": rows have different lengths");
    flat.insert(flat.end(), r.begin(), r.end());
  }
  return hfx::Tensor::from_vector(hfx::DType::I64, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())}, flat);
}

// Round-trip precision: 9 significant digits identify every float32 (17 for float64).
std::string tensor_json(const hfx::Tensor& t) {
  const bool f64 = t.dtype() == hfx::DType::F64;
  std::string s = "{\"shape\": " + hfx::shape_str(t.shape()) + ", \"dtype\": \"" + std::string(hfx::to_string(t.dtype())) + "\", \"data\": [";
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = t.item(i);
    s += (i ? ", " : "");
    s += std::isfinite(v) ? (f64 ? fmt::format("{:.17g}", v) : fmt::format("{:.9g}", v)) : std::string(v > 0 ? "1e999" : v < 0 ? "-1e999" : "null");
  }
  return s + "]}";
}

void print_flops(const hfx::Model& m, int64_t tokens) {
  hfx::ModelInputs in;
  in.input_ids = hfx::Tensor::zeros(hfx::DType::I64, {1, tokens});
  fmt::print("parameters (excluding embeddings): {}\n", hfx::num_parameters(m, false, true));
  fmt::print("floating_point_ops: {} (6 x {} tokens x parameters excluding embeddings)\n", hfx::floating_point_ops(m, in), tokens);
}

struct ModelArgs {
  std::string path, ids, mask, types, cls, out_dir;
  std::vector<std::string> texts, heads_specs;
  bool hidden = false, attentions = false, flops = false;
  int64_t tokens = 0, new_num_tokens = 0, pad_to = 0;
};

// A local folder with config.json and no weight file of any framework: `hfx info` describes the skeleton the
// config builds (transformers' from_config), no weights read.
bool config_only_folder(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(path, ec) || !fs::is_regular_file(fs::path(path) / "config.json", ec)) return false;
  for (const char* name : {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                           "pytorch_model.bin.index.json", "tf_model.h5", "tf_model.h5.index.json", "model.ckpt.index",
                           "flax_model.msgpack", "flax_model.msgpack.index.json"})
    if (fs::exists(fs::path(path) / name, ec)) return false;
  return true;
}

// The class config.json's architectures[0] names when hfx has it, else the base model (AutoModel's); the
// parameter count as transformers' num_parameters() (tied parameters once); bytes at config.json's torch_dtype.
int cmd_info_config_only(const std::string& path) {
  const hfx::Config cfg = hfx::AutoConfig::from_pretrained(path);
  const auto& arch = hfx::architecture(cfg.model_type());
  std::string cls = hfx::auto_class_for(cfg, "AutoModel");
  if (const auto* names = cfg.find("architectures"); names && names->is_array() && !names->empty() && (*names)[0].is_string())
    for (const auto& c : arch.classes)
      if (c.first == (*names)[0].get<std::string>()) cls = c.first;
  const std::unique_ptr<hfx::Model> model = hfx::build_model(cfg, cls);
  int64_t params = 0;
  for (const auto& spec : model->params().specs()) {
    if (!spec.tied_to.empty() || spec.role == hfx::ParamRole::Buffer) continue;  // as num_parameters()
    int64_t n = 1;
    for (const int64_t d : spec.shape)
      if (__builtin_mul_overflow(n, d, &n))
        hfx::throw_error(hfx::ErrorKind::Format, "the parameter count of '" + spec.name + "' does not fit in 64 bits",
                         cfg.source());
    if (__builtin_add_overflow(params, n, &params))
      hfx::throw_error(hfx::ErrorKind::Format, "the parameter count does not fit in 64 bits", cfg.source());
  }
  const std::string dtype_name = cfg.get<std::string>("torch_dtype", "float32");
  const auto dtype = hfx::parse_dtype(dtype_name);
  if (!dtype) hfx::throw_error(hfx::ErrorKind::Format, "config field 'torch_dtype' names no dtype hfx has: " + dtype_name, cfg.source());
  const std::string dname(hfx::to_string(*dtype));
  const double bytes = static_cast<double>(params) * static_cast<double>(hfx::dtype_size(*dtype));
  std::vector<std::string> classes;
  for (const auto& c : arch.classes) classes.push_back(c.first);
  if (hfx::cli::globals().json) {
    nlohmann::json j = {{"model_type", cfg.model_type()}, {"class", cls}, {"classes", classes}, {"parameters", params},
                        {"dtypes", {{dname, params}}}, {"bytes", {{dname, bytes}}}, {"weights", false},
                        {"files", nlohmann::json::array()}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::string heads;
  for (const auto& c : classes) heads += (heads.empty() ? "" : ", ") + c;
  fmt::print("model_type:   {}\n", cfg.model_type());
  fmt::print("class:        {} (config.json only: no weights)\n", cls);
  fmt::print("classes:      {}\n", heads);
  fmt::print("parameters:   {}\n", params);
  fmt::print("dtype:        {} ({} parameters, {:.0f} bytes)\n", dname, params, bytes);
  return 0;
}

// `hfx models`: the model types hfx builds and, for each, its classes (what AutoModel* and --class accept).
int cmd_models() {
  nlohmann::json all = nlohmann::json::object();
  for (const auto& type : hfx::supported_model_types()) {
    nlohmann::json classes = nlohmann::json::array();
    for (const auto& c : hfx::architecture(type).classes) classes.push_back(c.first);
    all[type] = std::move(classes);
  }
  if (hfx::cli::globals().json) {
    std::cout << all.dump() << "\n";
    return 0;
  }
  for (const auto& [type, classes] : all.items()) {
    std::string list;
    for (const auto& c : classes) list += (list.empty() ? "" : ", ") + c.get<std::string>();
    fmt::print("{}: {}\n", type, list);
  }
  return 0;
}

int cmd_info(const ModelArgs& a) {
  namespace fs = std::filesystem;
  if (config_only_folder(a.path)) {
    if (a.flops) hfx::throw_error(hfx::ErrorKind::InvalidArgument, "--flops needs weights (this folder has only config.json)");
    return cmd_info_config_only(a.path);
  }
  const std::string path = hfx::cli::resolve_path_arg(a.path);
  hfx::LoadedModel lm = hfx::load_pretrained(path, "", hfx::cli::load_options_for(path));
  const hfx::Config& cfg = lm.model->config();
  const auto& arch = hfx::architecture(cfg.model_type());
  int64_t params = 0;
  std::map<std::string, int64_t> dtypes;
  for (std::size_t i = 0; i < lm.model->params().size(); ++i) {
    const auto& spec = lm.model->params().specs()[i];
    if (!spec.tied_to.empty() || spec.role == hfx::ParamRole::Buffer) continue;  // as num_parameters()
    const auto& t = lm.model->params().value(i);
    params += t.numel();
    dtypes[std::string(hfx::to_string(t.dtype()))] += t.numel();
  }
  std::vector<std::string> classes;
  for (const auto& c : arch.classes) classes.push_back(c.first);
  if (a.flops && a.tokens <= 0) hfx::throw_error(hfx::ErrorKind::InvalidArgument, "--flops needs --tokens N (N > 0)");
  if (hfx::cli::globals().json) {
    nlohmann::json j = {{"model_type", cfg.model_type()}, {"class", lm.model->class_name()}, {"classes", classes},
                        {"parameters", params}, {"dtypes", dtypes}, {"files", nlohmann::json::array()},
                        {"zero_copy", lm.info.zero_copy}, {"converted", lm.info.converted},
                        {"missing_keys", lm.info.missing_keys}, {"unexpected_keys", lm.info.unexpected_keys}};
    for (const auto& f : lm.info.files) j["files"].push_back({{"path", f}, {"bytes", fs::file_size(f)}});
    if (a.flops) {
      hfx::ModelInputs in;
      in.input_ids = hfx::Tensor::zeros(hfx::DType::I64, {1, a.tokens});
      j["parameters_excluding_embeddings"] = hfx::num_parameters(*lm.model, false, true);
      j["floating_point_ops"] = hfx::floating_point_ops(*lm.model, in);
    }
    std::cout << j.dump() << "\n";
    return 0;
  }
  fmt::print("model_type:   {}\n", cfg.model_type());
  fmt::print("class:        {}\n", lm.model->class_name());
  std::string heads;
  for (const auto& c : classes) heads += (heads.empty() ? "" : ", ") + c;
  fmt::print("classes:      {}\n", heads);
  fmt::print("parameters:   {}\n", params);
  for (const auto& [d, n] : dtypes) fmt::print("dtype:        {} ({} parameters)\n", d, n);
  for (const auto& f : lm.info.files) fmt::print("file:         {} ({} bytes)\n", f, fs::file_size(f));
  fmt::print("loading:      {} zero-copy, {} converted, {} missing, {} unexpected\n", lm.info.zero_copy, lm.info.converted,
             lm.info.missing_keys.size(), lm.info.unexpected_keys.size());
  if (a.flops) print_flops(*lm.model, a.tokens);
  return 0;
}

int cmd_run(const ModelArgs& a) {
  hfx::RepoFiles want;
  want.tokenizer = !a.texts.empty();  // run --text reads the tokenizer too
  const std::string path = hfx::cli::resolve_path_arg(a.path, want);
  hfx::LoadedModel lm = hfx::load_pretrained(path, a.cls, hfx::cli::load_options_for(path));
  hfx::ModelInputs in;
  if (!a.texts.empty()) {
    if (!a.ids.empty()) hfx::throw_error(hfx::ErrorKind::InvalidArgument, "give --input-ids or --text, not both");
    hfx::cli::text_inputs(path, *lm.model, a.texts, in);
  } else {
    in.input_ids = parse_matrix(a.ids, "--input-ids");
  }
  if (!a.mask.empty()) in.attention_mask = parse_matrix(a.mask, "--attention-mask");
  if (!a.types.empty()) in.token_type_ids = parse_matrix(a.types, "--token-type-ids");
  in.output_hidden_states = a.hidden;
  in.output_attentions = a.attentions;
  hfx::Outputs out = lm.model->forward(in);
  if (hfx::cli::globals().json) {
    std::cout << "{\"class\": \"" << lm.model->class_name() << "\", \"outputs\": {";
    bool first = true;
    for (const auto& [name, t] : out.items()) {
      std::cout << (first ? "" : ", ") << "\"" << name << "\": " << tensor_json(t);
      first = false;
    }
    std::cout << "}}\n";
    return 0;
  }
  fmt::print("{} ({})\n", lm.model->class_name(), lm.model->config().model_type());
  for (const auto& [name, t] : out.items()) {
    std::string head;
    for (int64_t i = 0; i < std::min<int64_t>(t.numel(), 6); ++i) head += fmt::format("{}{:.5f}", i ? ", " : "", t.item(i));
    fmt::print("{:<28} {:<16} [{}{}]\n", name, hfx::shape_str(t.shape()), head, t.numel() > 6 ? ", ..." : "");
  }
  return 0;
}

int print_written(const hfx::Model& m, const std::string& what, const std::string& out_dir) {
  if (hfx::cli::globals().json) {
    std::cout << nlohmann::json({{"class", m.class_name()}, {"out", out_dir}, {"config", m.config().merged()}}).dump() << "\n";
    return 0;
  }
  fmt::print("{}: {} -> wrote {}\n", m.class_name(), what, out_dir);
  return 0;
}

int cmd_resize(const ModelArgs& a) {
  const std::string path = hfx::cli::resolve_path_arg(a.path);
  hfx::LoadedModel lm = hfx::load_pretrained(path, a.cls, hfx::cli::load_options_for(path));
  const int64_t n = hfx::resize_token_embeddings(lm.model, a.new_num_tokens, a.pad_to > 0 ? std::optional<int64_t>(a.pad_to) : std::nullopt);
  hfx::write_model_directory(*lm.model, a.out_dir);
  return print_written(*lm.model, fmt::format("vocab_size {}", n), a.out_dir);
}

int cmd_prune(const ModelArgs& a) {
  const std::string path = hfx::cli::resolve_path_arg(a.path);
  hfx::LoadedModel lm = hfx::load_pretrained(path, a.cls, hfx::cli::load_options_for(path));
  hfx::HeadsToPrune heads;
  for (const auto& spec : a.heads_specs)
    for (const auto& [layer, hs] : hfx::parse_heads_spec(spec)) heads[layer].insert(heads[layer].end(), hs.begin(), hs.end());
  hfx::prune_heads(*lm.model, heads);
  hfx::write_model_directory(*lm.model, a.out_dir);
  return print_written(*lm.model, "pruned_heads " + lm.model->config().find("pruned_heads")->dump(), a.out_dir);
}

const char* kExitCodes =
    "Exit codes: 0 success; 1 `diff` found a difference; 2 usage error (unknown verb or flag, bad value);\n"
    "10 not found, 11 bad format, 12 unsupported, 13 mismatch, 14 I/O error, 15 network error, 16 security refusal,\n"
    "17 invalid argument (hfx::ErrorKind, in that order); 3 any other failure.";

}  // namespace

namespace hfx::cli {

void add_model_commands(CommandTable& table) {
  auto ap = std::make_shared<ModelArgs>();
  ModelArgs& a = *ap;
  auto* info = table.add("info", "Describe a checkpoint: model_type, class, parameters, dtypes, files", [ap] { return cmd_info(*ap); });
  info->add_option("path", a.path, "model directory, weight file (any framework) or repo id")->required();
  info->add_flag("--flops", a.flops, "print floating_point_ops for --tokens N tokens");
  info->add_option("--tokens", a.tokens, "token count for --flops");

  table.add("models", "List the model types hfx builds and each one's classes", [] { return cmd_models(); });

  auto* run = table.add("run", "Run a model on token ids or text and print its outputs", [ap] { return cmd_run(*ap); });
  run->add_option("path", a.path, "model directory, weight file or repo id")->required();
  run->add_option("--input-ids", a.ids, "token ids: rows separated by ';', ids by ','");
  literal(run->add_option("--text", a.texts, "text to tokenize with the model's tokenizer, taken literally (repeat for more rows)")
                   ->allow_extra_args(false));
  run->add_option("--attention-mask", a.mask, "same layout as --input-ids");
  run->add_option("--token-type-ids", a.types, "same layout as --input-ids");
  run->add_option("--class", a.cls, "model class (default: config.json architectures[0])");
  run->add_flag("--hidden-states", a.hidden, "also output every hidden state");
  run->add_flag("--attentions", a.attentions, "also output every attention map");

  auto* resize = table.add("resize", "resize_token_embeddings and write the model to --out", [ap] { return cmd_resize(*ap); });
  resize->add_option("path", a.path, "model directory, weight file or repo id")->required();
  resize->add_option("--new-num-tokens", a.new_num_tokens, "new vocabulary size")->required();
  resize->add_option("--pad-to-multiple-of", a.pad_to, "round the size up to a multiple of this");
  resize->add_option("--class", a.cls, "model class (default: config.json architectures[0])");
  resize->add_option("--out", a.out_dir, "output directory")->required();

  auto* prune = table.add("prune", "prune_heads and write the model to --out", [ap] { return cmd_prune(*ap); });
  prune->add_option("path", a.path, "model directory, weight file or repo id")->required();
  prune->add_option("--heads", a.heads_specs, "LAYER:HEAD,HEAD (layers separated by ';' or repeated flags)")->required()->allow_extra_args(false);
  prune->add_option("--class", a.cls, "model class (default: config.json architectures[0])");
  prune->add_option("--out", a.out_dir, "output directory")->required();
}

}  // namespace hfx::cli

int main(int argc, char** argv) {
  namespace cli = hfx::cli;
  CLI::App app{fmt::format("hfx {}: Hugging Face Transformers checkpoints, natively (transformers {} behaviour)", hfx::kVersion,
                           hfx::kTransformersReference)};
  app.footer(kExitCodes);
  app.set_version_flag("--version", fmt::format("hfx {} (transformers {} reference)", hfx::kVersion, hfx::kTransformersReference));
  app.fallthrough();  // the shared flags may follow the verb
  app.require_subcommand(1);
  cli::Globals& g = cli::globals();
  bool verbose = false, quiet = false;
  int threads = 0;
  app.add_flag("-v,--verbose", verbose, "info messages too (as TRANSFORMERS_VERBOSITY=info; HFX_VERBOSITY also sets the level)");
  app.add_flag("-q,--quiet", quiet, "errors only, no progress bars");
  app.add_flag("--json", g.json, "machine-readable output (floats with round-trip precision)");
  app.add_option("--dtype", g.dtype,
                 "parameter dtype: float32 (default, as transformers), auto (the checkpoint's), bfloat16, float16 (or f32, bf16, "
                 "f16); bfloat16 weights run bf16 GEMMs with f32 accumulation where the CPU has them (AVX512), norms and "
                 "softmax in f32")
      ->check(CLI::IsMember({"auto", "float32", "bfloat16", "float16", "f32", "bf16", "f16"}));
  app.add_option("--quantize", g.quantize,
                 "int8: dynamic int8 inference (per-channel int8 weights, per-token int8 activations) for the Linear layers "
                 "inside the model's blocks; embeddings, norms, softmax and heads stay f32. Default: none")
      ->check(CLI::IsMember({"none", "int8"}));
  app.add_flag("--from-tf", g.from_tf, "load TF weights (tf_model.h5, model.ckpt); default: detected from the files");
  app.add_flag("--from-flax", g.from_flax, "load Flax weights (flax_model.msgpack); default: detected from the files");
  app.add_option("--threads", threads, "CPU threads for the kernels (default: OMP_NUM_THREADS, else one per core)")->check(CLI::PositiveNumber);
  app.add_flag("--no-progress", g.no_progress, "no progress bars (also HF_HUB_DISABLE_PROGRESS_BARS=1); bars are drawn only on a terminal");

  cli::CommandTable table(app);
  cli::add_model_commands(table);
  cli::add_text_commands(table);
  cli::add_hub_commands(table);
  cli::add_conversion_commands(table);
  cli::add_serve_commands(table);

  // An unknown verb: say so and list the verbs (CLI11 would say "A subcommand is required").
  if (argc > 1 && argv[1][0] != '-') {
    const auto names = table.names();
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      std::cerr << "hfx: error: unknown command '" << argv[1] << "'\ncommands: " << list << "\nRun 'hfx --help' for usage.\n";
      return 2;
    }
  }
  // "[...]" arguments marked so CLI11 keeps them whole (cli::literal strips the mark).
  std::vector<std::string> marked(argv, argv + argc);
  std::vector<char*> args;
  for (std::size_t i = 0; i < marked.size(); ++i) {
    if (i > 0 && marked[i].size() >= 2 && marked[i].front() == '[' && marked[i].back() == ']') marked[i].insert(0, 1, cli::kLiteralMark);
    args.push_back(marked[i].data());
  }
  try {
    app.parse(argc, args.data());
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // --help / --version: 0; any usage error: 2
  }
  if (g.from_tf && g.from_flax) {
    std::cerr << "hfx: error: --from-tf and --from-flax exclude each other\n";
    return 2;
  }
  if (const char* v = std::getenv("HF_HUB_DISABLE_PROGRESS_BARS"); v && *v && std::string(v) != "0" && std::string(v) != "false")
    g.no_progress = true;
  if (quiet) {
    hfx::set_verbosity(hfx::LogLevel::Error);
    g.no_progress = true;
  } else if (verbose) {
    hfx::set_verbosity(hfx::LogLevel::Info);
  }
  try {
    if (threads > 0) hfx::set_num_threads(threads);
    if (auto rc = table.run_chosen()) return *rc;
    return 2;
  } catch (const hfx::Error& e) {
    std::cerr << "hfx: error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "hfx: error: " << e.what() << "\n";
    return 3;
  }
}
