// Labels -> loss (nn/loss.h). Upstream: transformers v4.46.3 loss/loss_utils.py
// (ForCausalLMLoss, ForSequenceClassificationLoss, ForQuestionAnsweringLoss,
// ForTokenClassification) and the loss blocks of modeling_bert.py (pretraining,
// NSP, multiple choice), modeling_albert.py (sentence order), modeling_electra.py
// (discriminator), modeling_gpt2.py / modeling_openai.py (double heads),
// modeling_deberta.py (sequence classification), modeling_transfo_xl.py +
// modeling_transfo_xl_utilities.py (adaptive softmax), modeling_mixtral.py
// (router aux loss), modeling_bart.py / modeling_t5.py (seq2seq labels).
#include "nn/loss.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "hfx/error.h"
#include "nn/heads.h"
#include "nn/ops.h"

namespace hfx::nn {

namespace {

constexpr int64_t kIgnore = -100;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

[[noreturn]] void bad(const std::string& field, const std::string& cls, const std::string& why) {
  throw_error(ErrorKind::InvalidArgument, field + ": " + why + " (" + cls + ")");
}

// Every training target ModelInputs carries, by its transformers kwarg name.
std::vector<std::pair<const char*, const Tensor*>> targets_of(const ModelInputs& in) {
  return {{"labels", &in.labels},
          {"start_positions", &in.start_positions},
          {"end_positions", &in.end_positions},
          {"next_sentence_label", &in.next_sentence_label},
          {"sentence_order_label", &in.sentence_order_label},
          {"mc_labels", &in.mc_labels}};
}

// The targets each kind takes (transformers' forward signature).
std::vector<std::string> accepted(LossKind kind) {
  switch (kind) {
    case LossKind::QuestionAnswering:
    case LossKind::SquadHead: return {"start_positions", "end_positions"};
    case LossKind::BertPreTraining: return {"labels", "next_sentence_label"};
    case LossKind::AlbertPreTraining: return {"labels", "sentence_order_label"};
    case LossKind::DoubleHeads: return {"labels", "mc_labels"};
    case LossKind::None:
    case LossKind::Auto: return {};
    default: return {"labels"};
  }
}

// Class ids: int64 / int32 (what torch's cross_entropy and transformers' dtype tests accept).
Tensor ids_of(const Tensor& t, const std::string& field, const std::string& cls) {
  if (t.dtype() != DType::I64 && t.dtype() != DType::I32)
    bad(field, cls, "must be an int64 or int32 tensor of class ids, got " + std::string(to_string(t.dtype())));
  return t.to(DType::I64);
}

bool is_float_target(const Tensor& t) { return t.dtype() == DType::F32 || t.dtype() == DType::F64; }

Tensor floats_of(const Tensor& t, const std::string& field, const std::string& cls) {
  if (!is_float_target(t)) bad(field, cls, "must be a float32 or float64 tensor, got " + std::string(to_string(t.dtype())));
  return t.to(DType::F32);
}

void expect_shape(const Tensor& t, const Shape& want, const std::string& field, const std::string& cls, const std::string& what) {
  if (t.shape() != want) bad(field, cls, "shape " + shape_str(t.shape()) + " must be " + shape_str(want) + " (" + what + ")");
}

// [rows] or [rows, 1] (transformers views / squeezes these).
void expect_rows(const Tensor& t, int64_t rows, const std::string& field, const std::string& cls) {
  const bool ok = (t.dim() == 1 && t.size(0) == rows) || (t.dim() == 2 && t.size(0) == rows && t.size(1) == 1);
  if (!ok) bad(field, cls, "shape " + shape_str(t.shape()) + " must be [" + std::to_string(rows) + "] (one per batch row)");
}

// Every id in [0, classes), or -100 where `ignore` (what cross_entropy skips).
void check_range(const Tensor& ids, int64_t classes, bool ignore, const std::string& field, const std::string& cls,
                 const std::string& what) {
  if (classes <= 0) return;
  const int64_t* p = ids.data<int64_t>();
  for (int64_t i = 0; i < ids.numel(); ++i)
    if ((p[i] < 0 || p[i] >= classes) && !(ignore && p[i] == kIgnore))
      bad(field, cls, "value " + std::to_string(p[i]) + " at flat index " + std::to_string(i) + " is outside [0, " +
                          std::to_string(classes) + ") (" + what + ")" + (ignore ? " and is not -100" : ""));
}

// The problem type transformers picks (and stores in config.problem_type on the first call; hfx does not mutate).
enum class Problem { Regression, SingleLabel, MultiLabel };
Problem problem_of(const Config& c, const Tensor& labels, const std::string& cls) {
  const std::string p = c.has("problem_type") ? c.get<std::string>("problem_type", "") : "";
  if (p == "regression") return Problem::Regression;
  if (p == "single_label_classification") return Problem::SingleLabel;
  if (p == "multi_label_classification") return Problem::MultiLabel;
  if (!p.empty())
    throw_error(ErrorKind::InvalidArgument, "config.problem_type '" + p +
                                                "' is not regression, single_label_classification or multi_label_classification (" +
                                                cls + ")");
  if (c.num_labels() == 1) return Problem::Regression;
  return labels.dtype() == DType::I64 || labels.dtype() == DType::I32 ? Problem::SingleLabel : Problem::MultiLabel;
}

void check_sequence_classification(const Tensor& labels, const Config& c, int64_t B, const std::string& cls, bool deberta) {
  const int64_t N = c.num_labels();
  const bool unset = !c.has("problem_type");
  if (deberta && unset) {  // DebertaForSequenceClassification's own branches
    if (N == 1) {
      floats_of(labels, "labels", cls);
      if (labels.numel() != B) bad("labels", cls, "shape " + shape_str(labels.shape()) + " must hold " + std::to_string(B) + " regression targets");
    } else if (labels.dim() == 1 || (labels.dim() > 0 && labels.size(-1) == 1)) {
      Tensor ids = ids_of(labels, "labels", cls);
      expect_rows(labels, B, "labels", cls);
      const int64_t* p = ids.data<int64_t>();
      for (int64_t i = 0; i < ids.numel(); ++i)  // negative ids are dropped, not errors
        if (p[i] >= N) bad("labels", cls, "value " + std::to_string(p[i]) + " is not below num_labels " + std::to_string(N));
    } else {
      floats_of(labels, "labels", cls);
      expect_shape(labels, {B, N}, "labels", cls, "soft targets [batch, num_labels]");
    }
    return;
  }
  switch (problem_of(c, labels, cls)) {
    case Problem::Regression:
      floats_of(labels, "labels", cls);
      if (N == 1) {
        if (labels.numel() != B) bad("labels", cls, "shape " + shape_str(labels.shape()) + " must hold " + std::to_string(B) + " regression targets");
      } else {
        expect_shape(labels, {B, N}, "labels", cls, "regression targets [batch, num_labels]");
      }
      return;
    case Problem::SingleLabel: {
      Tensor ids = ids_of(labels, "labels", cls);
      expect_rows(labels, B, "labels", cls);
      check_range(ids, N, true, "labels", cls, "num_labels");
      return;
    }
    case Problem::MultiLabel:
      floats_of(labels, "labels", cls);
      expect_shape(labels, {B, N}, "labels", cls, "multi-label targets [batch, num_labels]");
      return;
  }
}

// ---- reductions ---------------------------------------------------------------------------------

double logsumexp(const float* x, int64_t n) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::max(m, static_cast<double>(x[i]));
  if (!std::isfinite(m)) return m;
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - m);
  return m + std::log(s);
}

