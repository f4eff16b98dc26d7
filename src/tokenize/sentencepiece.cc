// Sentencepiece models (spiece.model, sentencepiece.bpe.model, tokenizer.model) run through libsentencepiece
// itself, as the slow T5/Llama/ALBERT/XLNet/XLM-RoBERTa/CamemBERT tokenizers of transformers 4.46 do: ids and
// decode of those tokenizers; offsets, which they lack, of the fast tokenizer transformers converts from the
// same model (convert_slow_tokenizer.py). What differs between those tokenizers is one row of the flavour
// table (flavours() below). tokenizer_config.json and special_tokens_map.json give the options and tokens.
#include <sentencepiece_processor.h>
#include <utf8proc.h>

#include <algorithm>
#include <cfloat>
#include <cstring>
#include <filesystem>

#include "core/base64.h"
#include "core/safe_open.h"
#include "core/varint.h"
#include "hfx/error.h"
#include "tokenize/internal.h"

namespace hfx::tok {
namespace fs = std::filesystem;

namespace {


enum class Spm { T5, Llama, Albert, XLNet, XLMRoberta, Camembert };

bool py_isspace(char32_t c) { return is_whitespace(c) || (c >= 0x1C && c <= 0x1F); }

// Python's str.strip().
std::string py_strip(const std::string& s) {
  auto cs = to_chars(s);
  std::size_t a = 0, b = cs.size();
  while (a < b && py_isspace(cs[a])) ++a;
  while (b > a && py_isspace(cs[b - 1])) --b;
  std::string out;
  for (std::size_t i = a; i < b; ++i) append_utf8(out, cs[i]);
  return out;
}

// The model's NormalizerSpec (sentencepiece_model.proto: ModelProto.normalizer_spec = 3, in it
// precompiled_charsmap = 2 and add_dummy_prefix = 3), read from the protobuf wire format of the loaded model.
struct NormSpec {
  std::string charsmap;
  bool add_dummy_prefix = true;
};

// Calls f(field, varint, bytes) for each field of a message; false on a malformed message.
template <class F>
bool for_fields(std::string_view s, F f) {
  std::size_t i = 0;
  while (i < s.size()) {
    uint64_t key = 0, v = 0;
    if (!read_varint64(s, i, key)) return false;
    switch (key & 7) {
      case 0:
        if (!read_varint64(s, i, v)) return false;
        f(key >> 3, v, std::string_view());
        break;
      case 1:
      case 5: {  // fixed64 / fixed32 (a float's bits: passed as the varint)
        std::size_t n = (key & 7) == 1 ? 8 : 4;
        if (s.size() - i < n) return false;
        for (std::size_t k = 0; k < n; ++k) v |= uint64_t{static_cast<unsigned char>(s[i + k])} << (8 * k);
        f(key >> 3, v, std::string_view());
        i += n;
        break;
      }
      case 2:
        if (!read_varint64(s, i, v) || v > s.size() - i) return false;
        f(key >> 3, 0, s.substr(i, v));
        i += v;
        break;
      default:
        return false;
    }
  }
  return true;
}

std::optional<NormSpec> read_norm_spec(const std::string& proto) {
  NormSpec spec;
  bool ok = for_fields(proto, [&](uint64_t field, uint64_t, std::string_view bytes) {
    if (field != 3) return;
    for_fields(bytes, [&](uint64_t f, uint64_t v, std::string_view b) {
      if (f == 2) spec.charsmap = std::string(b);
      if (f == 3) spec.add_dummy_prefix = v != 0;
    });
  });
  if (!ok) return std::nullopt;
  return spec;
}

// Unigram segmentation with the arithmetic of pip sentencepiece 0.2.x (what transformers' slow tokenizers run).
// Debian's libsentencepiece 0.1.97 computes a piece's candidate path score in double: in EncodeOptimized
// (src/unigram_model.cc, google/sentencepiece commit f5c73630) `IsUserDefinedInlined(ret) ? (length * max_score_
// - 0.1) : GetScoreInlined(ret)` is a double expression, added to the float best score and compared with the float
// stored at the end position. Exact ties of mathematically equal paths (e.g. "ab"+"a" vs "a"+"ba" in a long
// "abba..." word) then fall one float rounding apart and can go the other way. Float-only arithmetic reproduces
// pip sentencepiece 0.2.3 on all 2,000 fixture strings, double candidates reproduce 0.1.97 (tools/fixtures/
// tokenizer_fixtures.py --unigram-ties models both). So the segmentation is redone here in float, as
// EncodeOptimized does it (best path ending at each byte, pieces in trie order = increasing length, the first of
// equal scores kept, user-defined pieces scored length * max_score - 0.1, an unknown character min_score - 10), on
// the normalized text libsentencepiece produced; libsentencepiece's result is kept whenever the two agree.
struct UnigramTable {
  std::vector<std::string> names;  // piece strings; `index` views them
  std::unordered_map<std::string_view, std::pair<int, float>> index;  // piece -> (id, score)
  std::size_t max_len = 0;
  float unk_score = 0;
  int unk_id = 0;
};

std::unique_ptr<UnigramTable> read_unigram_table(const std::string& proto, int unk_id) {
  struct Piece {
    std::string text;
    float score = 0;
    uint64_t type = 1;  // NORMAL
  };
  std::vector<Piece> pieces;
  uint64_t model_type = 1;  // UNIGRAM
  bool byte_fallback = false;
  bool ok = for_fields(proto, [&](uint64_t field, uint64_t, std::string_view bytes) {
    if (field == 1) {
      Piece p;
      for_fields(bytes, [&](uint64_t f, uint64_t v, std::string_view b) {
        if (f == 1) p.text = std::string(b);
        if (f == 2) {
          auto bits = static_cast<uint32_t>(v);
          std::memcpy(&p.score, &bits, sizeof bits);
        }
        if (f == 3) p.type = v;
      });
      pieces.push_back(std::move(p));
    } else if (field == 2) {
      for_fields(bytes, [&](uint64_t f, uint64_t v, std::string_view) {
        if (f == 3) model_type = v;
        if (f == 35) byte_fallback = v != 0;
      });
    }
  });
  if (!ok || model_type != 1 || byte_fallback) return nullptr;
  auto t = std::make_unique<UnigramTable>();
  float min_score = FLT_MAX, max_score = FLT_MIN;
  for (const auto& p : pieces) {
    if (p.type == 6) return nullptr;  // byte pieces: leave the model to libsentencepiece
    if (p.type == 1) {
      min_score = std::min(min_score, p.score);
      max_score = std::max(max_score, p.score);
    }
  }
  t->names.reserve(pieces.size());
  for (const auto& p : pieces) t->names.push_back(p.text);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const auto& p = pieces[i];
    if (p.type != 1 && p.type != 4) continue;  // NORMAL and USER_DEFINED are matched; UNUSED, controls never
    float score = p.type == 4 ? static_cast<float>(static_cast<double>(p.text.size()) * max_score - 0.1) : p.score;
    t->index.emplace(std::string_view(t->names[i]), std::pair<int, float>{static_cast<int>(i), score});
    t->max_len = std::max(t->max_len, p.text.size());
  }
  t->unk_score = min_score - 10.0f;
  t->unk_id = unk_id;
  return t;
}

struct Segment {
  std::size_t begin, end;  // bytes of the normalized text
  int id;
};

// Best path over `n`; consecutive unknown characters are one piece, as libsentencepiece returns them.
std::vector<Segment> viterbi_float(const UnigramTable& t, std::string_view n) {
  struct Best {
    float score = 0;
    long start = -1;
    int id = 0;
  };
  std::vector<Best> best(n.size() + 1);
  std::size_t pos = 0;
  while (pos < n.size()) {
    const float till = best[pos].score;
    std::size_t mblen = 0;
    (void)decode_at(n, pos, &mblen);
    mblen = std::min(std::max<std::size_t>(mblen, 1), n.size() - pos);
    bool single = false;
    auto offer = [&](std::size_t end, float score, int id) {
      float cand = score + till;
      Best& b = best[end];
      if (b.start == -1 || cand > b.score) b = {cand, static_cast<long>(pos), id};
    };
    for (std::size_t len = 1; len <= t.max_len && pos + len <= n.size(); ++len) {
      auto it = t.index.find(n.substr(pos, len));
      if (it == t.index.end()) continue;
      offer(pos + len, it->second.second, it->second.first);
      if (len == mblen) single = true;
    }
    if (!single) offer(pos + mblen, t.unk_score, t.unk_id);
    pos += mblen;
  }
  std::vector<Segment> out;
  for (std::size_t end = n.size(); end > 0;) {
    const Best& b = best[end];
    auto start = static_cast<std::size_t>(b.start);
    if (!out.empty() && b.id == t.unk_id && out.back().id == t.unk_id) {
      out.back().begin = start;
    } else {
      out.push_back({start, end, b.id});
    }
    end = start;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

struct SpmModel : Model {
  std::shared_ptr<sentencepiece::SentencePieceProcessor> sp;
  Spm flavor = Spm::T5;
  bool lower = false, keep_accents = false;
  // fairseq ids (XLM-R, CamemBERT): `fixed` tokens take ids 0.., spm piece k > 0 is k + offset, spm's
  // <unk> (piece 0) is `unk`, <mask> (when not a piece) follows the pieces.
  int64_t offset = 0, unk = 0, mask_id = -1;
  std::vector<std::string> fixed;
  std::string mask;
  // The normalizer and pre-tokenizer of the fast tokenizer transformers converts from this model
  // (convert_slow_tokenizer.py): offsets are taken from them (see align_offsets).
  std::unique_ptr<Normalizer> fast_normalizer;
  std::unique_ptr<PreTokenizer> fast_pre_tokenizer;
  std::unique_ptr<Normalizer> fast_normalizer_no_strip;
  bool fast_offsets = false;

  int64_t map_id(int spm_id) const {
    if (offset == 0) return spm_id;
    return spm_id == 0 ? unk : spm_id + offset;
  }

  // AlbertTokenizer/XLNetTokenizer.preprocess_text: collapse whitespace, `` and '' -> ", NFKD without
  // combining marks, lowercase.
  std::string preprocess(std::string_view in) const {
    std::string s;
    std::vector<char32_t> cs = to_chars(in);
    bool pending = false;
    for (char32_t c : cs) {
      if (py_isspace(c)) {
        pending = !s.empty();
        continue;
      }
      if (pending) s += ' ';
      pending = false;
      append_utf8(s, c);
    }
    for (const char* q : {"``", "''"}) {
      for (std::size_t p = s.find(q); p != std::string::npos; p = s.find(q, p + 1)) s.replace(p, 2, "\"");
    }
    std::string out;
    std::vector<char32_t> d;
    for (char32_t c : to_chars(s)) {
      d.clear();
      if (!keep_accents) {
        decompose(c, true, d);
      } else {
        d.push_back(c);
      }
      for (char32_t x : d) {
        if (!keep_accents && combining_class(x) != 0) continue;
        if (lower) {
          std::vector<char32_t> l;
          to_lower(x, l);
          for (char32_t y : l) append_utf8(out, y);
        } else {
          append_utf8(out, x);
        }
      }
    }
    return out;
  }

  std::unique_ptr<UnigramTable> unigram;  // re-decides Viterbi ties as sentencepiece 0.2 (see UnigramTable)

  std::vector<Token> encode_pieces(const std::string& text) const {
    auto spt = sp->EncodeAsImmutableProto(text);
    std::vector<Token> out;
    std::string normalized;
    for (const auto& p : spt.pieces()) {
      out.push_back({static_cast<int64_t>(p.id()), p.piece(), {p.begin(), p.end()}});
      normalized += p.piece();
    }
    if (unigram && !normalized.empty()) {
      auto segs = viterbi_float(*unigram, normalized);
      bool same = segs.size() == out.size();
      for (std::size_t i = 0, at = 0; same && i < segs.size(); at += out[i].value.size(), ++i)
        same = segs[i].begin == at && segs[i].end == at + out[i].value.size();
      if (!same) {
        // original byte offsets of normalized positions, from libsentencepiece's pieces (1:1 inside a piece
        // whose normalized and original lengths agree, else its start)
        auto orig = [&](std::size_t p) {
          std::size_t at = 0;
          for (const auto& t : out) {
            std::size_t len = t.value.size();
            if (p == at) return t.offsets.first;
            if (p < at + len) return t.offsets.second - t.offsets.first == len ? t.offsets.first + (p - at) : t.offsets.first;
            at += len;
          }
          return out.back().offsets.second;
        };
        std::vector<Token> redone;
        for (const auto& g : segs)
          redone.push_back({g.id, normalized.substr(g.begin, g.end - g.begin), {orig(g.begin), orig(g.end)}});
        out = std::move(redone);
      }
    }
    for (auto& t : out) t.id = map_id(static_cast<int>(t.id));
    return out;
  }

  std::vector<Token> slow_tokens(std::string_view s) const {
    if (flavor != Spm::Albert && flavor != Spm::XLNet) return encode_pieces(std::string(s));
    std::string text = preprocess(s);
    std::vector<Token> out;
    const std::string u = "\xe2\x96\x81";
    for (auto& t : encode_pieces(text)) {
      t.offsets = {std::min(t.offsets.first, s.size()), std::min(t.offsets.second, s.size())};
      auto cs = to_chars(t.value);
      if (cs.size() > 1 && cs.back() == ',' && cs[cs.size() - 2] < 0x80 && std::isdigit(static_cast<int>(cs[cs.size() - 2]))) {
        std::string body = t.value.substr(0, t.value.size() - 1);
        for (std::size_t p = body.find(u); p != std::string::npos; p = body.find(u)) body.erase(p, u.size());
        auto cur = encode_pieces(body);
        if (t.value.rfind(u, 0) != 0 && !cur.empty() && cur[0].value.rfind(u, 0) == 0) {
          if (cur[0].value == u) {
            cur.erase(cur.begin());
          } else {
            cur[0].value = cur[0].value.substr(u.size());
            cur[0].id = map_id(sp->PieceToId(cur[0].value));
          }
        }
        for (auto& c : cur) c.offsets = t.offsets;
        out.insert(out.end(), cur.begin(), cur.end());
        out.push_back({map_id(sp->PieceToId(",")), ",", t.offsets});
        continue;
      }
      out.push_back(std::move(t));
    }
    return out;
  }

  // Slow tokenizers have no offsets; the reference is the fast tokenizer converted from the same model, which is
  // what transformers returns for return_offsets_mapping. Its normalized, pre-tokenized text (with the alignment
  // to the input) is computed here; when the slow pieces spell it out exactly (the same tokens as the fast
  // tokenizer would give), each piece takes the original range of its span. Otherwise (the slow and fast
  // tokenizers split differently) sentencepiece's own offsets stay: exact for T5/Llama-style models, into the
  // preprocessed text for ALBERT/XLNet.
  bool align_offsets(std::string_view s, std::vector<Token>& toks, const Normalizer* norm) const {
    std::vector<NormalizedString> pieces{NormalizedString::from(s)};
    if (norm) norm->normalize(pieces[0]);
    if (fast_pre_tokenizer) fast_pre_tokenizer->pre_tokenize(pieces);
    std::string n;
    std::vector<Offsets> al;
    for (const auto& p : pieces) {
      n += p.s;
      al.insert(al.end(), p.align.begin(), p.align.end());
    }
    if (al.size() != n.size()) return false;
    std::vector<Offsets> got;
    std::size_t pos = 0;
    const int64_t unk_id = map_id(sp->unk_id());
    for (std::size_t i = 0; i < toks.size(); ++i) {
      const auto& t = toks[i];
      std::size_t end = pos + t.value.size();
      if (t.id == unk_id && pos < n.size()) {
        // Unknown characters are fused into one piece by both, but the two normalizations may keep different
        // characters of the run (trailing whitespace, combining marks): it reaches the next piece.
        if (i + 1 == toks.size()) {
          end = n.size();
        } else {
          const std::string& next = toks[i + 1].value;
          end = pos + 1;
          while (end < n.size() && ((static_cast<unsigned char>(n[end]) & 0xC0) == 0x80 || n.compare(end, next.size(), next) != 0))
            ++end;
          if (end >= n.size()) return false;
        }
      } else if (t.value.size() == 6 && t.value.rfind("<0x", 0) == 0 && t.id - offset >= 0 &&
                 t.id - offset < sp->GetPieceSize() && sp->IsByte(static_cast<int>(t.id - offset))) {
        // byte fallback (<0xE6>): one byte of the text; the fast tokenizer gives it its whole character's range
        if (pos >= n.size() || static_cast<unsigned char>(n[pos]) != std::stoul(t.value.substr(3, 2), nullptr, 16)) return false;
        std::size_t a = pos, b = pos + 1;
        while (a > 0 && (static_cast<unsigned char>(n[a]) & 0xC0) == 0x80) --a;
        while (b < n.size() && (static_cast<unsigned char>(n[b]) & 0xC0) == 0x80) ++b;
        got.push_back({al[a].first, al[b - 1].second});
        pos = end = pos + 1;
        continue;
      } else if (t.value.empty() || n.compare(pos, t.value.size(), t.value) != 0) {
        return false;
      }
      got.push_back({al[pos].first, al[end - 1].second});
      pos = end;
    }
    if (pos != n.size()) return false;
    for (std::size_t i = 0; i < toks.size(); ++i) toks[i].offsets = got[i];
    return true;
  }

  std::vector<Token> tokenize(std::string_view s) const override {
    auto out = slow_tokens(s);
    // The fast tokenizer normalizes the whole text, so its Strip(right) only strips at the end of the text, while
    // this piece may end before a special token: without the Strip when the slow pieces keep the trailing space.
    if (fast_offsets && !align_offsets(s, out, fast_normalizer.get()) && fast_normalizer_no_strip)
      align_offsets(s, out, fast_normalizer_no_strip.get());
    return out;
  }
  std::optional<int64_t> token_to_id(std::string_view t) const override {
    for (std::size_t i = 0; i < fixed.size(); ++i)
      if (fixed[i] == t) return static_cast<int64_t>(i);
    if (mask_id >= 0 && t == mask) return mask_id;
    int id = sp->PieceToId(std::string(t));
    if (id == sp->unk_id() && sp->IdToPiece(id) != t) return std::nullopt;
    return map_id(id);
  }
  std::optional<std::string> id_to_token(int64_t id) const override {
    if (id >= 0 && static_cast<std::size_t>(id) < fixed.size()) return fixed[static_cast<std::size_t>(id)];
    if (mask_id >= 0 && id == mask_id) return mask;
    int64_t k = id - offset;
    if (k < 0 || k >= sp->GetPieceSize()) return std::nullopt;
    return sp->IdToPiece(static_cast<int>(k));
  }
  int64_t vocab_size() const override { return sp->GetPieceSize() + offset + (mask_id >= sp->GetPieceSize() + offset ? 1 : 0); }
};

// T5Tokenizer._add_eos_if_not_present: no second </s> when the text already ends with one.
struct T5Proc : PostProcessor {
  std::unique_ptr<PostProcessor> inner;
  int64_t eos = 1;
  int64_t added_tokens(bool is_pair) const override { return inner->added_tokens(is_pair); }
  std::vector<Encoding> process(std::vector<Encoding> encs, bool add_special) const override {
    std::vector<bool> ends(encs.size());
    for (std::size_t i = 0; i < encs.size(); ++i) ends[i] = !encs[i].ids.empty() && encs[i].ids.back() == eos;
    auto out = inner->process(std::move(encs), add_special);
    // pieces are [A, eos] or [A, eos, B, eos]: drop the eos after a sequence that ends with one
    std::vector<Encoding> kept;
    std::size_t seq = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      bool special = !out[i].sequence_ids.empty() && out[i].sequence_ids[0] == -1;
      if (special && i > 0 && seq > 0 && ends[seq - 1] && add_special) continue;
      if (!special) ++seq;
      kept.push_back(std::move(out[i]));
    }
    return kept;
  }
};

// The slow tokenizers' decode (transformers 4.46 PreTrainedTokenizer._decode with each class's
// convert_tokens_to_string); Tokenizer::decode has already dropped special tokens when asked to. All added tokens
// of these tokenizers are special, so the base _decode hands the whole token list to convert_tokens_to_string.
struct SpmDecoder : Decoder {
  std::shared_ptr<sentencepiece::SentencePieceProcessor> sp;
  Spm flavor = Spm::T5;
  std::vector<std::string> specials;  // all_special_tokens
  bool add_prefix_space = true, legacy = true, clean_up = false;

  bool special(const std::string& t) const { return std::find(specials.begin(), specials.end(), t) != specials.end(); }
  std::string sp_decode(const std::vector<std::string>& pieces) const {
    std::string s;
    if (!pieces.empty()) (void)sp->Decode(pieces, &s);
    return s;
  }
  static std::string join_pieces(const std::vector<std::string>& tokens) {  // "".join(...).replace("▁", " ")
    std::string s;
    for (const auto& t : tokens) s += t;
    const std::string u = "\xe2\x96\x81";
    for (std::size_t p = s.find(u); p != std::string::npos; p = s.find(u, p + 1)) s.replace(p, u.size(), " ");
    return s;
  }
  // T5Tokenizer / AlbertTokenizer / CamembertTokenizer / LlamaTokenizer.convert_tokens_to_string.
  std::string special_aware(std::vector<std::string> tokens) const {
    const std::string u = "\xe2\x96\x81";
    bool llama = flavor == Spm::Llama;
    if ((flavor == Spm::T5 || llama) && add_prefix_space && tokens[0].rfind(u, 0) == 0) tokens[0] = tokens[0].substr(u.size());
    std::vector<std::string> cur;
    std::string out;
    bool prev_special = false;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (special(tokens[i])) {
        if (!prev_special && (!llama || (i != 0 && legacy))) out += ' ';
        out += sp_decode(cur) + tokens[i];
        prev_special = true;
        cur.clear();
      } else {
        if (llama && prev_special && i == 1 && add_prefix_space && tokens[i].rfind(u, 0) != 0) out += ' ';
        cur.push_back(tokens[i]);
        prev_special = false;
      }
    }
    out += sp_decode(cur);
    return llama ? out : py_strip(out);
  }
  static std::string clean_up_tokenization(std::string s) {
    for (const auto& [from, to] : {std::pair<std::string, std::string>{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","},
                                   {" ' ", "'"}, {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}}) {
      for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
    }
    return s;
  }
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string text;
    if (tokens.empty()) {
    } else if (flavor == Spm::XLNet) {
      // XLNetTokenizer._decode: added tokens apart, the runs between them joined, no spaces around them
      std::vector<std::string> run;
      auto flush = [&] {
        if (!run.empty()) text += py_strip(join_pieces(run));
        run.clear();
      };
      for (auto& t : tokens) {
        if (special(t)) {
          flush();
          text += t;
        } else {
          run.push_back(t);
        }
      }
      flush();
    } else if (flavor == Spm::XLMRoberta) {
      text = py_strip(join_pieces(tokens));
    } else {
      text = special_aware(std::move(tokens));
    }
    if (clean_up) text = clean_up_tokenization(std::move(text));
    return {text};
  }
};

