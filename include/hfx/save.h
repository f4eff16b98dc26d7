// hfx/save.h — save_pretrained: a model (or a state dict) to a directory that
// transformers' from_pretrained loads, in PyTorch (safetensors or .bin), TF2
// (tf_model.h5) or Flax (flax_model.msgpack) form, sharded like transformers.
//
// Atomic: every file is written under a temporary name, fsynced and renamed;
// a sharded save first publishes an index that points at freshly linked
// shards, so at every instant either the previous checkpoint or the new one
// is complete on disk (transformers deletes the old shards first; hfx does
// not). Weight files of the previous save that would shadow the new one in
// from_pretrained's resolution order are removed only after the new
// checkpoint is complete.
#pragma once

#include "hfx/export.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hfx/formats.h"
#include "hfx/hub.h"
#include "hfx/model.h"

namespace hfx {

// The version hfx is compatible with; written as config.json's transformers_version.
inline constexpr const char* kTransformersVersion = "4.46.3";

struct HFX_API SaveOptions {
  // "pt" (PyTorch: safetensors unless safe_serialization is false), "tf" or "flax".
  std::string framework = "pt";
  bool safe_serialization = true;
  // Decimal units as transformers >= 4.42 parses them ("5GB" = 5e9 bytes; KB, MB, GB, TB);
  // hfx also accepts binary "KiB/MiB/GiB" (2^10...) as an extension. Empty: the
  // framework's 4.46 default ("5GB" for pt and tf, "10GB" for flax).
  std::string max_shard_size;
  // Save these canonical tensors instead of the model's parameters.
  std::optional<NamedTensors> state_dict;
  // A progress bar for the weights written (rate and ETA), drawn only when stderr is a terminal and
  // HF_HUB_DISABLE_PROGRESS_BARS is unset. Off by default, as transformers' save_pretrained draws none;
  // the CLI turns it on (hfx export / convert / push, unless --no-progress).
  bool progress = false;
};

// Writes config.json (+ generation_config.json for generative models) and the weights.
HFX_API void save_pretrained(const Model& model, const std::string& dir, const SaveOptions& opts = {});

// transformers' model.push_to_hub: save_pretrained (with push.max_shard_size)
// into a temporary folder, then upload_folder (hfx/hub.h) with "Upload model"
// as the default commit message.
HFX_API CommitInfo push_to_hub(const Model& model, const std::string& repo_id, const PushOptions& push = {},
                       const HubOptions& opts = {});

// "5GB" -> 5000000000. Throws InvalidArgument for an unknown unit or number.
HFX_API int64_t parse_shard_size(const std::string& s);

// transformers' greedy, order-preserving split (split_torch_state_dict_into_shards):
// a tensor larger than the limit gets its own shard, placed before the one being filled.
HFX_API std::vector<std::vector<std::size_t>> split_shards(const std::vector<int64_t>& sizes, int64_t limit);
// The TF/Flax splitters (tf_shard_checkpoint / flax_shard_checkpoint): a new shard
// whenever the next tensor would overflow (Flax: even if the current shard is empty).
HFX_API std::vector<std::vector<std::size_t>> split_shards_legacy(const std::vector<int64_t>& sizes, int64_t limit,
                                                          bool allow_empty_first);

// The canonical state dict transformers would save: every parameter once,
// tied parameters dropped for safetensors (kept for .bin, as torch.save keeps aliases).
HFX_API NamedTensors state_dict_for_save(const Model& model, bool drop_tied);

}  // namespace hfx
