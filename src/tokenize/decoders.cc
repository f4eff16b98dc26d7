// Decoders of tokenizer.json with the semantics of the Rust crate (tokenizers 0.20: src/decoders):
// ByteLevel, WordPiece, Metaspace, BPE, ByteFallback, Fuse, Strip, Replace, CTC and Sequence.
#include <algorithm>
#include <cstring>

#include "hfx/error.h"
#include "tokenize/internal.h"

namespace hfx::tok {

namespace {

// ---------------- Decoders ----------------

struct ByteLevelDec : Decoder {
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    static const std::unordered_map<char32_t, unsigned char> rev = [] {
      std::unordered_map<char32_t, unsigned char> m;
      const auto& t = bytes_to_chars();
      for (int b = 0; b < 256; ++b) m[t[static_cast<std::size_t>(b)]] = static_cast<unsigned char>(b);
      return m;
    }();
    std::string bytes;
    for (const auto& t : tokens) {
      std::string mine;
      bool ok = true;
      for (char32_t c : to_chars(t)) {
        auto it = rev.find(c);
        if (it == rev.end()) {
          ok = false;
          break;
        }
        mine += static_cast<char>(it->second);
      }
      bytes += ok ? mine : t;
    }
    return {utf8_lossy(bytes)};
  }

 public:
  // String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD.
  static std::string utf8_lossy(const std::string& b) {
    std::string out;
    std::size_t i = 0, n = b.size();
    auto u = [&](std::size_t k) { return static_cast<unsigned char>(b[k]); };
    while (i < n) {
      unsigned char c = u(i);
      if (c < 0x80) {
        out += static_cast<char>(c);
        ++i;
        continue;
      }
      std::size_t need_n = 0;
      unsigned char lo = 0x80, hi = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        need_n = 1;
      } else if (c >= 0xE0 && c <= 0xEF) {
        need_n = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
      } else if (c >= 0xF0 && c <= 0xF4) {
        need_n = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
      } else {
        out += "\xef\xbf\xbd";
        ++i;
        continue;
      }
      std::size_t k = 1;
      bool bad = false;
      for (; k <= need_n; ++k) {
        if (i + k >= n) {
          bad = true;
          break;
        }
        unsigned char d = u(i + k);
        unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (d < l || d > h) {
          bad = true;
          break;
        }
      }
      if (bad) {
        out += "\xef\xbf\xbd";
        i += k;
      } else {
        out.append(b, i, need_n + 1);
        i += need_n + 1;
      }
    }
    return out;
  }
};

std::string wordpiece_cleanup(std::string s) {
  static const std::pair<const char*, const char*> rules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"}, {" 'm", "'m"},
      {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : rules) {
    std::string out;
    std::string_view f(from);
    std::size_t pos = 0;
    for (std::size_t p = s.find(f); p != std::string::npos; p = s.find(f, pos)) {
      out.append(s, pos, p - pos);
      out += to;
      pos = p + f.size();
    }
    out.append(s, pos, std::string::npos);
    s = std::move(out);
  }
  return s;
}

struct WordPieceDec : Decoder {
  std::string prefix = "##";
  bool cleanup = true;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      auto& t = tokens[i];
      if (i != 0) {
        if (t.rfind(prefix, 0) == 0) {
          t = t.substr(prefix.size());
        } else {
          t = " " + t;
        }
      }
      if (cleanup) t = wordpiece_cleanup(t);
    }
    return tokens;
  }
};

struct MetaspaceDec : Decoder {
  char32_t replacement = 0x2581;
  Prepend scheme = Prepend::Always;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      for (char32_t c : to_chars(tokens[i])) {
        if (c == replacement) {
          if (i == 0 && scheme != Prepend::Never) continue;
          out += ' ';
        } else {
          append_utf8(out, c);
        }
      }
      tokens[i] = std::move(out);
    }
    return tokens;
  }
};

struct BPEDec : Decoder {
  std::string suffix = "</w>";
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::string rep = i + 1 == tokens.size() ? "" : " ";
      auto& t = tokens[i];
      std::string out;
      std::size_t pos = 0;
      for (std::size_t p = suffix.empty() ? std::string::npos : t.find(suffix); p != std::string::npos;
           p = t.find(suffix, pos)) {
        out.append(t, pos, p - pos);
        out += rep;
        pos = p + suffix.size();
      }
      out.append(t, pos, std::string::npos);
      t = std::move(out);
    }
    return tokens;
  }
};

struct ByteFallbackDec : Decoder {
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    auto flush = [&] {
      if (bytes.empty()) return;
      try {
        validate_utf8(bytes, "bytes");
        out.push_back(bytes);
      } catch (const Error&) {
        for (std::size_t i = 0; i < bytes.size(); ++i) out.emplace_back("\xef\xbf\xbd");
      }
      bytes.clear();
    };
    for (auto& t : tokens) {
      if (t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
          std::isxdigit(static_cast<unsigned char>(t[4]))) {
        bytes += static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    return out;
  }
};

struct FuseDec : Decoder {
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string s;
    for (const auto& t : tokens) s += t;
    return {s};
  }
};