json fast_normalizer(Spm flavor, const NormSpec& spec, bool lower, bool keep_accents) {
  json list = json::array();
  json precompiled = {{"type", "Precompiled"}, {"precompiled_charsmap", base64_encode(spec.charsmap)}};
  auto replace = [](json pattern, const std::string& content) {
    return json{{"type", "Replace"}, {"pattern", pattern}, {"content", content}};
  };
  if (flavor == Spm::Albert || flavor == Spm::XLNet) {  // AlbertConverter / XLNetConverter
    list.push_back(replace({{"String", "``"}}, "\""));
    list.push_back(replace({{"String", "''"}}, "\""));
    if (!keep_accents) {
      list.push_back({{"type", "NFKD"}});
      list.push_back({{"type", "StripAccents"}});
    }
    if (lower) list.push_back({{"type", "Lowercase"}});
    if (!spec.charsmap.empty()) list.push_back(precompiled);
    list.push_back(replace({{"Regex", " {2,}"}}, " "));
  } else {  // SpmConverter (T5, XLM-R, CamemBERT)
    if (!spec.charsmap.empty()) list.push_back(precompiled);
    list.push_back({{"type", "Strip"}, {"strip_left", false}, {"strip_right", true}});
    list.push_back(replace({{"Regex", " {2,}"}}, "\xe2\x96\x81"));
  }
  return {{"type", "Sequence"}, {"normalizers", list}};
}

