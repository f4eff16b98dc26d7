#include "hfx/model.h"

namespace hfx {

namespace {
// Bounds on what a config can make the model builders declare, checked as each
// parameter is declared, so that a hostile config (num_hidden_layers: 10000000)
// is refused after a few MB of skeleton instead of after GBs (issue 24, defect
// 6): each declared tensor costs ~0.5 KB of skeleton (spec, name, index, module),
// so the cap bounds that to ~10 MB. hfx's largest supported checkpoints declare
// ~1.2k tensors (Llama 3.1 405B: 126 layers x 9 + 3); a mixture-of-experts
// architecture (tens of thousands: experts x layers) would need a higher cap.
constexpr std::size_t kMaxDeclaredParams = std::size_t{1} << 14;
constexpr int64_t kMaxDeclaredElements = int64_t{1} << 40;
}  // namespace

std::size_t ParamTable::declare(std::string name, Shape shape, std::string tied_to) {
  if (specs_.size() >= kMaxDeclaredParams)
    throw_error(ErrorKind::Format, "the config makes the model declare more than " + std::to_string(kMaxDeclaredParams) +
                                       " parameter tensors: its sizes (e.g. num_hidden_layers) describe no real model", {}, name);
  const int64_t numel = shape_numel(shape);  // Format on a negative or overflowing dimension
  if (numel > kMaxDeclaredElements - declared_elements_)
    throw_error(ErrorKind::Format, "the config makes the model declare more than 2^40 parameter elements: its sizes "
                                   "describe no real model", {}, name);
  declared_elements_ += numel;
  if (index_.count(name)) throw_error(ErrorKind::InvalidArgument, "parameter declared twice", {}, name);
  if (!tied_to.empty() && !index_.count(tied_to))
    throw_error(ErrorKind::InvalidArgument, "tied to undeclared parameter " + tied_to, {}, name);
  index_[name] = specs_.size();
  specs_.push_back({std::move(name), std::move(shape), std::move(tied_to)});
  values_.emplace_back();
  return specs_.size() - 1;
}

std::optional<std::size_t> ParamTable::index_of(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

const Tensor& ParamTable::value(std::size_t i) const {
  const ParamSpec& s = specs_.at(i);
  if (!s.tied_to.empty()) return value(index_.at(s.tied_to));
  const Tensor& t = values_[i];
  if (!t.defined()) throw_error(ErrorKind::NotFound, "parameter was never loaded", {}, s.name);
  return t;
}

const Tensor& ParamTable::value(const std::string& name) const {
  auto i = index_of(name);
  if (!i) throw_error(ErrorKind::NotFound, "no such parameter", {}, name);
  return value(*i);
}

void ParamTable::set_role(const std::string& name, ParamRole role) {
  auto i = index_of(name);
  if (!i) throw_error(ErrorKind::NotFound, "no such parameter (role " + std::string(to_string(role)) + ")", {}, name);
  specs_[*i].role = role;
}

void ParamTable::set_dtype(const std::string& name, DType dtype) {
  auto i = index_of(name);
  if (!i) throw_error(ErrorKind::NotFound, "no such parameter (fixed dtype)", {}, name);
  specs_[*i].dtype = dtype;
}

const char* to_string(ParamRole role) {
  switch (role) {
    case ParamRole::Weight: return "weight";
    case ParamRole::Embedding: return "embedding";
    case ParamRole::Buffer: return "buffer";
  }
  return "?";
}

void Model::set_roles(ParamRole role, const std::vector<std::string>& names) {
  for (const auto& n : names) params_.set_role(n, role);
}

Scope Scope::operator/(const std::string& child) const {
  return Scope(table_, prefix_.empty() ? child : prefix_ + "." + child);
}

std::string Scope::path(const std::string& name) const { return prefix_.empty() ? name : prefix_ + "." + name; }

Param Scope::param(const std::string& name, Shape shape, const std::string& tied_to) const {
  return Param(table_, table_->declare(path(name), std::move(shape), tied_to));
}

void Outputs::set(std::string name, Tensor t) {
  for (auto& [n, v] : items_)
    if (n == name) {
      v = std::move(t);
      return;
    }
  items_.emplace_back(std::move(name), std::move(t));
}

bool Outputs::has(const std::string& name) const {
  for (const auto& [n, v] : items_)
    if (n == name) return true;
  return false;
}

const Tensor& Outputs::get(const std::string& name) const {
  for (const auto& [n, v] : items_)
    if (n == name) return v;
  std::string list;
  for (const auto& [n, v] : items_) list += (list.empty() ? "" : ", ") + n;
  throw_error(ErrorKind::NotFound, "no output '" + name + "' (have: " + list + ")");
}

}  // namespace hfx
