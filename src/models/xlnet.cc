// XLNet: two-stream relative attention (content stream h, query stream g when
// target_mapping is given) with segment encodings, relative sinusoidal
// positions (bi / uni attention, bi_data, clamp_len) and mems.
// Upstream: transformers v4.46.3 src/transformers/models/xlnet/modeling_xlnet.py
// model_type "xlnet"; classes XLNetModel, XLNetLMHeadModel, XLNetForSequenceClassification,
// XLNetForTokenClassification, XLNetForMultipleChoice, XLNetForQuestionAnsweringSimple,
// XLNetForQuestionAnswering. Outputs: "mems.i" are [mem, batch, d_model] as in the
// reference; with target_mapping the hidden states alternate h / g streams
// (hidden_states.2i, .2i+1) and the attentions are "attentions.i.0" (h) / "attentions.i.1" (g).
#include <cmath>

#include "hfx/generate.h"
#include "models/registry_entries.h"
#include "nn/heads.h"
#include "nn/loss.h"
#include "nn/relative.h"

namespace hfx::models {
namespace {

enum class Head { Base, LMHead, SequenceClassification, TokenClassification, MultipleChoice, QuestionAnsweringSimple,
                  QuestionAnswering };

struct XLNetLayer {
  Param q, k, v, o, r, r_r_bias, r_s_bias, r_w_bias, seg_embed;
  nn::LayerNorm attn_norm, ff_norm;
  nn::Linear ff1, ff2;
};

// einsum("ibh,hnd->ibnd", x, W) for W [d_model, n_head, d_head]: x [N, d_model] -> [N, H*D].
Tensor project_in(const Tensor& x, const Param& w) {
  const int64_t in = w->size(0), out = w->size(1) * w->size(2), N = x.numel() / in;
  return nn::linear(x.contiguous().reshape({N, in}), w->reshape({in, out}), Tensor(), /*w_in_major=*/true);
}

class XLNet final : public Model, public SessionLM {
 public:
  XLNet(const std::string& cls, const Config& c, Head head) : Model(cls, c, "transformer"), head_(head) {
    vocab_ = c.get<int64_t>("vocab_size", 0);
    d_ = c.get<int64_t>("d_model", 0);
    L_ = c.get<int64_t>("n_layer", 0);
    H_ = c.get<int64_t>("n_head", 0);
    const int64_t inner = c.get<int64_t>("d_inner", 0);
    if (vocab_ <= 0 || d_ <= 0 || L_ <= 0 || H_ <= 0 || inner <= 0)
      throw_error(ErrorKind::InvalidArgument, "vocab_size, d_model, n_layer, n_head and d_inner must be positive", c.source());
    if (d_ % H_) throw_error(ErrorKind::InvalidArgument, "d_model is not a multiple of n_head", c.source());
    Dh_ = d_ / H_;
    attn_type_ = c.get<std::string>("attn_type", "bi");
    if (attn_type_ != "bi" && attn_type_ != "uni") throw_error(ErrorKind::InvalidArgument, "Unknown attn_type " + attn_type_, c.source());
    bi_data_ = c.get<bool>("bi_data", false);
    clamp_len_ = c.get<int64_t>("clamp_len", -1);
    same_length_ = c.get<bool>("same_length", false);
    mem_len_ = c.get<int64_t>("mem_len", 0);
    reuse_len_ = c.get<int64_t>("reuse_len", 0);
    use_mems_eval_ = c.get<bool>("use_mems_eval", true);
    use_mems_train_ = c.get<bool>("use_mems_train", false);
    const float eps = static_cast<float>(c.get<double>("layer_norm_eps", 1e-12));
    act_ = nn::parse_activation(c.get<std::string>("ff_activation", "gelu"));
    Scope r = root();
    Scope t = head == Head::Base ? r : r / "transformer";
    mask_emb_ = t.param("mask_emb", {1, 1, d_});
    word_ = nn::Embedding::make(t / "word_embedding", vocab_, d_);
    for (int64_t i = 0; i < L_; ++i) {
      Scope a = t / "layer" / i / "rel_attn";
      Scope f = t / "layer" / i / "ff";
      XLNetLayer l;
      l.q = a.param("q", {d_, H_, Dh_});
      l.k = a.param("k", {d_, H_, Dh_});
      l.v = a.param("v", {d_, H_, Dh_});
      l.o = a.param("o", {d_, H_, Dh_});
      l.r = a.param("r", {d_, H_, Dh_});
      l.r_r_bias = a.param("r_r_bias", {H_, Dh_});
      l.r_s_bias = a.param("r_s_bias", {H_, Dh_});
      l.r_w_bias = a.param("r_w_bias", {H_, Dh_});
      l.seg_embed = a.param("seg_embed", {2, H_, Dh_});
      l.attn_norm = nn::LayerNorm::make(a / "layer_norm", d_, eps);
      l.ff_norm = nn::LayerNorm::make(f / "layer_norm", d_, eps);
      l.ff1 = nn::Linear::make(f / "layer_1", d_, inner);
      l.ff2 = nn::Linear::make(f / "layer_2", inner, d_);
      layers_.push_back(l);
    }
    switch (head) {
      case Head::Base:
        break;
      case Head::LMHead:
        lm_.in = d_;
        lm_.out = vocab_;
        lm_.w = (r / "lm_loss").param("weight", {vocab_, d_}, c.get<bool>("tie_word_embeddings", true) ? word_.w.name() : "");
        lm_.b = (r / "lm_loss").param("bias", {vocab_});
        break;
      case Head::SequenceClassification:
      case Head::MultipleChoice:
        task_.emplace();
        task_->kind = head == Head::MultipleChoice ? nn::TaskHead::MultipleChoice : nn::TaskHead::SequenceClassification;
        task_->summary = nn::SequenceSummary::make(r / "sequence_summary", c, d_);
        task_->proj = nn::Linear::make(r / "logits_proj", task_->summary->out_dim, head == Head::MultipleChoice ? 1 : c.num_labels());
        break;
      case Head::TokenClassification:
        task_.emplace();
        task_->kind = nn::TaskHead::TokenClassification;
        task_->proj = nn::Linear::make(r / "classifier", d_, c.num_labels());
        break;
      case Head::QuestionAnsweringSimple:
        task_.emplace();
        task_->kind = nn::TaskHead::QuestionAnsweringSimple;
        task_->proj = nn::Linear::make(r / "qa_outputs", d_, c.num_labels());
        break;
      case Head::QuestionAnswering:
        task_.emplace();
        task_->kind = nn::TaskHead::QuestionAnswering;
        task_->squad = nn::SquadHead::make(r, c, d_, eps);
        break;
    }
    // Traits: XLNetModel._prune_heads raises NotImplementedError; the LM head is
    // lm_loss (TFXLNetLMHeadModel.get_lm_head / get_bias).
    traits_.input_embeddings = word_.w.name();
    set_roles(ParamRole::Embedding, {word_.w.name()});
    traits_.prune.unsupported = "XLNetModel._prune_heads raises NotImplementedError in transformers 4.46";
    if (head == Head::LMHead) {
      traits_.output_embeddings = lm_.w.name();
      traits_.lm_head = {"lm_loss", {{"bias", lm_.b.name()}}, "lm_loss"};
    }
    // XLNetLMHeadModel: cross-entropy of the logits unshifted; ForQuestionAnswering's SQuADHead computes its loss in forward.
    if (head == Head::LMHead || head == Head::QuestionAnswering)
      traits_.loss.kind = head == Head::LMHead ? LossKind::TokenLM : LossKind::SquadHead;
  }