// ---- the flavour table ----
// One row per slow sentencepiece tokenizer of transformers 4.46 (models/<name>/tokenization_<name>.py):
// how tokenizer_class names it, its id layout, its preprocess_text defaults, its special tokens in the
// order the slow tokenizer registers them, and the template its build_inputs_with_special_tokens /
// create_token_type_ids_from_sequences follow. What no row can say (CamemBERT's extra special tokens,
// Llama's normalizer, T5's eos rule) is code below, keyed by the flavour.

// A token spelled by the config (cfg.special(key, dflt)), or the literal `dflt` when `key` is null.
struct Spelled {
  const char* key;
  const char* dflt;
  std::optional<std::string> in(const TokenizerConfig& cfg) const {
    return key ? cfg.special(key, dflt) : std::optional<std::string>(dflt);
  }
};
struct SpecialSlot {
  const char* key;
  const char* dflt;
  bool lstrip = false;  // mask tokens strip the space on their left (AddedToken(lstrip=True))
};
enum class MaskId { None, AfterPieces, AfterPiecesUnlessAPiece };
struct Flavour {
  Spm spm = Spm::T5;
  std::vector<const char*> class_names = {};  // substrings of tokenizer_class ("" matches an empty one)
  // fairseq ids (XLM-R, CamemBERT): `fixed` take ids 0.., piece k > 0 is k + offset, piece 0 is `unk`.
  int64_t offset = 0, unk = 0;
  std::vector<Spelled> fixed = {};
  Spelled mask{nullptr, nullptr};
  MaskId mask_id = MaskId::None;
  std::optional<bool> do_lower_case = std::nullopt;  // preprocess_text (ALBERT, XLNet): the default of do_lower_case
  std::vector<SpecialSlot> specials = {};
  // Templates: "$A:0", "$B:1" and special tokens by config key with their type id; "key?" only when
  // the config's add_<key> flag (default in add_defaults) is set.
  const char* single = nullptr;
  const char* pair = nullptr;
  std::vector<std::pair<const char*, bool>> add_defaults = {};
};

