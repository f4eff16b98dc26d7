// hfx — command-line front end, thin over the library.
//   hfx info PATH              what the checkpoint is
//   hfx run PATH --input-ids "1,2,3;4,5,0" [--attention-mask ...] [--class C] [--hidden-states] [--json]
//   hfx info PATH --flops --tokens N   also floating_point_ops for N tokens (6 x N x non-embedding parameters)
//   hfx resize PATH --new-num-tokens N [--pad-to-multiple-of M] --out DIR
//   hfx prune PATH --heads "0:1,2;1:0" [--heads ...] --out DIR
//   hfx run PATH --text "..." [--text ...]; hfx tokenize | embed | generate (src/cli/text.cc)
//   hfx download / scan-cache / push: see cli/hub.cc; every PATH may also be a hub repo id
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/convert.h"
#include "hfx/auto.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "hfx/pretrained.h"
#include "cli/text.h"
#include "cli/hub.h"

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

std::string tensor_json(const hfx::Tensor& t) {
  std::string s = "{\"shape\": " + hfx::shape_str(t.shape()) + ", \"data\": [";
  for (int64_t i = 0; i < t.numel(); ++i) s += (i ? ", " : "") + fmt::format("{:.7g}", t.item(i));
  return s + "]}";
}

void print_flops(const hfx::Model& m, int64_t tokens) {
  hfx::ModelInputs in;
  in.input_ids = hfx::Tensor::zeros(hfx::DType::I64, {1, tokens});
  fmt::print("parameters (excluding embeddings): {}\n", hfx::num_parameters(m, false, true));
  fmt::print("floating_point_ops: {} (6 x {} tokens x parameters excluding embeddings)\n", hfx::floating_point_ops(m, in), tokens);
}

