// NormalizedString and splitting, following tokenizers/src/tokenizer/normalizer.rs (0.20): every byte of the
// normalized text remembers the original byte range it came from, so offsets survive normalization.
#include <algorithm>

#include "hfx/error.h"
#include "tokenize/internal.h"

namespace hfx::tok {

NormalizedString NormalizedString::from(std::string_view original, std::size_t shift) {
  NormalizedString n;
  n.s = std::string(original);
  n.align.resize(original.size());
  for (std::size_t i = 0, len = 0; i < original.size(); i += len) {
    decode_at(original, i, &len);
    for (std::size_t k = 0; k < len; ++k) n.align[i + k] = {shift + i, shift + i + len};
  }
  n.orig_shift = shift;
  n.orig_len = original.size();
  return n;
}

void NormalizedString::transform_range(std::size_t start, std::size_t end,
                                       const std::vector<std::pair<char32_t, int>>& dest,
                                       std::size_t initial_offset) {
  std::vector<std::size_t> sizes;  // byte size of each replaced char
  for (std::size_t i = start, len = 0; i < end; i += len) {
    decode_at(s, i, &len);
    sizes.push_back(len);
  }
  std::size_t ri = 0, offset = start;
  for (std::size_t k = 0; k < initial_offset && ri < sizes.size(); ++k) offset += sizes[ri++];
  std::string ns;
  std::vector<Offsets> na;
  ns.reserve(end - start);
  na.reserve(end - start);
  const Offsets none{orig_shift, orig_shift};
  for (const auto& [c, change] : dest) {
    std::size_t idx = offset;
    Offsets al;
    if (change > 0) {
      al = idx < 1 ? none : align[std::min(idx, align.size()) - 1];
    } else {
      al = idx < align.size() ? align[idx] : (align.empty() ? none : align.back());
      if (ri < sizes.size()) offset += sizes[ri++];
    }
    for (int k = 0; k < -change && ri < sizes.size(); ++k) offset += sizes[ri++];
    std::size_t before = ns.size();
    append_utf8(ns, c);
    na.insert(na.end(), ns.size() - before, al);
  }
  s.replace(start, end - start, ns);
  align.erase(align.begin() + static_cast<std::ptrdiff_t>(start), align.begin() + static_cast<std::ptrdiff_t>(end));
  align.insert(align.begin() + static_cast<std::ptrdiff_t>(start), na.begin(), na.end());
}

NormalizedString NormalizedString::slice(std::size_t start, std::size_t end) const {
  NormalizedString n;
  n.s = s.substr(start, end - start);
  n.align.assign(align.begin() + static_cast<std::ptrdiff_t>(start), align.begin() + static_cast<std::ptrdiff_t>(end));
  if (end > start) {
    n.orig_shift = n.align.front().first;
    n.orig_len = n.align.back().second >= n.orig_shift ? n.align.back().second - n.orig_shift : 0;
  } else {
    n.orig_shift = start < align.size() ? align[start].first : orig_shift + orig_len;
  }
  return n;
}

std::optional<Offsets> NormalizedString::original_range(std::size_t start, std::size_t end) const {
  if (start >= end || end > align.size()) return std::nullopt;
  return Offsets{align[start].first, align[end - 1].second};
}

void NormalizedString::prepend(std::string_view p) {
  if (s.empty() || p.empty()) return;
  std::size_t len = 0;
  char32_t first = decode_at(s, 0, &len);
  std::vector<std::pair<char32_t, int>> t;
  int i = 0;
  for (char32_t c : to_chars(p)) t.emplace_back(c, i++ ? 1 : 0);
  t.emplace_back(first, 1);
  transform_range(0, len, t, 0);
}

void NormalizedString::append(std::string_view p) {
  if (s.empty() || p.empty()) return;
  std::size_t b = s.size() - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  std::size_t len = 0;
  char32_t last = decode_at(s, b, &len);
  std::vector<std::pair<char32_t, int>> t{{last, 0}};
  for (char32_t c : to_chars(p)) t.emplace_back(c, 1);
  transform_range(b, s.size(), t, 0);
}

void NormalizedString::lowercase() {
  std::vector<std::pair<char32_t, int>> t;
  std::vector<char32_t> low;
  bool changed = false;
  for (char32_t c : to_chars(s)) {
    low.clear();
    to_lower(c, low);
    for (std::size_t i = 0; i < low.size(); ++i) t.emplace_back(low[i], i > 0 ? 1 : 0);
    changed = changed || low.size() != 1 || low[0] != c;
  }
  if (changed) transform(t, 0);
}

void NormalizedString::nfd(bool compat) {
  bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) return;
  std::vector<std::pair<char32_t, int>> t;
  std::vector<char32_t> d;
  for (char32_t c : to_chars(s)) {
    d.clear();
    decompose(c, compat, d);
    for (std::size_t i = 0; i < d.size(); ++i) t.emplace_back(d[i], i > 0 ? 1 : 0);
  }
  // Canonical ordering: runs of non-starters sorted (stably) by combining class.
  for (std::size_t i = 0; i < t.size();) {
    if (combining_class(t[i].first) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < t.size() && combining_class(t[j].first) != 0) ++j;
    std::stable_sort(t.begin() + static_cast<std::ptrdiff_t>(i), t.begin() + static_cast<std::ptrdiff_t>(j),
                     [](const auto& a, const auto& b) { return combining_class(a.first) < combining_class(b.first); });
    i = j;
  }
  transform(t, 0);
}

