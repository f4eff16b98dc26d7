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

namespace {
// A non-null member of an object, or nullptr.
const json* member(const json* o, const char* key) {
  if (!o || !o->is_object()) return nullptr;
  auto it = o->find(key);
  return it == o->end() || it->is_null() ? nullptr : &*it;
}

// The config.json layout of transformers 5.x, read under the 4.x names the model files use (transformers 5 writes
// `dtype` for torch_dtype, and moves rope_theta / rope_scaling / partial_rotary_factor, GPT-NeoX's rotary_pct /
// rotary_emb_base into `rope_parameters`: flat, or per layer type {"full_attention": {...}, "sliding_attention": {...}}
// for Gemma-3 (rope_local_base_freq) and ModernBERT (global_rope_theta / local_rope_theta)).
const json* five_alias(const json& f, const std::string& key) {
  if (key == "torch_dtype") return member(&f, "dtype");
  const json* rp = member(&f, "rope_parameters");
  if (!rp || !rp->is_object()) return nullptr;
  const json* full = member(rp, "full_attention");
  const json* global = full ? full : rp;  // the full-attention (global) layers' parameters
  if (key == "rope_theta" || key == "rotary_emb_base" || key == "global_rope_theta") return member(global, "rope_theta");
  if (key == "rope_local_base_freq" || key == "local_rope_theta") return member(member(rp, "sliding_attention"), "rope_theta");
  if (key == "partial_rotary_factor" || key == "rotary_pct") return member(global, "partial_rotary_factor");
  if (key == "original_max_position_embeddings") return member(global, "original_max_position_embeddings");
  if (key == "rope_scaling") {  // null for the default rope type, as 4.x wrote it
    const json* t = member(global, "rope_type");
    if (!t) t = member(global, "type");
    return t && t->is_string() && t->get<std::string>() != "default" ? global : nullptr;
  }
  return nullptr;
}
}  // namespace

const json* Config::find(const std::string& key) const {
  auto it = fields_.find(key);
  if (it != fields_.end()) return it->is_null() ? nullptr : &*it;
  if (const json* a = five_alias(fields_, key)) return a;
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