const std::vector<SpecialSlot> kFairseqSpecials = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"},
                                                   {"sep_token", "</s>"}, {"cls_token", "<s>"},  {"pad_token", "<pad>"},
                                                   {"mask_token", "<mask>", true}};
// <s> A </s> and <s> A </s></s> B </s>, all type ids 0
constexpr const char* kFairseqSingle = "cls_token:0 $A:0 sep_token:0";
constexpr const char* kFairseqPair = "cls_token:0 $A:0 sep_token:0 sep_token:0 $B:0 sep_token:0";

const std::vector<Flavour>& flavours() {
  static const std::vector<Flavour> rows = {
      {.spm = Spm::XLMRoberta,  // fairseq_tokens_to_ids, fairseq_offset 1, <mask> after the pieces
       .class_names = {"XLMRoberta"},
       .offset = 1,
       .unk = 3,
       .fixed = {{nullptr, "<s>"}, {nullptr, "<pad>"}, {nullptr, "</s>"}, {nullptr, "<unk>"}},
       .mask = {nullptr, "<mask>"},
       .mask_id = MaskId::AfterPieces,
       .specials = kFairseqSpecials,
       .single = kFairseqSingle,
       .pair = kFairseqPair},
      {.spm = Spm::Camembert,  // added tokens 0-4, fairseq_offset 4; a <mask> that is no piece follows them
       .class_names = {"Camembert"},
       .offset = 4,
       .unk = 3,
       .fixed = {{nullptr, "<s>NOTUSED"}, {"pad_token", "<pad>"}, {nullptr, "</s>NOTUSED"}, {"unk_token", "<unk>"},
                 {nullptr, "<unk>NOTUSED"}},
       .mask = {"mask_token", "<mask>"},
       .mask_id = MaskId::AfterPiecesUnlessAPiece,
       .specials = kFairseqSpecials,
       .single = kFairseqSingle,
       .pair = kFairseqPair},
      {.spm = Spm::T5,
       .class_names = {"T5"},
       .specials = {{"eos_token", "</s>"}, {"unk_token", "<unk>"}, {"pad_token", "<pad>"}},
       .single = "$A:0 eos_token:0",
       .pair = "$A:0 eos_token:0 $B:0 eos_token:0"},
      {.spm = Spm::Albert,
       .class_names = {"Albert"},
       .do_lower_case = true,
       .specials = {{"cls_token", "[CLS]"}, {"sep_token", "[SEP]"}, {"unk_token", "<unk>"}, {"pad_token", "<pad>"},
                    {"mask_token", "[MASK]", true}},
       .single = "cls_token:0 $A:0 sep_token:0",
       .pair = "cls_token:0 $A:0 sep_token:0 $B:1 sep_token:1"},
      {.spm = Spm::XLNet,
       .class_names = {"XLNet"},
       .do_lower_case = false,
       .specials = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}, {"sep_token", "<sep>"},
                    {"pad_token", "<pad>"}, {"cls_token", "<cls>"}, {"mask_token", "<mask>", true}},
       .single = "$A:0 sep_token:0 cls_token:2",
       .pair = "$A:0 sep_token:0 $B:1 sep_token:1 cls_token:2"},
      {.spm = Spm::Llama,
       .class_names = {"", "Llama"},
       .specials = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}},
       .single = "bos_token?:0 $A:0 eos_token?:0",
       .pair = "bos_token?:0 $A:0 eos_token?:0 bos_token?:1 $B:1 eos_token?:1",
       .add_defaults = {{"add_bos_token", true}, {"add_eos_token", false}}},
  };
  return rows;
}

