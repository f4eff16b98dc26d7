// The model_type registry (models layer): hfx's architectures, listed
// explicitly in registry_entries.h (a static library would drop
// self-registering objects), and those an application registers at run time.
#include <algorithm>
#include <deque>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "hfx/model.h"
#include "models/registry_entries.h"

namespace hfx {

namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void check(const Architecture& a, const std::vector<const Architecture*>& others) {
  const std::string what = "register_architecture('" + a.model_type + "'): ";
  if (a.model_type.empty()) throw_error(ErrorKind::InvalidArgument, "register_architecture: empty model_type");
  if (a.classes.empty()) throw_error(ErrorKind::InvalidArgument, what + "no classes");
  std::set<std::string> names;
  for (const auto& [name, builder] : a.classes) {
    if (name.empty() || !builder) throw_error(ErrorKind::InvalidArgument, what + "a class without a name or builder");
    if (!names.insert(name).second) throw_error(ErrorKind::InvalidArgument, what + "class '" + name + "' listed twice");
  }
  if (!a.config_defaults.is_null() && !a.config_defaults.is_object())
    throw_error(ErrorKind::InvalidArgument, what + "config_defaults is not a JSON object");
  for (const auto& [auto_name, cls] : a.auto_classes)
    if (!names.count(cls))
      throw_error(ErrorKind::InvalidArgument, what + auto_name + " maps to '" + cls + "', which is not one of its classes");
  for (const Architecture* o : others) {
    if (o->model_type == a.model_type)
      throw_error(ErrorKind::InvalidArgument, what + "model_type '" + a.model_type + "' is already registered");
    for (const auto& c : o->classes)
      if (names.count(c.first))
        throw_error(ErrorKind::InvalidArgument, what + "class '" + c.first + "' already belongs to model_type '" + o->model_type + "'");
  }
}

// Architectures never move or disappear (a deque keeps references valid), so
// architecture() may hand out references; the lock guards the list itself.
struct Registry {
  std::shared_mutex mu;
  std::deque<Architecture> all;

  Registry() {
#define HFX_REGISTER_ARCHITECTURE(name) add(models::name##_architecture());
    HFX_ARCHITECTURES(HFX_REGISTER_ARCHITECTURE)
#undef HFX_REGISTER_ARCHITECTURE
  }
  void add(Architecture a) {  // callers hold `mu` exclusively (or construct)
    std::vector<const Architecture*> others;
    for (const auto& o : all) others.push_back(&o);
    check(a, others);
    if (a.config_defaults.is_null()) a.config_defaults = json::object();
    all.push_back(std::move(a));
  }
  const Architecture* find(const std::string& model_type) {
    std::shared_lock lock(mu);
    for (const auto& a : all)
      if (a.model_type == model_type) return &a;
    return nullptr;
  }
};

Registry& registry() {
  static Registry r;  // built on first use (thread-safe static init)
  return r;
}

}  // namespace

std::vector<Architecture> architectures() {
  Registry& r = registry();
  std::shared_lock lock(r.mu);
  return {r.all.begin(), r.all.end()};
}

void register_architecture(Architecture arch) {
  Registry& r = registry();
  std::unique_lock lock(r.mu);
  r.add(std::move(arch));
}

std::vector<std::string> supported_model_types() {
  Registry& r = registry();
  std::vector<std::string> out;
  {
    std::shared_lock lock(r.mu);
    for (const auto& a : r.all) out.push_back(a.model_type);
  }
  std::sort(out.begin(), out.end());
  return out;
}

const Architecture& architecture(const std::string& model_type) {
  if (const Architecture* a = registry().find(model_type)) return *a;
  // Unsupported (not NotFound): a valid config of an architecture hfx does not build (issue 18).
  throw_error(ErrorKind::Unsupported, "unknown model_type '" + model_type + "'; supported: " + joined(supported_model_types()));
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
  std::vector<std::string> list;
  for (const auto& c : a.classes) list.push_back(c.first);
  throw_error(ErrorKind::NotFound, "model_type '" + a.model_type + "' has no class '" + class_name +
                                       "'; available: " + joined(list), config.source());
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
