// Original-release checkpoints -> canonical (PyTorch) names: the name tables
// of transformers 4.46's load_tf_weights_in_{bert,albert,openai_gpt,gpt2,t5,
// xlnet,transfo_xl} and build_tf_*_to_pytorch_map, written as data.
//
// Each table lists, per TF variable pattern, the PyTorch parameter it becomes
// and how (copy, 2-D transpose, squeeze of the unit axes, or one slice of a
// per-layer stack). `{i}`-style placeholders stand for layer indices; their
// ranges come from config fields. TF path components "name_007" are read as
// "name_7" first (the reference's `re.split(r"_(\d+)")` + int()). Tied
// parameters (a decoder weight that *is* the word embedding) are listed as
// ties, computed buffers (Transformer-XL's inv_freq) as buffers. Optimizer
// slots and global_step match the skip patterns; any other variable that no
// rule knows is an error naming it (the reference logs and drops some).
// Quirks kept on purpose: BERT/ALBERT `cls/squad/*` has no place in
// *ForPreTraining (the reference skips it, so do we); XLNet's
// `model/sequnece_summary` spelling; T5's tensors are all transposed except
// the embedding and cast to float32.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "core/regex.h"
#include "naming/naming.h"

namespace hfx::naming {

namespace {

struct Rule {
  const char* tf;  // TF variable pattern ({x} = a layer index)
  const char* pt;  // PyTorch name pattern
  Tf1Op op = Tf1Op::Copy;
  // Only when a config string field starts with a prefix ("key^prefix"), or does not ("!key^prefix").
  const char* when = nullptr;
};
struct Tie {
  const char* pt;      // the parameter that shares ...
  const char* target;  // ... this one's tensor
  const char* unless = nullptr;  // config bool that, when false, unties it (then a rule must provide it)
};
struct Range {
  char var;
  const char* key;           // config field giving the count
  const char* fallback = nullptr;
};
struct Table {
  const char* type;        // transformers-cli convert --model_type
  const char* model_type;  // config.json model_type of the result
  const char* class_name;  // the PyTorch class the reference converter builds
  std::vector<Range> ranges;
  std::vector<Rule> rules;
  std::vector<Tie> ties;
  std::vector<const char*> skip;  // regexes over the original name
  bool cast_f32 = false;          // T5: array.astype(np.float32)
};

constexpr Tf1Op T = Tf1Op::Transpose, S = Tf1Op::Squeeze, I = Tf1Op::Index;

const std::vector<const char*> kBertSkip = {R"((^|.*/)(adam_m|adam_v|AdamWeightDecayOptimizer|AdamWeightDecayOptimizer_1|global_step)(/.*|$))"};
const std::vector<const char*> kAdamSkip = {R"(.*/Adam(_1)?$)", R"(^global_step$)"};

#define BERT_LAYER "bert/encoder/layer_{i}/"
#define PT_LAYER "bert.encoder.layer.{i}."
const Table kBert = {
    "bert", "bert", "BertForPreTraining",
    {{'i', "num_hidden_layers"}},
    {
        {"bert/embeddings/word_embeddings", "bert.embeddings.word_embeddings.weight"},
        {"bert/embeddings/position_embeddings", "bert.embeddings.position_embeddings.weight"},
        {"bert/embeddings/token_type_embeddings", "bert.embeddings.token_type_embeddings.weight"},
        {"bert/embeddings/LayerNorm/gamma", "bert.embeddings.LayerNorm.weight"},
        {"bert/embeddings/LayerNorm/beta", "bert.embeddings.LayerNorm.bias"},
        {BERT_LAYER "attention/self/query/kernel", PT_LAYER "attention.self.query.weight", T},
        {BERT_LAYER "attention/self/query/bias", PT_LAYER "attention.self.query.bias"},
        {BERT_LAYER "attention/self/key/kernel", PT_LAYER "attention.self.key.weight", T},
        {BERT_LAYER "attention/self/key/bias", PT_LAYER "attention.self.key.bias"},
        {BERT_LAYER "attention/self/value/kernel", PT_LAYER "attention.self.value.weight", T},
        {BERT_LAYER "attention/self/value/bias", PT_LAYER "attention.self.value.bias"},
        {BERT_LAYER "attention/output/dense/kernel", PT_LAYER "attention.output.dense.weight", T},
        {BERT_LAYER "attention/output/dense/bias", PT_LAYER "attention.output.dense.bias"},
        {BERT_LAYER "attention/output/LayerNorm/gamma", PT_LAYER "attention.output.LayerNorm.weight"},
        {BERT_LAYER "attention/output/LayerNorm/beta", PT_LAYER "attention.output.LayerNorm.bias"},
        {BERT_LAYER "intermediate/dense/kernel", PT_LAYER "intermediate.dense.weight", T},
        {BERT_LAYER "intermediate/dense/bias", PT_LAYER "intermediate.dense.bias"},
        {BERT_LAYER "output/dense/kernel", PT_LAYER "output.dense.weight", T},
        {BERT_LAYER "output/dense/bias", PT_LAYER "output.dense.bias"},
        {BERT_LAYER "output/LayerNorm/gamma", PT_LAYER "output.LayerNorm.weight"},
        {BERT_LAYER "output/LayerNorm/beta", PT_LAYER "output.LayerNorm.bias"},
        {"bert/pooler/dense/kernel", "bert.pooler.dense.weight", T},
        {"bert/pooler/dense/bias", "bert.pooler.dense.bias"},
        {"cls/predictions/transform/dense/kernel", "cls.predictions.transform.dense.weight", T},
        {"cls/predictions/transform/dense/bias", "cls.predictions.transform.dense.bias"},
        {"cls/predictions/transform/LayerNorm/gamma", "cls.predictions.transform.LayerNorm.weight"},
        {"cls/predictions/transform/LayerNorm/beta", "cls.predictions.transform.LayerNorm.bias"},
        {"cls/predictions/output_bias", "cls.predictions.bias"},
        // output_weights is not a "kernel": the reference does not transpose it.
        {"cls/seq_relationship/output_weights", "cls.seq_relationship.weight"},
        {"cls/seq_relationship/output_bias", "cls.seq_relationship.bias"},
    },
    {{"cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight"},
     {"cls.predictions.decoder.bias", "cls.predictions.bias"}},
    {kBertSkip[0], R"(^cls/squad/.*)"},
};
#undef BERT_LAYER
#undef PT_LAYER

#define AL_TF "bert/encoder/transformer/group_{g}/inner_group_{j}/"
#define AL_PT "albert.encoder.albert_layer_groups.{g}.albert_layers.{j}."
const Table kAlbert = {
    "albert", "albert", "AlbertForPreTraining",
    {{'g', "num_hidden_groups"}, {'j', "inner_group_num"}},
    {
        {"bert/embeddings/word_embeddings", "albert.embeddings.word_embeddings.weight"},
        {"bert/embeddings/position_embeddings", "albert.embeddings.position_embeddings.weight"},
        {"bert/embeddings/token_type_embeddings", "albert.embeddings.token_type_embeddings.weight"},
        {"bert/embeddings/LayerNorm/gamma", "albert.embeddings.LayerNorm.weight"},
        {"bert/embeddings/LayerNorm/beta", "albert.embeddings.LayerNorm.bias"},
        {"bert/encoder/embedding_hidden_mapping_in/kernel", "albert.encoder.embedding_hidden_mapping_in.weight", T},
        {"bert/encoder/embedding_hidden_mapping_in/bias", "albert.encoder.embedding_hidden_mapping_in.bias"},
        {AL_TF "attention_1/self/query/kernel", AL_PT "attention.query.weight", T},
        {AL_TF "attention_1/self/query/bias", AL_PT "attention.query.bias"},
        {AL_TF "attention_1/self/key/kernel", AL_PT "attention.key.weight", T},
        {AL_TF "attention_1/self/key/bias", AL_PT "attention.key.bias"},
        {AL_TF "attention_1/self/value/kernel", AL_PT "attention.value.weight", T},
        {AL_TF "attention_1/self/value/bias", AL_PT "attention.value.bias"},
        {AL_TF "attention_1/output/dense/kernel", AL_PT "attention.dense.weight", T},
        {AL_TF "attention_1/output/dense/bias", AL_PT "attention.dense.bias"},
        {AL_TF "LayerNorm/gamma", AL_PT "attention.LayerNorm.weight"},
        {AL_TF "LayerNorm/beta", AL_PT "attention.LayerNorm.bias"},
        {AL_TF "ffn_1/intermediate/dense/kernel", AL_PT "ffn.weight", T},
        {AL_TF "ffn_1/intermediate/dense/bias", AL_PT "ffn.bias"},
        {AL_TF "ffn_1/intermediate/output/dense/kernel", AL_PT "ffn_output.weight", T},
        {AL_TF "ffn_1/intermediate/output/dense/bias", AL_PT "ffn_output.bias"},
        {AL_TF "LayerNorm_1/gamma", AL_PT "full_layer_layer_norm.weight"},
        {AL_TF "LayerNorm_1/beta", AL_PT "full_layer_layer_norm.bias"},
        {"bert/pooler/dense/kernel", "albert.pooler.weight", T},
        {"bert/pooler/dense/bias", "albert.pooler.bias"},
        {"cls/predictions/transform/dense/kernel", "predictions.dense.weight", T},
        {"cls/predictions/transform/dense/bias", "predictions.dense.bias"},
        {"cls/predictions/transform/LayerNorm/gamma", "predictions.LayerNorm.weight"},
        {"cls/predictions/transform/LayerNorm/beta", "predictions.LayerNorm.bias"},
        {"cls/predictions/output_bias", "predictions.bias"},
        {"cls/seq_relationship/output_weights", "sop_classifier.classifier.weight"},
        {"cls/seq_relationship/output_bias", "sop_classifier.classifier.bias"},
    },
    {{"predictions.decoder.weight", "albert.embeddings.word_embeddings.weight"},
     {"predictions.decoder.bias", "predictions.bias"}},
    {kBertSkip[0], R"(^cls/squad/.*)"},
};
#undef AL_TF
#undef AL_PT

// The OpenAI numpy release (open_openai_npy_folder): "model/we:0[0]" and
// "model/we:0[1]" are the two arrays that the one name "model/we:0" covers.
const Table kGpt = {
    "gpt", "openai-gpt", "OpenAIGPTModel",
    {{'i', "n_layer"}},
    {
        {"model/we:0[0]", "positions_embed.weight", S},
        {"model/we:0[1]", "tokens_embed.weight", S},
        {"model/h{i}/attn/c_attn/w:0", "h.{i}.attn.c_attn.weight", S},
        {"model/h{i}/attn/c_attn/b:0", "h.{i}.attn.c_attn.bias", S},
        {"model/h{i}/attn/c_proj/w:0", "h.{i}.attn.c_proj.weight", S},
        {"model/h{i}/attn/c_proj/b:0", "h.{i}.attn.c_proj.bias", S},
        {"model/h{i}/ln_1/g:0", "h.{i}.ln_1.weight", S},
        {"model/h{i}/ln_1/b:0", "h.{i}.ln_1.bias", S},
        {"model/h{i}/mlp/c_fc/w:0", "h.{i}.mlp.c_fc.weight", S},
        {"model/h{i}/mlp/c_fc/b:0", "h.{i}.mlp.c_fc.bias", S},
        {"model/h{i}/mlp/c_proj/w:0", "h.{i}.mlp.c_proj.weight", S},
        {"model/h{i}/mlp/c_proj/b:0", "h.{i}.mlp.c_proj.bias", S},
        {"model/h{i}/ln_2/g:0", "h.{i}.ln_2.weight", S},
        {"model/h{i}/ln_2/b:0", "h.{i}.ln_2.bias", S},
    },
    {},
    {},
};

// GPT-2: every array is squeezed (the TF conv1d kernels are [1, nx, nf]).
const Table kGpt2 = {
    "gpt2", "gpt2", "GPT2Model",
    {{'i', "n_layer"}},
    {
        {"model/wte", "wte.weight", S},
        {"model/wpe", "wpe.weight", S},
        {"model/h{i}/attn/c_attn/w", "h.{i}.attn.c_attn.weight", S},
        {"model/h{i}/attn/c_attn/b", "h.{i}.attn.c_attn.bias", S},
        {"model/h{i}/attn/c_proj/w", "h.{i}.attn.c_proj.weight", S},
        {"model/h{i}/attn/c_proj/b", "h.{i}.attn.c_proj.bias", S},
        {"model/h{i}/ln_1/g", "h.{i}.ln_1.weight", S},
        {"model/h{i}/ln_1/b", "h.{i}.ln_1.bias", S},
        {"model/h{i}/mlp/c_fc/w", "h.{i}.mlp.c_fc.weight", S},
        {"model/h{i}/mlp/c_fc/b", "h.{i}.mlp.c_fc.bias", S},
        {"model/h{i}/mlp/c_proj/w", "h.{i}.mlp.c_proj.weight", S},
        {"model/h{i}/mlp/c_proj/b", "h.{i}.mlp.c_proj.bias", S},
        {"model/h{i}/ln_2/g", "h.{i}.ln_2.weight", S},
        {"model/h{i}/ln_2/b", "h.{i}.ln_2.bias", S},
        {"model/ln_f/g", "ln_f.weight", S},
        {"model/ln_f/b", "ln_f.bias", S},
    },
    {},
    {},
};

// Mesh-TF T5 (v1.0 and v1.1 spellings): every array but the embedding is
// transposed (1-D ones unchanged).
#define T5E "encoder/block_{i}/"
#define T5D "decoder/block_{d}/"
const Table kT5 = {
    "t5", "t5", "T5ForConditionalGeneration",
    {{'i', "num_layers"}, {'d', "num_decoder_layers", "num_layers"}},
    {
        {"shared/embedding", "shared.weight"},
        {"decoder/logits/kernel", "lm_head.weight", T},
        {"encoder/block_0/layer_0/SelfAttention/relative_attention_bias", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", T},
        {"decoder/block_0/layer_0/SelfAttention/relative_attention_bias", "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", T},
        {T5E "layer_0/SelfAttention/q", "encoder.block.{i}.layer.0.SelfAttention.q.weight", T},
        {T5E "layer_0/SelfAttention/k", "encoder.block.{i}.layer.0.SelfAttention.k.weight", T},
        {T5E "layer_0/SelfAttention/v", "encoder.block.{i}.layer.0.SelfAttention.v.weight", T},
        {T5E "layer_0/SelfAttention/o", "encoder.block.{i}.layer.0.SelfAttention.o.weight", T},
        {T5E "layer_0/layer_norm/scale", "encoder.block.{i}.layer.0.layer_norm.weight", T},
        {T5E "layer_0/rms_norm/scale", "encoder.block.{i}.layer.0.layer_norm.weight", T},
        {T5E "layer_1/DenseReluDense/wi/kernel", "encoder.block.{i}.layer.1.DenseReluDense.wi.weight", T, "!feed_forward_proj^gated-"},
        {T5E "layer_1/DenseReluDense/wi_0/kernel", "encoder.block.{i}.layer.1.DenseReluDense.wi_0.weight", T, "feed_forward_proj^gated-"},
        {T5E "layer_1/DenseReluDense/wi_1/kernel", "encoder.block.{i}.layer.1.DenseReluDense.wi_1.weight", T, "feed_forward_proj^gated-"},
        {T5E "layer_1/DenseReluDense/wo/kernel", "encoder.block.{i}.layer.1.DenseReluDense.wo.weight", T},
        {T5E "layer_1/layer_norm/scale", "encoder.block.{i}.layer.1.layer_norm.weight", T},
        {T5E "layer_1/rms_norm/scale", "encoder.block.{i}.layer.1.layer_norm.weight", T},
        {"encoder/final_layer_norm/scale", "encoder.final_layer_norm.weight", T},
        {"encoder/rms_norm/scale", "encoder.final_layer_norm.weight", T},
        {T5D "layer_0/SelfAttention/q", "decoder.block.{d}.layer.0.SelfAttention.q.weight", T},
        {T5D "layer_0/SelfAttention/k", "decoder.block.{d}.layer.0.SelfAttention.k.weight", T},
        {T5D "layer_0/SelfAttention/v", "decoder.block.{d}.layer.0.SelfAttention.v.weight", T},
        {T5D "layer_0/SelfAttention/o", "decoder.block.{d}.layer.0.SelfAttention.o.weight", T},
        {T5D "layer_0/layer_norm/scale", "decoder.block.{d}.layer.0.layer_norm.weight", T},
        {T5D "layer_0/rms_norm/scale", "decoder.block.{d}.layer.0.layer_norm.weight", T},
        {T5D "layer_1/EncDecAttention/q", "decoder.block.{d}.layer.1.EncDecAttention.q.weight", T},
        {T5D "layer_1/EncDecAttention/k", "decoder.block.{d}.layer.1.EncDecAttention.k.weight", T},
        {T5D "layer_1/EncDecAttention/v", "decoder.block.{d}.layer.1.EncDecAttention.v.weight", T},
        {T5D "layer_1/EncDecAttention/o", "decoder.block.{d}.layer.1.EncDecAttention.o.weight", T},
        {T5D "layer_1/layer_norm/scale", "decoder.block.{d}.layer.1.layer_norm.weight", T},
        {T5D "layer_1/rms_norm/scale", "decoder.block.{d}.layer.1.layer_norm.weight", T},
        {T5D "layer_2/DenseReluDense/wi/kernel", "decoder.block.{d}.layer.2.DenseReluDense.wi.weight", T, "!feed_forward_proj^gated-"},
        {T5D "layer_2/DenseReluDense/wi_0/kernel", "decoder.block.{d}.layer.2.DenseReluDense.wi_0.weight", T, "feed_forward_proj^gated-"},
        {T5D "layer_2/DenseReluDense/wi_1/kernel", "decoder.block.{d}.layer.2.DenseReluDense.wi_1.weight", T, "feed_forward_proj^gated-"},
        {T5D "layer_2/DenseReluDense/wo/kernel", "decoder.block.{d}.layer.2.DenseReluDense.wo.weight", T},
        {T5D "layer_2/layer_norm/scale", "decoder.block.{d}.layer.2.layer_norm.weight", T},
        {T5D "layer_2/rms_norm/scale", "decoder.block.{d}.layer.2.layer_norm.weight", T},
        {"decoder/final_layer_norm/scale", "decoder.final_layer_norm.weight", T},
        {"decoder/rms_norm/scale", "decoder.final_layer_norm.weight", T},
    },
    {{"encoder.embed_tokens.weight", "shared.weight"},
     {"decoder.embed_tokens.weight", "shared.weight"},
     {"lm_head.weight", "shared.weight", "tie_word_embeddings"}},
    {kBertSkip[0], R"(.*_slot_[^/]*$)"},
    /*cast_f32=*/true,
};
#undef T5E
#undef T5D

// XLNet (build_tf_xlnet_to_pytorch_map): only ff / summary / logit kernels are
// transposed; r_*_bias and seg_embed are [n_layer, ...] stacks, one slice per layer.
#define XL_TF "model/transformer/layer_{i}/"
#define XL_PT "transformer.layer.{i}."
const std::vector<Rule> kXlnetBody = {
    {"model/transformer/word_embedding/lookup_table", "transformer.word_embedding.weight"},
    {"model/transformer/mask_emb/mask_emb", "transformer.mask_emb"},
    {XL_TF "rel_attn/LayerNorm/gamma", XL_PT "rel_attn.layer_norm.weight"},
    {XL_TF "rel_attn/LayerNorm/beta", XL_PT "rel_attn.layer_norm.bias"},
    {XL_TF "rel_attn/o/kernel", XL_PT "rel_attn.o"},
    {XL_TF "rel_attn/q/kernel", XL_PT "rel_attn.q"},
    {XL_TF "rel_attn/k/kernel", XL_PT "rel_attn.k"},
    {XL_TF "rel_attn/r/kernel", XL_PT "rel_attn.r"},
    {XL_TF "rel_attn/v/kernel", XL_PT "rel_attn.v"},
    {XL_TF "ff/LayerNorm/gamma", XL_PT "ff.layer_norm.weight"},
    {XL_TF "ff/LayerNorm/beta", XL_PT "ff.layer_norm.bias"},
    {XL_TF "ff/layer_1/kernel", XL_PT "ff.layer_1.weight", T},
    {XL_TF "ff/layer_1/bias", XL_PT "ff.layer_1.bias"},
    {XL_TF "ff/layer_2/kernel", XL_PT "ff.layer_2.weight", T},
    {XL_TF "ff/layer_2/bias", XL_PT "ff.layer_2.bias"},
    {"model/transformer/r_r_bias", XL_PT "rel_attn.r_r_bias", I},
    {"model/transformer/r_w_bias", XL_PT "rel_attn.r_w_bias", I},
    {"model/transformer/r_s_bias", XL_PT "rel_attn.r_s_bias", I},
    {"model/transformer/seg_embed", XL_PT "rel_attn.seg_embed", I},
};
#undef XL_TF
#undef XL_PT
const std::vector<Rule> kXlnetLmHead = {{"model/lm_loss/bias", "lm_loss.bias"}};
// {task}: the lower-cased --finetuning_task_name.
const std::vector<Rule> kXlnetClassifier = {
    {"model/sequnece_summary/summary/kernel", "sequence_summary.summary.weight", T},
    {"model/sequnece_summary/summary/bias", "sequence_summary.summary.bias"},
    {"model/regression_{task}/logit/kernel", "logits_proj.weight", T},
    {"model/regression_{task}/logit/bias", "logits_proj.bias"},
};

// Transformer-XL (build_tf_to_pytorch_map), adaptive embedding/softmax with
// div_val != 1: {c} runs over the clusters (len(cutoffs) + 1). Kernels and
// projections are transposed.
#define TX_TF "transformer/layer_{i}/"
#define TX_PT "transformer.layers.{i}."
const Table kTransfoXl = {
    "transfo_xl", "transfo-xl", "TransfoXLLMHeadModel",
    {{'i', "n_layer"}},  // {c}: clusters, from cutoffs
    {
        {"transformer/adaptive_softmax/cutoff_0/cluster_W", "crit.cluster_weight"},
        {"transformer/adaptive_softmax/cutoff_0/cluster_b", "crit.cluster_bias"},
        {"transformer/adaptive_softmax/cutoff_{c}/b", "crit.out_layers.{c}.bias"},
        {"transformer/adaptive_softmax/cutoff_{c}/proj", "crit.out_projs.{c}", T},
        {"transformer/adaptive_embed/cutoff_{c}/lookup_table", "transformer.word_emb.emb_layers.{c}.weight"},
        {"transformer/adaptive_embed/cutoff_{c}/proj_W", "transformer.word_emb.emb_projs.{c}", T},
        {TX_TF "rel_attn/LayerNorm/gamma", TX_PT "dec_attn.layer_norm.weight"},
        {TX_TF "rel_attn/LayerNorm/beta", TX_PT "dec_attn.layer_norm.bias"},
        {TX_TF "rel_attn/o/kernel", TX_PT "dec_attn.o_net.weight", T},
        {TX_TF "rel_attn/qkv/kernel", TX_PT "dec_attn.qkv_net.weight", T},
        {TX_TF "rel_attn/r/kernel", TX_PT "dec_attn.r_net.weight", T},
        {TX_TF "ff/LayerNorm/gamma", TX_PT "pos_ff.layer_norm.weight"},
        {TX_TF "ff/LayerNorm/beta", TX_PT "pos_ff.layer_norm.bias"},
        {TX_TF "ff/layer_1/kernel", TX_PT "pos_ff.CoreNet.0.weight", T},
        {TX_TF "ff/layer_1/bias", TX_PT "pos_ff.CoreNet.0.bias"},
        {TX_TF "ff/layer_2/kernel", TX_PT "pos_ff.CoreNet.3.weight", T},
        {TX_TF "ff/layer_2/bias", TX_PT "pos_ff.CoreNet.3.bias"},
        {"transformer/r_r_bias", TX_PT "dec_attn.r_r_bias", I},
        {"transformer/r_w_bias", TX_PT "dec_attn.r_w_bias", I},
    },
    {{"crit.out_layers.{c}.weight", "transformer.word_emb.emb_layers.{c}.weight"}},
    kAdamSkip,
};
#undef TX_TF
#undef TX_PT

const std::vector<const Table*>& tables() {
  static const std::vector<const Table*> t = {&kBert, &kAlbert, &kGpt, &kGpt2, &kT5, &kTransfoXl};
  return t;
}

// GLUE_TASKS_NUM_LABELS (transformers/data/metrics... 4.46 convert_xlnet_*).
const std::map<std::string, int>& glue_tasks() {
  static const std::map<std::string, int> m = {{"cola", 2}, {"mnli", 3}, {"mrpc", 2}, {"sst-2", 2}, {"sts-b", 1},
                                               {"qqp", 2},  {"qnli", 2}, {"rte", 2},  {"wnli", 2}};
  return m;
}

std::string replace_all(std::string s, const std::string& a, const std::string& b) {
  for (std::size_t p = s.find(a); p != std::string::npos; p = s.find(a, p + b.size())) s.replace(p, a.size(), b);
  return s;
}

// "block_007" -> "block_7" in every path component shaped [A-Za-z]+_\d+.
std::string normalize_tf(const std::string& name) {
  static const Regex comp(R"(([A-Za-z]+)_(\d+))");
  std::string out, part;
  std::size_t b = 0;
  while (true) {
    std::size_t e = name.find('/', b);
    part = name.substr(b, e == std::string::npos ? std::string::npos : e - b);
    std::vector<std::string> m;
    if (part.size() < 40 && comp.full_match(part, &m)) part = m[1] + "_" + std::to_string(std::stoll(m[2]));
    out += part;
    if (e == std::string::npos) return out;
    out += '/';
    b = e + 1;
  }
}

int64_t config_count(const json& cfg, const char* key, const char* fallback, const std::string& type) {
  for (const char* k : {key, fallback}) {
    if (!k) continue;
    auto it = cfg.find(k);
    if (it != cfg.end() && it->is_number_integer()) {
      const int64_t n = it->get<int64_t>();
      if (n < 0 || n > 100000) throw_error(ErrorKind::Format, type + " config: '" + k + "' out of range: " + it->dump());
      return n;
    }
  }
  throw_error(ErrorKind::Format, type + " config has no integer '" + key + "' (needed to name the layers)");
}

// "key^prefix": cfg[key] is a string starting with prefix; "!..." negates.
bool config_condition(const json& cfg, std::string cond) {
  const bool neg = !cond.empty() && cond[0] == '!';
  if (neg) cond.erase(0, 1);
  const std::size_t caret = cond.find('^');
  const std::string key = cond.substr(0, caret), prefix = cond.substr(caret + 1);
  auto it = cfg.find(key);
  const bool holds = it != cfg.end() && it->is_string() && it->get<std::string>().compare(0, prefix.size(), prefix) == 0;
  return holds != neg;
}

using Vars = std::map<char, int64_t>;

std::string substitute(std::string s, const Vars& v, const std::string& task) {
  for (const auto& [c, n] : v) s = replace_all(s, std::string("{") + c + "}", std::to_string(n));
  return replace_all(s, "{task}", task);
}

// Every assignment of the placeholders used in `pattern`.
void expand(const std::string& pattern, const std::map<char, int64_t>& counts, std::size_t k, Vars& cur,
            std::vector<Vars>& out) {
  auto it = counts.begin();
  std::advance(it, static_cast<long>(k));
  if (it == counts.end()) {
    out.push_back(cur);
    return;
  }
  if (pattern.find(std::string("{") + it->first + "}") == std::string::npos) return expand(pattern, counts, k + 1, cur, out);
  for (int64_t i = 0; i < it->second; ++i) {
    cur[it->first] = i;
    expand(pattern, counts, k + 1, cur, out);
  }
  cur.erase(it->first);
}

Tensor squeeze(const Tensor& t) {
  Shape s;
  for (int64_t d : t.shape())
    if (d != 1) s.push_back(d);
  return t.contiguous().reshape(s);
}

}  // namespace

std::vector<std::string> tf1_convert_types() { return {"bert", "albert", "gpt", "gpt2", "xlnet", "xlm", "t5", "transfo_xl"}; }

std::string tf1_convert_type_for(const std::string& model_type) {
  for (const Table* t : tables())
    if (model_type == t->model_type) return t->type;
  if (model_type == "xlnet") return "xlnet";
  return {};
}

Tf1Plan tf1_plan(const std::string& type, const json& cfg, const std::vector<TensorInfo>& vars, const Tf1PlanOptions& o) {
  Tf1Plan plan;
  const Table* table = nullptr;
  Table xlnet;  // assembled below
  for (const Table* t : tables())
    if (t->type == type) table = t;
  std::string task = o.finetuning_task;
  std::transform(task.begin(), task.end(), task.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (type == "xlnet") {
    xlnet = Table{"xlnet", "xlnet", "XLNetLMHeadModel", {{'i', "n_layer"}}, kXlnetBody, {}, kAdamSkip};
    if (glue_tasks().count(task)) {
      xlnet.class_name = "XLNetForSequenceClassification";
      xlnet.rules.insert(xlnet.rules.end(), kXlnetClassifier.begin(), kXlnetClassifier.end());
      xlnet.skip.push_back(R"(^model/lm_loss/bias$)");  // pre-training head, not part of the classifier
      plan.num_labels = glue_tasks().at(task);
    } else if (task.find("squad") != std::string::npos) {
      throw_error(ErrorKind::Unsupported, "xlnet --finetuning_task_name '" + o.finetuning_task +
                  "': the reference builds XLNetForQuestionAnswering whose heads it leaves randomly initialised; not reproducible");
    } else {
      xlnet.rules.insert(xlnet.rules.end(), kXlnetLmHead.begin(), kXlnetLmHead.end());
      xlnet.ties.push_back({"lm_loss.weight", "transformer.word_embedding.weight"});
      task.clear();
    }
    if (auto u = cfg.find("untie_r"); u != cfg.end() && u->is_boolean() && !u->get<bool>())
      throw_error(ErrorKind::Unsupported, "xlnet untie_r=false: transformers 4.46's XLNet has per-layer biases only (its converter fails too)");
    table = &xlnet;
  } else {
    task.clear();
  }
  if (!table) {
    std::string list;
    for (const auto& t : tf1_convert_types()) list += (list.empty() ? "" : ", ") + t;
    throw_error(ErrorKind::InvalidArgument, "no TF1 name table for model type '" + type + "' (known: " + list + ")");
  }
  plan.type = table->type;
  plan.model_type = table->model_type;
  plan.class_name = table->class_name;
  plan.finetuning_task = task;

  std::map<char, int64_t> counts;
  for (const Range& r : table->ranges) counts[r.var] = config_count(cfg, r.key, r.fallback, type);
  if (type == "transfo_xl") {
    auto c = cfg.find("cutoffs");
    if (c == cfg.end() || !c->is_array() || c->size() > 1000) throw_error(ErrorKind::Format, "transfo_xl config needs a 'cutoffs' list");
    if (cfg.value("div_val", 4) == 1) throw_error(ErrorKind::Unsupported, "transfo_xl with div_val 1 (a single embedding table) is not in hfx's table");
    counts['c'] = static_cast<int64_t>(c->size()) + 1;
  }

  // Expanded rules: normalized TF name -> (pt name, op, index).
  struct Target { std::string pt; Tf1Op op; int64_t index; };
  std::map<std::string, std::vector<Target>> by_tf;
  std::set<std::string> expected;  // PT names the reference state dict has
  for (const Rule& r : table->rules) {
    if (r.when && !config_condition(cfg, r.when)) continue;
    std::vector<Vars> assignments;
    Vars cur;
    expand(std::string(r.tf) + "|" + r.pt, counts, 0, cur, assignments);
    for (const Vars& v : assignments) {
      const std::string tf = substitute(r.tf, v, task), pt = substitute(r.pt, v, task);
      const int64_t index = r.op == Tf1Op::Index ? v.begin()->second : -1;
      if (type == "transfo_xl" && r.pt == std::string("crit.out_projs.{c}")) {
        // tie_projs[c]: the output projection is the embedding projection.
        auto tp = cfg.find("tie_projs");
        const bool tied = tp != cfg.end() && tp->is_array() && static_cast<std::size_t>(v.at('c')) < tp->size() &&
                          (*tp)[static_cast<std::size_t>(v.at('c'))].is_boolean() && (*tp)[static_cast<std::size_t>(v.at('c'))].get<bool>();
        if (tied) {
          plan.params.push_back({pt, "transformer.word_emb.emb_projs." + std::to_string(v.at('c')), Tf1Op::Copy, -1, true});
          expected.insert(pt);
          continue;
        }
      }
      by_tf[normalize_tf(tf)].push_back({pt, r.op, index});
      expected.insert(pt);
    }
  }
  // T5 v1.0/v1.1 and encoder/decoder spellings name the same parameter twice: one suffices.
  std::vector<Regex> skip;
  for (const char* s : table->skip) skip.emplace_back(s);

  std::set<std::string> produced;
  for (const TensorInfo& v : vars) {
    if (std::any_of(skip.begin(), skip.end(), [&](const Regex& r) { return r.full_match(v.name); })) {
      plan.skipped.push_back(v.name);
      continue;
    }
    auto it = by_tf.find(normalize_tf(v.name));
    if (it == by_tf.end())
      throw_error(ErrorKind::Unsupported, "variable '" + v.name + "' " + shape_str(v.shape) +
                  " is not in hfx's " + type + " name table (not an optimizer slot either); refusing to drop it silently");
    for (const Target& t : it->second) {
      if (!produced.insert(t.pt).second)
        throw_error(ErrorKind::Format, "two variables map to '" + t.pt + "' (second: '" + v.name + "')");
      if (t.op == Tf1Op::Index && (v.shape.empty() || v.shape[0] != counts.at('i')))
        throw_error(ErrorKind::Mismatch, "variable '" + v.name + "' " + shape_str(v.shape) + ": expected one slice per layer (" +
                    std::to_string(counts.at('i')) + ")");
      plan.params.push_back({t.pt, v.name, t.op, t.index, false});
    }
  }
  for (const Tie& tie : table->ties) {
    if (tie.unless) {
      auto u = cfg.find(tie.unless);
      const bool tied = u == cfg.end() || !u->is_boolean() || u->get<bool>();  // PretrainedConfig default: true
      if (!tied) continue;
    }
    std::vector<Vars> assignments;
    Vars cur;
    expand(std::string(tie.pt), counts, 0, cur, assignments);
    for (const Vars& v : assignments) {
      const std::string pt = substitute(tie.pt, v, task);
      if (produced.count(pt)) continue;  // stored separately after all
      plan.params.push_back({pt, substitute(tie.target, v, task), Tf1Op::Copy, -1, true});
      expected.insert(pt);
    }
  }
  if (type == "transfo_xl") {
    plan.params.push_back({"transformer.pos_emb.inv_freq", "", Tf1Op::InvFreq, cfg.value("d_model", int64_t{0}), false});
    expected.insert("transformer.pos_emb.inv_freq");
  }
  if (table->cast_f32) plan.cast_f32 = true;
  // Ties after the tensors they share.
  std::stable_partition(plan.params.begin(), plan.params.end(), [](const Tf1Param& p) { return !p.tied; });
  for (const auto& p : plan.params) produced.insert(p.name);
  for (const auto& e : expected) {
    // T5's alternative spellings (layer_norm / rms_norm) expand to the same name: one source is enough.
    if (!produced.count(e)) plan.missing.push_back(e);
  }
  if (o.require_complete && !plan.missing.empty())
    throw_error(ErrorKind::NotFound, "the checkpoint lacks " + std::to_string(plan.missing.size()) + " parameter(s) of " +
                plan.class_name + " (the reference would leave them randomly initialised), first: " + plan.missing.front());
  return plan;
}

Tensor tf1_tensor(const Tf1Param& p, const TensorSource& src, const std::map<std::string, Tensor>& done, bool cast_f32) {
  if (p.tied) {
    auto it = done.find(p.source);
    if (it == done.end()) throw_error(ErrorKind::NotFound, "'" + p.name + "' is tied to '" + p.source + "', which the checkpoint lacks");
    return it->second;
  }
  Tensor t;
  switch (p.op) {
    case Tf1Op::InvFreq: {
      // PositionalEmbedding: 1 / (10000 ** (arange(0, demb, 2.0) / demb)) in float32.
      const int64_t d = p.index;
      if (d <= 0 || d > (int64_t{1} << 24)) throw_error(ErrorKind::Format, "d_model out of range for inv_freq");
      std::vector<float> v;
      for (int64_t i = 0; i < d; i += 2) {
        const float e = static_cast<float>(i) / static_cast<float>(d);
        v.push_back(1.0f / std::pow(10000.0f, e));
      }
      return Tensor::from_vector(DType::F32, {static_cast<int64_t>(v.size())}, v);
    }
    case Tf1Op::Copy: t = src.get(p.source); break;
    case Tf1Op::Squeeze: t = squeeze(src.get(p.source)); break;
    case Tf1Op::Transpose: {
      const TensorInfo& in = src.info(p.source);
      if (in.shape.size() == 2) {  // a kernel: transposed straight from the file's bytes where the source has them
        if (TensorSource::Bytes b = src.bytes(p.source); b.data) {
          t = transposed_copy(b.data, in.dtype, in.shape[0], in.shape[1]);
          break;
        }
      }
      t = src.get(p.source);
      if (t.dim() == 2) t = t.transpose(0, 1).contiguous();
      else if (t.dim() > 2) throw_error(ErrorKind::Mismatch, "expected a matrix to transpose, got " + shape_str(t.shape()), src.path(), p.source);
      break;
    }
    case Tf1Op::Index: {
      Tensor all = src.get(p.source);
      if (p.index < 0 || p.index >= all.size(0)) throw_error(ErrorKind::Mismatch, "layer slice out of range", src.path(), p.source);
      Shape s(all.shape().begin() + 1, all.shape().end());
      t = all.narrow(0, p.index, 1).contiguous().reshape(s);
      break;
    }
  }
  if (cast_f32 && t.dtype() != DType::F32) t = t.to(DType::F32);
  return t;
}

TensorInfo tf1_param_info(const Tf1Param& p, const TensorSource& src, bool cast_f32) {
  if (p.op == Tf1Op::InvFreq) return {p.name, DType::F32, {(std::max<int64_t>(p.index, 0) + 1) / 2}};
  const TensorInfo& raw = src.info(p.source);
  Shape s = raw.shape;
  if (p.op == Tf1Op::Transpose && s.size() == 2) s = {s[1], s[0]};
  if (p.op == Tf1Op::Squeeze) {
    s.clear();
    for (int64_t d : raw.shape)
      if (d != 1) s.push_back(d);
  }
  if (p.op == Tf1Op::Index && !s.empty()) s.erase(s.begin());
  return {p.name, cast_f32 ? DType::F32 : raw.dtype, s};
}

namespace {

// A TF1 checkpoint presenting the canonical names of a model's tensors.
class Tf1CanonicalSource final : public TensorSource {
 public:
  Tf1CanonicalSource(std::unique_ptr<TensorSource> src, const Model& model) : src_(std::move(src)) {
    const std::string type = tf1_convert_type_for(model.config().model_type());
    if (type.empty())
      throw_error(ErrorKind::Unsupported, "no TF1 name table for model_type '" + model.config().model_type() + "'", src_->path());
    Tf1PlanOptions o;
    o.require_complete = false;
    if (const json* t = model.config().find("finetuning_task"); t && t->is_string()) o.finetuning_task = t->get<std::string>();
    plan_ = tf1_plan(type, model.config().merged(), src_->entries(), o);
    for (const auto& p : plan_.params) {
      Shape s;
      if (p.op == Tf1Op::InvFreq) continue;  // a buffer the model computes itself
      const std::string& origin = p.tied ? p.source : p.name;
      if (!p.tied) {
        s = tf1_param_info(p, *src_, plan_.cast_f32).shape;
        shapes_[p.name] = s;
      } else {
        auto it = shapes_.find(origin);
        if (it == shapes_.end()) continue;
        s = it->second;
      }
      entries_.push_back({p.name, plan_.cast_f32 ? DType::F32 : (p.tied ? dtype_of(origin) : src_->info(p.source).dtype), s});
      index_[p.name] = plan_.params.size() ? &p - plan_.params.data() : 0;
    }
  }
  std::string format() const override { return "tf1-canonical"; }
  const std::string& path() const override { return src_->path(); }
  const std::vector<TensorInfo>& entries() const override { return entries_; }
  Tensor get(const std::string& name) const override {
    auto it = index_.find(name);
    if (it == index_.end()) throw_error(ErrorKind::NotFound, "no tensor named '" + name + "'", path());
    const Tf1Param& p = plan_.params[static_cast<std::size_t>(it->second)];
    if (p.tied) return get(p.source);
    return tf1_tensor(p, *src_, {}, plan_.cast_f32);
  }
  void release(const std::string& name) const override {
    auto it = index_.find(name);
    if (it == index_.end()) return;
    const Tf1Param& p = plan_.params[static_cast<std::size_t>(it->second)];
    if (!p.tied && p.op != Tf1Op::InvFreq) src_->release(p.source);
  }
  // A copied or squeezed variable is the file's bytes.
  Bytes bytes(const std::string& name) const override {
    auto it = index_.find(name);
    if (it == index_.end()) return {};
    const Tf1Param& p = plan_.params[static_cast<std::size_t>(it->second)];
    if (p.tied) return bytes(p.source);
    if ((p.op != Tf1Op::Copy && p.op != Tf1Op::Squeeze) || (plan_.cast_f32 && src_->info(p.source).dtype != DType::F32)) return {};
    return src_->bytes(p.source);
  }

 private:
  DType dtype_of(const std::string& canonical) const {
    for (const auto& e : entries_)
      if (e.name == canonical) return e.dtype;
    return DType::F32;
  }
  std::unique_ptr<TensorSource> src_;
  Tf1Plan plan_;
  std::vector<TensorInfo> entries_;
  std::map<std::string, Shape> shapes_;
  std::map<std::string, std::ptrdiff_t> index_;
};

}  // namespace

std::unique_ptr<TensorSource> tf1_to_canonical(std::unique_ptr<TensorSource> src, const Model& model) {
  return std::make_unique<Tf1CanonicalSource>(std::move(src), model);
}

}  // namespace hfx::naming