const Flavour* find_flavour(const std::string& cls_name) {
  for (const Flavour& f : flavours())
    for (const char* n : f.class_names)
      if (*n ? cls_name.find(n) != std::string::npos : cls_name.empty()) return &f;
  return nullptr;
}

// A row's template as TemplateProcessing pieces; the special tokens it names go to `names`.
json template_pieces(const Flavour& f, const char* spec, const TokenizerConfig& cfg, std::vector<std::string>& names,
                    const std::string& file) {
  json out = json::array();
  std::string s(spec);
  for (std::size_t b = 0; b < s.size();) {
    std::size_t e = s.find(' ', b);
    if (e == std::string::npos) e = s.size();
    const std::string item = s.substr(b, e - b);
    b = e + 1;
    const std::size_t colon = item.rfind(':');
    std::string name = item.substr(0, colon);
    const int64_t type_id = std::stoll(item.substr(colon + 1));
    if (name == "$A" || name == "$B") {
      out.push_back(piece_seq(name == "$A" ? "A" : "B", type_id));
      continue;
    }
    if (name.back() == '?') {
      name.pop_back();
      const std::string flag = "add_" + name;
      bool dflt = false;
      for (const auto& [k, v] : f.add_defaults)
        if (flag == k) dflt = v;
      if (!cfg.flag(flag.c_str(), dflt)) continue;
    }
    const char* dflt = nullptr;
    for (const SpecialSlot& slot : f.specials)
      if (name == slot.key) dflt = slot.dflt;
    const std::optional<std::string> spelled = cfg.special(name.c_str(), dflt);
    if (!spelled) throw_error(ErrorKind::Format, name + " is null but the tokenizer's template needs it", file);
    const std::string& token = *spelled;
    out.push_back(piece_special(token, type_id));
    if (std::find(names.begin(), names.end(), token) == names.end()) names.push_back(token);
  }
  return out;
}

}  // namespace

