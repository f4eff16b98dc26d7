// Bounded JSON parsing (see json.h for why nlohmann's own entry points are not used).
#include "core/json.h"

#include <unordered_set>
#include <vector>

#include "hfx/error.h"
#include "core/safe_open.h"

namespace hfx {

namespace {
using json = nlohmann::json;

// Builds the DOM like nlohmann's json_sax_dom_parser, with a depth limit and
// a duplicate-key check. Returning false from an event stops the parse.
class BoundedBuilder {
 public:
  using Member = std::function<void(std::string&&, json&&)>;
  // With `member`: the root must be an object whose members are handed out one
  // by one (built in `current_`) instead of being inserted into it.
  BoundedBuilder(json& root, const JsonLimits& limits, const Member* member = nullptr)
      : root_(root), limits_(limits), member_(member) {}

  bool null() { return put(nullptr); }
  bool boolean(bool v) { return put(v); }
  bool number_integer(json::number_integer_t v) { return put(v); }
  bool number_unsigned(json::number_unsigned_t v) { return put(v); }
  bool number_float(json::number_float_t v, const std::string&) { return put(v); }
  bool string(std::string& v) { return put(std::move(v)); }
  bool binary(json::binary_t& v) { return put(std::move(v)); }
  bool start_object(std::size_t) { return open(json::value_t::object); }
  bool start_array(std::size_t) { return open(json::value_t::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k) {
    if (member_ && stack_.size() == 1) {  // a member of the streamed root object
      if (limits_.reject_duplicate_keys && !seen_.insert(k).second) {
        error_ = "duplicate key '" + k + "'";
        return false;
      }
      key_ = k;
      current_ = json();
      slot_ = &current_;
      return true;
    }
    json& obj = *stack_.back();
    auto [it, added] = obj.get_ref<json::object_t&>().try_emplace(k);
    if (!added) {
      if (limits_.reject_duplicate_keys) {
        error_ = "duplicate key '" + k + "'";
        return false;
      }
      it->second = nullptr;  // Python's json.loads: the last one wins
    }
    slot_ = &it->second;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    error_ = e.what();
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  template <class V> bool put(V&& v) {
    if (member_ && stack_.empty()) {
      error_ = "not a JSON object";
      return false;
    }
    *target() = json(std::forward<V>(v));
    return member_done();
  }
  // A member of the streamed root is complete: hand it out.
  bool member_done() {
    if (member_ && stack_.size() == 1) (*member_)(std::move(key_), std::move(current_));
    return true;
  }
  bool open(json::value_t t) {
    if (static_cast<int>(stack_.size()) >= limits_.max_depth) {
      error_ = "nested deeper than " + std::to_string(limits_.max_depth) + " levels";
      if (member_ && stack_.size() > 1) error_ += " (under '" + key_ + "')";  // which tensor, in a safetensors header
      return false;
    }
    if (member_ && stack_.empty() && t != json::value_t::object) {
      error_ = "not a JSON object";
      return false;
    }
    json* v = target();
    *v = json(t);
    stack_.push_back(v);
    return true;
  }
  bool close() {
    stack_.pop_back();
    return member_done();
  }
  // Where the next value goes: the root, the slot of the last key, or the end of an array.
  json* target() {
    if (stack_.empty()) return &root_;
    json& top = *stack_.back();
    if (top.is_array()) {
      top.get_ref<json::array_t&>().emplace_back();
      return &top.get_ref<json::array_t&>().back();
    }
    return slot_;
  }

  json& root_;
  const JsonLimits& limits_;
  const Member* member_;
  std::unordered_set<std::string> seen_;  // keys of the streamed root
  std::string key_;
  json current_;
  std::vector<json*> stack_;
  json* slot_ = nullptr;
  std::string error_;
};
}  // namespace

nlohmann::json parse_json(std::string_view text, const std::string& source, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes)
    throw_error(ErrorKind::Format, "JSON is " + std::to_string(text.size()) + " bytes, over the " +
                                       std::to_string(limits.max_bytes) + " bytes hfx accepts", source);
  json root;
  BoundedBuilder b(root, limits);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &b);
  } catch (const json::exception& e) {  // sax_parse reports through parse_error; kept for safety
    throw_error(ErrorKind::Format, std::string("invalid JSON: ") + e.what(), source);
  }
  if (!ok) throw_error(ErrorKind::Format, "invalid JSON: " + (b.error().empty() ? std::string("parse stopped") : b.error()), source);
  return root;
}

void parse_json_members(std::string_view text, const std::string& source, const JsonLimits& limits,
                        const std::function<void(std::string&& key, nlohmann::json&& value)>& member) {
  if (text.size() > limits.max_bytes)
    throw_error(ErrorKind::Format, "JSON is " + std::to_string(text.size()) + " bytes, over the " +
                                       std::to_string(limits.max_bytes) + " bytes hfx accepts", source);
  json root;
  const BoundedBuilder::Member m = member;
  BoundedBuilder b(root, limits, &m);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &b);
  } catch (const json::exception& e) {
    throw_error(ErrorKind::Format, std::string("invalid JSON: ") + e.what(), source);
  }
  if (!ok) throw_error(ErrorKind::Format, "invalid JSON: " + (b.error().empty() ? std::string("parse stopped") : b.error()), source);
}

nlohmann::json read_json_file(const std::string& path, const JsonLimits& limits) {
  return parse_json(read_regular_file(path, limits.max_bytes), path, limits);
}

}  // namespace hfx
