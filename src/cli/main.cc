// hfx — command-line front end, thin over the library.
//   hfx info PATH              what the checkpoint is
//   hfx run PATH --input-ids "1,2,3;4,5,0" [--attention-mask ...] [--class C] [--hidden-states] [--json]
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <sstream>

#include "hfx/io.h"
#include "hfx/model.h"

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

int cmd_info(const std::string& path) {
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
  run->add_option("--input-ids", ids, "token ids: rows separated by ';', ids by ','")->required();
  run->add_option("--attention-mask", mask, "same layout as --input-ids");
  run->add_option("--token-type-ids", types, "same layout as --input-ids");
  run->add_option("--class", cls, "model class (default: config.json architectures[0])");
  run->add_flag("--hidden-states", hidden, "also output every hidden state");
  run->add_flag("--attentions", attentions, "also output every attention map");
  run->add_flag("--json", as_json, "print JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*info) return cmd_info(path);
    hfx::LoadedModel lm = hfx::load_pretrained(path, cls);
    hfx::ModelInputs in;
    in.input_ids = parse_matrix(ids, "--input-ids");
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
