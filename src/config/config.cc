#include "hfx/config.h"


namespace hfx {

Config::Config(json fields, json defaults, std::string source)
    : fields_(std::move(fields)), defaults_(std::move(defaults)), source_(std::move(source)) {
  if (!fields_.is_object()) throw_error(ErrorKind::Format, "config is not a JSON object", source_);
  if (defaults_.is_null()) defaults_ = json::object();
}

std::string Config::model_type() const {
  const json* v = find("model_type");
  if (!v || !v->is_string()) return {};
  return v->get<std::string>();
}

const json* Config::find(const std::string& key) const {
  auto it = fields_.find(key);
  if (it != fields_.end()) return it->is_null() ? nullptr : &*it;
  auto d = defaults_.find(key);
  if (d != defaults_.end() && !d->is_null()) return &*d;
  return nullptr;
}

bool Config::has(const std::string& key) const { return find(key) != nullptr; }

void Config::apply_overrides(const json& overrides) {
  if (!overrides.is_object()) throw_error(ErrorKind::InvalidArgument, "config overrides must be a JSON object");
  for (auto it = overrides.begin(); it != overrides.end(); ++it) {
    fields_[it.key()] = *it;
    // transformers' num_labels setter: a different count replaces id2label/label2id with LABEL_i.
    if (it.key() == "num_labels" && it->is_number_integer() && it->get<int64_t>() >= 0) {
      const int64_t n = it->get<int64_t>();
      const json* m = find("id2label");
      if (!m || !m->is_object() || static_cast<int64_t>(m->size()) != n) {
        json id2label = json::object(), label2id = json::object();
        for (int64_t i = 0; i < n; ++i) {
          id2label[std::to_string(i)] = "LABEL_" + std::to_string(i);
          label2id["LABEL_" + std::to_string(i)] = i;
        }
        fields_["id2label"] = std::move(id2label);
        fields_["label2id"] = std::move(label2id);
      }
    }
  }
}

json Config::merged() const {
  json out = defaults_;
  for (auto it = fields_.begin(); it != fields_.end(); ++it) out[it.key()] = *it;
  return out;
}

std::string Config::to_json_string(int indent) const { return fields_.dump(indent) + "\n"; }

int64_t Config::num_labels() const {
  if (const json* m = find("id2label"); m && m->is_object() && !m->empty()) return static_cast<int64_t>(m->size());
  return get<int64_t>("num_labels", 2);
}

}  // namespace hfx
