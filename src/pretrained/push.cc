// push_to_hub(Model): transformers' PushToHubMixin.push_to_hub for a model —
// save_pretrained into a temporary folder, then hub's upload_folder. It lives
// here, above both, so that hub/ only moves folders and knows no Model.
#include <stdlib.h>

#include <filesystem>
#include <system_error>

#include "hfx/error.h"
#include "hfx/hub.h"
#include "hfx/save.h"

namespace hfx {

namespace fs = std::filesystem;

CommitInfo push_to_hub(const Model& model, const std::string& repo_id, const PushOptions& push, const HubOptions& opts) {
  char tmpl[] = "/tmp/hfx-push-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  if (!dir) throw_error(ErrorKind::Io, "cannot create a temporary directory");
  struct Cleanup {
    std::string d;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  } cleanup{dir};
  SaveOptions so;
  so.max_shard_size = push.max_shard_size;
  so.progress = opts.progress;
  save_pretrained(model, dir, so);
  PushOptions p = push;
  if (p.commit_message.empty()) p.commit_message = "Upload model";
  return upload_folder(dir, repo_id, p, opts);
}

}  // namespace hfx