Tensor scalar(double v) { return Tensor::from_vector<float>(DType::F32, {}, {static_cast<float>(v)}); }

// The logits an output holds, as contiguous float32 of the expected rank.
Tensor logits_of(const Outputs& out, const std::string& key) {
  Tensor t = out.get(key).to(DType::F32);
  return t;
}

void need_logits_shape(const Tensor& logits, const Shape& lead, const std::string& key, const std::string& field) {
  if (logits.dim() < 1 || Shape(logits.shape().begin(), logits.shape().end() - 1) != lead)
    throw_error(ErrorKind::InvalidArgument, field + ": shape " + shape_str(lead) + " does not match " + key + " " + shape_str(logits.shape()));
}

// Cross-entropy of logits [..., C] against ids of the leading shape (no shift).
double token_ce(const Tensor& logits, const Tensor& ids, const std::string& key, const std::string& field, int64_t ignore = kIgnore) {
  need_logits_shape(logits, ids.shape(), key, field);
  const int64_t C = logits.size(-1);
  return cross_entropy(logits.data<float>(), ids.numel(), C, ids.data<int64_t>(), ignore, field);
}

// Causal LM: logits[..., :-1, :] against labels[..., 1:].
double shifted_ce(const Tensor& logits, const Tensor& ids, const std::string& key, const std::string& field) {
  need_logits_shape(logits, ids.shape(), key, field);
  const int64_t S = ids.size(-1), P = S > 0 ? ids.numel() / S : 0;
  std::vector<int64_t> shifted(static_cast<std::size_t>(ids.numel()), kIgnore);
  const int64_t* l = ids.data<int64_t>();
  for (int64_t p = 0; p < P; ++p)
    for (int64_t s = 0; s + 1 < S; ++s) shifted[static_cast<std::size_t>(p * S + s)] = l[p * S + s + 1];
  return cross_entropy(logits.data<float>(), ids.numel(), logits.size(-1), shifted.data(), kIgnore, field);
}

