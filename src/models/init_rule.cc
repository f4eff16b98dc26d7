// The default init rule for parameters a checkpoint lacks (transformers' _init_weights
// for the BERT family: normal(0, initializer_range) for matrices, zero biases, ones for
// norm weights). It reads the config, so it lives in the models layer, not in core.
#include "hfx/model.h"

namespace hfx {

InitRule default_init_rule(const ParamSpec& s, const Config& cfg) {
  const bool is_bias = s.name.size() >= 4 && s.name.compare(s.name.size() - 4, 4, "bias") == 0;
  if (is_bias) return {InitRule::Zeros, 0.0};
  if (s.shape.size() == 1) return {InitRule::Ones, 0.0};
  return {InitRule::Normal, cfg.get<double>("initializer_range", 0.02)};
}

}  // namespace hfx