  int64_t vocab_size() const override { return vocab_; }

  Outputs forward(const ModelInputs& in0) const override {
    ModelInputs in = in0;
    int64_t choices = 0;
    if (head_ == Head::MultipleChoice) choices = nn::flatten_choice_inputs(in);
    nn::StackOutputs st;
    std::vector<Tensor> new_mems;
    const bool use_mems = training() ? use_mems_train_ : use_mems_eval_;
    Tensor h = run(in, use_mems ? &new_mems : nullptr, st);
    Outputs out;
    if (head_ == Head::Base) out.set("last_hidden_state", h);
    else if (head_ == Head::LMHead) out.set("logits", lm_(h));
    else if (head_ == Head::QuestionAnswering && in.start_positions.defined()) nn::squad_head_loss(*task_->squad, h, in, out);
    else task_->apply(h, choices, out);
    for (std::size_t i = 0; i < new_mems.size(); ++i) out.set("mems." + std::to_string(i), new_mems[i]);
    if (in.target_mapping.defined() && in.output_attentions) {  // (h, g) pairs per layer
      for (std::size_t i = 0; i < st.attentions.size() / 2; ++i) {
        out.set("attentions." + std::to_string(i) + ".0", st.attentions[2 * i]);
        out.set("attentions." + std::to_string(i) + ".1", st.attentions[2 * i + 1]);
      }
      st.attentions.clear();
    }
    nn::emit_stack(out, st);
    return out;
  }

