// hfx/model.h — models, their parameters, and AutoModel.
//
// A Model is one transformers class (e.g. BertForMaskedLM): it declares its
// parameters by canonical PyTorch state_dict name and shape (ParamTable), and
// runs forward() on CPU, returning named outputs that use transformers'
// ModelOutput field names ("last_hidden_state", "logits", "hidden_states.3").
// Models do no I/O; from_pretrained() (hfx/auto.h) binds a checkpoint's
// tensors to the declared parameters (zero-copy when the dtype matches).
#pragma once

#include "hfx/export.h"

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
// What a state_dict entry is to transformers (the generic code reads this
// instead of guessing from names).
enum class ParamRole : uint8_t {
  Weight,     // an nn.Parameter (Linear, norm, relative bias tables, ...)
  Embedding,  // the weight of an nn.Embedding: num_parameters(exclude_embeddings) drops it
  Buffer,     // a persistent registered buffer (BART's final_logits_bias): saved and loaded, not a parameter
};
HFX_API const char* to_string(ParamRole role);

struct HFX_API ParamSpec {
  std::string name;      // canonical state_dict key
  Shape shape;
  std::string tied_to;   // non-empty: this parameter is the named one (not stored separately)
  ParamRole role = ParamRole::Weight;
  // nullopt: a floating tensor bound in the load's dtype (LoadOptions); set:
  // the parameter always holds this dtype (load converts to it, casts skip it).
  std::optional<DType> dtype = std::nullopt;
};

// Weight quantization a loaded model computes with (LoadOptions::quantize).
enum class Quantization : uint8_t {
  None,
  // Dynamic int8: the Linear layers inside the repeated blocks (attention
  // projections, FFN) run int8 GEMMs with per-output-channel weight scales and
  // per-token activation scales; embeddings, norms, softmax, poolers and heads
  // stay in floating point.
  Int8,
};

class HFX_API ParamTable {
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
  // Declares a parameter's role / fixed dtype (model constructors; NotFound for an undeclared name).
  void set_role(const std::string& name, ParamRole role);
  void set_dtype(const std::string& name, DType dtype);

  // Train/eval state, set by Model::set_training and read by the shared blocks
  // (nn/): dropout with probability `dropout_p` from a generator seeded with
  // `seed` and advanced once per dropout call.
  bool training() const { return training_; }
  float dropout_p() const { return dropout_p_; }
  uint64_t next_dropout_seed() const { return seed_ + 0x9E3779B97F4A7C15ull * ++dropout_calls_; }
  // How the shared blocks run their Linear layers (set by load_pretrained from LoadOptions::quantize).
  Quantization quantization() const { return quantization_; }
  void set_quantization(Quantization q) { quantization_ = q; }
  void set_training(bool on, float p, uint64_t seed) {
    training_ = on;
    dropout_p_ = p;
    seed_ = seed;
    dropout_calls_ = 0;
  }

 private:
  bool training_ = false;
  Quantization quantization_ = Quantization::None;
  float dropout_p_ = 0.0f;
  uint64_t seed_ = 0;
  mutable uint64_t dropout_calls_ = 0;
  std::vector<ParamSpec> specs_;
  std::vector<Tensor> values_;
  std::map<std::string, std::size_t> index_;
  int64_t declared_elements_ = 0;  // bounded in declare()
};

