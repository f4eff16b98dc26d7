// Transformer-XL: adaptive input embeddings, relative-position attention over
// a memory of earlier hidden states (mems), adaptive log-softmax LM head.
// Upstream: transformers v4.46.3 src/transformers/models/deprecated/transfo_xl/
// modeling_transfo_xl.py and modeling_transfo_xl_utilities.py
// model_type "transfo-xl"; classes TransfoXLModel, TransfoXLLMHeadModel,
// TransfoXLForSequenceClassification. attn_type 0 only (the reference removed the others).
// Without mems the reference starts from mem_len zero vectors (init_mems), which
// every query attends to; hfx does the same.
#include <cmath>

#include "hfx/generate.h"
#include "models/registry_entries.h"
#include "nn/decoder.h"
#include "nn/relative.h"

namespace hfx::models {
namespace {

enum class Head { Base, LMHead, SequenceClassification };

struct XLLayer {
  nn::Linear qkv, o, r_net, ff0, ff3;
  nn::LayerNorm attn_norm, ff_norm;
  Param r_w_bias, r_r_bias;
};

void log_softmax_rows(float* x, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    float* p = x + r * n;
    float m = *std::max_element(p, p + n);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(p[i] - m));
    const float lse = m + static_cast<float>(std::log(s));
    for (int64_t i = 0; i < n; ++i) p[i] -= lse;
  }
}