struct StripDec : Decoder {
  char32_t content = ' ';
  std::size_t start = 0, stop = 0;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) {
      auto cs = to_chars(t);
      std::size_t a = 0, b = cs.size();
      for (std::size_t i = 0; i < std::min(start, cs.size()) && cs[i] == content; ++i) a = i + 1;
      for (std::size_t i = 0; i < std::min(stop, cs.size()) && cs[cs.size() - 1 - i] == content; ++i) b = cs.size() - i - 1;
      std::string out;
      for (std::size_t i = a; i < b; ++i) append_utf8(out, cs[i]);
      t = std::move(out);
    }
    return tokens;
  }
};

struct ReplaceDec : Decoder {
  Pattern pattern;
  std::string content;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) {
      auto n = NormalizedString::from(t);
      replace(n, pattern.find(n.s), content);
      t = n.s;
    }
    return tokens;
  }
};

// Rust's str::replace (an empty pattern matches at every char boundary).
std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  if (from.empty()) {
    for (std::size_t i = 0, len = 0; i < s.size(); i += len) {
      out += to;
      decode_at(s, i, &len);
      out.append(s.substr(i, len));
    }
    out += to;
    return out;
  }
  std::size_t pos = 0;
  for (std::size_t p = s.find(from); p != std::string_view::npos; p = s.find(from, pos)) {
    out.append(s.substr(pos, p - pos));
    out += to;
    pos = p + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

// decoders::CTC: repeated tokens collapse to one, the pad token disappears, then (cleanup) the WordPiece
// cleanup rules and the word delimiter becomes a space; empty results are dropped.
struct CTCDec : Decoder {
  std::string pad_token = "<pad>", word_delimiter = "|";
  bool cleanup = true;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0 && tokens[i] == tokens[i - 1]) continue;
      std::string t = replace_all(tokens[i], pad_token, "");
      if (cleanup) t = replace_all(wordpiece_cleanup(t), word_delimiter, " ");
      if (!t.empty()) out.push_back(std::move(t));
    }
    return out;
  }
};

struct SequenceDec : Decoder {
  std::vector<std::unique_ptr<Decoder>> items;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (const auto& x : items) tokens = x->decode_chain(std::move(tokens));
    return tokens;
  }
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& j) {
  if (j.is_null()) return nullptr;
  std::string t = type_of(j, "decoder");
  if (t == "ByteLevel") return std::make_unique<ByteLevelDec>();
  if (t == "WordPiece") {
    auto d = std::make_unique<WordPieceDec>();
    d->prefix = get_or<std::string>(j, "prefix", "##");
    d->cleanup = get_or<bool>(j, "cleanup", true);
    return d;
  }
  if (t == "Metaspace") {
    auto d = std::make_unique<MetaspaceDec>();
    d->replacement = single_char(get_or<std::string>(j, "replacement", "\xe2\x96\x81"), "Metaspace replacement");
    d->scheme = parse_prepend(j);
    return d;
  }
  if (t == "BPEDecoder") {
    auto d = std::make_unique<BPEDec>();
    d->suffix = get_or<std::string>(j, "suffix", "</w>");
    return d;
  }
  if (t == "ByteFallback") return std::make_unique<ByteFallbackDec>();
  if (t == "Fuse") return std::make_unique<FuseDec>();
  if (t == "CTC") {
    auto d = std::make_unique<CTCDec>();
    d->pad_token = get_or<std::string>(j, "pad_token", "<pad>");
    d->word_delimiter = get_or<std::string>(j, "word_delimiter_token", "|");
    d->cleanup = get_or<bool>(j, "cleanup", true);
    validate_utf8(d->pad_token, "CTC pad_token");
    validate_utf8(d->word_delimiter, "CTC word_delimiter_token");
    return d;
  }
  if (t == "Strip") {
    auto d = std::make_unique<StripDec>();
    d->content = single_char(get_or<std::string>(j, "content", " "), "Strip content");
    d->start = get_or<std::size_t>(j, "start", 0);
    d->stop = get_or<std::size_t>(j, "stop", 0);
    return d;
  }
  if (t == "Replace") {
    auto d = std::make_unique<ReplaceDec>();
    d->pattern = Pattern::parse(need(j, "pattern", "Replace"));
    d->content = get_or<std::string>(j, "content", "");
    return d;
  }
  if (t == "Sequence") {
    auto d = std::make_unique<SequenceDec>();
    for (const auto& x : need_array(j, "decoders", "decoder Sequence"))
      if (auto q = make_decoder(x)) d->items.push_back(std::move(q));
    return d;
  }
  throw_error(ErrorKind::Unsupported, "decoder '" + t + "' is not supported");
}

}  // namespace hfx::tok