void NormalizedString::nfc_(bool compat) {
  bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) return;
  // Segments start at starters; a starter that composes with what precedes it joins that segment. Each
  // segment's n input chars become k output chars: the last output char absorbs the removed ones.
  std::vector<std::string> segs;
  for (std::size_t i = 0, len = 0; i < s.size(); i += len) {
    char32_t c = decode_at(s, i, &len);
    std::string ch = s.substr(i, len);
    if (segs.empty() || combining_class(c) != 0) {
      if (segs.empty()) segs.emplace_back();
      segs.back() += ch;
      continue;
    }
    if (nfc(segs.back() + ch, compat) != nfc(segs.back(), compat) + nfc(ch, compat)) {
      segs.back() += ch;
    } else {
      segs.push_back(ch);
    }
  }
  std::vector<std::pair<char32_t, int>> t;
  for (const auto& seg : segs) {
    auto in = to_chars(seg);
    auto out = to_chars(nfc(seg, compat));
    std::size_t n = in.size(), k = out.size();
    for (std::size_t i = 0; i < k; ++i) {
      int change = 0;
      if (k <= n) {
        change = i + 1 == k ? -static_cast<int>(n - k) : 0;
      } else {
        change = i < n ? 0 : 1;
      }
      t.emplace_back(out[i], change);
    }
  }
  transform(t, 0);
}

void NormalizedString::strip(bool left, bool right) {
  auto chars = to_chars(s);
  std::size_t lead = 0, trail = 0;
  if (left)
    while (lead < chars.size() && is_whitespace(chars[lead])) ++lead;
  if (right)
    while (trail < chars.size() && is_whitespace(chars[chars.size() - 1 - trail])) ++trail;
  if (lead == 0 && trail == 0) return;
  std::vector<std::pair<char32_t, int>> t;
  for (std::size_t i = 0; i < chars.size(); ++i) {
    if (i < lead || i >= chars.size() - std::min(trail, chars.size())) continue;
    // The crate compares a char index with a byte length here; kept as is for identical offsets.
    if (i + trail + 1 == s.size()) {
      t.emplace_back(chars[i], -static_cast<int>(trail));
    } else {
      t.emplace_back(chars[i], 0);
    }
  }
  transform(t, lead);
}

// ---- Patterns and splitting (normalizer.rs / pattern.rs) ----

