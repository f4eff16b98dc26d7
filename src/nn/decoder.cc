#include "nn/decoder.h"

#include <algorithm>

#include "nn/kv_cache.h"

namespace hfx::nn {

namespace {
// logits [B, S, n] -> [B, n] at the position `last(row ids, S)` of each row (the last position when there is no pad
// token, which only batch size 1 allows): the frame both transformers versions' pooling share.
template <class Last>
Tensor pool_rows(const Tensor& logits, const Tensor& ids, int64_t pad, Last last_of) {
  const int64_t B = logits.size(0), S = logits.size(1), n = logits.size(2);
  if (pad < 0 && B != 1) throw_error(ErrorKind::InvalidArgument, "Cannot handle batch sizes > 1 if no padding token is defined.");
  Tensor pooled = Tensor::zeros(DType::F32, {B, n});
  for (int64_t b = 0; b < B; ++b) {
    const int64_t last = pad >= 0 ? last_of(ids.data<int64_t>() + b * S, S) : S - 1;
    std::copy_n(logits.data<float>() + (b * S + last) * n, n, pooled.mutable_data<float>() + b * n);
  }
  return pooled;
}
}  // namespace

Tensor pool_last_non_pad(const Tensor& logits, const Tensor& ids, int64_t pad) {
  return pool_rows(logits, ids, pad, [pad](const int64_t* row, int64_t S) {
    int64_t first_pad = 0;  // argmax of (ids == pad): 0 when there is none
    for (int64_t i = 0; i < S; ++i)
      if (row[i] == pad) {
        first_pad = i;
        break;
      }
    return ((first_pad - 1) % S + S) % S;
  });
}

Tensor pool_rightmost_non_pad(const Tensor& logits, const Tensor& ids, int64_t pad) {
  return pool_rows(logits, ids, pad, [pad](const int64_t* row, int64_t S) {
    for (int64_t i = S - 1; i > 0; --i)  // argmax(arange(S) * (ids != pad)): 0 when every id is pad
      if (row[i] != pad) return i;
    return int64_t{0};
  });
}

Tensor positions_or_default(const Tensor& position_ids, int64_t B, int64_t S, int64_t past) {
  if (position_ids.defined()) {
    Tensor pos = as_ids(position_ids, "position_ids");
    if (pos.shape() != Shape{B, S}) throw_error(ErrorKind::Mismatch, "position_ids shape " + shape_str(pos.shape()) + " != " + shape_str({B, S}));
    return pos;
  }
  Tensor pos = Tensor::zeros(DType::I64, {B, S});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < S; ++i) pos.mutable_data<int64_t>()[b * S + i] = past + i;
  return pos;
}

Tensor gather_token(const Tensor& h, const Tensor& index) {
  const int64_t B = h.size(0), S = h.size(1), E = h.size(2);
  Tensor idx = index.defined() ? as_ids(index, "mc_token_ids").reshape({-1}) : Tensor();
  if (idx.defined() && idx.numel() != B) throw_error(ErrorKind::Mismatch, "mc_token_ids has " + std::to_string(idx.numel()) + " entries for " + std::to_string(B) + " sequences");
  Tensor out = Tensor::zeros(DType::F32, {B, E});
  for (int64_t b = 0; b < B; ++b) {
    const int64_t i = idx.defined() ? idx.data<int64_t>()[b] : S - 1;
    if (i < 0 || i >= S) throw_error(ErrorKind::InvalidArgument, "mc_token_ids value " + std::to_string(i) + " out of range [0, " + std::to_string(S) + ")");
    std::copy_n(h.data<float>() + (b * S + i) * E, E, out.mutable_data<float>() + b * E);
  }
  return out;
}

Outputs gpt_forward(const ModelInputs& in0, GptHead head, int64_t E, const GptRun& run, const Linear& lm_head,
                    const Linear* score, int64_t pad_token_id) {
  ModelInputs in = in0;
  const Shape in_shape = as_ids(in.input_ids, "input_ids").shape();
  if (head == GptHead::DoubleHeads) flatten_choice_inputs(in);
  Tensor ids = as_ids(in.input_ids, "input_ids");
  StackOutputs st;
  Tensor h = run(ids, in, st);
  Shape out_shape = in_shape;
  out_shape.push_back(E);
  if (in.output_hidden_states) st.hidden_states.push_back(h.reshape(out_shape));
  Outputs out;
  switch (head) {
    case GptHead::Base: out.set("last_hidden_state", h.reshape(out_shape)); break;
    case GptHead::LMHead: out.set("logits", lm_head(h)); break;
    case GptHead::DoubleHeads: set_double_heads_outputs(out, h, in_shape, lm_head, *score, in0.mc_token_ids); break;
    case GptHead::SequenceClassification: out.set("logits", pool_last_non_pad((*score)(h), ids, pad_token_id)); break;
    case GptHead::TokenClassification: out.set("logits", (*score)(h)); break;
    case GptHead::QuestionAnswering: set_qa_logits(out, (*score)(h)); break;
  }
  emit_stack(out, st);
  return out;
}