// Handle to one declared parameter, resolved at forward time.
class HFX_API Param {
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
class HFX_API Scope {
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
struct HFX_API ModelInputs {
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
  // Training targets, as transformers' forward takes them: Model::call turns
  // them into Outputs "loss" (forward ignores them; hfx/loss.h says which
  // class reads which, their shapes and the errors).
  //   labels: token ids [batch, seq] for language models (-100: ignored) and
  //     token classification; for sequence classification class ids [batch]
  //     (integer), or float targets [batch, num_labels] (multi-label,
  //     regression) / [batch] (regression with num_labels 1); [batch] choice
  //     for multiple choice and next-sentence prediction; [batch, seq] 0/1
  //     for ELECTRA's discriminator; [batch, choices, seq] for double heads.
  Tensor labels;
  Tensor start_positions, end_positions;  // span QA: [batch] token indices (clamped like transformers)
  Tensor next_sentence_label;             // BertForPreTraining: [batch] 0/1
  Tensor sentence_order_label;            // AlbertForPreTraining: [batch] 0/1
  Tensor mc_labels;                       // GPT/GPT-2 double heads: [batch] the right choice
  bool output_hidden_states = false;
  bool output_attentions = false;
};

class HFX_API Outputs {
 public:
  void set(std::string name, Tensor t);
  bool has(const std::string& name) const;
  const Tensor& get(const std::string& name) const;  // NotFound lists the names present
  const std::vector<std::pair<std::string, Tensor>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, Tensor>> items_;
};

// ---- traits -----------------------------------------------------------------
// What generic code (from_pretrained, prune_heads, the embedding utilities)
// needs to know about one model class, declared by its file in src/models/
// (docs/adding-a-model.md). Names are canonical parameter / module names.

// One attention module, by module path ("bert.encoder.layer.0.attention.self.query").
struct HFX_API AttentionModule {
  std::string q, k, v, o;
  bool fused = false;  // GPT-2 / OpenAI GPT: q = c_attn (Conv1D [E, 3E]), o = c_proj (Conv1D [E, E])
};

// prune_heads (transformers' _prune_heads): the head geometry and where each
// layer's attention is, or why the reference cannot prune this class.
struct HFX_API PruneTraits {
  int64_t heads = 0, head_dim = 0;
  int64_t layers = 0;                                    // layers prune_heads can address
  std::function<AttentionModule(int64_t layer)> attention;  // empty: unsupported
  std::string layers_note;  // explains `layers` in the out-of-range error (ALBERT's flattened groups)
  std::string unsupported;  // why pruning is refused (empty + no attention: the base model has no _prune_heads)
};

// The LM head as transformers' TF API exposes it (modeling_tf_utils.py
// get_lm_head / get_bias / get_prefix_bias_name, 4.46), in canonical names.
struct HFX_API LMHeadTraits {
  std::string module;  // canonical module path of the head ("cls.predictions"); empty: none
  // get_bias(): TF's key ("bias", "decoder_bias", "final_logits_bias") -> canonical parameter.
  std::vector<std::pair<std::string, std::string>> bias;
  // get_prefix_bias_name() without the leading "<model name>/" ("mlm___cls/predictions");
  // empty: the TF class returns None.
  std::string tf_prefix_bias_name;
};

// How from_pretrained initialises a parameter the checkpoint lacks (transformers' _init_weights).
struct HFX_API InitRule {
  enum Kind { Normal, Zeros, Ones } kind = Zeros;
  double stddev = 0.0;  // Normal
};
using InitFn = std::function<InitRule(const ParamSpec& spec, const Config& config)>;
// The BERT-family rule (most _init_weights): N(0, initializer_range) for matrices,
// 0 for biases, 1 for other 1-D weights (norms).
HFX_API InitRule default_init_rule(const ParamSpec& spec, const Config& config);

// Which loss transformers' forward computes from the labels (hfx/loss.h
// implements each; Model::call applies it after forward).
enum class LossKind : uint8_t {
  Auto,                    // from the class name's head suffix (loss_kind_for_class in hfx/loss.h)
  None,                    // the class takes no labels
  CausalLM,                // logits[:, :-1] against labels[:, 1:], cross-entropy, -100 ignored
  TokenLM,                 // logits against labels unshifted (masked LM; XLNet/XLM LM heads; BART-family *ForCausalLM)
  Seq2SeqLM,               // TokenLM on the decoder's logits; LossTraits::decoder_inputs fills decoder_input_ids
  SequenceClassification,  // config.problem_type, else regression / single / multi label by num_labels and labels' dtype
  DebertaSequenceClassification,  // DeBERTa's own rules when problem_type is unset (soft-label CE for float labels)
  TokenClassification,     // cross-entropy per token, -100 ignored
  QuestionAnswering,       // start/end positions clamped to [0, seq], CE ignoring seq, averaged
  MultipleChoice,          // cross-entropy over the [batch, choices] logits
  NextSentencePrediction,  // cross-entropy over 2 classes
  BertPreTraining,         // masked LM (labels) + next sentence (next_sentence_label), both required
  AlbertPreTraining,       // masked LM (labels) + sentence order (sentence_order_label), both required
  ElectraPreTraining,      // BCE with logits over the positions attention_mask keeps
  DoubleHeads,             // causal LM loss from labels ("loss") and the choice loss from mc_labels ("mc_loss")
  TransfoXLLM,             // adaptive softmax NLL of the shifted labels ("losses"), mean of the non-zero ones
  SquadHead,               // XLNet/XLM beam-search QA: the head computes the loss in forward (nn::squad_head_loss)
};
struct HFX_API LossTraits {
  LossKind kind = LossKind::Auto;
  // Seq2SeqLM: the decoder_input_ids transformers derives from labels when none are given
  // (shift_tokens_right with decoder_start_token_id, mBART's wrap of the last token, T5's _shift_right);
  // -100 becomes the pad id. Empty: decoder_input_ids are required with labels.
  std::function<Tensor(const Tensor& labels)> decoder_inputs;
};

struct HFX_API ModelTraits {
  std::string input_embeddings;   // get_input_embeddings' weight; empty: none
  std::string output_embeddings;  // get_output_embeddings' weight (the LM head); empty: none
  // Transformer-XL's AdaptiveEmbedding: one table per cluster (input) and the
  // adaptive softmax layers tied to them (output; weight names). When set,
  // resize_token_embeddings resizes one cluster (TransfoXLPreTrainedModel's rule).
  std::vector<std::string> adaptive_input_embeddings, adaptive_output_embeddings;
  LMHeadTraits lm_head;
  // _keys_to_ignore_on_load_missing / _unexpected (transformers matches them
  // with re.search; these patterns hold no regex syntax but '.', so hfx
  // matches substrings).
  std::vector<std::string> ignore_on_load_missing, ignore_on_load_unexpected;
  PruneTraits prune;
  InitFn init;  // empty: default_init_rule
  LossTraits loss;
};

// ---- models ---------------------------------------------------------------
class HFX_API Model {
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
  // What generic code needs to know about this class (declared by its constructor).
  const ModelTraits& traits() const { return traits_; }