class TransfoXL final : public Model, public SessionLM {
 public:
  TransfoXL(const std::string& cls, const Config& c, Head head) : Model(cls, c, "transformer"), head_(head) {
    n_token_ = c.get<int64_t>("vocab_size", 0);
    d_model_ = c.get<int64_t>("d_model", 0);
    d_embed_ = c.get<int64_t>("d_embed", 0);
    n_head_ = c.get<int64_t>("n_head", 0);
    d_head_ = c.get<int64_t>("d_head", 0);
    n_layer_ = c.get<int64_t>("n_layer", 0);
    div_val_ = c.get<int64_t>("div_val", 1);
    mem_len_ = c.get<int64_t>("mem_len", 0);
    clamp_len_ = c.get<int64_t>("clamp_len", 0);
    same_length_ = c.get<bool>("same_length", false);
    pre_lnorm_ = c.get<bool>("pre_lnorm", false);
    pad_ = c.has("pad_token_id") ? c.get<int64_t>("pad_token_id", -1) : -1;
    const int64_t d_inner = c.get<int64_t>("d_inner", 0);
    if (n_token_ <= 0 || d_model_ <= 0 || d_embed_ <= 0 || n_head_ <= 0 || d_head_ <= 0 || n_layer_ <= 0 || d_inner <= 0 ||
        div_val_ <= 0 || mem_len_ < 0)
      throw_error(ErrorKind::InvalidArgument, "vocab_size, d_model, d_embed, n_head, d_head, n_layer, d_inner, div_val must be positive and mem_len >= 0", c.source());
    if (c.get<int64_t>("attn_type", 0) != 0)
      throw_error(ErrorKind::Unsupported, "Transformer-XL attn_type other than 0 (removed from the reference too)", c.source());
    if (c.get<int64_t>("sample_softmax", -1) > 0)
      throw_error(ErrorKind::Unsupported, "Transformer-XL sample_softmax > 0 (not implemented in the reference either)", c.source());
    cutoffs_ = c.get<std::vector<int64_t>>("cutoffs", {});
    int64_t prev = 0;
    for (int64_t x : cutoffs_) {
      if (x <= prev || x >= n_token_)
        throw_error(ErrorKind::InvalidArgument, "cutoffs must increase strictly within (0, vocab_size)", c.source());
      prev = x;
    }
    cutoffs_.push_back(n_token_);
    const float eps = static_cast<float>(c.get<double>("layer_norm_epsilon", 1e-5));
    Scope r = root();
    Scope t = head == Head::Base ? r : r / "transformer";
    // AdaptiveEmbedding
    Scope we = t / "word_emb";
    const std::size_t nc = div_val_ == 1 ? 1 : cutoffs_.size();
    for (std::size_t i = 0; i < nc; ++i) {
      const int64_t rows = div_val_ == 1 ? n_token_ : cutoffs_[i] - (i ? cutoffs_[i - 1] : 0);
      const int64_t d_i = emb_dim(i);
      if (d_i <= 0) throw_error(ErrorKind::InvalidArgument, "d_embed / div_val^i must stay positive", c.source());
      emb_layers_.push_back(nn::Embedding::make(we / "emb_layers" / static_cast<int64_t>(i), rows, d_i));
      if (div_val_ != 1 || d_model_ != d_embed_)
        emb_projs_.push_back((we / "emb_projs").param(std::to_string(i), {d_model_, d_i}));
    }
    Param shared_w, shared_r;
    if (!c.get<bool>("untie_r", true)) {
      shared_w = t.param("r_w_bias", {n_head_, d_head_});
      shared_r = t.param("r_r_bias", {n_head_, d_head_});
    }
    const int64_t W = n_head_ * d_head_;
    for (int64_t i = 0; i < n_layer_; ++i) {
      Scope l = t / "layers" / i;
      Scope a = l / "dec_attn";
      XLLayer x;
      // untie_r false: every layer's biases are the model's (state_dicts list them under each layer too)
      x.r_r_bias = a.param("r_r_bias", {n_head_, d_head_}, shared_r.valid() ? shared_r.name() : "");
      x.r_w_bias = a.param("r_w_bias", {n_head_, d_head_}, shared_w.valid() ? shared_w.name() : "");
      x.qkv = nn::Linear::make(a / "qkv_net", d_model_, 3 * W, false);
      x.o = nn::Linear::make(a / "o_net", W, d_model_, false);
      x.attn_norm = nn::LayerNorm::make(a / "layer_norm", d_model_, eps);
      x.r_net = nn::Linear::make(a / "r_net", d_model_, W, false);
      x.ff0 = nn::Linear::make(l / "pos_ff" / "CoreNet" / "0", d_model_, d_inner);
      x.ff3 = nn::Linear::make(l / "pos_ff" / "CoreNet" / "3", d_inner, d_model_);
      x.ff_norm = nn::LayerNorm::make(l / "pos_ff" / "layer_norm", d_model_, eps);
      layers_.push_back(x);
    }
    ignored_keys_ = {t.path("pos_emb.inv_freq")};
    if (head == Head::SequenceClassification) score_ = nn::Linear::make(r / "score", d_embed_, c.num_labels(), false);
    if (head == Head::LMHead) make_crit(r / "crit", c);
    // Traits: the input is an AdaptiveEmbedding (one nn.Embedding per cluster,
    // resized per cluster; the LM head's out_layers follow); no head pruning.
    for (const auto& e : emb_layers_) traits_.adaptive_input_embeddings.push_back(e.w.name());
    for (const auto& o : out_layers_) traits_.adaptive_output_embeddings.push_back(o.w.name());
    set_roles(ParamRole::Embedding, traits_.adaptive_input_embeddings);
    if (head == Head::LMHead) traits_.loss.kind = LossKind::TransfoXLLM;  // the adaptive softmax's per-token losses
    traits_.prune.unsupported =
        "TransfoXLModel._prune_heads only logs 'Head pruning is not implemented for Transformer-XL model' in transformers 4.46";
  }

  int64_t vocab_size() const override { return n_token_; }