  // XLNetModel.forward; returns the output [B, S or num_predict, d_model]
  // (the query stream when target_mapping is given); fills new_mems when asked.
  Tensor run(const ModelInputs& in, std::vector<Tensor>* new_mems, nn::StackOutputs& st) const {
    Tensor ids = nn::as_ids(in.input_ids, "input_ids");
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    const int64_t B = ids.size(0), S = ids.size(1), D = d_, W = H_ * Dh_;
    if (S == 0) throw_error(ErrorKind::InvalidArgument, "input_ids must not be empty");
    const std::vector<Tensor>& mems = in.mems;
    const int64_t mlen = nn::check_mems(mems, L_, B, D);
    const int64_t klen = mlen + S;
    // ---- masks: attn_mask [B, S, klen] (query stream), non_tgt [B, S, klen] (content stream)
    Tensor perm, tm;
    if (in.perm_mask.defined()) {
      perm = in.perm_mask.to(DType::F32);
      if (perm.shape() != Shape{B, S, S}) throw_error(ErrorKind::Mismatch, "perm_mask must be [batch, seq, seq] = " + shape_str({B, S, S}));
    }
    int64_t P = 0;
    if (in.target_mapping.defined()) {
      tm = in.target_mapping.to(DType::F32);
      if (tm.dim() != 3 || tm.size(0) != B || tm.size(2) != S)
        throw_error(ErrorKind::Mismatch, "target_mapping must be [batch, num_predict, seq], got " + shape_str(tm.shape()));
      P = tm.size(1);
    }
    Tensor am;
    if (in.attention_mask.defined()) {
      am = in.attention_mask.to(DType::F32);
      if (am.shape() != ids.shape()) throw_error(ErrorKind::Mismatch, "attention_mask must match input_ids " + shape_str(ids.shape()));
    }
    const bool any_mask = attn_type_ == "uni" || am.defined() || perm.defined();
    std::vector<uint8_t> attn_mask, non_tgt;
    if (any_mask) {
      attn_mask.assign(static_cast<std::size_t>(B * S * klen), 0);
      non_tgt.assign(attn_mask.size(), 0);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < S; ++i)
          for (int64_t j = 0; j < klen; ++j) {
            float m = 0.0f;
            if (attn_type_ == "uni") {
              m = j >= i + 1 + mlen ? 1.0f : 0.0f;
              if (same_length_ && j < S && j <= i - 1) m += 1.0f;
            }
            if (j >= mlen) {
              const int64_t jj = j - mlen;
              if (am.defined()) m += 1.0f - am.data<float>()[b * S + jj];
              if (perm.defined()) m += perm.data<float>()[(b * S + i) * S + jj];
            }
            const std::size_t at = static_cast<std::size_t>((b * S + i) * klen + j);
            attn_mask[at] = m > 0.0f;  // binarised before the diagonal is subtracted
            non_tgt[at] = (static_cast<float>(attn_mask[at]) - (j == mlen + i ? 1.0f : 0.0f)) > 0.0f;
          }
    }
    // ---- embeddings and segments
    Tensor h = Tensor::zeros(DType::F32, {B, S, D});
    word_.gather(ids, h.mutable_data<float>(), false);
    nn::dropout_inplace(h, word_.w);
    Tensor g;
    if (tm.defined()) {
      g = Tensor::zeros(DType::F32, {B, P, D});
      Tensor me = mask_emb_->to(DType::F32);
      for (int64_t r = 0; r < B * P; ++r) std::copy_n(me.data<float>(), D, g.mutable_data<float>() + r * D);
    }
    std::vector<uint8_t> seg;
    if (in.token_type_ids.defined()) {
      Tensor tt = nn::as_ids(in.token_type_ids, "token_type_ids");
      if (tt.shape() != ids.shape()) throw_error(ErrorKind::Mismatch, "token_type_ids must match input_ids " + shape_str(ids.shape()));
      seg.assign(static_cast<std::size_t>(B * S * klen), 0);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < S; ++i)
          for (int64_t j = 0; j < klen; ++j) {
            const int64_t cj = j < mlen ? 0 : tt.data<int64_t>()[b * S + j - mlen];
            seg[static_cast<std::size_t>((b * S + i) * klen + j)] = tt.data<int64_t>()[b * S + i] != cj;
          }
    }
    // ---- relative positions [B or 1, R, D]
    const int64_t beg = klen, end = attn_type_ == "bi" ? -S : -1, R = beg - end;
    auto seq = [&](bool fwd) {
      std::vector<float> p(static_cast<std::size_t>(R));
      for (int64_t x = 0; x < R; ++x) {
        float v = static_cast<float>(fwd ? beg - x : -beg + x);
        if (clamp_len_ > 0) v = std::max(-static_cast<float>(clamp_len_), std::min(v, static_cast<float>(clamp_len_)));
        p[static_cast<std::size_t>(x)] = v;
      }
      return p;
    };
    const std::vector<float> inv = nn::sinusoid_inv_freq(D);
    Tensor pos_emb;  // [Rb, R, D]
    if (bi_data_) {
      if (B % 2) throw_error(ErrorKind::InvalidArgument, "bi_data needs an even batch size, got " + std::to_string(B));
      Tensor f = nn::sinusoid_table(seq(true), inv), bw = nn::sinusoid_table(seq(false), inv);
      pos_emb = Tensor::zeros(DType::F32, {B, R, D});
      for (int64_t b = 0; b < B; ++b)
        std::copy_n((b < B / 2 ? f : bw).data<float>(), R * D, pos_emb.mutable_data<float>() + b * R * D);
    } else {
      pos_emb = nn::sinusoid_table(seq(true), inv).reshape({1, R, D});
    }
    auto hm = nn::per_layer_head_mask(in.head_mask, L_, H_);
    if (new_mems) new_mems->clear();
    for (int64_t l = 0; l < L_; ++l) {
      const XLNetLayer& X = layers_[static_cast<std::size_t>(l)];
      const Tensor* mem = mems.empty() ? nullptr : &mems[static_cast<std::size_t>(l)];
      // cache_mem: [prev_mem; h] (h cut to reuse_len), the last mem_len rows when mem_len > 0
      if (new_mems)
        new_mems->push_back(nn::roll_mems(mem, h, reuse_len_ > 0 ? std::min(reuse_len_, S) : S, mem_len_ > 0 ? mem_len_ : -1));
      if (in.output_hidden_states) {
        st.hidden_states.push_back(h);
        if (g.defined()) st.hidden_states.push_back(g);
      }
      Tensor cat = nn::cat_mems(mem, h);  // [B, klen, D]
      Tensor k = project_in(cat, X.k), v = project_in(cat, X.v), kr = project_in(pos_emb, X.r), q = project_in(h, X.q);
      std::vector<float> s_rw, s_rr, s_rs, s_seg;
      nn::RelAttentionArgs a;
      a.B = B; a.Sk = klen; a.H = H_; a.D = Dh_; a.R = R;
      a.k = k.data<float>(); a.v = v.data<float>(); a.r = kr.data<float>(); a.r_batched = bi_data_;
      a.r_w_bias = nn::as_f32(*X.r_w_bias, s_rw);
      a.r_r_bias = nn::as_f32(*X.r_r_bias, s_rr);
      if (!seg.empty()) {
        a.r_s_bias = nn::as_f32(*X.r_s_bias, s_rs);
        a.seg_embed = nn::as_f32(*X.seg_embed, s_seg);
        a.seg = seg.data();
      }
      a.shift = nn::RelShift::XLNet;
      a.mask_mode = nn::RelMask::Subtract1e30;
      a.mask_batched = true;
      a.head_mask = hm.empty() ? nullptr : hm[static_cast<std::size_t>(l)].data();
      a.scale = 1.0f / std::sqrt(static_cast<float>(Dh_));
      // content stream
      a.Sq = S;
      a.q = q.data<float>();
      a.mask = non_tgt.empty() ? nullptr : non_tgt.data();
      Tensor probs_h;
      Tensor vec_h = nn::rel_attention(a, in.output_attentions ? &probs_h : nullptr);
      Tensor new_h = post_attention(X, h, vec_h);
      // query stream: queries mapped onto the sequence positions, attended, mapped back
      Tensor new_g, probs_g;
      if (g.defined()) {
        Tensor qg = project_in(g, X.q).reshape({B, P, W});
        Tensor ql = Tensor::zeros(DType::F32, {B, S, W});
        for (int64_t b = 0; b < B; ++b)
          for (int64_t m = 0; m < P; ++m)
            for (int64_t pos = 0; pos < S; ++pos) {
              const float w = tm.data<float>()[(b * P + m) * S + pos];
              if (w == 0.0f) continue;
              for (int64_t x = 0; x < W; ++x) ql.mutable_data<float>()[(b * S + pos) * W + x] += w * qg.data<float>()[(b * P + m) * W + x];
            }
        a.q = ql.data<float>();
        a.mask = attn_mask.empty() ? nullptr : attn_mask.data();
        Tensor vec_l = nn::rel_attention(a, in.output_attentions ? &probs_g : nullptr);
        Tensor vec_g = Tensor::zeros(DType::F32, {B, P, W});
        for (int64_t b = 0; b < B; ++b)
          for (int64_t m = 0; m < P; ++m)
            for (int64_t pos = 0; pos < S; ++pos) {
              const float w = tm.data<float>()[(b * P + m) * S + pos];
              if (w == 0.0f) continue;
              for (int64_t x = 0; x < W; ++x) vec_g.mutable_data<float>()[(b * P + m) * W + x] += w * vec_l.data<float>()[(b * S + pos) * W + x];
            }
        new_g = ff(X, post_attention(X, g, vec_g));
      }
      h = ff(X, new_h);
      g = new_g;
      if (in.output_attentions) {
        st.attentions.push_back(probs_h);
        if (g.defined()) st.attentions.push_back(probs_g);
      }
    }
    if (in.output_hidden_states) {
      st.hidden_states.push_back(h);
      if (g.defined()) st.hidden_states.push_back(g);
    }
    return g.defined() ? g : h;
  }

