// hfx/model.h — models, their parameters, and AutoModel.
//
// A Model is one transformers class (e.g. BertForMaskedLM): it declares its
// parameters by canonical PyTorch state_dict name and shape (ParamTable), and
// runs forward() on CPU, returning named outputs that use transformers'
// ModelOutput field names ("last_hidden_state", "logits", "hidden_states.3").
// Models do no I/O; from_pretrained() (hfx/auto.h) binds a checkpoint's
// tensors to the declared parameters (zero-copy when the dtype matches).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hfx/config.h"
#include "hfx/tensor.h"

namespace hfx {

// ---- parameters -----------------------------------------------------------
struct ParamSpec {
  std::string name;      // canonical state_dict key
  Shape shape;
  std::string tied_to;   // non-empty: this parameter is the named one (not stored separately)
};

class ParamTable {
 public:
  std::size_t declare(std::string name, Shape shape, std::string tied_to = {});
  const std::vector<ParamSpec>& specs() const { return specs_; }
  std::size_t size() const { return specs_.size(); }
  std::optional<std::size_t> index_of(const std::string& name) const;
  // The bound tensor (for tied specs: the target's tensor).
  const Tensor& value(std::size_t i) const;
  const Tensor& value(const std::string& name) const;
  void set(std::size_t i, Tensor t) { values_.at(i) = std::move(t); }
  bool bound(std::size_t i) const { return values_.at(i).defined(); }
  // Changes a declared shape (prune_heads / resize; hfx/pretrained.h). The
  // shared layers read their sizes from the bound tensors, not from the spec.
  void set_shape(std::size_t i, Shape shape) { specs_.at(i).shape = std::move(shape); }

  // Train/eval state, set by Model::set_training and read by the shared blocks
  // (nn/): dropout with probability `dropout_p` from a generator seeded with
  // `seed` and advanced once per dropout call.
  bool training() const { return training_; }
  float dropout_p() const { return dropout_p_; }
  uint64_t next_dropout_seed() const { return seed_ + 0x9E3779B97F4A7C15ull * ++dropout_calls_; }
  void set_training(bool on, float p, uint64_t seed) {
    training_ = on;
    dropout_p_ = p;
    seed_ = seed;
    dropout_calls_ = 0;
  }

 private:
  bool training_ = false;
  float dropout_p_ = 0.0f;
  uint64_t seed_ = 0;
  mutable uint64_t dropout_calls_ = 0;
  std::vector<ParamSpec> specs_;
  std::vector<Tensor> values_;
  std::map<std::string, std::size_t> index_;
  int64_t declared_elements_ = 0;  // bounded in declare()
};

// Handle to one declared parameter, resolved at forward time.
class Param {
 public:
  Param() = default;
  Param(const ParamTable* t, std::size_t i) : table_(t), index_(i) {}
  const Tensor& operator*() const { return table_->value(index_); }
  const Tensor* operator->() const { return &table_->value(index_); }
  bool valid() const { return table_ != nullptr; }
  const std::string& name() const { return table_->specs()[index_].name; }
  const ParamTable* table() const { return table_; }

 private:
  const ParamTable* table_ = nullptr;
  std::size_t index_ = 0;
};

// A prefix into a ParamTable ("bert.encoder.layer.3"), used by model code to
// declare parameters under Hugging Face's module names.
class Scope {
 public:
  Scope(ParamTable* t, std::string prefix = {}) : table_(t), prefix_(std::move(prefix)) {}
  Scope operator/(const std::string& child) const;
  Scope operator/(int64_t index) const { return *this / std::to_string(index); }
  Param param(const std::string& name, Shape shape, const std::string& tied_to = {}) const;
  std::string path(const std::string& name) const;

