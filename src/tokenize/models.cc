// Tokenizer models: WordPiece, BPE (merges, byte fallback, no dropout), Unigram (Viterbi), WordLevel —
// tokenizers/src/models/* of the Rust crate 0.20.
#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>

#include "hfx/error.h"
#include "tokenize/internal.h"

namespace hfx::tok {
namespace {

using Vocab = std::unordered_map<std::string, int64_t>;

// id -> token. tokenizers keeps a HashMap<u32, String> (vocab_r), so any u32 id is valid and ids may be
// sparse. A table sized by the largest id would let a 3-token file with id 2^28 ask for gigabytes (the
// tokenizer_json fuzz target found exactly that), so the table is dense only while the largest id stays
// within a small multiple of the token count, and a hash map otherwise: memory is bounded by the file.
class IdTable {
 public:
  IdTable() = default;
  IdTable(const Vocab& v, const char* what) {
    int64_t max_id = -1;
    for (const auto& [t, id] : v) {
      if (id < 0 || id > int64_t{0xFFFFFFFF}) throw_error(ErrorKind::Format, std::string(what) + ": bad token id " + std::to_string(id));
      max_id = std::max(max_id, id);
    }
    if (max_id < 2 * static_cast<int64_t>(v.size()) + 1024) {
      dense_.resize(static_cast<std::size_t>(max_id + 1));
      present_.resize(dense_.size(), false);
      for (const auto& [t, id] : v) {
        dense_[static_cast<std::size_t>(id)] = t;
        present_[static_cast<std::size_t>(id)] = true;
      }
    } else {
      sparse_.reserve(v.size());
      for (const auto& [t, id] : v) sparse_.emplace(id, t);
    }
  }
  const std::string* find(int64_t id) const {
    if (id < 0) return nullptr;
    if (!sparse_.empty()) {
      auto it = sparse_.find(id);
      return it == sparse_.end() ? nullptr : &it->second;
    }
    const auto i = static_cast<std::size_t>(id);
    return i < dense_.size() && present_[i] ? &dense_[i] : nullptr;
  }
  const std::string& at(int64_t id) const { return *find(id); }  // for ids taken from the vocab itself

