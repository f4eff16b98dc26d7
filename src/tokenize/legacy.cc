// Legacy tokenizer files (placeholder until the loaders land).
#include <filesystem>

#include "tokenize/internal.h"

namespace hfx::tok {
std::optional<Tokenizer> load_legacy(const std::filesystem::path&) { return std::nullopt; }
}  // namespace hfx::tok
