// Heads shared by the XLM and XLNet families (transformers 4.46
// modeling_utils.py: SequenceSummary, SQuADHead with PoolerStartLogits /
// PoolerEndLogits / PoolerAnswerClass), at inference (no labels, no p_mask,
// no cls_index).
#pragma once

#include <optional>
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

// The heads every encoder family shares where the shapes fit one Linear `proj`:
// sequence classification and multiple choice read `pooled` [B, H] (the
// family's own pooling: BERT's pooler, a dense + activation of the first token,
// a SequenceSummary) and multiple choice reshapes the logits to [B, choices];
// token classification and simple QA read every token of h [B, S, H]. Sets
// "logits", or "start_logits" / "end_logits". QuestionAnswering (beam search) is SquadHead's.
void apply_task_head(TaskHead kind, const Linear& proj, const Tensor& h, const Tensor& pooled, int64_t choices, Outputs& out);

// The TaskHead a model's head enum names (any enum with the enumerators
// SequenceClassification, MultipleChoice, TokenClassification, QuestionAnswering,
// the latter being simple span QA in the BERT family); nullopt for the family's own heads.
template <class Head>
std::optional<TaskHead> task_head_of(Head h) {
  switch (h) {
    case Head::SequenceClassification: return TaskHead::SequenceClassification;
    case Head::MultipleChoice: return TaskHead::MultipleChoice;
    case Head::TokenClassification: return TaskHead::TokenClassification;
    case Head::QuestionAnswering: return TaskHead::QuestionAnsweringSimple;
    default: return std::nullopt;
  }
}

// The ending of every BERT-family forward (bert, albert, distilbert, electra,
// roberta): the shared task heads through apply_task_head, reading `pool()`
// (called only for sequence classification and multiple choice: each family
// pools its own way) and `proj` (the classifier / qa_outputs Linear); Base sets
// last_hidden_state = h and, when the family has a pooler (`pooler_output`
// non-null), pooler_output; any other head is the family's own, written by
// `own(out)`. Then the stack's hidden_states / attentions.
template <class Head, class Pool, class Own>
Outputs encoder_outputs(Head head, const std::optional<Linear>& proj, const Tensor& h, const Tensor* pooler_output,
                        int64_t choices, const StackOutputs& st, Pool&& pool, Own&& own) {
  Outputs out;
  if (auto task = task_head_of(head)) {
    const bool pooled = *task == TaskHead::SequenceClassification || *task == TaskHead::MultipleChoice;
    apply_task_head(*task, *proj, h, pooled ? pool() : Tensor(), choices, out);
  } else if (head == Head::Base) {
    out.set("last_hidden_state", h);
    if (pooler_output) out.set("pooler_output", *pooler_output);
  } else {
    own(out);
  }
  emit_stack(out, st);
  return out;
}

}  // namespace hfx::nn
