// hfx/error.h — the one error type the library throws.
//
// Every failure the library can report is an hfx::Error carrying a Kind and a
// message that names the file and (where there is one) the tensor involved.
// Nothing in hfx aborts on bad input: parsers validate before they allocate or
// read, and throw. Only the CLI turns an Error into an exit code (exit_code()).
//
//   try { auto m = hfx::AutoModel::from_pretrained("dir"); }
//   catch (const hfx::Error& e) { if (e.kind() == hfx::ErrorKind::NotFound) ... }
#pragma once

#include "hfx/export.h"

#include <stdexcept>
#include <string>
#include <string_view>

namespace hfx {

enum class ErrorKind {
  NotFound,     // a file, tensor, config key or model type that is not there
  Format,       // malformed input: bad header, offsets, sizes, JSON, ...
  Unsupported,  // valid input that hfx does not implement (yet)
  Mismatch,     // shapes/dtypes that do not fit the architecture or each other
  Io,           // the operating system refused (open, mmap, write, rename)
  Network,      // HTTP / hub failures
  Security,     // refused on purpose (pickle outside the allow-list, external links)
  InvalidArgument,  // a caller passed something unusable
};

HFX_API std::string_view to_string(ErrorKind k);

class HFX_API Error : public std::runtime_error {
 public:
  // `file` and `tensor` may be empty; they are prefixed to the message when set.
  Error(ErrorKind kind, std::string message, std::string file = {}, std::string tensor = {});

  ErrorKind kind() const noexcept { return kind_; }
  const std::string& file() const noexcept { return file_; }
  const std::string& tensor() const noexcept { return tensor_; }
  // The bare message without file/tensor decoration.
  const std::string& message() const noexcept { return message_; }
  // Distinct non-zero process exit codes per kind, for the CLI.
  int exit_code() const noexcept;

 private:
  ErrorKind kind_;
  std::string message_, file_, tensor_;
};

// Shorthands used across the code base.
[[noreturn]] HFX_API void throw_error(ErrorKind kind, std::string message, std::string file = {},
                              std::string tensor = {});

}  // namespace hfx
