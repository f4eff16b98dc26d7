// Small string helpers shared by the name maps, the loaders and the readers
// (internal; not installed).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hfx {

inline bool starts_with(std::string_view s, std::string_view prefix) { return s.starts_with(prefix); }
inline bool ends_with(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }

// "a/b//c" split at '/' -> {"a", "b", "", "c"} (every piece, empty ones included).
inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (true) {
    const std::size_t e = s.find(sep, b);
    out.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) return out;
    b = e + 1;
  }
}

}  // namespace hfx
