// The BERT encoder stack (BertEmbeddings, BertEncoder, BertPooler), shared by
// the bert, roberta and electra model files, which differ only in position
// ids, embedding size and heads.
// Upstream: transformers v4.46.3 src/transformers/models/bert/modeling_bert.py
#pragma once

#include <optional>

#include "nn/layers.h"

namespace hfx::models {

struct BertDims {
  int64_t vocab, hidden, layers, heads, intermediate, max_positions, type_vocab, embedding_size;
  float eps;
  nn::Activation act;
  bool is_decoder;
  bool tie_word_embeddings;
};
// Reads and validates the BertConfig-style fields (embedding_size falls back to hidden_size).
BertDims bert_dims(const Config& c);
// BertConfig's defaults (transformers 4.46), plus PretrainedConfig's common ones.
json bert_config_defaults();
json pretrained_config_defaults();

struct BertEmbeddings {
  nn::Embedding word, position, token_type;
  nn::LayerNorm norm;
  static BertEmbeddings make(const Scope& s, const BertDims& d);
  // [B, S] ids -> [B, S, embedding_size]
  Tensor forward(const Tensor& ids, const Tensor& token_type_ids, const Tensor& position_ids) const;
};

struct BertEncoder {
  std::vector<nn::PostLNEncoderLayer> layers;
  static BertEncoder make(const Scope& s, const BertDims& d);
  Tensor forward(Tensor h, const nn::AttnMask& mask, const Tensor& head_mask, bool hidden, bool attn,
                 nn::StackOutputs& st) const;
};

// BertModel without heads: embeddings (+ optional projection, for ELECTRA) -> encoder -> optional pooler.
struct BertCore {
  BertDims dims;
  BertEmbeddings embeddings;
  std::optional<nn::Linear> project;  // electra.embeddings_project
  BertEncoder encoder;
  std::optional<nn::Linear> pooler;
  static BertCore make(const Scope& s, const BertDims& d, bool with_pooler, bool with_projection = false);
  // Returns the sequence output [B, S, hidden]; fills hidden_states/attentions into `st`
  // when asked and `pooled` when a pooler exists. position_ids: undefined = 0..S-1.
  Tensor forward(const ModelInputs& in, const Tensor& position_ids, nn::StackOutputs& st, Tensor* pooled) const;
};

// BertCore's traits for the BERT-family files: the input table, the
// nn.Embedding roles and the prune geometry (BertSelfAttention under
// <base>encoder.layer.N.attention).
void bert_core_traits(ParamTable& t, ModelTraits& traits, const Scope& base, const BertDims& d);
// An LM head at `module` ("cls.predictions") with its bias `module`.bias and
// the decoder weight `module`.`decoder`.weight (decoder empty: `module`.weight),
// whose TF twin keeps the bias as "bias" (TFBertLMPredictionHead.get_bias)
// and names the head `tf_prefix` (empty: get_prefix_bias_name is None).
void lm_head_traits(ModelTraits& traits, const std::string& module, const std::string& tf_prefix,
                    const std::string& decoder = "decoder");

// cls.predictions-style LM head: dense -> act -> LayerNorm -> decoder (+bias).
struct LMPredictionHead {
  nn::Linear dense;
  nn::LayerNorm norm;
  nn::Linear decoder;  // weight possibly tied, bias tied to `bias`
  nn::Activation act;
  Tensor forward(const Tensor& h) const;
};

}  // namespace hfx::models
