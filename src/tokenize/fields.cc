// Typed, bounded reads of tokenizer.json fields shared by every component (internal.h).
#include "hfx/error.h"
#include "tokenize/internal.h"

namespace hfx::tok {

const json& need(const json& j, const char* key, const char* what) {
  if (!j.is_object() || !j.contains(key))
    throw_error(ErrorKind::Format, std::string(what) + ": missing '" + key + "'");
  return j[key];
}

int64_t integer(const json& v, const char* what) {
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    throw_error(ErrorKind::Format, std::string(what) + ": integer out of range");
  if (!v.is_number_integer()) throw_error(ErrorKind::Format, std::string(what) + ": wrong type (expected an integer)");
  return v.get<int64_t>();
}

int64_t integer_or(const json& obj, const char* key, int64_t dflt, const char* what) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return dflt;
  return integer(obj[key], what);
}

int64_t token_id(const json& v, const char* what) {
  const int64_t id = integer(v, what);
  if (id < 0 || id > int64_t{UINT32_MAX})
    throw_error(ErrorKind::Format, std::string(what) + ": " + std::to_string(id) +
                                       " is not a token id (tokenizers reads ids as u32: 0..4294967295)");
  return id;
}

std::string type_of(const json& j, const char* what) {
  const json& t = need(j, "type", what);
  if (!t.is_string()) throw_error(ErrorKind::Format, std::string(what) + ": 'type' must be a string");
  return t.get<std::string>();
}

const json& need_array(const json& j, const char* key, const char* what) {
  const json& a = need(j, key, what);
  if (!a.is_array()) throw_error(ErrorKind::Format, std::string(what) + ": '" + key + "' must be an array");
  return a;
}

}  // namespace hfx::tok
