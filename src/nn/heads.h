// Heads shared by the XLM and XLNet families (transformers 4.46
// modeling_utils.py: SequenceSummary, SQuADHead with PoolerStartLogits /
// PoolerEndLogits / PoolerAnswerClass), at inference (no labels, no p_mask,
// no cls_index).
#pragma once

#include <string>

#include "nn/layers.h"

namespace hfx::nn {

// SequenceSummary: pick a vector per row (summary_type "last", "first",
// "mean"; "cls_index" takes the last token when no index is given), then an
// optional projection (summary_use_proj; to num_labels with
// summary_proj_to_labels) and activation (summary_activation).
struct SequenceSummary {
  std::string type = "last";
  std::optional<Linear> proj;
  std::optional<Activation> act;
  int64_t out_dim = 0;
  static SequenceSummary make(const Scope& s, const Config& c, int64_t hidden);
  Tensor forward(const Tensor& h) const;  // [B, S, H] -> [B, out_dim]
};

// SQuADHead's beam-search inference outputs: "start_top_log_probs",
// "start_top_index" (int64), "end_top_log_probs", "end_top_index" (int64) and
// "cls_logits". The parameters sit under `s` (start_logits.dense,
// end_logits.{dense_0, LayerNorm, dense_1}, answer_class.{dense_0, dense_1}).
struct SquadHead {
  Linear start_dense, end_dense_0, end_dense_1, answer_dense_0, answer_dense_1;
  LayerNorm end_norm;
  int64_t start_n_top = 5, end_n_top = 5, hidden = 0;
  static SquadHead make(const Scope& s, const Config& c, int64_t hidden, float eps);
  void forward(const Tensor& h, Outputs& out) const;
};

// The task heads XLM and XLNet apply alike to their final hidden states h
// [B, S, H]: sequence classification / multiple choice (summary, then an
// optional logits projection), token classification and simple QA (a Linear),
// beam-search QA (SquadHead). The model builds the members it has.
enum class TaskHead { SequenceClassification, MultipleChoice, TokenClassification, QuestionAnsweringSimple, QuestionAnswering };
struct TaskHeads {
  TaskHead kind = TaskHead::SequenceClassification;
  std::optional<SequenceSummary> summary;
  std::optional<Linear> proj;  // logits_proj / classifier / qa_outputs
  std::optional<SquadHead> squad;
  // Sets "logits" ([B, choices] for multiple choice) or the QA outputs.
  void apply(const Tensor& h, int64_t choices, Outputs& out) const;
};

}  // namespace hfx::nn
