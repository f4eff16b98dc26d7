// The model_type registry (models layer): one explicit list (a static library would drop
// self-registering objects), one entry per architecture file in models/.
#include <algorithm>

#include "hfx/model.h"
#include "models/registry_entries.h"

namespace hfx {

const std::vector<Architecture>& architectures() {
  static const std::vector<Architecture> all = [] {
    std::vector<Architecture> v;
    v.push_back(models::bert_architecture());
    v.push_back(models::roberta_architecture());
    v.push_back(models::distilbert_architecture());
    v.push_back(models::albert_architecture());
    v.push_back(models::electra_architecture());
    v.push_back(models::gpt2_architecture());
    v.push_back(models::llama_architecture());
    v.push_back(models::mistral_architecture());
    v.push_back(models::openai_gpt_architecture());
    v.push_back(models::t5_architecture());
    v.push_back(models::bart_architecture());
    v.push_back(models::xlm_architecture());
    v.push_back(models::transfo_xl_architecture());
    v.push_back(models::xlnet_architecture());
    return v;
  }();
  return all;
}

std::vector<std::string> supported_model_types() {
  std::vector<std::string> out;
  for (const auto& a : architectures()) out.push_back(a.model_type);
  std::sort(out.begin(), out.end());
  return out;
}

const Architecture& architecture(const std::string& model_type) {
  for (const auto& a : architectures())
    if (a.model_type == model_type) return a;
  std::string list;
  for (const auto& t : supported_model_types()) list += (list.empty() ? "" : ", ") + t;
  throw_error(ErrorKind::NotFound, "unknown model_type '" + model_type + "'; supported: " + list);
}

std::unique_ptr<Model> build_model(const Config& config, const std::string& class_name) {
  const Architecture& a = architecture(config.model_type());
  for (const auto& [name, builder] : a.classes)
    if (name == class_name) {
      try {
        return builder(config);
      } catch (const Error& e) {  // a builder's refusal (sizes, shapes) names the config it came from
        if (!e.file().empty()) throw;
        throw Error(e.kind(), e.message(), config.source(), e.tensor());
      }
    }
  std::string list;
  for (const auto& c : a.classes) list += (list.empty() ? "" : ", ") + c.first;
  throw_error(ErrorKind::NotFound, "model_type '" + a.model_type + "' has no class '" + class_name +
                                       "'; available: " + list, config.source());
}

std::string auto_class_for(const Config& config, const std::string& auto_name) {
  const Architecture& a = architecture(config.model_type());
  auto it = a.auto_classes.find(auto_name);
  if (it == a.auto_classes.end())
    throw_error(ErrorKind::NotFound, "Unrecognized configuration for this kind of AutoModel: " + auto_name +
                                         " has no class for model_type '" + a.model_type + "'", config.source());
  return it->second;
}

}  // namespace hfx