  Outputs forward(const ModelInputs& in) const override {
    Tensor ids = nn::as_ids(in.input_ids, "input_ids");
    if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
    nn::StackOutputs st;
    std::vector<Tensor> new_mems;
    Tensor h = run(ids, in.mems, in.head_mask, in.output_hidden_states, in.output_attentions, st, &new_mems);
    Outputs out;
    switch (head_) {
      case Head::Base:
        out.set("last_hidden_state", h);
        break;
      case Head::LMHead:
        out.set("prediction_scores", crit(h));
        break;
      case Head::SequenceClassification:
        out.set("logits", nn::pool_last_non_pad((*score_)(h), ids, pad_));
        break;
    }
    for (std::size_t i = 0; i < new_mems.size(); ++i) out.set("mems." + std::to_string(i), new_mems[i]);
    nn::emit_stack(out, st);
    return out;
  }

  // TransfoXLModel.forward over ids [B, S] with `mems` ([mlen, B, d] per layer;
  // empty: mem_len zero vectors). Returns [B, S, d_model]; fills new_mems.
  Tensor run(const Tensor& ids, std::vector<Tensor> mems, const Tensor& head_mask, bool want_h, bool want_a,
             nn::StackOutputs& st, std::vector<Tensor>* new_mems) const {
    const int64_t B = ids.size(0), S = ids.size(1), D = d_model_;
    if (S == 0) throw_error(ErrorKind::InvalidArgument, "input_ids must not be empty");
    if (mems.empty() && mem_len_ > 0)
      for (int64_t i = 0; i < n_layer_; ++i) mems.push_back(Tensor::zeros(DType::F32, {mem_len_, B, D}));
    const int64_t mlen = nn::check_mems(mems, n_layer_, B, D);
    const int64_t klen = mlen + S;
    Tensor h = embed(ids);
    // dec_attn_mask [S, klen]: future keys (and, with same_length, keys too far back)
    std::vector<uint8_t> mask(static_cast<std::size_t>(S * klen), 0);
    const int64_t mask_len = klen - mem_len_;
    const int64_t shift = same_length_ && mask_len > 0 ? S - mask_len : S;
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < klen; ++j)
        mask[static_cast<std::size_t>(i * klen + j)] = j >= i + 1 + mlen || (same_length_ && j <= i - shift);
    std::vector<float> pos(static_cast<std::size_t>(klen));
    for (int64_t p = 0; p < klen; ++p) {
      float v = static_cast<float>(klen - 1 - p);
      if (clamp_len_ > 0) v = std::min(v, static_cast<float>(clamp_len_));
      pos[static_cast<std::size_t>(p)] = v;
    }
    const Tensor pos_emb = nn::sinusoid_table(pos, nn::sinusoid_inv_freq(D));
    auto hm = nn::per_layer_head_mask(head_mask, n_layer_, n_head_);
    std::vector<Tensor> hids;
    const int64_t W = n_head_ * d_head_;
    for (int64_t l = 0; l < n_layer_; ++l) {
      const XLLayer& L = layers_[static_cast<std::size_t>(l)];
      hids.push_back(h);
      Tensor cat = nn::cat_mems(mlen ? &mems[static_cast<std::size_t>(l)] : nullptr, h);  // [B, klen, D]
      if (pre_lnorm_) L.attn_norm.inplace(cat);
      Tensor heads = L.qkv(cat);  // [B, klen, 3W]
      Tensor q = Tensor::zeros(DType::F32, {B, S, W}), k = Tensor::zeros(DType::F32, {B, klen, W}),
             v = Tensor::zeros(DType::F32, {B, klen, W});
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < klen; ++j) {
          const float* row = heads.data<float>() + (b * klen + j) * 3 * W;
          if (j >= mlen) std::copy_n(row, W, q.mutable_data<float>() + (b * S + j - mlen) * W);
          std::copy_n(row + W, W, k.mutable_data<float>() + (b * klen + j) * W);
          std::copy_n(row + 2 * W, W, v.mutable_data<float>() + (b * klen + j) * W);
        }
      Tensor rk = L.r_net(pos_emb);  // [klen, W]
      std::vector<float> rw_s, rr_s;
      nn::RelAttentionArgs a;
      a.B = B; a.Sq = S; a.Sk = klen; a.H = n_head_; a.D = d_head_; a.R = klen;
      a.q = q.data<float>(); a.k = k.data<float>(); a.v = v.data<float>(); a.r = rk.data<float>();
      a.r_w_bias = nn::as_f32(*L.r_w_bias, rw_s);
      a.r_r_bias = nn::as_f32(*L.r_r_bias, rr_s);
      a.mask = mask.data();
      a.shift = nn::RelShift::TransfoXL;
      a.mask_mode = nn::RelMask::FillMin;
      a.head_mask = hm.empty() ? nullptr : hm[static_cast<std::size_t>(l)].data();
      a.scale = 1.0f / std::sqrt(static_cast<float>(d_head_));
      Tensor probs;
      Tensor vec = nn::rel_attention(a, want_a ? &probs : nullptr);
      Tensor attn = L.o(vec);
      nn::dropout_inplace(attn, L.o.w);
      nn::add_(attn, h);  // w + attn_out
      if (!pre_lnorm_) L.attn_norm.inplace(attn);
      // PositionwiseFF
      Tensor x = attn.clone();
      if (pre_lnorm_) L.ff_norm.inplace(x);
      Tensor ff = L.ff0(x);
      nn::activate(ff, nn::Activation::Relu);
      Tensor core = L.ff3(ff);
      nn::dropout_inplace(core, L.ff3.w);
      nn::add_(core, attn);
      if (!pre_lnorm_) L.ff_norm.inplace(core);
      h = core;
      if (want_a) st.attentions.push_back(probs);
    }
    if (new_mems && !mems.empty()) {  // _update_mems: the last mem_len of [mems; layer inputs]
      new_mems->clear();
      for (int64_t l = 0; l < n_layer_; ++l)
        new_mems->push_back(nn::roll_mems(&mems[static_cast<std::size_t>(l)], hids[static_cast<std::size_t>(l)], S, mem_len_));
    }
    if (want_h) {
      st.hidden_states = hids;
      st.hidden_states.push_back(h);
    }
    return h;
  }

  std::unique_ptr<GenerationSession> start_generation(bool use_cache) const override {
    if (head_ != Head::LMHead) throw_error(ErrorKind::Unsupported, class_name() + " cannot generate (use TransfoXLLMHeadModel)");
    return std::make_unique<Session>(*this, use_cache);
  }

 private:
  int64_t emb_dim(std::size_t i) const {
    int64_t d = d_embed_;
    for (std::size_t k = 0; k < i; ++k) d /= div_val_;
    return d;
  }

  // AdaptiveEmbedding.forward: [B, S] -> [B, S, d_model] * sqrt(d_model).
  Tensor embed(const Tensor& ids) const {
    const int64_t n = ids.numel();
    const int64_t* p = ids.data<int64_t>();
    for (int64_t i = 0; i < n; ++i)
      if (p[i] < 0 || p[i] >= n_token_)
        throw_error(ErrorKind::InvalidArgument, "input id " + std::to_string(p[i]) + " out of range for vocab_size " + std::to_string(n_token_),
                    {}, emb_layers_[0].w.name());
    Tensor out = Tensor::zeros(DType::F32, {ids.size(0), ids.size(1), d_model_});
    for (std::size_t c = 0; c < emb_layers_.size(); ++c) {
      const int64_t lo = div_val_ == 1 ? 0 : (c ? cutoffs_[c - 1] : 0), hi = div_val_ == 1 ? n_token_ : cutoffs_[c];
      std::vector<int64_t> rows, where;
      for (int64_t i = 0; i < n; ++i)
        if (p[i] >= lo && p[i] < hi) {
          rows.push_back(p[i] - lo);
          where.push_back(i);
        }
      if (rows.empty()) continue;
      const int64_t m = static_cast<int64_t>(rows.size()), d_i = emb_layers_[c].w->size(1);
      Tensor e = Tensor::zeros(DType::F32, {m, d_i});
      emb_layers_[c].gather(Tensor::from_vector(DType::I64, {m}, rows), e.mutable_data<float>(), false);
      Tensor pe = e;
      if (c < emb_projs_.size()) {
        pe = nn::linear(e, *emb_projs_[c], Tensor());
      }
      for (int64_t r = 0; r < m; ++r)
        std::copy_n(pe.data<float>() + r * d_model_, d_model_, out.mutable_data<float>() + where[static_cast<std::size_t>(r)] * d_model_);
    }
    nn::scale_(out, static_cast<float>(std::sqrt(static_cast<double>(d_model_))));
    return out;
  }

  void make_crit(const Scope& s, const Config& c) {
    const bool tie_words = c.get<bool>("tie_word_embeddings", true);
    std::vector<bool> tie_projs;
    if (const json* tp = c.find("tie_projs"); tp && tp->is_array()) {
      for (const auto& x : *tp) tie_projs.push_back(x.get<bool>());
    } else {
      const bool share = c.get<bool>("proj_share_all_but_first", true);
      tie_projs.push_back(false);
      for (std::size_t i = 1; i < cutoffs_.size(); ++i) tie_projs.push_back(share);
    }
    const int64_t n_clusters = static_cast<int64_t>(cutoffs_.size()) - 1;
    if (n_clusters > 0) {
      cluster_w_ = s.param("cluster_weight", {n_clusters, d_embed_});
      cluster_b_ = s.param("cluster_bias", {n_clusters});
    }
    const std::size_t n_layers = div_val_ == 1 ? 1 : cutoffs_.size();
    for (std::size_t i = 0; i < n_layers; ++i) {
      Scope o = s / "out_layers" / static_cast<int64_t>(i);
      const Shape ws{emb_layers_[i].num, emb_layers_[i].dim};
      nn::Linear l;
      l.w = o.param("weight", ws, tie_words ? emb_layers_[i].w.name() : "");
      l.b = o.param("bias", {ws[0]});
      l.in = ws[1];
      l.out = ws[0];
      out_layers_.push_back(l);
    }
    for (std::size_t i = 0; i < cutoffs_.size(); ++i) {
      const bool tie = i < tie_projs.size() && tie_projs[i];
      if (div_val_ == 1) {
        if (d_model_ == d_embed_) {
          out_projs_.emplace_back();
          continue;
        }
        out_projs_.push_back((s / "out_projs").param(std::to_string(i), {d_model_, d_embed_}, tie ? emb_projs_[0].name() : ""));
      } else {
        out_projs_.push_back((s / "out_projs").param(std::to_string(i), {d_model_, emb_dim(i)}, tie ? emb_projs_[i].name() : ""));
      }
    }
  }

  // _compute_logit: hidden [N, d_model] (@ proj) then Linear(weight rows [lo, hi), bias) (+ extra rows).
  Tensor compute_logit(const Tensor& hidden, std::size_t layer, int64_t lo, int64_t hi, const Param& proj, bool with_clusters) const {
    Tensor x = hidden;
    if (proj.valid()) {
      x = nn::linear(hidden, *proj, Tensor(), /*w_in_major=*/true);
    }
    const Tensor& W = *out_layers_[layer].w;
    const Tensor& b = *out_layers_[layer].b;
    const int64_t in = W.size(1), rows = hi - lo, extra = with_clusters ? cluster_w_->size(0) : 0;
    if (x.size(1) != in) throw_error(ErrorKind::Mismatch, "adaptive softmax projection does not fit its output layer", {}, out_layers_[layer].w.name());
    Tensor Wc = Tensor::zeros(DType::F32, {rows + extra, in}), bc = Tensor::zeros(DType::F32, {rows + extra});
    Tensor Wf = W.to(DType::F32), bf = b.to(DType::F32);
    std::copy_n(Wf.data<float>() + lo * in, rows * in, Wc.mutable_data<float>());
    std::copy_n(bf.data<float>() + lo, rows, bc.mutable_data<float>());
    if (extra) {
      Tensor cw = cluster_w_->to(DType::F32), cb = cluster_b_->to(DType::F32);
      std::copy_n(cw.data<float>(), extra * in, Wc.mutable_data<float>() + rows * in);
      std::copy_n(cb.data<float>(), extra, bc.mutable_data<float>() + rows);
    }
    return nn::linear(x, Wc, bc);
  }

  // ProjectedAdaptiveLogSoftmax.forward without labels: log-probabilities [B, S, n_token].
  Tensor crit(const Tensor& h) const {
    const int64_t B = h.size(0), S = h.size(1), N = B * S;
    Tensor hidden = h.reshape({N, d_model_});
    Tensor out = Tensor::zeros(DType::F32, {N, n_token_});
    const int64_t n_clusters = static_cast<int64_t>(cutoffs_.size()) - 1;
    auto layer_range = [&](std::size_t i, std::size_t& layer, int64_t& lo, int64_t& hi) {
      const int64_t l = i ? cutoffs_[i - 1] : 0, r = cutoffs_[i];
      if (div_val_ == 1) {
        layer = 0; lo = l; hi = r;
      } else {
        layer = i; lo = 0; hi = r - l;
      }
    };
    std::size_t layer = 0;
    int64_t lo = 0, hi = 0;
    layer_range(0, layer, lo, hi);
    Tensor head = compute_logit(hidden, layer, lo, hi, out_projs_[0], n_clusters > 0);
    const int64_t HW = head.size(1), shortlist = cutoffs_[0];
    log_softmax_rows(head.mutable_data<float>(), N, HW);
    if (n_clusters == 0) return head.reshape({B, S, n_token_});
    for (int64_t r = 0; r < N; ++r) std::copy_n(head.data<float>() + r * HW, shortlist, out.mutable_data<float>() + r * n_token_);
    for (std::size_t i = 1; i < cutoffs_.size(); ++i) {
      layer_range(i, layer, lo, hi);
      Tensor tail = compute_logit(hidden, layer, lo, hi, out_projs_[i], false);
      const int64_t n = tail.size(1), start = cutoffs_[i - 1];
      log_softmax_rows(tail.mutable_data<float>(), N, n);
      for (int64_t r = 0; r < N; ++r) {
        const float cluster = head.data<float>()[r * HW + shortlist + static_cast<int64_t>(i) - 1];
        for (int64_t k = 0; k < n; ++k) out.mutable_data<float>()[r * n_token_ + start + k] = cluster + tail.data<float>()[r * n + k];
      }
    }
    return out.reshape({B, S, n_token_});
  }

  // generate(): prompt first, then one token per step over the mems (prepare_inputs_for_generation).
  class Session final : public GenerationSession {
   public:
    Session(const TransfoXL& m, bool use_cache) : m_(m), use_cache_(use_cache) {}
    Tensor next_logits(const std::vector<std::vector<int64_t>>& seqs, int64_t new_n) override {
      const int64_t B = static_cast<int64_t>(seqs.size()), T = static_cast<int64_t>(seqs[0].size());
      const int64_t n = use_cache_ ? new_n : T;
      std::vector<int64_t> flat;
      for (const auto& s : seqs) flat.insert(flat.end(), s.end() - n, s.end());
      nn::StackOutputs st;
      std::vector<Tensor> new_mems;
      Tensor h = m_.run(Tensor::from_vector(DType::I64, {B, n}, flat), use_cache_ ? mems_ : std::vector<Tensor>{}, Tensor(),
                        false, false, st, &new_mems);
      if (use_cache_) mems_ = std::move(new_mems);
      Tensor last = Tensor::zeros(DType::F32, {B, 1, m_.d_model_});
      for (int64_t b = 0; b < B; ++b)
        std::copy_n(h.data<float>() + (b * n + n - 1) * m_.d_model_, m_.d_model_, last.mutable_data<float>() + b * m_.d_model_);
      return m_.crit(last).reshape({B, m_.n_token_});
    }
    void reorder(const std::vector<int64_t>& index) override { nn::reorder_mems(mems_, index); }  // _reorder_cache

   private:
    const TransfoXL& m_;
    bool use_cache_;
    std::vector<Tensor> mems_;
  };

  Head head_;
  int64_t n_token_ = 0, d_model_ = 0, d_embed_ = 0, n_head_ = 0, d_head_ = 0, n_layer_ = 0, div_val_ = 1, mem_len_ = 0,
          clamp_len_ = 0, pad_ = -1;
  bool same_length_ = false, pre_lnorm_ = false;
  std::vector<int64_t> cutoffs_;  // config cutoffs + [vocab_size]
  std::vector<nn::Embedding> emb_layers_;
  std::vector<Param> emb_projs_;
  std::vector<XLLayer> layers_;
  std::optional<nn::Linear> score_;
  Param cluster_w_, cluster_b_;
  std::vector<nn::Linear> out_layers_;
  std::vector<Param> out_projs_;  // invalid Param: no projection
};

}  // namespace