 private:
  ParamTable* table_;
  std::string prefix_;
};

// ---- inputs and outputs ---------------------------------------------------
struct ModelInputs {
  Tensor input_ids;        // [batch, seq] (or [batch, choices, seq] for multiple choice), int64/int32
  Tensor attention_mask;   // same shape; 1 = attend, 0 = padding; optional
  Tensor token_type_ids;   // optional
  Tensor position_ids;     // optional
  Tensor head_mask;        // [heads] or [layers, heads], 1 keeps a head; optional
  Tensor decoder_input_ids, decoder_attention_mask;  // encoder-decoder models
  Tensor mc_token_ids;     // GPT/GPT-2 double heads: [batch, choices] index of the classification token
  Tensor langs;            // XLM: [batch, seq] language ids; optional
  // XLNet: perm_mask [batch, seq, seq] (1: i does not see j), target_mapping
  // [batch, predict, seq] (one-hot rows: the positions the query stream predicts).
  Tensor perm_mask, target_mapping;
  // Transformer-XL / XLNet memory: one [mem_len, batch, hidden] tensor per layer
  // (the "mems" output of a previous call); empty = none.
  std::vector<Tensor> mems;
  bool output_hidden_states = false;
  bool output_attentions = false;
};

class Outputs {
 public:
  void set(std::string name, Tensor t);
  bool has(const std::string& name) const;
  const Tensor& get(const std::string& name) const;  // NotFound lists the names present
  const std::vector<std::pair<std::string, Tensor>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, Tensor>> items_;
};

// ---- models ---------------------------------------------------------------
class Model {
 public:
  virtual ~Model() = default;
  const std::string& class_name() const { return class_name_; }
  const Config& config() const { return config_; }
  Config& mutable_config() { return config_; }
  const ParamTable& params() const { return params_; }
  ParamTable& mutable_params() { return params_; }
  // transformers' base_model_prefix ("bert", "roberta", ...).
  const std::string& base_model_prefix() const { return base_prefix_; }
  // Buffers transformers keeps but does not save (e.g. position_ids): a
  // checkpoint that still has them is not reporting "unexpected" keys.
  const std::vector<std::string>& ignored_checkpoint_keys() const { return ignored_keys_; }

  virtual Outputs forward(const ModelInputs& inputs) const = 0;

  // train() / eval(): in training mode the shared blocks apply dropout (the
  // config's hidden dropout probability) with a generator seeded by `seed`;
  // eval (the default) is deterministic. Defined in src/pretrained/utils.cc.
  void set_training(bool training, uint64_t seed = 0);
  bool training() const { return params_.training(); }

 protected:
  Model(std::string class_name, Config config, std::string base_prefix)
      : class_name_(std::move(class_name)), config_(std::move(config)), base_prefix_(std::move(base_prefix)) {}
  Scope root() { return Scope(&params_); }
  std::vector<std::string> ignored_keys_;

 private:
  std::string class_name_;
  Config config_;
  std::string base_prefix_;
  ParamTable params_;
};

// ---- registry -------------------------------------------------------------
using ModelBuilder = std::function<std::unique_ptr<Model>(const Config&)>;

struct Architecture {
  std::string model_type;          // "bert"
  json config_defaults;            // the config class's defaults
  std::string base_model_prefix;   // "bert"
  std::vector<std::pair<std::string, ModelBuilder>> classes;  // class name -> builder
  std::map<std::string, std::string> auto_classes;            // "AutoModelForMaskedLM" -> class name
};

// All registered architectures (built once, explicitly: no static-init tricks).
const std::vector<Architecture>& architectures();
const Architecture& architecture(const std::string& model_type);  // NotFound lists supported types
std::vector<std::string> supported_model_types();
// Builds the named class (e.g. "BertForMaskedLM") with fresh, unbound parameters.
std::unique_ptr<Model> build_model(const Config& config, const std::string& class_name);

// Resolves the class an Auto class would pick for this config ("AutoModelForMaskedLM" -> "BertForMaskedLM").
std::string auto_class_for(const Config& config, const std::string& auto_name);

}  // namespace hfx
