// AutoTokenizer: tokenizer.json when present, else the legacy files (legacy.cc); a hub repo id brings its
// tokenizer files into the hub cache first (hfx/hub.h).
#include <filesystem>

#include "hfx/error.h"
#include "hfx/hub.h"
#include "hfx/hub_files.h"
#include "tokenize/internal.h"

namespace hfx {

namespace tok {
std::optional<Tokenizer> load_legacy(const std::filesystem::path& dir);
Tokenizer load_fast(const std::filesystem::path& dir);
}

Tokenizer AutoTokenizer::from_pretrained(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return Tokenizer::from_file(path);
  fs::path dir(path);
  if (!fs::exists(path, ec) && is_repo_id(path)) {  // a hub repo id: its tokenizer files, into the shared cache
    RepoFiles want;
    want.weights = false;
    want.tokenizer = true;
    dir = resolve_pretrained(path, HubOptions{}, want);
  } else if (!fs::is_directory(path, ec)) {
    throw_error(ErrorKind::NotFound, "no such tokenizer folder or file", path);
  }
  if (fs::is_regular_file(dir / "tokenizer.json", ec)) return tok::load_fast(dir);
  if (auto t = tok::load_legacy(dir)) return std::move(*t);
  throw_error(ErrorKind::NotFound,
              "no tokenizer files (tokenizer.json, vocab.txt, vocab.json + merges.txt, spiece.model, "
              "sentencepiece.bpe.model or tokenizer.model)",
              path);
}

}  // namespace hfx
