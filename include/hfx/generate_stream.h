// hfx/generate_stream.h — generate() with a token callback (transformers' streamer / stop strings), and the
// argument checks transformers' generate makes.
#pragma once

#include "hfx/export.h"

#include <cstdint>
#include <functional>

#include "hfx/generate.h"

namespace hfx {

// The checks transformers' generate makes (its logits warpers' ValueErrors, raised as InvalidArgument with their
// wording): with do_sample, temperature must be > 0 (it is applied unless 1), top_k >= 0 (applied unless 0),
// top_p >= 0 (applied below 1); repetition_penalty > 0. Sampling-only values set without do_sample are logged
// as warnings (GenerationConfig.validate's UserWarnings). generate() runs them too.
HFX_API void validate_generation_config(const GenerationConfig& g);

// generate() for a decoder-only model, calling on_token(token) with each token of a batch-of-one greedy or
// sampling run as it is chosen; returning false ends the run there (stop strings). Refused (InvalidArgument)
// with beam search, a batch above one or an encoder-decoder model, as transformers refuses its streamers.
HFX_API Tensor generate_streaming(const Model& model, const Tensor& input_ids, const Tensor& attention_mask, const GenerationConfig& cfg,
                          const std::function<bool(int64_t token)>& on_token);

}  // namespace hfx
