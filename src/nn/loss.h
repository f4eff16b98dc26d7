// Labels -> loss, as transformers 4.46.3's forwards compute it (the loss
// blocks of modeling_*.py and loss/loss_utils.py). One generic path: a class
// declares its LossKind (ModelTraits::loss, or LossKind::Auto from its head
// name), Model::call checks the targets before forward (check_targets) and
// adds the loss after it (add_loss) from the outputs forward already returns.
//
// Numerics: every reduction runs in double over the fp32 logits (torch
// reduces in fp32; the two agree to ~1e-7 relative on the fixtures), and the
// result is a 0-dim float32 tensor like torch's.
#pragma once

#include <cstdint>
#include <string>

#include "hfx/model.h"

namespace hfx::nn {

// The kind a class computes: `declared` unless it is Auto; for Auto, the head
// the class name ends with in transformers' naming (ForSequenceClassification,
// ForTokenClassification, ForQuestionAnswering[Simple], ForMultipleChoice,
// ForMaskedLM, ForCausalLM / LMHeadModel (shifted), ForNextSentencePrediction,
// DoubleHeadsModel); anything else (base models, encoders) takes no labels.
LossKind resolve_loss_kind(const std::string& class_name, LossKind declared);

// torch.nn.functional.cross_entropy(logits [rows, classes], targets [rows],
// ignore_index, reduction="mean"): the mean over the targets that are not
// ignored; NaN when all are (torch's 0 / 0). A target outside [0, classes)
// other than ignore_index throws InvalidArgument naming `field`.
double cross_entropy(const float* logits, int64_t rows, int64_t classes, const int64_t* targets, int64_t ignore_index,
                     const std::string& field);

// The per-row -log softmax(logits)[target] (0 for ignored rows), for callers
// that reduce differently (Transfo-XL's mean of the non-zero losses).
double nll_row(const float* logits, int64_t classes, int64_t target);

// BCEWithLogitsLoss (mean) and MSELoss (mean) over n elements.
double bce_with_logits(const float* logits, const float* targets, int64_t n);
double mean_squared_error(const float* x, const float* y, int64_t n);

// Checks the training targets of `in` for `kind` before anything runs:
// targets the class does not take, dtypes (integer ids as int64/int32; float
// targets as float32/float64), shapes against input_ids / decoder_input_ids
// and the config (num_labels), and class ids in [0, classes) or -100. Throws
// InvalidArgument naming the field. `vocab` is the LM head's row count (<= 0:
// the range is checked after forward against the logits).
void check_targets(LossKind kind, const ModelInputs& in, const Config& config, const std::string& class_name,
                   int64_t vocab);

struct SquadHead;  // nn/heads.h

// SQuADHead's training path (XLNet / XLM *ForQuestionAnswering given start_positions and end_positions; hfx
// takes no p_mask, cls_index or is_impossible): the start logits, the end logits from the gold start's hidden
// state, cross-entropy of each (no clamping), averaged. Sets "loss" alone, as transformers returns only the loss.
// h: the final hidden states [batch, seq, hidden].
void squad_head_loss(const SquadHead& head, const Tensor& h, const ModelInputs& in, Outputs& out);

// True when any training target is set.
bool has_targets(const ModelInputs& in);

// Adds "loss" (and "mc_loss" for double heads, "losses" for Transfo-XL) to
// `out`, from the logits forward wrote there.
void add_loss(LossKind kind, const ModelInputs& in, const Config& config, Outputs& out);

}  // namespace hfx::nn