double sequence_classification_loss(const Tensor& logits, const Tensor& labels, const Config& c, const std::string& cls, bool deberta) {
  const int64_t B = logits.size(0), N = logits.size(-1);
  if (deberta && !c.has("problem_type")) {
    if (N == 1) {
      Tensor y = labels.to(DType::F32);
      return mean_squared_error(logits.data<float>(), y.data<float>(), B);
    }
    if (labels.dim() == 1 || labels.size(-1) == 1) {  // CE over the rows with a label >= 0 (0 when none)
      Tensor ids = labels.to(DType::I64);
      std::vector<int64_t> t(ids.data<int64_t>(), ids.data<int64_t>() + ids.numel());
      bool any = false;
      for (auto& v : t) {
        if (v < 0) v = kIgnore;
        else any = true;
      }
      return any ? cross_entropy(logits.data<float>(), B, N, t.data(), kIgnore, "labels") : 0.0;
    }
    Tensor y = labels.to(DType::F32);  // soft labels: -(log_softmax(logits) * labels).sum(-1).mean()
    double total = 0.0;
    for (int64_t b = 0; b < B; ++b) {
      const float* x = logits.data<float>() + b * N;
      const double lse = logsumexp(x, N);
      for (int64_t j = 0; j < N; ++j) total -= (static_cast<double>(x[j]) - lse) * y.data<float>()[b * N + j];
    }
    return total / static_cast<double>(B);
  }
  switch (problem_of(c, labels, cls)) {
    case Problem::Regression: {
      Tensor y = labels.to(DType::F32);
      if (y.numel() != logits.numel()) throw_error(ErrorKind::InvalidArgument, "labels: " + shape_str(labels.shape()) + " does not match logits " + shape_str(logits.shape()));
      return mean_squared_error(logits.data<float>(), y.data<float>(), logits.numel());
    }
    case Problem::SingleLabel: {
      Tensor ids = labels.to(DType::I64);
      if (ids.numel() != B) throw_error(ErrorKind::InvalidArgument, "labels: " + shape_str(labels.shape()) + " does not match logits " + shape_str(logits.shape()));
      return cross_entropy(logits.data<float>(), B, N, ids.data<int64_t>(), kIgnore, "labels");
    }
    case Problem::MultiLabel: {
      Tensor y = labels.to(DType::F32);
      if (y.shape() != logits.shape()) throw_error(ErrorKind::InvalidArgument, "labels: " + shape_str(labels.shape()) + " does not match logits " + shape_str(logits.shape()));
      return bce_with_logits(logits.data<float>(), y.data<float>(), logits.numel());
    }
  }
  return 0.0;
}

