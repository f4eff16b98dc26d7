// nn/'s side of the door to the kernels, for nn/'s own .cc files only: the
// mapping of nn's types onto the CPU backend's. It includes kernels/ headers,
// so a model file that includes it fails to compile (models/ sees no kernels/).
#pragma once

#include "kernels/cpu/ops.h"
#include "nn/layers.h"

namespace hfx::nn {

cpu::Activation to_cpu(Activation act);

// Linear's lazily packed weight (nn/layers.h holds it opaque).
class PackedWeight : public cpu::PackedWeight {};

}  // namespace hfx::nn