  std::unique_ptr<GenerationSession> start_generation(bool use_cache) const override {
    if (head_ != Head::LMHead) throw_error(ErrorKind::Unsupported, class_name() + " cannot generate (use XLNetLMHeadModel)");
    return std::make_unique<Session>(*this, use_cache);
  }

 private:
  // post_attention: LayerNorm(vec @ o + residual).
  Tensor post_attention(const XLNetLayer& X, const Tensor& residual, const Tensor& vec) const {
    Tensor out = nn::linear(vec.contiguous().reshape({-1, H_ * Dh_}), X.o->reshape({d_, H_ * Dh_}), Tensor()).reshape(residual.shape());
    nn::dropout_inplace(out, X.o);
    nn::add_(out, residual);
    X.attn_norm.inplace(out);
    return out;
  }

  // XLNetFeedForward: LayerNorm(layer_2(act(layer_1(x))) + x).
  Tensor ff(const XLNetLayer& X, const Tensor& x) const {
    Tensor y = X.ff1(x);
    nn::activate(y, act_);
    Tensor z = X.ff2(y);
    nn::dropout_inplace(z, X.ff2.w);
    nn::add_(z, x);
    X.ff_norm.inplace(z);
    return z;
  }

  // generate(): XLNetLMHeadModel.prepare_inputs_for_generation — a dummy token
  // appended, hidden from every position by perm_mask and predicted through
  // target_mapping; with mems, only the last two tokens and the dummy are run
  // and the mems lose their last two rows.
  class Session final : public GenerationSession {
   public:
    Session(const XLNet& m, bool use_cache) : m_(m), use_cache_(use_cache) {}
    Tensor next_logits(const std::vector<std::vector<int64_t>>& seqs, int64_t) override {
      const int64_t B = static_cast<int64_t>(seqs.size()), T = static_cast<int64_t>(seqs[0].size());
      constexpr int64_t kOffset = 2;
      const bool past = use_cache_ && !mems_.empty();
      const int64_t n = past ? std::min(kOffset, T) : T, S = n + 1;
      std::vector<int64_t> flat;
      for (const auto& s : seqs) {
        flat.insert(flat.end(), s.end() - n, s.end());
        flat.push_back(0);
      }
      ModelInputs in;
      in.input_ids = Tensor::from_vector(DType::I64, {B, S}, flat);
      in.perm_mask = Tensor::zeros(DType::F32, {B, S, S});
      in.target_mapping = Tensor::zeros(DType::F32, {B, 1, S});
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t i = 0; i < S; ++i) in.perm_mask.mutable_data<float>()[(b * S + i) * S + S - 1] = 1.0f;
        in.target_mapping.mutable_data<float>()[b * S + S - 1] = 1.0f;
      }
      if (past)
        for (const Tensor& m : mems_) in.mems.push_back(m.narrow(0, 0, m.size(0) - n).contiguous());
      nn::StackOutputs st;
      std::vector<Tensor> new_mems;
      Tensor out = m_.run(in, use_cache_ ? &new_mems : nullptr, st);  // [B, 1, d]
      if (use_cache_) mems_ = std::move(new_mems);
      return m_.lm_(out).reshape({B, m_.vocab_});
    }
    void reorder(const std::vector<int64_t>& index) override { nn::reorder_mems(mems_, index); }

   private:
    const XLNet& m_;
    bool use_cache_;
    std::vector<Tensor> mems_;
  };

  Head head_;
  int64_t vocab_ = 0, d_ = 0, L_ = 0, H_ = 0, Dh_ = 0, clamp_len_ = -1, mem_len_ = 0, reuse_len_ = 0;
  std::string attn_type_ = "bi";
  bool bi_data_ = false, same_length_ = false, use_mems_eval_ = true, use_mems_train_ = false;
  nn::Activation act_ = nn::Activation::GeluErf;
  Param mask_emb_;
  nn::Embedding word_;
  std::vector<XLNetLayer> layers_;
  nn::Linear lm_;
  std::optional<nn::TaskHeads> task_;
};

}  // namespace

