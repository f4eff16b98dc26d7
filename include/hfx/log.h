// hfx/log.h — hfx's messages, as transformers' logging (transformers/utils/logging.py) gives them.
//
// Levels and their names are Python logging's. The verbosity is, first found: set_verbosity(),
// HFX_VERBOSITY, TRANSFORMERS_VERBOSITY (debug, info, warning, error, critical), else warning — so the
// "Some weights of ... were not initialized" warnings show by default, like transformers'.
// Messages go to stderr ("hfx: warning: ...") through spdlog unless an embedder routes them:
//
//   hfx::set_log_callback([](hfx::LogLevel lvl, std::string_view msg) { my_logger(lvl, msg); });
//
// The callback receives every message at or above the verbosity, from any thread (calls are serialised).
#pragma once

#include "hfx/export.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace hfx {

enum class LogLevel { Debug = 10, Info = 20, Warning = 30, Error = 40, Critical = 50 };

// "debug" ... "critical" (case-insensitive) -> level; nullopt for anything else.
HFX_API std::optional<LogLevel> parse_log_level(std::string_view name);
HFX_API std::string_view to_string(LogLevel level);

HFX_API void set_verbosity(LogLevel level);
HFX_API LogLevel verbosity();
inline bool log_enabled(LogLevel level) { return static_cast<int>(level) >= static_cast<int>(verbosity()); }

using LogCallback = std::function<void(LogLevel, std::string_view)>;
// Replaces the stderr output; an empty callback restores it.
HFX_API void set_log_callback(LogCallback callback);

HFX_API void log(LogLevel level, std::string_view message);
inline void log_debug(std::string_view m) { log(LogLevel::Debug, m); }
inline void log_info(std::string_view m) { log(LogLevel::Info, m); }
inline void log_warning(std::string_view m) { log(LogLevel::Warning, m); }
inline void log_error(std::string_view m) { log(LogLevel::Error, m); }

}  // namespace hfx