void set_double_heads_outputs(Outputs& out, const Tensor& h, const Shape& in_shape, const Linear& lm_head,
                              const Linear& summary, const Tensor& mc_token_ids) {
  Shape ls = in_shape;
  ls.push_back(lm_head.out);
  out.set("logits", lm_head(h).reshape(ls));
  out.set("mc_logits", summary(gather_token(h, mc_token_ids)).reshape({in_shape[0], in_shape[1]}));
}

GptDims GptDims::read(const Config& c) {
  GptDims d;
  d.vocab = c.get<int64_t>("vocab_size", 0);
  d.E = c.get<int64_t>("n_embd", 0);
  d.L = c.get<int64_t>("n_layer", 0);
  d.H = c.get<int64_t>("n_head", 0);
  d.P = c.get<int64_t>("n_positions", 0);
  if (d.vocab <= 0 || d.E <= 0 || d.L <= 0 || d.H <= 0 || d.P <= 0)
    throw_error(ErrorKind::InvalidArgument, "vocab_size, n_embd, n_layer, n_head and n_positions must be positive", c.source());
  if (d.E % d.H) throw_error(ErrorKind::InvalidArgument, "n_embd is not a multiple of n_head", c.source());
  d.eps = static_cast<float>(c.get<double>("layer_norm_epsilon", 1e-5));
  d.pad = c.has("pad_token_id") ? c.get<int64_t>("pad_token_id", -1) : -1;
  return d;
}

void gpt_heads(const Scope& r, const Scope& t, const Config& c, GptHead head, const GptDims& d, const Embedding& tokens,
               const Embedding& positions, Linear& lm_head, std::optional<Linear>& score, ParamTable& params,
               ModelTraits& traits) {
  if (head == GptHead::LMHead || head == GptHead::DoubleHeads) {
    lm_head.in = d.E;
    lm_head.out = d.vocab;
    lm_head.w = (r / "lm_head").param("weight", {d.vocab, d.E}, c.get<bool>("tie_word_embeddings", true) ? tokens.w.name() : "");
  }
  if (head == GptHead::DoubleHeads)  // SequenceSummary with num_labels forced to 1
    score = Linear::make(r / "multiple_choice_head" / "summary", d.E, 1);
  if (head == GptHead::SequenceClassification) score = Linear::make(r / "score", d.E, c.num_labels(), false);
  if (head == GptHead::TokenClassification) score = Linear::make(r / "classifier", d.E, c.num_labels());
  if (head == GptHead::QuestionAnswering) score = Linear::make(r / "qa_outputs", d.E, 2);
  traits.input_embeddings = tokens.w.name();
  if (lm_head.w.valid()) traits.output_embeddings = lm_head.w.name();
  params.set_role(tokens.w.name(), ParamRole::Embedding);
  params.set_role(positions.w.name(), ParamRole::Embedding);
  traits.prune = {d.H, d.E / d.H, d.L, [t](int64_t layer) {
                    const Scope a = t / "h" / layer / "attn";
                    return AttentionModule{a.path("c_attn"), {}, {}, a.path("c_proj"), true};
                  }, {}, {}};
}

GptStart gpt_start(const GptDims& d, const Embedding& tokens, const Embedding& positions, const Tensor& ids,
                   const Tensor& position_ids, const Tensor& token_type_ids, const Tensor& attention_mask,
                   const Tensor& head_mask, KVCache* cache, bool want_attn) {
  if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
  const int64_t B = ids.size(0), S = ids.size(1);
  const int64_t past = cache ? cache->length() : 0;
  if (past + S > d.P)
    throw_error(ErrorKind::InvalidArgument, "sequence length " + std::to_string(past + S) + " exceeds n_positions " + std::to_string(d.P));
  GptStart g;
  g.h = Tensor::zeros(DType::F32, {B, S, d.E});
  tokens.gather(ids, g.h.mutable_data<float>(), false);
  positions.gather(positions_or_default(position_ids, B, S, past), g.h.mutable_data<float>(), true);
  if (token_type_ids.defined()) tokens.gather(as_ids(token_type_ids, "token_type_ids"), g.h.mutable_data<float>(), true);
  g.bias = causal_bias(attention_mask, B, S, past);
  g.head_masks = per_layer_head_mask(head_mask, d.L, d.H);
  g.ao.head_dim = d.E / d.H;
  g.ao.bias = AttentionBias::of(g.bias);
  g.ao.cache = cache;
  g.ao.want_probs = want_attn;
  return g;
}

GptModel::GptModel(const std::string& cls, const Config& c, GptHead head, std::string lm_class)
    : Model(cls, c, "transformer"), head_(head), d_(GptDims::read(c)), lm_class_(std::move(lm_class)) {}