Architecture xlnet_architecture() {
  json d = {{"vocab_size", 32000}, {"d_model", 1024}, {"n_layer", 24}, {"n_head", 16}, {"d_inner", 4096},
            {"ff_activation", "gelu"}, {"untie_r", true}, {"attn_type", "bi"}, {"initializer_range", 0.02},
            {"layer_norm_eps", 1e-12}, {"dropout", 0.1}, {"mem_len", 512}, {"reuse_len", nullptr}, {"use_mems_eval", true},
            {"use_mems_train", false}, {"bi_data", false}, {"clamp_len", -1}, {"same_length", false},
            {"summary_type", "last"}, {"summary_use_proj", true}, {"summary_activation", "tanh"},
            {"summary_last_dropout", 0.1}, {"start_n_top", 5}, {"end_n_top", 5}, {"pad_token_id", 5},
            {"bos_token_id", 1}, {"eos_token_id", 2}, {"tie_word_embeddings", true}};
  Architecture a{"xlnet", d, "transformer", {}, {}, {}};
  // hfx convert xlnet (convert_xlnet_original_tf_checkpoint_to_pytorch.py): --config required, the
  // finetuning task picks the head; XLNetConfig.__init__ derives d_head = d_model // n_head.
  a.convert.name = "xlnet";
  a.convert.config_required = true;
  a.convert.finetuning_task = true;
  a.convert.attribute_map = {{"n_token", "vocab_size"}, {"hidden_size", "d_model"}, {"num_attention_heads", "n_head"},
                             {"num_hidden_layers", "n_layer"}};
  a.convert.derive = [](json& full, const json&) {
    const json &dm = full["d_model"], &nh = full["n_head"];
    if (dm.is_number_integer() && nh.is_number_integer() && nh.get<int64_t>() > 0) full["d_head"] = dm.get<int64_t>() / nh.get<int64_t>();
  };
  auto add = [&](const std::string& cls, Head h) {
    a.classes.emplace_back(cls, [cls, h](const Config& c) { return std::make_unique<XLNet>(cls, c, h); });
  };
  add("XLNetModel", Head::Base);
  add("XLNetLMHeadModel", Head::LMHead);
  add("XLNetForSequenceClassification", Head::SequenceClassification);
  add("XLNetForTokenClassification", Head::TokenClassification);
  add("XLNetForMultipleChoice", Head::MultipleChoice);
  add("XLNetForQuestionAnsweringSimple", Head::QuestionAnsweringSimple);
  add("XLNetForQuestionAnswering", Head::QuestionAnswering);
  a.auto_classes = {{"AutoModel", "XLNetModel"},
                    {"AutoModelForCausalLM", "XLNetLMHeadModel"},
                    {"AutoModelForPreTraining", "XLNetLMHeadModel"},
                    {"AutoModelForSequenceClassification", "XLNetForSequenceClassification"},
                    {"AutoModelForTokenClassification", "XLNetForTokenClassification"},
                    {"AutoModelForMultipleChoice", "XLNetForMultipleChoice"},
                    {"AutoModelForQuestionAnswering", "XLNetForQuestionAnsweringSimple"}};
  return a;
}

}  // namespace hfx::models
