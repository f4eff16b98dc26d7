// hfx/pretrained.h — the PreTrainedModel / ModuleUtilsMixin utilities of
// transformers 4.46 (reference: ../shared/reference/transformers.md §8):
// parameter counts and FLOPs, attention / head masks, token-embedding resizing
// and tying, head pruning, dtype casts, and writing a model to a directory.
//
//   auto m = hfx::AutoModelForMaskedLM::from_pretrained("dir");
//   hfx::prune_heads(*m, {{0, {1}}, {1, {0, 2}}});
//   hfx::resize_token_embeddings(m, 32000 + 7);       // rebuilds *m (same class)
//   hfx::write_model_directory(*m, "out");            // config.json + model.safetensors
//
// Errors are hfx::Error: InvalidArgument (bad sizes, head indices, ranks),
// NotFound (a layer / embedding the model does not have), Unsupported (an
// architecture without the operation), Mismatch (shapes that disagree).
#pragma once

#include "hfx/export.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hfx/auto.h"
#include "hfx/model.h"

namespace hfx {

// ---- counts ------------------------------------------------------------------
// Parameters counted once (tied parameters are one parameter, as torch's
// named_parameters() de-duplicates). exclude_embeddings drops the weights of
// nn.Embedding modules (word / position / token-type tables; an untied LM head is
// a Linear and stays). Every hfx parameter is trainable, so only_trainable
// changes nothing (kept for the reference's signature).
HFX_API int64_t num_parameters(const Model& model, bool only_trainable = false, bool exclude_embeddings = false);
// input_ids.numel() (0 when absent, like the reference's warning path).
HFX_API int64_t estimate_tokens(const ModelInputs& inputs);
// 6 x estimate_tokens x num_parameters(exclude_embeddings).
HFX_API int64_t floating_point_ops(const Model& model, const ModelInputs& inputs, bool exclude_embeddings = true);

// dtype of the model's first parameter (transformers' `model.dtype`).
HFX_API DType model_dtype(const Model& model);
// finfo(dtype).min for F32 / F16 / BF16 / F64 (InvalidArgument otherwise).
HFX_API double dtype_min(DType dtype);

// ---- masks -------------------------------------------------------------------
// get_extended_attention_mask: mask [B, T] -> [B, 1, 1, T] (encoder) or, with
// is_decoder, the causal [B, 1, S, T] (input_shape = [B, S]; T > S: past keys
// are visible); mask [B, F, T] -> [B, 1, F, T]. Values (1 - m) * finfo(dtype).min,
// returned in `dtype`. Another rank -> InvalidArgument naming both shapes.
HFX_API Tensor get_extended_attention_mask(const Tensor& mask, const Shape& input_shape, bool is_decoder, DType dtype = DType::F32);
// The same with the model's config.is_decoder and dtype.
HFX_API Tensor get_extended_attention_mask(const Model& model, const Tensor& mask, const Shape& input_shape);
// invert_attention_mask: [B, T] -> [B, 1, 1, T], [B, F, T] -> [B, 1, F, T], (1 - m) * finfo.min.
HFX_API Tensor invert_attention_mask(const Tensor& mask, DType dtype = DType::F32);
// get_head_mask: [H] or [L, H] -> [L, 1, H, 1, 1] in `dtype`; undefined stays undefined.
HFX_API Tensor get_head_mask(const Tensor& head_mask, int64_t num_hidden_layers, DType dtype = DType::F32);

// ---- embeddings --------------------------------------------------------------
// Canonical parameter names of the input embedding table and of the output
// embedding (LM head weight), as get_input_embeddings / get_output_embeddings
// name them; output is empty for a class without an LM head.
HFX_API std::string input_embeddings_name(const Model& model);
HFX_API std::string output_embeddings_name(const Model& model);
HFX_API const Tensor& get_input_embeddings(const Model& model);
HFX_API std::optional<Tensor> get_output_embeddings(const Model& model);
// set_*: the new table must keep the embedding dim; a different row count
// updates the declared shapes (and tied parameters follow the input table).
HFX_API void set_input_embeddings(Model& model, const Tensor& table);
HFX_API void set_output_embeddings(Model& model, const Tensor& weight);
// tie_weights: with config.tie_word_embeddings, the LM head weight is the input
// table (pads / truncates an LM-head bias with zeros to the new row count).
// Already-tied heads (the usual case in hfx) are left as they are.
HFX_API void tie_weights(Model& model);

// ---- LM head (transformers' TF API, modeling_tf_utils.py 4.46) ----------------
// Read from the model file's traits (ModelTraits::lm_head), in canonical names.
// get_lm_head: the module path of the LM head layer ("cls.predictions"), or
// nullopt where the TF class returns None (no head, or a head without its own
// bias layer: GPT-2, T5, BART, Llama, ...). get_output_layer_with_bias is its
// deprecated alias in transformers and returns the same.
HFX_API std::optional<std::string> get_lm_head(const Model& model);
HFX_API std::optional<std::string> get_output_layer_with_bias(const Model& model);
// get_bias: the LM head's biases by TF's key ({"bias": ...}; ALBERT adds
// "decoder_bias", BART has {"final_logits_bias": [1, vocab]}); nullopt: none.
HFX_API std::optional<std::map<std::string, Tensor>> get_bias(const Model& model);
// set_bias: replaces the named biases (keys of get_bias; a key the model lacks
// -> NotFound; another rank -> Mismatch). A new length updates the declared
// shape (as TF's set_bias, used when resizing). A bias tied to another
// (ALBERT's decoder_bias is predictions.bias in PyTorch) sets the one tensor.
// No LM-head bias -> Unsupported.
HFX_API void set_bias(Model& model, const std::map<std::string, Tensor>& value);
// get_prefix_bias_name: "<Keras model name>/<head path>" as the TF class
// returns it ("tf_bert_for_masked_lm/mlm___cls/predictions"), the model name
// being Keras' default for the TF class (`keras_name`, or when empty
// to_snake_case("TF" + class_name)); nullopt where the TF class returns None.
HFX_API std::optional<std::string> get_prefix_bias_name(const Model& model, const std::string& keras_name = "");

// resize_token_embeddings(new_num_tokens, pad_to_multiple_of) as transformers 4.46
// (mean_resizing = True): rows [0, min(old, new)) are copied bit-exactly; added
// rows are drawn from N(mean, 1e-9 * covariance) of the old rows (computed in
// f32/f64; the mean alone when the covariance is not positive definite), with a
// generator seeded by `seed`; an untied LM head is resized the same way and its
// added bias entries are the old bias' mean; a tied head follows the input table
// and its bias is padded with zeros. config.vocab_size := the new row count.
// *model is replaced by a rebuilt instance of the same class (train state and
// pruned heads are kept). Returns the new row count.
// Errors: new_num_tokens <= 0 or pad_to_multiple_of <= 0 -> InvalidArgument
// (the reference accepts 0); no input embedding -> Unsupported.
HFX_API int64_t resize_token_embeddings(std::unique_ptr<Model>& model, std::optional<int64_t> new_num_tokens,
                                std::optional<int64_t> pad_to_multiple_of = std::nullopt, uint64_t seed = 0);

// Transformer-XL (TransfoXLPreTrainedModel.resize_token_embeddings(new_num_tokens,
// layer)): resizes one cluster `layer` (-1: the last) of the adaptive input
// embedding to new_num_tokens - (rows of the other clusters) rows (old rows kept
// bit-exactly, added ones mean-resized as above), sets config.cutoffs to the
// cumulative cluster sizes (_resize_cutoffs) and config.vocab_size; an LM head's
// tied crit.out_layers[layer] follows, its bias padded with zeros / truncated.
// Ids move when a cluster other than the last changes size (as in the reference).
// resize_token_embeddings calls this with layer -1 for transfo-xl (and refuses
// pad_to_multiple_of, which the reference's signature lacks). Errors: layer
// outside [-1, clusters), a cluster of <= 0 rows, new_num_tokens <= 0 ->
// InvalidArgument; div_val = 1, an untied adaptive softmax, another
// architecture -> Unsupported.
HFX_API int64_t resize_adaptive_token_embeddings(std::unique_ptr<Model>& model, std::optional<int64_t> new_num_tokens, int64_t layer = -1,
                                         uint64_t seed = 0);

// ---- pruning -----------------------------------------------------------------
// prune_heads({layer: [heads]}) wherever transformers 4.46's base model implements
// _prune_heads: the BERT family (bert, roberta, electra, albert — layers are the
// flattened group/inner index — and distilbert), xlm, gpt2 and openai-gpt (the
// fused Conv1D c_attn loses each head's q/k/v columns, c_proj its rows), and T5's
// encoder-only classes (T5EncoderModel, T5ForTokenClassification; the shared
// relative position bias keeps every head and each layer uses its kept heads').
// Removes those heads' rows of query/key/value and columns of the attention
// output projection, and records config.pruned_heads (union with what was pruned;
// indices in the original numbering). Errors: a head index outside
// [0, num_heads) or pruning every head of a layer -> InvalidArgument (the
// reference raises IndexError / fails in forward); a layer the model does not
// have -> NotFound; every other class -> Unsupported, naming what the reference
// does (AttributeError: no _prune_heads — bart, llama, mistral, T5Model,
// T5ForConditionalGeneration, ...; NotImplementedError — xlnet; a logged no-op —
// transfo-xl). GPT-2 note: the reference prunes correctly but only its eager
// attention runs afterwards (GPT2SdpaAttention reshapes to the unpruned
// embed_dim); hfx's attention is the eager computation.
using HeadsToPrune = std::map<int64_t, std::vector<int64_t>>;
HFX_API void prune_heads(Model& model, const HeadsToPrune& heads);
// config.pruned_heads of a model being built or loaded (parameters may be
// unbound): prunes the declared shapes so a pruned checkpoint binds. Called by
// load_pretrained; a no-op when the config has no pruned heads.
HFX_API void apply_config_pruned_heads(Model& model);
// "0:1,2;1:0" -> {0: [1, 2], 1: [0]} (InvalidArgument on bad syntax).
HFX_API HeadsToPrune parse_heads_spec(const std::string& spec);

// ---- dtypes ------------------------------------------------------------------
// Casts every parameter to `dtype` (F32 / F16 / BF16); forward still computes in
// f32 (kernels widen the weights). Tied parameters follow their target.
HFX_API void cast_parameters(Model& model, DType dtype);
// Flax-style to_fp16 / to_bf16 / to_fp32 with a mask: only parameters for whose
// canonical name `mask` returns true are cast (no mask: all).
using ParamMask = std::function<bool(const std::string& name)>;
HFX_API void to_dtype(Model& model, DType dtype, const ParamMask& mask = {});
inline void to_fp16(Model& m, const ParamMask& mask = {}) { to_dtype(m, DType::F16, mask); }
inline void to_bf16(Model& m, const ParamMask& mask = {}) { to_dtype(m, DType::BF16, mask); }
inline void to_fp32(Model& m, const ParamMask& mask = {}) { to_dtype(m, DType::F32, mask); }
// The docs' example mask: false for LayerNorm weights/biases (keep them in f32).
HFX_API bool not_layer_norm(const std::string& name);

// ---- saving ------------------------------------------------------------------
// A minimal save_pretrained: `dir`/config.json (the config with architectures =
// [class], torch_dtype, pruned_heads as transformers writes them) and
// `dir`/model.safetensors (every parameter once, tied ones dropped). The
// directory is created if needed; files are written atomically.
HFX_API void write_model_directory(const Model& model, const std::string& dir);
// write_model_directory(*load_pretrained(src, class_name, opts).model, dir), byte
// for byte, streaming: each parameter is read from the (mapped) checkpoint,
// converted, written and its source pages released (the next one is prepared
// while one is written), so peak memory is about the largest tensor or two,
// not the model.
HFX_API void convert_model_directory(const std::string& src, const std::string& dir, const std::string& class_name = "",
                             const LoadOptions& opts = {});

}  // namespace hfx
