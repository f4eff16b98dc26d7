// hfx/compare.h — the mismatch hunt of transformers' TF conversion guide,
// automated: run two models on the same inputs and compare every output and
// every hidden state layer by layer (hfx export / hfx diff), or compare two
// checkpoints' tensors only.
#pragma once

#include "hfx/export.h"

#include <optional>
#include <string>
#include <vector>

#include "hfx/io.h"
#include "hfx/model.h"

namespace hfx {

struct HFX_API TensorDiff {
  std::string name;     // output name ("last_hidden_state", "hidden_states.3", ...) or weight name
  int64_t layer = -1;   // hidden_states.k -> k (0 = embeddings); -1 otherwise
  double max_abs = 0, mean_abs = 0;
  Shape shape_a, shape_b;
  bool shape_mismatch() const { return shape_a != shape_b; }
};

// Deterministic token ids [2, 7] below the config's vocab size (ids (7i + 3) % vocab),
// with decoder ids for encoder-decoder models.
HFX_API ModelInputs probe_inputs(const Model& model);
// Runs both models with output_hidden_states and compares every tensor present in
// either: outputs first, then hidden states in layer order (hidden_states.k and
// encoder_/decoder_ variants). A name missing on one side is a shape mismatch.
HFX_API std::vector<TensorDiff> compare_runs(const Model& a, const Model& b, const ModelInputs& inputs);

struct HFX_API WeightsDiff {
  std::vector<std::string> only_a, only_b;
  std::vector<TensorDiff> tensors;  // common names, in a's order (shape mismatches included)
};
HFX_API WeightsDiff compare_weights(const TensorSource& a, const TensorSource& b);
// Canonical parameters of two models of one architecture (tied ones once).
HFX_API WeightsDiff compare_weights(const Model& a, const Model& b);

// The entry with the largest max_abs (a shape mismatch counts as infinite); nullptr if empty.
HFX_API const TensorDiff* worst(const std::vector<TensorDiff>& d);
// The first hidden-state entry (in layer order) whose max_abs exceeds tol.
HFX_API const TensorDiff* first_broken_layer(const std::vector<TensorDiff>& d, double tol);

}  // namespace hfx
