#include "pretrained/skeleton_check.h"

namespace hfx::detail {

void check_skeleton_fits(const Model& model, const TensorSource& src, const std::string& where) {
  // Elements, not bytes: a bf16 checkpoint loaded as fp32 is legitimate.
  int64_t declared = 0, stored = 0;
  const ParamTable& table = model.params();
  for (const auto& s : table.specs())
    if (s.tied_to.empty()) declared += shape_numel(s.shape);  // bounded by ParamTable::declare
  for (const auto& e : src.entries()) {
    const int64_t n = shape_numel(e.shape);
    stored = n > (int64_t{1} << 61) - stored ? int64_t{1} << 61 : stored + n;
  }
  constexpr int64_t kSlack = int64_t{1} << 28;
  if (declared > 2 * stored + kSlack)
    throw_error(ErrorKind::Format, "config.json (" + model.config().source() + ") declares " + std::to_string(declared) +
                                       " parameter elements but the weights hold " + std::to_string(stored) +
                                       ": the config does not describe this checkpoint (check num_hidden_layers, "
                                       "hidden_size, vocab_size, ...)", where);
}

}  // namespace hfx::detail
