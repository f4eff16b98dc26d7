// Llama: LlamaModel, LlamaForCausalLM, LlamaForSequenceClassification,
// LlamaForTokenClassification, LlamaForQuestionAnswering.
// Upstream: transformers v4.46.3 src/transformers/models/llama/modeling_llama.py
// Eager attention; RoPE default/linear/dynamic/llama3; GQA; tied or untied embeddings.
#include "models/llama.h"

#include "models/registry_entries.h"
#include "nn/decoder.h"

namespace hfx::models {

LlamaLike::LlamaLike(const std::string& cls, const Config& c, DecoderHead head, const LlamaFlavor& flavor)
    : Model(cls, c, head == DecoderHead::QuestionAnswering ? flavor.qa_prefix : "model"), head_(head) {
  vocab_ = c.get<int64_t>("vocab_size", 0);
  H_ = c.get<int64_t>("hidden_size", 0);
  L_ = c.get<int64_t>("num_hidden_layers", 0);
  nH_ = c.get<int64_t>("num_attention_heads", 0);
  nKV_ = c.get<int64_t>("num_key_value_heads", nH_);
  if (vocab_ <= 0 || H_ <= 0 || L_ <= 0 || nH_ <= 0 || nKV_ <= 0)
    throw_error(ErrorKind::InvalidArgument, "vocab_size, hidden_size, num_hidden_layers and head counts must be positive", c.source());
  if (nH_ % nKV_) throw_error(ErrorKind::InvalidArgument, "num_attention_heads must be a multiple of num_key_value_heads", c.source());
  D_ = flavor.qwen2 ? H_ / nH_ : c.get<int64_t>("head_dim", H_ / nH_);
  if (D_ <= 0 || D_ % 2) throw_error(ErrorKind::InvalidArgument, "head_dim must be positive and even", c.source());
  const int64_t inter = c.get<int64_t>("intermediate_size", 0);
  eps_ = static_cast<float>(c.get<double>("rms_norm_eps", 1e-6));
  act_ = nn::parse_activation(c.get<std::string>("hidden_act", "silu"));
  if (flavor.window == LlamaFlavor::Window::Always ||
      (flavor.window == LlamaFlavor::Window::IfEnabled && c.get<bool>("use_sliding_window", false)))
    window_ = c.get<int64_t>("sliding_window", 0);
  if (c.get<int64_t>("pretraining_tp", 1) != 1)
    throw_error(ErrorKind::Unsupported, "pretraining_tp > 1 is not supported", c.source());
  rope_ = nn::Rope::from_config(c, D_);
  pad_ = c.has("pad_token_id") ? c.get<int64_t>("pad_token_id", -1) : -1;
  const bool attn_bias = !flavor.qwen2 && c.get<bool>("attention_bias", false);
  const bool qkv_bias = flavor.qwen2 || attn_bias;
  const bool mlp_bias = !flavor.qwen2 && c.get<bool>("mlp_bias", false);
  Scope r = root();
  Scope m = head == DecoderHead::Base ? r : r / base_model_prefix();
  embed_ = nn::Embedding::make(m / "embed_tokens", vocab_, H_);
  for (int64_t i = 0; i < L_; ++i) {
    Scope l = m / "layers" / i;
    Layer ly;
    ly.q = nn::Linear::make(l / "self_attn" / "q_proj", H_, nH_ * D_, qkv_bias);
    ly.k = nn::Linear::make(l / "self_attn" / "k_proj", H_, nKV_ * D_, qkv_bias);
    ly.v = nn::Linear::make(l / "self_attn" / "v_proj", H_, nKV_ * D_, qkv_bias);
    ly.o = nn::Linear::make(l / "self_attn" / "o_proj", nH_ * D_, H_, attn_bias);
    ly.gate = nn::Linear::make(l / "mlp" / "gate_proj", H_, inter, mlp_bias);
    ly.up = nn::Linear::make(l / "mlp" / "up_proj", H_, inter, mlp_bias);
    ly.down = nn::Linear::make(l / "mlp" / "down_proj", inter, H_, mlp_bias);
    ly.in_norm = (l / "input_layernorm").param("weight", {H_});
    ly.post_norm = (l / "post_attention_layernorm").param("weight", {H_});
    layers_.push_back(ly);
    ignored_keys_.push_back(l.path("self_attn.rotary_emb.inv_freq"));
  }
  ignored_keys_.push_back(m.path("rotary_emb.inv_freq"));
  norm_ = (m / "norm").param("weight", {H_});
  if (head == DecoderHead::CausalLM) {
    lm_head_.in = H_;
    lm_head_.out = vocab_;
    lm_head_.w = (r / "lm_head").param("weight", {vocab_, H_}, c.get<bool>("tie_word_embeddings", false) ? embed_.w.name() : "");
  }
  if (head == DecoderHead::SequenceClassification) score_ = nn::Linear::make(r / "score", H_, c.num_labels(), false);
  if (head == DecoderHead::TokenClassification) score_ = nn::Linear::make(r / "score", H_, c.num_labels());
  if (head == DecoderHead::QuestionAnswering) score_ = nn::Linear::make(r / "qa_outputs", H_, 2);
  // Traits: the base models have no _prune_heads (prune_heads raises AttributeError in transformers 4.46).
  traits_.input_embeddings = embed_.w.name();
  if (lm_head_.w.valid()) traits_.output_embeddings = lm_head_.w.name();
  set_roles(ParamRole::Embedding, {embed_.w.name()});
}

Tensor LlamaLike::run(const Tensor& ids, const Tensor& position_ids, const Tensor& attention_mask, const Tensor& head_mask,
                      KVCache* cache, bool want_hidden, bool want_attn, nn::StackOutputs& st) const {
  if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
  const int64_t B = ids.size(0), S = ids.size(1);
  const int64_t past = cache ? cache->length() : 0;
  Tensor h = Tensor::zeros(DType::F32, {B, S, H_});
  embed_.gather(ids, h.mutable_data<float>(), false);
  Tensor pos = nn::positions_or_default(position_ids, B, S, past);
  int64_t max_pos = 0;
  for (int64_t i = 0; i < pos.numel(); ++i) max_pos = std::max(max_pos, pos.data<int64_t>()[i]);
  const std::vector<float> inv = rope_.inv_freq(max_pos);
  Tensor bias = nn::causal_window_bias(attention_mask, B, S, past, window_);
  auto hm = nn::per_layer_head_mask(head_mask, L_, nH_);
  nn::AttentionOptions ao;
  ao.heads = nH_;
  ao.kv_heads = nKV_;
  ao.head_dim = D_;
  ao.bias = nn::AttentionBias::of(bias);
  ao.rope = {&rope_, &pos, &inv};
  ao.cache = cache;
  ao.want_probs = want_attn;
  for (int64_t l = 0; l < L_; ++l) {
    const Layer& ly = layers_[static_cast<std::size_t>(l)];
    if (want_hidden) st.hidden_states.push_back(h.clone());  // h is updated in place below
    Tensor x = h.clone();
    nn::rms_norm_(x, *ly.in_norm, eps_);
    Tensor q = ly.q(x), k = ly.k(x), v = ly.v(x);
    ao.layer = l;
    ao.head_mask = hm.empty() ? nullptr : hm[static_cast<std::size_t>(l)].data();
    nn::Attended at = nn::attend(q, k, v, ao);
    nn::add_(h, ly.o(at.context));
    x = h.clone();
    nn::rms_norm_(x, *ly.post_norm, eps_);
    Tensor g = ly.gate(x);
    nn::activate(g, act_);
    nn::mul_(g, ly.up(x));
    nn::add_(h, ly.down(g));
    if (want_attn) st.attentions.push_back(at.probs);
  }
  nn::rms_norm_(h, *norm_, eps_);
  if (want_hidden) st.hidden_states.push_back(h);
  return h;
}

Tensor LlamaLike::step(const Tensor& ids, const Tensor& position_ids, const Tensor& attention_mask, KVCache& cache) const {
  if (head_ != DecoderHead::CausalLM) throw_error(ErrorKind::Unsupported, class_name() + " cannot generate (use *ForCausalLM)");
  nn::StackOutputs st;
  return lm_head_(run(nn::as_ids(ids, "input_ids"), position_ids, attention_mask, Tensor(), &cache, false, false, st));
}

Outputs LlamaLike::forward(const ModelInputs& in) const {
  // transformers 4.46's Llama / Mistral forward has no head_mask parameter (the *ForCausalLM /
  // *ForQuestionAnswering classes swallow it in **kwargs and ignore it, the others raise TypeError).
  if (in.head_mask.defined())
    throw_error(ErrorKind::InvalidArgument, class_name() + " takes no head_mask (the " + config().model_type() +
                                                " forward of transformers 4.46 has no head_mask parameter)");
  Tensor ids = nn::as_ids(in.input_ids, "input_ids");
  nn::StackOutputs st;
  Tensor h = run(ids, in.position_ids, in.attention_mask, Tensor(), nullptr, in.output_hidden_states, in.output_attentions, st);
  Outputs out;
  switch (head_) {
    case DecoderHead::Base:
      out.set("last_hidden_state", h);
      break;
    case DecoderHead::CausalLM:
      out.set("logits", lm_head_(h));
      break;
    case DecoderHead::SequenceClassification:
      out.set("logits", nn::pool_last_non_pad((*score_)(h), ids, pad_));
      break;
    case DecoderHead::TokenClassification:
      out.set("logits", (*score_)(h));
      break;
    case DecoderHead::QuestionAnswering:
      nn::set_qa_logits(out, (*score_)(h));
      break;
  }
  nn::emit_stack(out, st);
  return out;
}

Architecture llama_like_architecture(const std::string& model_type, const std::string& family, json defaults,
                                     const std::string& qa_prefix, bool sliding_window) {
  LlamaFlavor f;
  f.qa_prefix = qa_prefix;
  f.window = sliding_window ? LlamaFlavor::Window::Always : LlamaFlavor::Window::None;
  return llama_like_architecture(model_type, family, std::move(defaults), f);
}

Architecture llama_like_architecture(const std::string& model_type, const std::string& family, json defaults,
                                     const LlamaFlavor& flavor) {
  Architecture a{model_type, std::move(defaults), "model", {}, {}, {}};
  auto add = [&](const std::string& suffix, DecoderHead h) {
    const std::string cls = family + suffix;
    a.classes.emplace_back(cls, [cls, h, flavor](const Config& c) { return std::make_unique<LlamaLike>(cls, c, h, flavor); });
  };
  add("Model", DecoderHead::Base);
  add("ForCausalLM", DecoderHead::CausalLM);
  add("ForSequenceClassification", DecoderHead::SequenceClassification);
  add("ForTokenClassification", DecoderHead::TokenClassification);
  add("ForQuestionAnswering", DecoderHead::QuestionAnswering);
  a.auto_classes = {{"AutoModel", family + "Model"},
                    {"AutoModelForCausalLM", family + "ForCausalLM"},
                    {"AutoModelForSequenceClassification", family + "ForSequenceClassification"},
                    {"AutoModelForTokenClassification", family + "ForTokenClassification"},
                    {"AutoModelForQuestionAnswering", family + "ForQuestionAnswering"}};
  return a;
}

Architecture llama_architecture() {
  json d = {{"is_decoder", false}, {"vocab_size", 32000}, {"hidden_size", 4096}, {"intermediate_size", 11008},
            {"num_hidden_layers", 32}, {"num_attention_heads", 32}, {"num_key_value_heads", nullptr},
            {"hidden_act", "silu"}, {"max_position_embeddings", 2048}, {"initializer_range", 0.02},
            {"rms_norm_eps", 1e-6}, {"use_cache", true}, {"pad_token_id", nullptr}, {"bos_token_id", 1},
            {"eos_token_id", 2}, {"pretraining_tp", 1}, {"tie_word_embeddings", false}, {"rope_theta", 10000.0},
            {"rope_scaling", nullptr}, {"attention_bias", false}, {"attention_dropout", 0.0}, {"mlp_bias", false}};
  return llama_like_architecture("llama", "Llama", d, "transformer", false);
}

}  // namespace hfx::models
