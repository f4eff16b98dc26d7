// hfx/log.h over spdlog (header-only use: one logger, a sink that is stderr or the embedder's callback).
#include "hfx/log.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <mutex>

namespace hfx {

namespace {

// One sink for both destinations: spdlog's base_sink serialises calls (its mutex), so the callback is
// never entered by two threads at once.
class Sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  void set(LogCallback cb) {
    std::lock_guard<std::mutex> g(mutex_);
    cb_ = std::move(cb);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    const LogLevel level = from_spdlog(msg.level);
    if (cb_) {
      cb_(level, text);
      return;
    }
    std::string line = "hfx: ";
    line += to_string(level);
    line += ": ";
    line += text;
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  static LogLevel from_spdlog(spdlog::level::level_enum l) {
    switch (l) {
      case spdlog::level::trace:
      case spdlog::level::debug: return LogLevel::Debug;
      case spdlog::level::info: return LogLevel::Info;
      case spdlog::level::warn: return LogLevel::Warning;
      case spdlog::level::err: return LogLevel::Error;
      default: return LogLevel::Critical;
    }
  }
  LogCallback cb_;
};

spdlog::level::level_enum to_spdlog(LogLevel l) {
  switch (l) {
    case LogLevel::Debug: return spdlog::level::debug;
    case LogLevel::Info: return spdlog::level::info;
    case LogLevel::Warning: return spdlog::level::warn;
    case LogLevel::Error: return spdlog::level::err;
    case LogLevel::Critical: return spdlog::level::critical;
  }
  return spdlog::level::warn;
}

LogLevel from_environment() {
  for (const char* var : {"HFX_VERBOSITY", "TRANSFORMERS_VERBOSITY"}) {
    const char* v = std::getenv(var);
    if (!v || !*v) continue;
    if (auto l = parse_log_level(v)) return *l;
    // transformers warns about an unknown TRANSFORMERS_VERBOSITY and keeps its default
    std::fprintf(stderr, "hfx: warning: unknown option %s=%s, has to be one of: debug, info, warning, error, critical\n", var, v);
  }
  return LogLevel::Warning;
}

struct State {
  std::shared_ptr<Sink> sink = std::make_shared<Sink>();
  spdlog::logger logger{"hfx", sink};
  std::atomic<int> level{static_cast<int>(from_environment())};
  State() { logger.set_level(spdlog::level::trace); }  // filtering is ours (verbosity())
};

State& state() {
  static State s;
  return s;
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  std::string n(name);
  for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n == "debug") return LogLevel::Debug;
  if (n == "info") return LogLevel::Info;
  if (n == "warning" || n == "warn") return LogLevel::Warning;
  if (n == "error") return LogLevel::Error;
  if (n == "critical" || n == "fatal") return LogLevel::Critical;
  return std::nullopt;
}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warning: return "warning";
    case LogLevel::Error: return "error";
    case LogLevel::Critical: return "critical";
  }
  return "warning";
}

void set_verbosity(LogLevel level) { state().level = static_cast<int>(level); }
LogLevel verbosity() { return static_cast<LogLevel>(state().level.load()); }
void set_log_callback(LogCallback callback) { state().sink->set(std::move(callback)); }

void log(LogLevel level, std::string_view message) {
  if (!log_enabled(level)) return;
  state().logger.log(to_spdlog(level), spdlog::string_view_t(message.data(), message.size()));
}

}  // namespace hfx