// Span QA: positions clamped to [0, S], S ignored, the two losses averaged.
double qa_loss(const Tensor& start_logits, const Tensor& end_logits, const Tensor& sp, const Tensor& ep) {
  double total = 0.0;
  for (const auto& [logits, pos, field] : {std::tuple<const Tensor&, const Tensor&, const char*>{start_logits, sp, "start_positions"},
                                           std::tuple<const Tensor&, const Tensor&, const char*>{end_logits, ep, "end_positions"}}) {
    const int64_t B = logits.size(0), S = logits.size(-1);
    Tensor ids = pos.to(DType::I64);
    if (ids.numel() != B) throw_error(ErrorKind::InvalidArgument, std::string(field) + ": " + shape_str(pos.shape()) + " does not match " + shape_str(logits.shape()));
    std::vector<int64_t> t(ids.data<int64_t>(), ids.data<int64_t>() + B);
    for (auto& v : t) v = std::clamp<int64_t>(v, 0, S);
    total += cross_entropy(logits.data<float>(), B, S, t.data(), S, field);
  }
  return total / 2.0;
}

}  // namespace

LossKind resolve_loss_kind(const std::string& cls, LossKind declared) {
  if (declared != LossKind::Auto) return declared;
  if (ends_with(cls, "ForSequenceClassification")) return LossKind::SequenceClassification;
  if (ends_with(cls, "ForTokenClassification")) return LossKind::TokenClassification;
  if (ends_with(cls, "ForQuestionAnswering") || ends_with(cls, "ForQuestionAnsweringSimple")) return LossKind::QuestionAnswering;
  if (ends_with(cls, "ForMultipleChoice")) return LossKind::MultipleChoice;
  if (ends_with(cls, "ForMaskedLM")) return LossKind::TokenLM;
  if (ends_with(cls, "ForCausalLM") || ends_with(cls, "LMHeadModel")) return LossKind::CausalLM;
  if (ends_with(cls, "ForNextSentencePrediction")) return LossKind::NextSentencePrediction;
  if (ends_with(cls, "DoubleHeadsModel")) return LossKind::DoubleHeads;
  return LossKind::None;
}

double nll_row(const float* logits, int64_t classes, int64_t target) {
  return logsumexp(logits, classes) - static_cast<double>(logits[target]);
}

double cross_entropy(const float* logits, int64_t rows, int64_t classes, const int64_t* targets, int64_t ignore_index,
                     const std::string& field) {
  double sum = 0.0;
  int64_t n = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = targets[r];
    if (t == ignore_index) continue;
    if (t < 0 || t >= classes)
      throw_error(ErrorKind::InvalidArgument, field + ": value " + std::to_string(t) + " is outside [0, " + std::to_string(classes) +
                                                  ") and is not the ignored index " + std::to_string(ignore_index));
    sum += nll_row(logits + r * classes, classes, t);
    ++n;
  }
  return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

