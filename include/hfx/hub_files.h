// hfx/hub_files.h — what a task needs from a hub repo beside the weights, repo listings and
// snapshot_download with include/exclude patterns (huggingface_hub 0.36's model_info, filter_repo_objects
// and snapshot_download). See hfx/hub.h for the cache, the endpoint, the token and offline mode.
#pragma once

#include "hfx/export.h"

#include <string>
#include <vector>

#include "hfx/hub.h"

namespace hfx {

// ---- what a task needs beside the weights ----------------------------------
// The files of a repo that a task reads, fetched into the same cache as the
// weights (offline mode: from the cache only). A file the repo does not have is
// skipped (a .no_exist marker is kept, as huggingface_hub does).
struct HFX_API RepoFiles {
  bool weights = true;             // config.json + the weights (as resolve_pretrained above)
  // tokenizer.json, tokenizer_config.json, special_tokens_map.json, added_tokens.json and the
  // legacy vocabularies: vocab.txt, vocab.json, merges.txt, spiece.model, tokenizer.model,
  // sentencepiece.bpe.model (what AutoTokenizer.from_pretrained looks for).
  bool tokenizer = false;
  bool generation_config = false;  // generation_config.json
  // sentence-transformers: modules.json, config_sentence_transformers.json, sentence_bert_config.json,
  // and for each module modules.json names in a sub-folder (1_Pooling, 2_Dense, 3_Normalize) its
  // config.json and weights (model.safetensors, else pytorch_model.bin).
  bool sentence_transformers = false;
};
// A local path is returned unchanged; a repo id gives the snapshot folder holding `files`.
HFX_API std::string resolve_pretrained(const std::string& id_or_path, const HubOptions& opts, const RepoFiles& files);

// The files of one revision of a repo and the commit it resolved to: GET
// /api/models/{id}/revision/{rev} (huggingface_hub's model_info siblings); offline,
// the files of the cached snapshot that revision points to.
struct HFX_API RepoListing {
  std::string commit;
  std::vector<std::string> files;
};
HFX_API RepoListing list_repo_files(const std::string& repo_id, const HubOptions& opts = {});
// huggingface_hub's filter_repo_objects: keep a path that matches one of
// `include` (all, when empty) and none of `exclude`; fnmatch patterns ('*'
// also matches '/'), a pattern ending in '/' matches everything below it.
HFX_API std::vector<std::string> filter_repo_files(const std::vector<std::string>& files, const std::vector<std::string>& include,
                                           const std::vector<std::string>& exclude);
// huggingface_hub's snapshot_download(allow_patterns, ignore_patterns): every file of
// the revision that passes filter_repo_files, `max_workers` at a time; the snapshot folder.
HFX_API std::string snapshot_download(const std::string& repo_id, const HubOptions& opts = {},
                              const std::vector<std::string>& include = {}, const std::vector<std::string>& exclude = {});

}  // namespace hfx