int cmd_info(const std::string& path, bool flops, int64_t tokens) {
  namespace fs = std::filesystem;
  hfx::Config cfg = hfx::AutoConfig::from_pretrained(path);
  hfx::LoadedModel lm = hfx::load_pretrained(path, "");
  const auto& arch = hfx::architecture(cfg.model_type());
  int64_t params = 0;
  std::map<std::string, int64_t> dtypes;
  for (std::size_t i = 0; i < lm.model->params().size(); ++i) {
    const auto& spec = lm.model->params().specs()[i];
    if (!spec.tied_to.empty()) continue;
    const auto& t = lm.model->params().value(i);
    params += t.numel();
    dtypes[std::string(hfx::to_string(t.dtype()))] += t.numel();
  }
  fmt::print("model_type:   {}\n", cfg.model_type());
  fmt::print("class:        {}\n", lm.model->class_name());
  std::string heads;
  for (const auto& c : arch.classes) heads += (heads.empty() ? "" : ", ") + c.first;
  fmt::print("classes:      {}\n", heads);
  fmt::print("parameters:   {}\n", params);
  for (const auto& [d, n] : dtypes) fmt::print("dtype:        {} ({} parameters)\n", d, n);
  for (const auto& f : lm.info.files) fmt::print("file:         {} ({} bytes)\n", f, fs::file_size(f));
  fmt::print("loading:      {} zero-copy, {} converted, {} missing, {} unexpected\n", lm.info.zero_copy, lm.info.converted,
             lm.info.missing_keys.size(), lm.info.unexpected_keys.size());
  if (flops) {
    if (tokens <= 0) hfx::throw_error(hfx::ErrorKind::InvalidArgument, "--flops needs --tokens N (N > 0)");
    print_flops(*lm.model, tokens);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hfx: Hugging Face Transformers checkpoints, natively"};
  app.require_subcommand(1);

  std::string path, ids, mask, types, cls;
  bool hidden = false, as_json = false, attentions = false;
  auto* info = app.add_subcommand("info", "Describe a checkpoint: model_type, class, parameters, dtypes, files");
  info->add_option("path", path, "model directory or weight file")->required();

  auto* run = app.add_subcommand("run", "Run a model on token ids and print its outputs");
  run->add_option("path", path, "model directory or weight file")->required();
  std::vector<std::string> run_texts;
  hfx::cli::TextCommands text_cmds;
  hfx::cli::add_text_commands(app, text_cmds);
  auto* ids_opt = run->add_option("--input-ids", ids, "token ids: rows separated by ';', ids by ','");
  run->add_option("--text", run_texts, "text(s) to tokenize with the model's tokenizer (one row each)")->excludes(ids_opt);
  run->add_option("--attention-mask", mask, "same layout as --input-ids");
  run->add_option("--token-type-ids", types, "same layout as --input-ids");
  run->add_option("--class", cls, "model class (default: config.json architectures[0])");
  run->add_flag("--hidden-states", hidden, "also output every hidden state");
  run->add_flag("--attentions", attentions, "also output every attention map");
  run->add_flag("--json", as_json, "print JSON");

  bool flops = false;
  int64_t tokens = 0, new_num_tokens = 0, pad_to = 0;
  std::string out_dir;
  std::vector<std::string> heads_specs;
  info->add_flag("--flops", flops, "print floating_point_ops for --tokens N tokens");
  info->add_option("--tokens", tokens, "token count for --flops");
  auto* resize = app.add_subcommand("resize", "resize_token_embeddings and write the model to --out");
  resize->add_option("path", path, "model directory or weight file")->required();
  resize->add_option("--new-num-tokens", new_num_tokens, "new vocabulary size")->required();
  resize->add_option("--pad-to-multiple-of", pad_to, "round the size up to a multiple of this");
  resize->add_option("--class", cls, "model class (default: config.json architectures[0])");
  resize->add_option("--out", out_dir, "output directory")->required();
  auto* prune = app.add_subcommand("prune", "prune_heads and write the model to --out");
  prune->add_option("path", path, "model directory or weight file")->required();
  prune->add_option("--heads", heads_specs, "LAYER:HEAD,HEAD (layers separated by ';' or repeated flags)")->required();
  prune->add_option("--class", cls, "model class (default: config.json architectures[0])");
  prune->add_option("--out", out_dir, "output directory")->required();
  hfx::cli::add_hub_commands(app);

  std::function<int()> conversion;  // convert / export / diff (src/cli/convert.cc)
  hfx::cli::add_conversion_commands(app, conversion);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (auto rc = hfx::cli::run_hub_commands()) return *rc;
    if (auto rc = hfx::cli::run_text_command(text_cmds)) return *rc;
    if (conversion) return conversion();
    path = hfx::cli::resolve_path_arg(path);
    if (*info) return cmd_info(path, flops, tokens);
    if (*resize) {
      hfx::LoadedModel lm = hfx::load_pretrained(path, cls);
      const int64_t n = hfx::resize_token_embeddings(lm.model, new_num_tokens, pad_to > 0 ? std::optional<int64_t>(pad_to) : std::nullopt);
      hfx::write_model_directory(*lm.model, out_dir);
      fmt::print("{}: vocab_size {} -> wrote {}\n", lm.model->class_name(), n, out_dir);
      return 0;
    }
    if (*prune) {
      hfx::LoadedModel lm = hfx::load_pretrained(path, cls);
      hfx::HeadsToPrune heads;
      for (const auto& spec : heads_specs)
        for (const auto& [layer, hs] : hfx::parse_heads_spec(spec)) heads[layer].insert(heads[layer].end(), hs.begin(), hs.end());
      hfx::prune_heads(*lm.model, heads);
      hfx::write_model_directory(*lm.model, out_dir);
      fmt::print("{}: pruned_heads {} -> wrote {}\n", lm.model->class_name(), lm.model->config().find("pruned_heads")->dump(), out_dir);
      return 0;
    }
    hfx::LoadedModel lm = hfx::load_pretrained(path, cls);
    hfx::ModelInputs in;
    if (!run_texts.empty()) {
      hfx::cli::text_inputs(path, *lm.model, run_texts, in);
    } else {
      in.input_ids = parse_matrix(ids, "--input-ids");
    }
    if (!mask.empty()) in.attention_mask = parse_matrix(mask, "--attention-mask");
    if (!types.empty()) in.token_type_ids = parse_matrix(types, "--token-type-ids");
    in.output_hidden_states = hidden;
    in.output_attentions = attentions;
    hfx::Outputs out = lm.model->forward(in);
    if (as_json) {
      std::cout << "{\"class\": \"" << lm.model->class_name() << "\", \"outputs\": {";
      bool first = true;
      for (const auto& [name, t] : out.items()) {
        std::cout << (first ? "" : ", ") << "\"" << name << "\": " << tensor_json(t);
        first = false;
      }
      std::cout << "}}\n";
    } else {
      fmt::print("{} ({})\n", lm.model->class_name(), lm.model->config().model_type());
      for (const auto& [name, t] : out.items()) {
        std::string head;
        for (int64_t i = 0; i < std::min<int64_t>(t.numel(), 6); ++i) head += fmt::format("{}{:.5f}", i ? ", " : "", t.item(i));
        fmt::print("{:<28} {:<16} [{}{}]\n", name, hfx::shape_str(t.shape()), head, t.numel() > 6 ? ", ..." : "");
      }
    }
    return 0;
  } catch (const hfx::Error& e) {
    std::cerr << "hfx: error: " << e.what() << "\n";
    return e.exit_code();
  }
}