SplitBehavior parse_behavior(const std::string& s) {
  if (s == "Removed") return SplitBehavior::Removed;
  if (s == "Isolated") return SplitBehavior::Isolated;
  if (s == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (s == "Contiguous") return SplitBehavior::Contiguous;
  throw_error(ErrorKind::Format, "unknown split behavior '" + s + "'");
}

Matches find_char_matches(std::string_view s, bool (*pred)(char32_t)) {
  Matches m;
  std::size_t last_offset = 0, last_seen = 0;
  for (std::size_t b = 0, len = 0; b < s.size(); b += len) {
    char32_t c = decode_at(s, b, &len);
    last_seen = b + len;
    if (pred(c)) {
      if (last_offset < b) m.push_back({{last_offset, b}, false});
      m.push_back({{b, b + len}, true});
      last_offset = b + len;
    }
  }
  if (last_seen > last_offset) m.push_back({{last_offset, last_seen}, false});
  return m;
}

static Matches from_ranges(std::string_view s, const std::vector<Offsets>& found) {
  if (s.empty()) return {{{0, 0}, false}};
  Matches m;
  std::size_t prev = 0;
  for (const auto& [a, b] : found) {
    if (prev != a) m.push_back({{prev, a}, false});
    m.push_back({{a, b}, true});
    prev = b;
  }
  if (prev != s.size()) m.push_back({{prev, s.size()}, false});
  return m;
}

Matches find_string_matches(std::string_view s, std::string_view pat) {
  std::vector<Offsets> found;
  if (!pat.empty()) {
    for (std::size_t p = s.find(pat); p != std::string_view::npos; p = s.find(pat, p + pat.size()))
      found.emplace_back(p, p + pat.size());
  }
  return from_ranges(s, found);
}

Matches find_regex_matches(std::string_view s, const Regex& re) { return from_ranges(s, re.find_all(s)); }

std::vector<NormalizedString> split(const NormalizedString& n, Matches matches, SplitBehavior b) {
  Matches splits;  // (range, remove)
  switch (b) {
    case SplitBehavior::Isolated:
      for (auto& m : matches) splits.push_back({m.first, false});
      break;
    case SplitBehavior::Removed:
      splits = std::move(matches);
      break;
    case SplitBehavior::Contiguous: {
      bool prev_match = false;
      for (auto& [r, is_match] : matches) {
        if (is_match == prev_match && !splits.empty()) {
          splits.back().first.second = r.second;
        } else {
          splits.push_back({r, false});
        }
        prev_match = is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithPrevious: {
      bool prev_match = false;
      for (auto& [r, is_match] : matches) {
        if (is_match && !prev_match && !splits.empty()) {
          splits.back().first.second = r.second;
        } else {
          splits.push_back({r, false});
        }
        prev_match = is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      bool prev_match = false;
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        auto& [r, is_match] = *it;
        if (is_match && !prev_match && !splits.empty()) {
          splits.back().first.first = r.first;
        } else {
          splits.push_back({r, false});
        }
        prev_match = is_match;
      }
      std::reverse(splits.begin(), splits.end());
      break;
    }
  }
  std::vector<NormalizedString> out;
  for (auto& [r, remove] : splits)
    if (!remove) out.push_back(n.slice(r.first, r.second));
  return out;
}

void replace(NormalizedString& n, const Matches& m, std::string_view content) {
  std::string ns;
  std::vector<Offsets> na;
  const Offsets none{n.orig_shift, n.orig_shift};
  auto content_chars = to_chars(content);
  bool any = false;
  for (const auto& [r, is_match] : m) {
    if (!is_match) {
      ns.append(n.s, r.first, r.second - r.first);
      na.insert(na.end(), n.align.begin() + static_cast<std::ptrdiff_t>(r.first),
                n.align.begin() + static_cast<std::ptrdiff_t>(r.second));
      continue;
    }
    any = true;
    // Every replacement char is an insertion after the removed match: it takes the match's last alignment.
    Offsets al = r.second < 1 ? none : n.align[r.second - 1];
    for (char32_t c : content_chars) {
      std::size_t before = ns.size();
      append_utf8(ns, c);
      na.insert(na.end(), ns.size() - before, al);
    }
  }
  if (!any) return;
  n.s = std::move(ns);
  n.align = std::move(na);
}

Pattern Pattern::parse(const json& j) {
  Pattern p;
  if (!j.is_object()) throw_error(ErrorKind::Format, "pattern must be {\"String\": ...} or {\"Regex\": ...}");
  if (j.contains("String") && j["String"].is_string()) {
    p.literal = j["String"].get<std::string>();
  } else if (j.contains("Regex") && j["Regex"].is_string()) {
    p.regex = onig_regex(j["Regex"].get<std::string>());
  } else {
    throw_error(ErrorKind::Format, "pattern must be {\"String\": ...} or {\"Regex\": ...}");
  }
  return p;
}

Matches Pattern::find(std::string_view s) const {
  return regex ? find_regex_matches(s, *regex) : find_string_matches(s, literal);
}

}  // namespace hfx::tok