Tensor GptModel::step(const Tensor& ids, const Tensor& position_ids, const Tensor& attention_mask, KVCache& cache) const {
  if (head_ != GptHead::LMHead) throw_error(ErrorKind::Unsupported, class_name() + " cannot generate (use " + lm_class_ + ")");
  StackOutputs st;
  return lm_head_(run(as_ids(ids, "input_ids"), position_ids, Tensor(), attention_mask, Tensor(), &cache, false, false, st));
}

Outputs GptModel::forward(const ModelInputs& in) const {
  return gpt_forward(in, head_, d_.E, [this](const Tensor& ids, const ModelInputs& x, StackOutputs& st) {
    return run(ids, x.position_ids, x.token_type_ids, x.attention_mask, x.head_mask, nullptr, x.output_hidden_states,
               x.output_attentions, st);
  }, lm_head_, score_ ? &*score_ : nullptr, d_.pad);
}

void set_decoder_outputs(Outputs& out, DecoderHead head, const Tensor& h, const Tensor& ids, int64_t pad_token_id,
                         const Linear& lm_head, const std::optional<Linear>& score) {
  switch (head) {
    case DecoderHead::Base: out.set("last_hidden_state", h); break;
    case DecoderHead::CausalLM: out.set("logits", lm_head(h)); break;
    case DecoderHead::SequenceClassification: out.set("logits", pool_last_non_pad((*score)(h), ids, pad_token_id)); break;
    case DecoderHead::TokenClassification: out.set("logits", (*score)(h)); break;
    case DecoderHead::QuestionAnswering: set_qa_logits(out, (*score)(h)); break;
  }
}

DecoderModel::DecoderModel(const std::string& cls, const Config& c, const std::string& base_model_prefix, DecoderHead head,
                           std::string lm_class)
    : Model(cls, c, base_model_prefix), head_(head), lm_class_(std::move(lm_class)) {
  vocab_ = c.get<int64_t>("vocab_size", 0);
  pad_ = c.has("pad_token_id") ? c.get<int64_t>("pad_token_id", -1) : -1;
}

void DecoderModel::declare_heads(const Scope& r, const Config& c, const Embedding& tokens, int64_t E, const LmHeadSpec& lm) {
  if (head_ == DecoderHead::CausalLM) {
    lm_head_.in = E;
    lm_head_.out = vocab_;
    lm_head_.w = (r / lm.module).param("weight", {vocab_, E}, c.get<bool>("tie_word_embeddings", lm.tie_default) ? tokens.w.name() : "");
    if (lm.bias) lm_head_.b = (r / lm.module).param("bias", {vocab_});
  }
  if (head_ == DecoderHead::SequenceClassification) score_ = Linear::make(r / "score", E, c.num_labels(), false);
  if (head_ == DecoderHead::TokenClassification) score_ = Linear::make(r / "classifier", E, c.num_labels());
  if (head_ == DecoderHead::QuestionAnswering) score_ = Linear::make(r / "qa_outputs", E, 2);
  traits_.input_embeddings = tokens.w.name();
  if (lm_head_.w.valid()) traits_.output_embeddings = lm_head_.w.name();
  set_roles(ParamRole::Embedding, {tokens.w.name()});
}

Tensor DecoderModel::step(const Tensor& ids, const Tensor& position_ids, const Tensor& attention_mask, KVCache& cache) const {
  if (head_ != DecoderHead::CausalLM) throw_error(ErrorKind::Unsupported, class_name() + " cannot generate (use " + lm_class_ + ")");
  ModelInputs in;
  if (step_position_ids_) in.position_ids = position_ids;
  in.attention_mask = attention_mask;
  StackOutputs st;
  return lm_head_(run(as_ids(ids, "input_ids"), in, &cache, st));
}

Outputs DecoderModel::forward(const ModelInputs& in) const {
  Tensor ids = as_ids(in.input_ids, "input_ids");
  StackOutputs st;
  Tensor h = run(ids, in, nullptr, st);
  Outputs out;
  set_decoder_outputs(out, head_, h, ids, pad_, lm_head_, score_);
  emit_stack(out, st);
  return out;
}

RotaryAttention::RotaryAttention(const Rope& rope, const Tensor& position_ids, int64_t B, int64_t S, KVCache* cache,
                                 int64_t heads, int64_t kv_heads, int64_t head_dim, const Tensor& bias, bool want_probs)
    : pos(positions_or_default(position_ids, B, S, cache ? cache->length() : 0)) {
  int64_t max_pos = 0;
  for (int64_t i = 0; i < pos.numel(); ++i) max_pos = std::max(max_pos, pos.data<int64_t>()[i]);
  inv = rope.inv_freq(max_pos);
  ao.heads = heads;
  ao.kv_heads = kv_heads;
  ao.head_dim = head_dim;
  ao.bias = AttentionBias::of(bias);
  ao.rope = {&rope, &pos, &inv};
  ao.cache = cache;
  ao.want_probs = want_probs;
}

}  // namespace hfx::nn
