// transformers 4.46 modeling_utils.py, PreTrainedModel._load_pretrained_model's closing messages.
#include "pretrained/load_warnings.h"

#include <algorithm>

#include "hfx/log.h"
#include "hfx/model.h"

namespace hfx::detail {

namespace {

// Python's repr of a str: single quotes unless the text has one and no double quote.
std::string py_repr(const std::string& s) {
  const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = dq ? '"' : '\'';
  std::string out(1, q);
  for (char c : s) {
    if (c == '\\' || c == q) out += '\\';
    out += c;
  }
  return out + q;
}

std::string py_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + py_repr(v[i]);
  return out + "]";
}

std::string torch_size(const Shape& s) {
  std::string out = "torch.Size([";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "])";
}

}  // namespace

void log_loading_info(const Model& model, const LoadingInfo& info, const std::string& path) {
  const std::string& cls = model.class_name();
  if (!info.unexpected_keys.empty()) {
    bool in_archs = false;
    if (const json* a = model.config().find("architectures"); a && a->is_array())
      in_archs = std::any_of(a->begin(), a->end(), [&](const json& x) { return x.is_string() && x.get<std::string>() == cls; });
    log(in_archs ? LogLevel::Warning : LogLevel::Info,
        "Some weights of the model checkpoint at " + path + " were not used when initializing " + cls + ": " +
            py_list(info.unexpected_keys) + "\n- This IS expected if you are initializing " + cls +
            " from the checkpoint of a model trained on another task or with another architecture (e.g. initializing a "
            "sequence classification model from a pre-training model).\n- This IS NOT expected if you are "
            "initializing " + cls + " from the checkpoint of a model that you expect to be exactly identical (initializing a "
            "sequence classification model from a sequence classification model).");
  } else if (log_enabled(LogLevel::Info)) {
    log_info("All model checkpoint weights were used when initializing " + cls + ".\n");
  }
  if (!info.missing_keys.empty()) {
    log_warning("Some weights of " + cls + " were not initialized from the model checkpoint at " + path +
                " and are newly initialized: " + py_list(info.missing_keys) +
                "\nYou should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.");
  } else if (info.mismatched.empty() && info.mismatched_keys.empty() && log_enabled(LogLevel::Info)) {
    log_info("All the weights of " + cls + " were initialized from the model checkpoint at " + path +
             ".\nIf your task is similar to the task the model of the checkpoint was trained on, you can already use " + cls +
             " for predictions without further training.");
  }
  if (!info.mismatched.empty()) {
    std::string lines;
    for (const auto& m : info.mismatched)
      lines += (lines.empty() ? "" : "\n") + ("- " + m.key + ": found shape " + torch_size(m.checkpoint) + " in the checkpoint and " +
                                              torch_size(m.model) + " in the model instantiated");
    log_warning("Some weights of " + cls + " were not initialized from the model checkpoint at " + path +
                " and are newly initialized because the shapes did not match:\n" + lines +
                "\nYou should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.");
  }
}

}  // namespace hfx::detail