Tokenizer from_sentencepiece(const fs::path& file, const TokenizerConfig& cfg) {
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec) throw_error(ErrorKind::NotFound, "cannot read file", file.string());
  if (size > kMaxVocabFile) throw_error(ErrorKind::Format, "sentencepiece model is larger than 1 GiB", file.string());
  auto sp = std::make_shared<sentencepiece::SentencePieceProcessor>();
  auto st = sp->LoadFromSerializedProto(read_regular_file(file.string(), kMaxVocabFile));  // no blocking open of a FIFO
  if (!st.ok()) throw_error(ErrorKind::Format, "not a sentencepiece model: " + st.ToString(), file.string());
  const std::string cls_name = cfg.str("tokenizer_class");
  const Flavour* row = find_flavour(cls_name);
  if (!row)
    throw_error(ErrorKind::Unsupported, "sentencepiece tokenizer class '" + cls_name + "' is not supported", file.string());
  const Flavour& f = *row;
  const Spm flavor = f.spm;
  auto impl = std::make_shared<Tokenizer::Impl>();
  auto model = std::make_unique<SpmModel>();
  model->sp = sp;
  model->flavor = flavor;
  model->offset = f.offset;
  model->unk = f.unk;
  for (const Spelled& t : f.fixed) model->fixed.push_back(*t.in(cfg));
  if (f.mask_id != MaskId::None) {
    model->mask = *f.mask.in(cfg);
    const int m = sp->PieceToId(model->mask);
    const bool is_piece = !(m == sp->unk_id() && sp->IdToPiece(m) != model->mask);
    if (f.mask_id == MaskId::AfterPieces || !is_piece) model->mask_id = sp->GetPieceSize() + f.offset;
  }
  if (f.do_lower_case) {
    model->lower = cfg.flag("do_lower_case", *f.do_lower_case);
    model->keep_accents = cfg.flag("keep_accents", false);
  }
  model->unigram = read_unigram_table(sp->serialized_model_proto(), sp->unk_id());
  if (flavor == Spm::Llama) {  // LlamaConverter: legacy, Prepend + Replace; else Metaspace(first) alone
    bool prefix = cfg.flag("add_prefix_space", true);
    const std::string u = "\xe2\x96\x81";
    if (cfg.flag("legacy", true)) {
      json list = json::array();
      if (prefix) list.push_back({{"type", "Prepend"}, {"prepend", u}});
      list.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", u}});
      model->fast_normalizer = make_normalizer({{"type", "Sequence"}, {"normalizers", list}});
    } else {
      model->fast_pre_tokenizer = make_pre_tokenizer({{"type", "Metaspace"}, {"replacement", u},
                                                      {"prepend_scheme", prefix ? "first" : "never"}, {"split", false}});
    }
    model->fast_offsets = true;
  } else {
    auto spec = read_norm_spec(sp->serialized_model_proto());
    if (spec) {
      json norm = fast_normalizer(flavor, *spec, model->lower, model->keep_accents);
      model->fast_normalizer = make_normalizer(norm);
      auto& list = norm["normalizers"];
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (list[i]["type"] != "Strip") continue;
        list.erase(i);
        model->fast_normalizer_no_strip = make_normalizer(norm);
        break;
      }
      model->fast_pre_tokenizer = make_pre_tokenizer({{"type", "Metaspace"}, {"replacement", "\xe2\x96\x81"},
                                                      {"prepend_scheme", spec->add_dummy_prefix ? "always" : "never"},
                                                      {"split", true}});
      model->fast_offsets = true;
    }
  }
  auto id_of = [&](const std::string& t) -> int64_t {
    auto id = model->token_to_id(t);
    if (!id) throw_error(ErrorKind::Format, "special token '" + t + "' is not in the sentencepiece model", file.string());
    return *id;
  };
  // Special tokens: the slow tokenizer splits the text on them first (mask tokens strip spaces on the left).
  std::vector<AddedToken> specials;
  auto add = [&](const char* key, const char* dflt, bool lstrip) {
    auto t = cfg.special(key, dflt);
    if (!t) return;
    auto id = model->token_to_id(*t);
    if (!id) return;
    for (const auto& o : specials)
      if (o.content == *t) return;
    AddedToken a;
    a.content = *t;
    a.id = *id;
    a.special = true;
    a.normalized = false;
    a.lstrip = lstrip;
    specials.push_back(a);
  };
  json post;
  auto tmpl = [&](json single, json pair, std::vector<std::string> names) {
    json sp_tokens = json::object();
    for (const auto& n : names) sp_tokens[n] = {{"id", n}, {"ids", {id_of(n)}}, {"tokens", {n}}};
    post = {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", sp_tokens}};
  };
  for (const SpecialSlot& s : f.specials) add(s.key, s.dflt, s.lstrip);
  if (flavor == Spm::Camembert) {  // CamembertTokenizer's additional_special_tokens
    std::vector<std::string> extra = {"<s>NOTUSED", "</s>NOTUSED", "<unk>NOTUSED"};
    if (cfg.j.contains("additional_special_tokens") && cfg.j["additional_special_tokens"].is_array()) {
      extra.clear();
      for (const auto& v : cfg.j["additional_special_tokens"]) {
        if (v.is_string()) extra.push_back(v.get<std::string>());
        if (v.is_object() && v.contains("content") && v["content"].is_string()) extra.push_back(v["content"].get<std::string>());
      }
    }
    for (const auto& t : extra) {
      auto id = model->token_to_id(t);
      if (!id) continue;
      AddedToken a;
      a.content = t;
      a.id = *id;
      a.special = true;
      a.normalized = false;
      specials.push_back(a);
    }
  }
  std::vector<std::string> names;
  json single = template_pieces(f, f.single, cfg, names, file.string());
  json pair = template_pieces(f, f.pair, cfg, names, file.string());
  tmpl(single, pair, names);
  impl->name = file.string();
  impl->post_processor = make_post_processor(post);
  if (flavor == Spm::T5) {
    auto t5 = std::make_unique<T5Proc>();
    t5->eos = id_of(cfg.required("eos_token", "</s>", file.string()));
    t5->inner = std::move(impl->post_processor);
    impl->post_processor = std::move(t5);
  }
  auto dec = std::make_unique<SpmDecoder>();
  dec->sp = sp;
  dec->flavor = flavor;
  for (const auto& a : specials) dec->specials.push_back(a.content);
  dec->add_prefix_space = cfg.flag("add_prefix_space", true);
  dec->legacy = cfg.flag("legacy", true);
  dec->clean_up = cfg.flag("clean_up_tokenization_spaces", false);
  impl->decoder = std::move(dec);
  impl->model = std::move(model);
  impl->add_tokens(std::move(specials));
  return Tokenizer(impl);
}

}  // namespace hfx::tok