  virtual Outputs forward(const ModelInputs& inputs) const = 0;

  // transformers' model(**inputs): forward plus the labels. With no training
  // target set this is forward(). Otherwise the targets are checked first
  // (InvalidArgument naming the field: a class that takes none, a wrong shape
  // or dtype, a class id outside [0, classes) other than -100), a seq2seq LM
  // given labels and no decoder_input_ids derives them from the labels, and
  // the outputs gain "loss" (and "mc_loss" / "losses" where transformers
  // returns them). Defined in src/nn/loss.cc.
  Outputs call(const ModelInputs& inputs) const;

  // train() / eval(): in training mode the shared blocks apply dropout (the
  // config's hidden dropout probability) with a generator seeded by `seed`;
  // eval (the default) is deterministic. Defined in src/pretrained/utils.cc.
  void set_training(bool training, uint64_t seed = 0);
  bool training() const { return params_.training(); }

 protected:
  Model(std::string class_name, Config config, std::string base_prefix)
      : class_name_(std::move(class_name)), config_(std::move(config)), base_prefix_(std::move(base_prefix)) {}
  Scope root() { return Scope(&params_); }
  // Marks declared parameters (canonical names) with a role.
  void set_roles(ParamRole role, const std::vector<std::string>& names);
  std::vector<std::string> ignored_keys_;
  ModelTraits traits_;

 private:
  std::string class_name_;
  Config config_;
  std::string base_prefix_;
  ParamTable params_;
};

// ---- registry -------------------------------------------------------------
using ModelBuilder = std::function<std::unique_ptr<Model>(const Config&)>;

// `hfx convert` (transformers-cli convert) for an architecture with an original
// (TF1 / OpenAI / XLM) checkpoint converter.
struct HFX_API ConvertTraits {
  std::string name;  // --model_type spelling ("bert", "gpt", "transfo_xl"); empty: no converter
  // The config class's attribute_map (input key -> attribute).
  std::map<std::string, std::string> attribute_map;
  // __init__'s derived fields: `full` is PretrainedConfig's to_dict() overlaid
  // with config_defaults and the input config; `input` is what the file said.
  std::function<void(json& full, const json& input)> derive;
  enum class Source { Tf1Checkpoint, OpenAINpyFolder, TorchDump } source = Source::Tf1Checkpoint;
  // StateDictFile: the output path is one weight file, no config; Folder: a
  // folder with the weights and config.json; SavePretrained: model.save_pretrained
  // (tied parameters dropped, generation_config.json).
  enum class Output { StateDictFile, Folder, SavePretrained } output = Output::Folder;
  bool config_required = false;  // --config must be given
  bool finetuning_task = false;  // --finetuning_task selects the head
  // Source::TorchDump: the class written, the state-dict key rename and the
  // vocab.json built from the dump's dictionary.
  std::string class_name;
  std::function<std::string(const std::string& key)> rename;
  std::function<json(const json& word2id)> vocab;
};

struct HFX_API Architecture {
  std::string model_type;          // "bert"
  // The config class's __init__ defaults that differ from PretrainedConfig's
  // (the one source: Config lookups and `hfx convert`'s to_dict read them).
  json config_defaults;
  std::string base_model_prefix;   // "bert"
  std::vector<std::pair<std::string, ModelBuilder>> classes;  // class name -> builder
  std::map<std::string, std::string> auto_classes;            // "AutoModelForMaskedLM" -> class name
  ConvertTraits convert;
};

// All registered architectures: hfx's own (src/models/registry_entries.h) and
// those added with register_architecture, in registration order. A snapshot:
// registering later does not change a returned vector.
HFX_API std::vector<Architecture> architectures();
// The registered architecture (NotFound lists supported types). The reference
// stays valid for the process' lifetime (architectures are never removed).
HFX_API const Architecture& architecture(const std::string& model_type);
HFX_API std::vector<std::string> supported_model_types();
// Builds the named class (e.g. "BertForMaskedLM") with fresh, unbound parameters.
HFX_API std::unique_ptr<Model> build_model(const Config& config, const std::string& class_name);

// Resolves the class an Auto class would pick for this config ("AutoModelForMaskedLM" -> "BertForMaskedLM").
HFX_API std::string auto_class_for(const Config& config, const std::string& auto_name);

// transformers' AutoConfig.register + AutoModel*.register (register_for_auto_class):
// adds an application's architecture — config defaults, classes (builders of
// Model subclasses with their forward and traits), Auto class map — so
// AutoConfig / AutoModel* / load_pretrained find it by model_type. Thread-safe.
// Errors (InvalidArgument): empty model_type, no classes, a class name twice, an
// auto_classes entry naming a class the architecture lacks, a model_type already
// registered (hfx's own included), a class name another architecture has.
HFX_API void register_architecture(Architecture arch);

}  // namespace hfx
