// Base64 (RFC 4648, standard alphabet, '=' padding) for every layer that needs it: the tokenizer
// (sentencepiece's precompiled_charsmap in tokenizer.json) and the hub (LFS samples and commit
// payloads); internal, not installed.
//
// Hand-written rather than OpenSSL's EVP_EncodeBlock / EVP_DecodeBlock, although libcrypto is linked
// for the hub: the tokenizer (and core) must not depend on hub/ or on libcrypto, and EVP_DecodeBlock
// is a poor fit anyway — it counts '=' padding as zero bytes in the length it returns (the caller must
// trim) and skips surrounding whitespace. Thirty lines, tested in tests/core_helpers_test.cc.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hfx {

std::string base64_encode(std::string_view bytes);
// Decoding stops at the first '='; any character outside the alphabet before it gives nullopt (the
// caller names the file and field). Bits left over after the last full byte are ignored.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace hfx