Architecture transfo_xl_architecture() {
  json d = {{"vocab_size", 267735}, {"cutoffs", {20000, 40000, 200000}}, {"d_model", 1024}, {"d_embed", 1024},
            {"n_head", 16}, {"d_head", 64}, {"d_inner", 4096}, {"div_val", 4}, {"pre_lnorm", false}, {"n_layer", 18},
            {"mem_len", 1600}, {"clamp_len", 1000}, {"same_length", true}, {"proj_share_all_but_first", true},
            {"attn_type", 0}, {"sample_softmax", -1}, {"adaptive", true}, {"dropout", 0.1}, {"dropatt", 0.0},
            {"untie_r", true}, {"init", "normal"}, {"init_range", 0.01}, {"proj_init_std", 0.01}, {"init_std", 0.02},
            {"layer_norm_epsilon", 1e-5}, {"eos_token_id", 0}, {"tie_word_embeddings", true}};
  Architecture a{"transfo-xl", d, "transformer", {}, {}, {}};
  // hfx convert transfo_xl (convert_transfo_xl_original_tf_checkpoint_to_pytorch.py); TransfoXLConfig.__init__
  // turns proj_share_all_but_first into tie_projs.
  a.convert.name = "transfo_xl";
  a.convert.attribute_map = {{"n_token", "vocab_size"}, {"hidden_size", "d_model"}, {"num_attention_heads", "n_head"},
                             {"num_hidden_layers", "n_layer"}};
  a.convert.derive = [](json& full, const json& in) {
    if (!in.contains("tie_projs") && full["cutoffs"].is_array()) {
      json tp = json::array({false});
      const bool share = in.value("proj_share_all_but_first", true);
      for (std::size_t i = 0; i < full["cutoffs"].size(); ++i) tp.push_back(share);
      full["tie_projs"] = tp;
    }
    full.erase("proj_share_all_but_first");
  };
  auto add = [&](const std::string& cls, Head h) {
    a.classes.emplace_back(cls, [cls, h](const Config& c) { return std::make_unique<TransfoXL>(cls, c, h); });
  };
  add("TransfoXLModel", Head::Base);
  add("TransfoXLLMHeadModel", Head::LMHead);
  add("TransfoXLForSequenceClassification", Head::SequenceClassification);
  a.auto_classes = {{"AutoModel", "TransfoXLModel"},
                    {"AutoModelForCausalLM", "TransfoXLLMHeadModel"},
                    {"AutoModelForPreTraining", "TransfoXLLMHeadModel"},
                    {"AutoModelForSequenceClassification", "TransfoXLForSequenceClassification"}};
  return a;
}

}  // namespace hfx::models
