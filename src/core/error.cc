#include "hfx/error.h"

namespace hfx {

std::string_view to_string(ErrorKind k) {
  switch (k) {
    case ErrorKind::NotFound: return "NotFound";
    case ErrorKind::Format: return "Format";
    case ErrorKind::Unsupported: return "Unsupported";
    case ErrorKind::Mismatch: return "Mismatch";
    case ErrorKind::Io: return "Io";
    case ErrorKind::Network: return "Network";
    case ErrorKind::Security: return "Security";
    case ErrorKind::InvalidArgument: return "InvalidArgument";
  }
  return "Unknown";
}

namespace {
std::string decorate(ErrorKind kind, const std::string& msg, const std::string& file,
                     const std::string& tensor) {
  std::string out = "[";
  out += to_string(kind);
  out += "] ";
  if (!file.empty()) out += file + ": ";
  if (!tensor.empty()) out += "tensor '" + tensor + "': ";
  out += msg;
  return out;
}
}  // namespace

Error::Error(ErrorKind kind, std::string message, std::string file, std::string tensor)
    : std::runtime_error(decorate(kind, message, file, tensor)),
      kind_(kind),
      message_(std::move(message)),
      file_(std::move(file)),
      tensor_(std::move(tensor)) {}

int Error::exit_code() const noexcept { return 10 + static_cast<int>(kind_); }

void throw_error(ErrorKind kind, std::string message, std::string file, std::string tensor) {
  throw Error(kind, std::move(message), std::move(file), std::move(tensor));
}

}  // namespace hfx
