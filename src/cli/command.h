// The hfx CLI's one command table: every verb is a CLI11 subcommand plus the function that runs it,
// registered by the file that implements it (main.cc: info/run/resize/prune, text.cc, hub.cc, convert.cc);
// main() parses, then runs the chosen verb inside its error handler. Options every verb shares (verbosity,
// --json, --dtype, --from-tf/--from-flax, --threads, --no-progress) live on the root app and are read
// through globals().
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hfx/auto.h"

namespace hfx::cli {

struct Globals {
  bool json = false;          // --json: machine-readable output on every verb
  std::string dtype = "float32"; // --dtype {auto,float32,bfloat16,float16} (or f32/bf16/f16); float32 is transformers' default
  std::string quantize = "none";  // --quantize {none,int8}: LoadOptions::quantize
  bool from_tf = false, from_flax = false;
  bool no_progress = false;   // --no-progress (and HF_HUB_DISABLE_PROGRESS_BARS)
};
inline Globals& globals() {
  static Globals g;
  return g;
}

// LoadOptions from the shared flags: --dtype (auto keeps the checkpoint's dtype, as torch_dtype="auto"),
// --from-tf / --from-flax.
inline LoadOptions load_options() {
  LoadOptions o;
  const std::string& d = globals().dtype;
  if (d != "float32" && d != "f32") o.torch_dtype = d;  // "auto", "bfloat16"/"bf16", "float16"/"f16"
  if (globals().quantize == "int8") o.quantize = Quantization::Int8;
  o.from_tf = globals().from_tf;
  o.from_flax = globals().from_flax;
  o.hub.from_tf = o.from_tf;
  o.hub.from_flax = o.from_flax;
  o.hub.progress = !globals().no_progress;
  return o;
}

// The one framework auto-detection of every verb: --from-tf / --from-flax when given; else a weight file
// names its framework (tf_model*.h5, *.ckpt*: TF; flax_model*.msgpack: Flax); else a folder without PyTorch
// weights (safetensors, .bin) but with TF (tf_model.h5, model.ckpt.index) or Flax weights loads those, as
// from_pretrained(from_tf=True / from_flax=True) would.
inline LoadOptions load_options_for(const std::string& path) {
  namespace fs = std::filesystem;
  LoadOptions o = load_options();
  if (o.from_tf || o.from_flax) return o;
  std::error_code ec;
  auto has_any = [&](const fs::path& d, std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (fs::is_regular_file(d / n, ec)) return true;
    return false;
  };
  if (fs::is_regular_file(path, ec)) {
    const std::string f = fs::path(path).filename().string();
    o.from_tf = f.rfind("tf_model", 0) == 0 || f.find(".ckpt") != std::string::npos;
    o.from_flax = f.rfind("flax_model", 0) == 0;
  } else if (fs::is_directory(path, ec)) {
    const fs::path d(path);
    if (has_any(d, {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"})) return o;
    o.from_tf = has_any(d, {"tf_model.h5", "tf_model.h5.index.json", "model.ckpt.index"});
    o.from_flax = !o.from_tf && has_any(d, {"flax_model.msgpack", "flax_model.msgpack.index.json"});
  }
  o.hub.from_tf = o.from_tf;
  o.hub.from_flax = o.from_flax;
  return o;
}

// Text arguments are taken literally. CLI11 reads "[a,b]" given to a multi-value option as a list; main() marks
// every such argument with a leading \x01 before parsing (so it is not split) and literal() strips the mark.
inline constexpr char kLiteralMark = '\x01';
// GCC 12 reports a maybe-uninitialized std::string inside CLI11's Validator wrapper of this transform (a false
// positive of its small-string analysis at -O3); silenced for these lines only.
#if defined(__GNUC__) && !defined(__clang__)  // clang has no -Wmaybe-uninitialized
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
inline std::string strip_literal_mark(const std::string& s) {
  return s.rfind(kLiteralMark, 0) == 0 ? std::string(s, 1) : s;
}
inline CLI::Option* literal(CLI::Option* o) { return o->transform(strip_literal_mark, "", "literal"); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

class CommandTable {
 public:
  explicit CommandTable(CLI::App& app) : app_(app) {}
  CLI::App* add(const std::string& name, const std::string& help, std::function<int()> run) {
    CLI::App* sub = app_.add_subcommand(name, help);
    commands_.emplace_back(sub, std::move(run));
    return sub;
  }
  std::optional<int> run_chosen() const {
    for (const auto& [sub, run] : commands_)
      if (sub->parsed()) return run();
    return std::nullopt;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& c : commands_) out.push_back(c.first->get_name());
    return out;
  }

 private:
  CLI::App& app_;
  std::vector<std::pair<CLI::App*, std::function<int()>>> commands_;
};

void add_model_commands(CommandTable& t);       // info, run, resize, prune (main.cc)
void add_text_commands(CommandTable& t);        // tokenize, embed, generate (text.cc)
void add_hub_commands(CommandTable& t);         // download, scan-cache, push (hub.cc)
void add_conversion_commands(CommandTable& t);  // convert, export, diff, pt-to-tf (convert.cc)
void add_serve_commands(CommandTable& t);       // serve (serve.cc)

}  // namespace hfx::cli