double bce_with_logits(const float* x, const float* y, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {  // max(x, 0) - x y + log(1 + exp(-|x|)), torch's stable form
    const double xi = x[i], yi = y[i];
    sum += std::max(xi, 0.0) - xi * yi + std::log1p(std::exp(-std::abs(xi)));
  }
  return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

double mean_squared_error(const float* x, const float* y, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - y[i];
    sum += d * d;
  }
  return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

void squad_head_loss(const SquadHead& head, const Tensor& h0, const ModelInputs& in, Outputs& out) {
  Tensor h = h0.to(DType::F32);
  const int64_t B = h.size(0), S = h.size(1), H = h.size(2);
  Tensor sp = in.start_positions.to(DType::I64).reshape({B}), ep = in.end_positions.to(DType::I64).reshape({B});
  const Tensor start = head.start_dense(h).reshape({B, S});
  const float* x = h.data<float>();
  Tensor pair = Tensor::zeros(DType::F32, {B, S, 2 * H});  // cat([h_s, h_start])
  for (int64_t b = 0; b < B; ++b) {
    const int64_t s0 = sp.data<int64_t>()[b];
    if (s0 < 0 || s0 >= S) throw_error(ErrorKind::InvalidArgument, "start_positions: value " + std::to_string(s0) + " is outside [0, " + std::to_string(S) + ")");
    for (int64_t s = 0; s < S; ++s) {
      float* dst = pair.mutable_data<float>() + (b * S + s) * 2 * H;
      std::copy_n(x + (b * S + s) * H, H, dst);
      std::copy_n(x + (b * S + s0) * H, H, dst + H);
    }
  }
  Tensor e = head.end_dense_0(pair);
  activate(e, Activation::Tanh);
  head.end_norm.inplace(e);
  const Tensor end = head.end_dense_1(e).reshape({B, S});
  const double loss = (cross_entropy(start.data<float>(), B, S, sp.data<int64_t>(), kIgnore, "start_positions") +
                       cross_entropy(end.data<float>(), B, S, ep.data<int64_t>(), kIgnore, "end_positions")) /
                      2.0;
  out.set("loss", scalar(loss));
}

bool has_targets(const ModelInputs& in) {
  for (const auto& t : targets_of(in))
    if (t.second->defined()) return true;
  return false;
}

void check_targets(LossKind kind, const ModelInputs& in, const Config& c, const std::string& cls, int64_t vocab) {
  const auto ok = accepted(kind);
  for (const auto& [name, t] : targets_of(in)) {
    if (!t->defined()) continue;
    if (std::find(ok.begin(), ok.end(), name) == ok.end())
      bad(name, cls, ok.empty() ? "this class computes no loss (its transformers forward takes no training targets)"
                                : "this class does not take it (its loss reads " + [&] {
                                    std::string s;
                                    for (const auto& o : ok) s += (s.empty() ? "" : ", ") + o;
                                    return s;
                                  }() + ")");
    if (t->numel() == 0) bad(name, cls, "is empty");
  }
  if (!in.input_ids.defined()) bad("input_ids", cls, "is required with training targets");
  const Shape& ids = in.input_ids.shape();
  if (ids.empty()) bad("input_ids", cls, "must have a batch dimension");
  const int64_t B = ids[0];
  const Tensor& labels = in.labels;
  auto lm_labels = [&](const Shape& want, const std::string& what) {
    Tensor l = ids_of(labels, "labels", cls);
    expect_shape(labels, want, "labels", cls, what);
    check_range(l, vocab, true, "labels", cls, "the vocabulary");
  };
  switch (kind) {
    case LossKind::Auto:
    case LossKind::None: return;
    case LossKind::CausalLM:
    case LossKind::TransfoXLLM: lm_labels(ids, "the shape of input_ids"); return;
    case LossKind::TokenLM:
      if (in.target_mapping.defined() && in.target_mapping.dim() == 3)  // XLNet predicts the mapped positions
        lm_labels({B, in.target_mapping.size(1)}, "[batch, num_predict] of target_mapping");
      else
        lm_labels(ids, "the shape of input_ids");
      return;
    case LossKind::Seq2SeqLM: {
      if (in.decoder_input_ids.defined()) {
        lm_labels(in.decoder_input_ids.shape(), "the shape of decoder_input_ids");
      } else {
        Tensor l = ids_of(labels, "labels", cls);
        if (labels.dim() != 2 || labels.size(0) != B) bad("labels", cls, "shape " + shape_str(labels.shape()) + " must be [batch, target_len] with batch " + std::to_string(B));
        check_range(l, vocab, true, "labels", cls, "the vocabulary");
      }
      return;
    }
    case LossKind::SequenceClassification:
    case LossKind::DebertaSequenceClassification:
      check_sequence_classification(labels, c, B, cls, kind == LossKind::DebertaSequenceClassification);
      return;
    case LossKind::TokenClassification: {
      Tensor l = ids_of(labels, "labels", cls);
      expect_shape(labels, ids, "labels", cls, "the shape of input_ids");
      check_range(l, c.num_labels(), true, "labels", cls, "num_labels");
      return;
    }
    case LossKind::QuestionAnswering:
      if (in.start_positions.defined() != in.end_positions.defined())
        bad(in.start_positions.defined() ? "end_positions" : "start_positions", cls,
            "is required with the other one (transformers computes the QA loss from both)");
      for (const auto& [t, name] : {std::pair<const Tensor&, const char*>{in.start_positions, "start_positions"},
                                    std::pair<const Tensor&, const char*>{in.end_positions, "end_positions"}}) {
        ids_of(t, name, cls);
        expect_rows(t, B, name, cls);  // any value: transformers clamps to [0, seq] and ignores seq
      }
      return;
    case LossKind::SquadHead:
      for (const auto& [t, name] : {std::pair<const Tensor&, const char*>{in.start_positions, "start_positions"},
                                    std::pair<const Tensor&, const char*>{in.end_positions, "end_positions"}}) {
        if (!t.defined()) bad(name, cls, "is required: SQuADHead computes its loss from both positions");
        Tensor p = ids_of(t, name, cls);
        expect_rows(t, B, name, cls);
        // the start state is gathered at start_positions: no clamping, no ignored value
        check_range(p, ids.size() > 1 ? ids[1] : 0, false, name, cls, "the sequence");
      }
      return;
    case LossKind::MultipleChoice: {
      if (ids.size() != 3) bad("input_ids", cls, "must be [batch, choices, seq] with labels");
      Tensor l = ids_of(labels, "labels", cls);
      expect_rows(labels, B, "labels", cls);
      check_range(l, ids[1], true, "labels", cls, "the choices");
      return;
    }
    case LossKind::NextSentencePrediction: {
      Tensor l = ids_of(labels, "labels", cls);
      expect_rows(labels, B, "labels", cls);
      check_range(l, 2, true, "labels", cls, "0 = next sentence, 1 = random");
      return;
    }
    case LossKind::BertPreTraining:
    case LossKind::AlbertPreTraining: {
      const bool bert = kind == LossKind::BertPreTraining;
      const Tensor& second = bert ? in.next_sentence_label : in.sentence_order_label;
      const char* second_name = bert ? "next_sentence_label" : "sentence_order_label";
      if (!labels.defined() || !second.defined())
        bad(labels.defined() ? second_name : "labels", cls, std::string("is required: the pretraining loss is the masked LM loss (labels) plus ") +
                                                                (bert ? "the next-sentence loss" : "the sentence-order loss") + " (" + second_name + ")");
      lm_labels(ids, "the shape of input_ids");
      Tensor s = ids_of(second, second_name, cls);
      expect_rows(second, B, second_name, cls);
      check_range(s, 2, true, second_name, cls, "two classes");
      return;
    }
    case LossKind::ElectraPreTraining: {
      Tensor l = ids_of(labels, "labels", cls);
      expect_shape(labels, ids, "labels", cls, "the shape of input_ids");
      check_range(l, 2, false, "labels", cls, "1 = replaced token, 0 = original; BCE has no ignored value");
      return;
    }
    case LossKind::DoubleHeads:
      if (ids.size() != 3) bad("input_ids", cls, "must be [batch, choices, seq] with training targets");
      if (labels.defined()) lm_labels(ids, "the shape of input_ids");
      if (in.mc_labels.defined()) {
        Tensor m = ids_of(in.mc_labels, "mc_labels", cls);
        expect_rows(in.mc_labels, B, "mc_labels", cls);
        check_range(m, ids[1], true, "mc_labels", cls, "the choices");
      }
      return;
  }
}

void add_loss(LossKind kind, const ModelInputs& in, const Config& c, Outputs& out) {
  std::vector<std::pair<std::string, Tensor>> extra;  // set before the other outputs, like transformers' ModelOutput
  auto labels64 = [&] { return in.labels.to(DType::I64); };
  switch (kind) {
    case LossKind::Auto:
    case LossKind::None:
    case LossKind::SquadHead: return;  // set by the head in forward
    case LossKind::CausalLM: {
      double loss = shifted_ce(logits_of(out, "logits"), labels64(), "logits", "labels");
      if (out.has("aux_loss"))  // Mixtral / Qwen2-MoE with output_router_logits: loss += router_aux_loss_coef * aux_loss
        loss = static_cast<float>(loss) + static_cast<float>(c.get<double>("router_aux_loss_coef", 0.001)) * out.get("aux_loss").to(DType::F32).item(0);
      extra.emplace_back("loss", scalar(loss));
      break;
    }
    case LossKind::TokenLM:
    case LossKind::Seq2SeqLM:
    case LossKind::TokenClassification:
    case LossKind::MultipleChoice:
    case LossKind::NextSentencePrediction: {
      Tensor logits = logits_of(out, "logits");
      Tensor ids = labels64();
      if (kind == LossKind::MultipleChoice || kind == LossKind::NextSentencePrediction) ids = ids.reshape({logits.size(0)});
      extra.emplace_back("loss", scalar(token_ce(logits, ids, "logits", "labels")));
      break;
    }
    case LossKind::SequenceClassification:
    case LossKind::DebertaSequenceClassification:
      extra.emplace_back("loss", scalar(sequence_classification_loss(logits_of(out, "logits"), in.labels, c, "",
                                                                     kind == LossKind::DebertaSequenceClassification)));
      break;
    case LossKind::QuestionAnswering:
      extra.emplace_back("loss", scalar(qa_loss(logits_of(out, "start_logits"), logits_of(out, "end_logits"), in.start_positions,
                                                in.end_positions)));
      break;
    case LossKind::BertPreTraining:
    case LossKind::AlbertPreTraining: {
      const bool bert = kind == LossKind::BertPreTraining;
      const double mlm = token_ce(logits_of(out, "prediction_logits"), labels64(), "prediction_logits", "labels");
      Tensor second = (bert ? in.next_sentence_label : in.sentence_order_label).to(DType::I64);
      const char* key = bert ? "seq_relationship_logits" : "sop_logits";
      Tensor sl = logits_of(out, key);
      const double cls_loss = token_ce(sl, second.reshape({sl.size(0)}), key, bert ? "next_sentence_label" : "sentence_order_label");
      extra.emplace_back("loss", scalar(static_cast<float>(mlm) + static_cast<float>(cls_loss)));
      break;
    }
    case LossKind::ElectraPreTraining: {
      Tensor logits = logits_of(out, "logits");
      Tensor ids = labels64();
      need_logits_shape(logits.reshape({logits.numel(), 1}), {ids.numel()}, "logits", "labels");
      std::vector<float> x, y;
      Tensor mask = in.attention_mask.defined() ? in.attention_mask.to(DType::I64) : Tensor();
      if (mask.defined() && mask.numel() != ids.numel())
        throw_error(ErrorKind::InvalidArgument, "attention_mask: " + shape_str(mask.shape()) + " does not match labels " + shape_str(ids.shape()));
      for (int64_t i = 0; i < ids.numel(); ++i)
        if (!mask.defined() || mask.data<int64_t>()[i] == 1) {  // active_loss = attention_mask == 1
          x.push_back(logits.data<float>()[i]);
          y.push_back(static_cast<float>(ids.data<int64_t>()[i]));
        }
      extra.emplace_back("loss", scalar(bce_with_logits(x.data(), y.data(), static_cast<int64_t>(x.size()))));
      break;
    }
    case LossKind::DoubleHeads: {
      if (in.labels.defined()) extra.emplace_back("loss", scalar(shifted_ce(logits_of(out, "logits"), labels64(), "logits", "labels")));
      if (in.mc_labels.defined()) {
        Tensor mc = logits_of(out, "mc_logits");
        extra.emplace_back("mc_loss", scalar(token_ce(mc, in.mc_labels.to(DType::I64).reshape({mc.size(0)}), "mc_logits", "mc_labels")));
      }
      break;
    }
    case LossKind::TransfoXLLM: {
      // The adaptive softmax's NLL of labels[:, 1:] at hidden[:, :-1] equals -log_prob[label] of the full
      // log-probabilities forward returns as prediction_scores. A row 0 with no valid label gets eos at
      // position 1 (TransfoXLLMHeadModel's guard against a NaN loss); -100 positions give 0, and the loss is
      // the mean of the non-zero per-token losses.
      Tensor scores = logits_of(out, "prediction_scores");
      Tensor ids = labels64().clone();
      need_logits_shape(scores, ids.shape(), "prediction_scores", "labels");
      const int64_t B = ids.size(0), S = ids.size(1), V = scores.size(-1);
      int64_t* l = ids.mutable_data<int64_t>();
      if (S > 1) {
        int64_t sum = 0;
        for (int64_t s = 1; s < S; ++s) sum += l[s];
        if (sum == (S - 1) * kIgnore) l[1] = c.get<int64_t>("eos_token_id", 0);
      }
      // The per-token losses come out as ProjectedAdaptiveLogSoftmax writes them without keep_order: grouped by
      // cluster (cutoffs), in token order within a cluster, the ignored positions' zeros last.
      std::vector<int64_t> ends{0};
      if (const json* cut = c.find("cutoffs"); cut && cut->is_array())
        for (const auto& x : *cut)
          if (x.is_number_integer() && x.get<int64_t>() > ends.back() && x.get<int64_t>() < V) ends.push_back(x.get<int64_t>());
      ends.push_back(V);
      Tensor losses = Tensor::zeros(DType::F32, {B, std::max<int64_t>(S - 1, 0)});
      float* lo = losses.mutable_data<float>();
      double total = 0.0;
      int64_t n = 0, at = 0;
      for (std::size_t k = 0; k + 1 < ends.size(); ++k)
        for (int64_t b = 0; b < B; ++b)
          for (int64_t s = 0; s + 1 < S; ++s) {
            const int64_t t = l[b * S + s + 1];
            if (t == kIgnore || t < ends[k] || t >= ends[k + 1]) continue;
            const float v = static_cast<float>(-scores.data<float>()[(b * S + s) * V + t]);
            lo[at++] = v;
            if (v != 0.0f) {
              total += v;
              ++n;
            }
          }
      for (int64_t i = 0; i < B * S - B; ++i) {  // range check of what no cluster took
        const int64_t t = l[(i / (S - 1)) * S + i % (S - 1) + 1];
        if (t != kIgnore && (t < 0 || t >= V))
          throw_error(ErrorKind::InvalidArgument, "labels: value " + std::to_string(t) + " is outside [0, " + std::to_string(V) + ")");
      }
      extra.emplace_back("loss", scalar(n ? total / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN()));
      extra.emplace_back("losses", losses);
      break;
    }
  }
  Outputs res;
  for (auto& [k, v] : extra) res.set(k, v);
  for (const auto& [k, v] : out.items()) res.set(k, v);
  out = std::move(res);
}

}  // namespace hfx::nn

namespace hfx {

Outputs Model::call(const ModelInputs& in) const {
  if (!nn::has_targets(in)) return forward(in);
  const LossKind kind = nn::resolve_loss_kind(class_name(), traits().loss.kind);
  int64_t vocab = config().get<int64_t>("vocab_size", 0);
  if (!traits().output_embeddings.empty())
    if (auto i = params().index_of(traits().output_embeddings); i && !params().specs()[*i].shape.empty())
      vocab = params().specs()[*i].shape[0];
  nn::check_targets(kind, in, config(), class_name(), vocab);
  if (kind == LossKind::Seq2SeqLM && in.labels.defined() && !in.decoder_input_ids.defined()) {
    if (!traits().loss.decoder_inputs)
      throw_error(ErrorKind::InvalidArgument, "decoder_input_ids: required with labels (" + class_name() + " has no labels shift)");
    ModelInputs shifted = in;
    shifted.decoder_input_ids = traits().loss.decoder_inputs(in.labels.to(DType::I64));
    Outputs out = forward(shifted);
    nn::add_loss(kind, shifted, config(), out);
    return out;
  }
  Outputs out = forward(in);
  nn::add_loss(kind, in, config(), out);
  return out;
}

}  // namespace hfx