 private:
  std::vector<std::string> dense_;
  std::vector<bool> present_;  // a gap in the ids is no token, as in the crate's map
  std::unordered_map<int64_t, std::string> sparse_;
};

Vocab parse_vocab_object(const json& j, const char* what) {
  if (!j.is_object()) throw_error(ErrorKind::Format, std::string(what) + ": vocab must be an object");
  Vocab v;
  v.reserve(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_number_integer()) throw_error(ErrorKind::Format, std::string(what) + ": vocab ids must be integers");
    v[it.key()] = integer(it.value(), "vocab id");
  }
  return v;
}

struct VocabModel : Model {
  Vocab vocab;
  IdTable rev;
  std::optional<int64_t> token_to_id(std::string_view t) const override {
    auto it = vocab.find(std::string(t));
    if (it == vocab.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> id_to_token(int64_t id) const override {
    const std::string* t = rev.find(id);
    if (!t) return std::nullopt;
    return *t;
  }
  int64_t vocab_size() const override { return static_cast<int64_t>(vocab.size()); }
};

struct WordPiece : VocabModel {
  std::string unk, prefix;
  std::size_t max_chars = 100;
  std::vector<Token> tokenize(std::string_view s) const override {
    std::vector<Token> out;
    std::size_t nchars = 0;
    for (std::size_t i = 0, len = 0; i < s.size(); i += len) {
      decode_at(s, i, &len);
      ++nchars;
    }
    auto unk_token = [&] {
      auto it = vocab.find(unk);
      if (it == vocab.end()) throw_error(ErrorKind::Format, "WordPiece: unk_token '" + unk + "' is not in the vocabulary");
      return std::vector<Token>{{it->second, unk, {0, s.size()}}};
    };
    if (nchars > max_chars) return unk_token();
    std::size_t start = 0;
    std::string sub;
    while (start < s.size()) {
      std::size_t end = s.size();
      bool found = false;
      while (start < end) {
        sub.clear();
        if (start > 0) sub = prefix;
        sub.append(s.substr(start, end - start));
        auto it = vocab.find(sub);
        if (it != vocab.end()) {
          out.push_back({it->second, sub, {start, end}});
          found = true;
          break;
        }
        std::size_t b = end - 1;
        while (b > start && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
        end = b;
      }
      if (!found) return unk_token();
      start = end;
    }
    return out;
  }
};

struct BPE : VocabModel {
  std::unordered_map<uint64_t, std::pair<int64_t, int64_t>> merges;  // (a, b) -> (rank, new id)
  std::optional<std::string> unk;
  std::string prefix, suffix;
  bool fuse_unk = false, byte_fallback = false, ignore_merges = false;

  static uint64_t key(int64_t a, int64_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b); }

  std::vector<Token> tokenize(std::string_view s) const override {
    if (s.empty()) return {};
    if (ignore_merges) {
      auto it = vocab.find(std::string(s));
      if (it != vocab.end()) return {{it->second, std::string(s), {0, s.size()}}};
    }
    struct Sym {
      int64_t id;
      std::size_t len;
    };
    std::vector<Sym> word;
    std::optional<Sym> pending_unk;
    auto unk_id = [&]() -> int64_t {
      auto it = vocab.find(*unk);
      if (it == vocab.end()) throw_error(ErrorKind::Format, "BPE: unk_token '" + *unk + "' is not in the vocabulary");
      return it->second;
    };
    char buf[8];
    for (std::size_t i = 0, len = 0; i < s.size(); i += len) {
      decode_at(s, i, &len);
      std::string piece(s.substr(i, len));
      if (i > 0 && !prefix.empty()) piece = prefix + piece;
      if (i + len == s.size() && !suffix.empty()) piece += suffix;
      auto it = vocab.find(piece);
      if (it != vocab.end()) {
        if (pending_unk) word.push_back(*pending_unk), pending_unk.reset();
        word.push_back({it->second, len});
        continue;
      }
      if (byte_fallback) {
        std::vector<int64_t> ids;
        for (unsigned char b : piece) {
          std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
          auto bt = vocab.find(buf);
          if (bt == vocab.end()) break;
          ids.push_back(bt->second);
        }
        if (ids.size() == piece.size()) {
          // the crate adds byte tokens without flushing a pending unk first
          for (int64_t id : ids) word.push_back({id, 1});
          continue;
        }
      }
      if (unk) {
        if (pending_unk && fuse_unk) {
          pending_unk->len += len;
        } else {
          if (pending_unk) word.push_back(*pending_unk);
          pending_unk = Sym{unk_id(), len};
        }
      }
    }
    if (pending_unk) word.push_back(*pending_unk);
    // Merge the lowest-ranked pair (leftmost on ties) until none applies.
    while (word.size() > 1) {
      int64_t best_rank = std::numeric_limits<int64_t>::max(), best_id = 0;
      std::size_t best = 0;
      for (std::size_t i = 0; i + 1 < word.size(); ++i) {
        auto it = merges.find(key(word[i].id, word[i + 1].id));
        if (it != merges.end() && it->second.first < best_rank) {
          best_rank = it->second.first;
          best_id = it->second.second;
          best = i;
        }
      }
      if (best_rank == std::numeric_limits<int64_t>::max()) break;
      word[best] = {best_id, word[best].len + word[best + 1].len};
      word.erase(word.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    }
    std::vector<Token> out;
    std::size_t pos = 0;
    for (const auto& w : word) {
      out.push_back({w.id, rev.at(w.id), {pos, pos + w.len}});
      pos += w.len;
    }
    return out;
  }
};

struct Unigram : Model {
  std::vector<std::pair<std::string, double>> pieces;
  Vocab ids;
  std::optional<int64_t> unk_id;
  bool byte_fallback = false, fuse_unk = true;
  double min_score = std::numeric_limits<double>::max();

  // A byte trie over the pieces (the crate's Unigram keeps one too: models/unigram/trie.rs), so the
  // lattice finds every piece that starts at a position in one walk, instead of hashing each prefix up
  // to the longest piece. Node 0 is the root; a node's edges are edges[first, first + count), by byte.
  struct TrieNode {
    int64_t id = -1;  // the piece ending here (the first one listed, as `ids` keeps), or -1
    uint32_t first = 0, count = 0;
  };
  static constexpr uint32_t kNoNode = ~uint32_t{0};
  std::vector<TrieNode> nodes;
  std::vector<std::pair<unsigned char, uint32_t>> edges;

  void build_trie() {
    std::vector<std::map<unsigned char, uint32_t>> children(1);
    std::vector<int64_t> id_of(1, -1);
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      uint32_t n = 0;
      for (unsigned char b : pieces[i].first) {
        auto [it, added] = children[n].emplace(b, static_cast<uint32_t>(children.size()));
        if (added) {
          children.emplace_back();
          id_of.push_back(-1);
        }
        n = it->second;
      }
      if (id_of[n] < 0) id_of[n] = static_cast<int64_t>(i);
    }
    nodes.assign(children.size(), {});
    edges.clear();
    edges.reserve(children.size());
    for (std::size_t n = 0; n < children.size(); ++n) {
      nodes[n] = {id_of[n], static_cast<uint32_t>(edges.size()), static_cast<uint32_t>(children[n].size())};
      edges.insert(edges.end(), children[n].begin(), children[n].end());
    }
  }

  uint32_t child(uint32_t n, unsigned char b) const {
    const auto* begin = edges.data() + nodes[n].first;
    const auto* end = begin + nodes[n].count;
    const auto* it = std::lower_bound(begin, end, b, [](const auto& e, unsigned char v) { return e.first < v; });
    return it != end && it->first == b ? it->second : kNoNode;
  }

  std::optional<int64_t> token_to_id(std::string_view t) const override {
    auto it = ids.find(std::string(t));
    if (it == ids.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> id_to_token(int64_t id) const override {
    if (id < 0 || static_cast<std::size_t>(id) >= pieces.size()) return std::nullopt;
    return pieces[static_cast<std::size_t>(id)].first;
  }
  int64_t vocab_size() const override { return static_cast<int64_t>(pieces.size()); }

  std::vector<std::string> encode(std::string_view s) const {
    struct Node {
      int64_t id = 0;
      double score = 0;
      std::optional<std::size_t> start;
    };
    const double unk_score = min_score - 10.0;
    std::vector<Node> best(s.size() + 1);
    for (std::size_t at = 0, mblen = 0; at < s.size(); at += mblen) {
      decode_at(s, at, &mblen);
      double base = best[at].score;
      bool single = false;
      uint32_t node = 0;
      for (std::size_t l = 1; at + l <= s.size(); ++l) {  // pieces starting at `at`, shortest first
        node = child(node, static_cast<unsigned char>(s[at + l - 1]));
        if (node == kNoNode) break;
        const int64_t id = nodes[node].id;
        if (id < 0) continue;
        double cand = pieces[static_cast<std::size_t>(id)].second + base;
        Node& t = best[at + l];
        if (!t.start || cand > t.score) t = {id, cand, at};
        if (l == mblen) single = true;
      }
      if (!single) {
        if (!unk_id) throw_error(ErrorKind::Format, "Unigram: no unk_id for an unknown character");
        Node& t = best[at + mblen];
        double cand = unk_score + base;
        if (!t.start || cand > t.score) t = {*unk_id, cand, at};
      }
    }
    std::vector<std::string> out;
    std::vector<std::string> unk_run;
    for (std::size_t end = s.size(); end > 0;) {
      const Node& n = best[end];
      std::size_t start = *n.start;
      std::string piece(s.substr(start, end - start));
      if (fuse_unk && unk_id && n.id == *unk_id) {
        unk_run.push_back(std::move(piece));
      } else {
        if (!unk_run.empty()) {
          std::string f;
          for (auto r = unk_run.rbegin(); r != unk_run.rend(); ++r) f += *r;
          out.push_back(std::move(f));
          unk_run.clear();
        }
        out.push_back(std::move(piece));
      }
      end = start;
    }
    if (!unk_run.empty()) {
      std::string f;
      for (auto r = unk_run.rbegin(); r != unk_run.rend(); ++r) f += *r;
      out.push_back(std::move(f));
    }
    return {out.rbegin(), out.rend()};
  }

  std::vector<Token> tokenize(std::string_view s) const override {
    std::vector<Token> out;
    std::size_t offset = 0;
    char buf[8];
    for (auto& str : encode(s)) {
      std::size_t len = str.size();
      auto it = ids.find(str);
      if (it != ids.end()) {
        out.push_back({it->second, str, {offset, offset + len}});
      } else {
        bool done = false;
        if (byte_fallback) {
          std::vector<Token> bytes;
          for (unsigned char b : str) {
            std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
            auto bt = ids.find(buf);
            if (bt == ids.end()) break;
            bytes.push_back({bt->second, buf, {offset, offset + len}});
          }
          if (bytes.size() == str.size()) {
            out.insert(out.end(), bytes.begin(), bytes.end());
            done = true;
          }
        }
        if (!done) {
          if (!unk_id) throw_error(ErrorKind::Format, "Unigram: missing unk_id");
          out.push_back({*unk_id, str, {offset, offset + len}});
        }
      }
      offset += len;
    }
    return out;
  }
};

struct WordLevel : VocabModel {
  std::string unk;
  std::vector<Token> tokenize(std::string_view s) const override {
    auto it = vocab.find(std::string(s));
    if (it == vocab.end()) it = vocab.find(unk);
    if (it == vocab.end()) throw_error(ErrorKind::Format, "WordLevel: unk_token '" + unk + "' is not in the vocabulary");
    return {{it->second, it->first, {0, s.size()}}};
  }
};


}  // namespace

std::unique_ptr<Model> make_wordpiece(Vocab vocab, std::string unk, std::string prefix, int64_t max_chars) {
  auto m = std::make_unique<WordPiece>();
  m->vocab = std::move(vocab);
  m->rev = IdTable(m->vocab, "WordPiece");
  m->unk = std::move(unk);
  m->prefix = std::move(prefix);
  m->max_chars = static_cast<std::size_t>(std::max<int64_t>(0, max_chars));
  return m;
}

std::unique_ptr<Model> make_bpe(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                                const json& opts) {
  auto m = std::make_unique<BPE>();
  m->vocab = std::move(vocab);
  m->rev = IdTable(m->vocab, "BPE");
  if (opts.contains("unk_token") && opts["unk_token"].is_string()) m->unk = opts["unk_token"].get<std::string>();
  m->prefix = get_or<std::string>(opts, "continuing_subword_prefix", "");
  m->suffix = get_or<std::string>(opts, "end_of_word_suffix", "");
  m->fuse_unk = get_or<bool>(opts, "fuse_unk", false);
  m->byte_fallback = get_or<bool>(opts, "byte_fallback", false);
  m->ignore_merges = get_or<bool>(opts, "ignore_merges", false);
  if (opts.contains("dropout") && opts["dropout"].is_number() && opts["dropout"].get<double>() > 0)
    throw_error(ErrorKind::Unsupported, "BPE dropout is not supported (inference is deterministic)");
  int64_t rank = 0;
  for (const auto& [a, b] : merges) {
    // as the crate: the merged token is a + b without its first prefix-length bytes
    std::string merged = a + (b.size() >= m->prefix.size() ? b.substr(m->prefix.size()) : std::string());
    auto ia = m->vocab.find(a), ib = m->vocab.find(b), ic = m->vocab.find(merged);
    if (ia == m->vocab.end() || ib == m->vocab.end() || ic == m->vocab.end())
      throw_error(ErrorKind::Format, "BPE: merge '" + a + " " + b + "' uses a token missing from the vocabulary");
    m->merges.emplace(BPE::key(ia->second, ib->second), std::make_pair(rank++, ic->second));
  }
  return m;
}

std::unique_ptr<Model> make_model(const json& j) {
  if (!j.is_object()) throw_error(ErrorKind::Format, "model must be an object");
  std::string type = j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : "";
  if (type.empty()) {  // older files: infer from the fields
    if (j.contains("merges")) type = "BPE";
    else if (j.contains("continuing_subword_prefix") || j.contains("max_input_chars_per_word")) type = "WordPiece";
    else if (j.contains("vocab") && j["vocab"].is_array()) type = "Unigram";
    else type = "WordLevel";
  }
  if (type == "WordPiece") {
    return make_wordpiece(parse_vocab_object(need(j, "vocab", "WordPiece"), "WordPiece"),
                          get_or<std::string>(j, "unk_token", "[UNK]"), get_or<std::string>(j, "continuing_subword_prefix", "##"),
                          get_or<int64_t>(j, "max_input_chars_per_word", 100));
  }
  if (type == "BPE") {
    auto vocab = parse_vocab_object(need(j, "vocab", "BPE"), "BPE");
    std::vector<std::pair<std::string, std::string>> merges;
    const json& mj = need(j, "merges", "BPE");
    if (!mj.is_array()) throw_error(ErrorKind::Format, "BPE: merges must be a list");
    for (const auto& m : mj) {
      if (m.is_string()) {
        auto s = m.get<std::string>();
        auto sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
          throw_error(ErrorKind::Format, "BPE: merge '" + s + "' is not two tokens");
        merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      } else {
        throw_error(ErrorKind::Format, "BPE: bad merge entry");
      }
    }
    return make_bpe(std::move(vocab), merges, j);
  }
  if (type == "Unigram") {
    auto m = std::make_unique<Unigram>();
    const json& v = need(j, "vocab", "Unigram");
    if (!v.is_array()) throw_error(ErrorKind::Format, "Unigram: vocab must be a list of [piece, score]");
    for (const auto& e : v) {
      if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
        throw_error(ErrorKind::Format, "Unigram: vocab entries must be [piece, score]");
      auto piece = e[0].get<std::string>();
      double score = e[1].get<double>();
      m->ids.emplace(piece, static_cast<int64_t>(m->pieces.size()));
      m->min_score = std::min(m->min_score, score);
      m->pieces.emplace_back(std::move(piece), score);
    }
    m->build_trie();
    if (j.contains("unk_id") && j["unk_id"].is_number_integer()) {
      int64_t u = integer(j["unk_id"], "unk_id");
      if (u < 0 || static_cast<std::size_t>(u) >= m->pieces.size())
        throw_error(ErrorKind::Format, "Unigram: unk_id is out of range");
      m->unk_id = u;
    }
    m->byte_fallback = get_or<bool>(j, "byte_fallback", false);
    return m;
  }
  if (type == "WordLevel") {
    auto m = std::make_unique<WordLevel>();
    m->vocab = parse_vocab_object(need(j, "vocab", "WordLevel"), "WordLevel");
    m->rev = IdTable(m->vocab, "WordLevel");
    m->unk = get_or<std::string>(j, "unk_token", "<unk>");
    return m;
  }
  throw_error(ErrorKind::Unsupported, "model '" + type + "' is not supported");
}

}  // namespace hfx::tok
