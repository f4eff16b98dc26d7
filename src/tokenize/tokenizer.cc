// Tokenizer: tokenizer.json loading and the encode/decode pipeline of the Rust crate (tokenizers 0.20,
// src/tokenizer/{mod.rs,added_vocabulary.rs,encoding.rs}, src/utils/{truncation,padding}.rs).
#include <algorithm>
#include <exception>
#include <filesystem>

#include "core/json.h"
#include "core/threads.h"
#include "hfx/error.h"
#include "hfx/io.h"
#include "core/safe_open.h"
#include "tokenize/internal.h"

namespace hfx {
namespace {

using tok::json;
using tok::NormalizedString;
using tok::Offsets;

constexpr std::uintmax_t kMaxTokenizerFile = std::uintmax_t{1} << 30;

bool is_word_char(char32_t c) { return tok::is_alphanumeric(c) || c == '_'; }

char32_t last_char(std::string_view s) {
  std::size_t b = s.size() - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  std::size_t len = 0;
  return tok::decode_at(s, b, &len);
}

// Byte offsets -> char offsets, as BytesToCharOffsetConverter in the crate.
struct CharConverter {
  std::vector<int64_t> char_of;  // per byte
  explicit CharConverter(std::string_view s) : char_of(s.size()) {
    int64_t ci = 0;
    for (std::size_t i = 0, len = 0; i < s.size(); i += len, ++ci) {
      tok::decode_at(s, i, &len);
      for (std::size_t k = 0; k < len; ++k) char_of[i + k] = ci;
    }
  }
  std::pair<int64_t, int64_t> convert(Offsets o) const {
    if (o.first >= char_of.size()) return {static_cast<int64_t>(o.first), static_cast<int64_t>(o.second)};
    int64_t start = char_of[o.first];
    if (o.second < char_of.size()) return {start, char_of[o.second]};
    int64_t last = o.second >= 1 && o.second - 1 < char_of.size() ? char_of[o.second - 1] : start;
    return {start, last + 1};
  }
};

struct Piece {
  NormalizedString n;
  std::optional<tok::Token> token;  // an added token, already resolved
};

}  // namespace

void Tokenizer::Impl::add_tokens(std::vector<tok::AddedToken> tokens) {
  for (auto& t : tokens) {
    if (t.content.empty()) continue;
    tok::validate_utf8(t.content, "added token");
    added_by_content[t.content] = t.id;
    added_by_id[t.id] = added.size();
    added.push_back(std::move(t));
  }
}

namespace {

// Leftmost-longest matching of added tokens (the crate uses aho-corasick LeftmostLongest), then the
// single_word / lstrip / rstrip rules of AddedVocabulary::find_matches.
std::vector<std::pair<std::optional<int64_t>, Offsets>> find_added(
    std::string_view s, const std::vector<std::pair<std::string, const tok::AddedToken*>>& pats) {
  std::vector<std::pair<std::optional<int64_t>, Offsets>> out;
  if (s.empty()) return {{std::nullopt, {0, 0}}};
  std::size_t start_offset = 0;
  std::size_t pos = 0;
  while (pos < s.size() && !pats.empty()) {
    // leftmost match start, then the longest pattern there
    const std::pair<std::string, const tok::AddedToken*>* best = nullptr;
    std::size_t at = pos;
    for (; at < s.size(); ++at) {
      for (const auto& p : pats) {
        if (s.compare(at, p.first.size(), p.first) == 0 && (!best || p.first.size() > best->first.size())) best = &p;
      }
      if (best) break;
    }
    if (!best) break;
    std::size_t start = at, stop = at + best->first.size();
    pos = stop;
    const tok::AddedToken& t = *best->second;
    if (t.single_word) {
      bool start_space = start == 0 || !is_word_char(last_char(s.substr(0, start)));
      std::size_t l = 0;
      bool stop_space = stop == s.size() || !is_word_char(tok::decode_at(s, stop, &l));
      if (!start_space || !stop_space) continue;
    }
    if (t.lstrip) {
      std::size_t ns = start;
      while (ns > 0) {
        std::size_t b = ns - 1;
        while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
        std::size_t l = 0;
        if (!tok::is_whitespace(tok::decode_at(s, b, &l))) break;
        ns = b;
      }
      start = std::max(ns, start_offset);
    }
    if (t.rstrip) {
      std::size_t l = 0;
      while (stop < s.size() && tok::is_whitespace(tok::decode_at(s, stop, &l))) stop += l;
      pos = stop;
    }
    if (start_offset < start) out.push_back({std::nullopt, {start_offset, start}});
    out.push_back({t.id, {start, stop}});
    start_offset = stop;
  }
  if (start_offset != s.size()) out.push_back({std::nullopt, {start_offset, s.size()}});
  return out;
}

void split_added(std::vector<Piece>& pieces, const NormalizedString& n,
                 const std::vector<std::pair<std::string, const tok::AddedToken*>>& pats) {
  if (pats.empty()) {
    if (!n.empty()) pieces.push_back({n, std::nullopt});
    return;
  }
  for (auto& [id, r] : find_added(n.s, pats)) {
    NormalizedString sl = n.slice(r.first, r.second);
    if (sl.empty()) continue;
    std::optional<tok::Token> t;
    if (id) t = tok::Token{*id, sl.s, {0, sl.s.size()}};
    pieces.push_back({std::move(sl), std::move(t)});
  }
}

}  // namespace

Encoding Tokenizer::Impl::encode_sequence(std::string_view text, int64_t type_id) const {
  std::vector<std::pair<std::string, const tok::AddedToken*>> raw_pats, norm_pats;
  for (const auto& t : added) {
    if (!t.normalized) {
      raw_pats.emplace_back(t.content, &t);
    } else {
      NormalizedString c = NormalizedString::from(t.content);
      if (normalizer) normalizer->normalize(c);
      if (!c.s.empty()) norm_pats.emplace_back(c.s, &t);
    }
  }
  std::vector<Piece> first, pieces;
  split_added(first, NormalizedString::from(text), raw_pats);
  for (auto& p : first) {
    if (p.token) {
      pieces.push_back(std::move(p));
      continue;
    }
    if (normalizer) normalizer->normalize(p.n);
    split_added(pieces, p.n, norm_pats);
  }
  Encoding e;
  CharConverter conv(text);
  auto emit = [&](const NormalizedString& n, const tok::Token& t) {
    auto orig = n.original_range(t.offsets.first, t.offsets.second);
    Offsets o = orig ? *orig : Offsets{n.orig_shift, n.orig_shift};
    e.ids.push_back(t.id);
    e.tokens.push_back(t.value);
    e.offsets.push_back(conv.convert(o));
  };
  for (auto& p : pieces) {
    if (p.token) {
      emit(p.n, *p.token);
      continue;
    }
    std::vector<NormalizedString> split{std::move(p.n)};
    if (pre_tokenizer) pre_tokenizer->pre_tokenize(split);
    for (const auto& s : split) {
      if (s.empty()) continue;
      for (const auto& t : model->tokenize(s.s)) emit(s, t);
    }
  }
  std::size_t n = e.ids.size();
  e.type_ids.assign(n, type_id);
  e.attention_mask.assign(n, 1);
  e.special_tokens_mask.assign(n, 0);
  e.sequence_ids.assign(n, type_id == 0 ? 0 : 1);
  return e;
}

namespace {

// Encoding::truncate of the crate: keeps max_len tokens and moves the rest into `overflowing`, in pieces of
// max_len tokens that each overlap the previous one by `stride` (from the right end for Side::Left).
void truncate_one(Encoding& e, std::size_t max_len, std::size_t stride, Side dir) {
  std::size_t len = e.ids.size();
  if (max_len >= len) return;
  if (max_len == 0) {
    Encoding whole = std::move(e);
    whole.overflowing.clear();
    e = Encoding{};
    e.overflowing.push_back(std::move(whole));
    return;
  }
  if (stride >= max_len)
    throw_error(ErrorKind::InvalidArgument,
                "truncation stride " + std::to_string(stride) + " must be smaller than the " + std::to_string(max_len) +
                    " tokens left to this sequence (max_length minus the special tokens, shared between a pair)");
  std::size_t step = max_len - stride;
  std::vector<Offsets> parts;
  if (dir == Side::Right) {
    for (std::size_t start = 0; start < len; start += step) {
      std::size_t stop = std::min(start + max_len, len);
      parts.emplace_back(start, stop);
      if (stop == len) break;
    }
  } else {
    for (std::size_t k = 0; k < len; k += step) {
      std::size_t stop = len - k;
      std::size_t start = stop < max_len ? 0 : stop - max_len;
      parts.emplace_back(start, stop);
      if (start == 0) break;
    }
  }
  auto piece = [&](Offsets r) {
    Encoding o;
    tok::for_each_field(o, e, [&](auto& dst, const auto& src) {
      dst.assign(src.begin() + static_cast<std::ptrdiff_t>(r.first), src.begin() + static_cast<std::ptrdiff_t>(r.second));
    });
    return o;
  };
  Encoding out = piece(parts[0]);
  for (std::size_t i = 1; i < parts.size(); ++i) out.overflowing.push_back(piece(parts[i]));
  e = std::move(out);
}

void truncate(Encoding& a, std::optional<Encoding>& b, const TruncationParams& p, int64_t max_length) {
  if (max_length < 0) throw_error(ErrorKind::InvalidArgument, "truncation max_length is smaller than the special tokens added");
  if (p.stride < 0) throw_error(ErrorKind::InvalidArgument, "truncation stride must not be negative");
  auto max_len = static_cast<std::size_t>(max_length);
  auto stride = static_cast<std::size_t>(p.stride);
  if (max_len == 0) {
    truncate_one(a, 0, stride, p.direction);
    if (b) truncate_one(*b, 0, stride, p.direction);
    return;
  }
  std::size_t total = a.size() + (b ? b->size() : 0);
  if (total <= max_len) return;
  std::size_t to_remove = total - max_len;
  if (p.strategy == TruncationStrategy::LongestFirst) {
    if (!b) {
      truncate_one(a, total - to_remove, stride, p.direction);
      return;
    }
    std::size_t n1 = a.size(), n2 = b->size();
    bool swap = n1 > n2;
    if (swap) std::swap(n1, n2);
    if (n1 > max_len) {
      n2 = n1;
    } else {
      n2 = std::max(n1, max_len - n1);
    }
    if (n1 + n2 > max_len) {
      n1 = max_len / 2;
      n2 = n1 + max_len % 2;
    }
    if (swap) std::swap(n1, n2);
    truncate_one(a, n1, stride, p.direction);
    truncate_one(*b, n2, stride, p.direction);
    return;
  }
  Encoding* target = &a;
  if (p.strategy == TruncationStrategy::OnlySecond) {
    if (!b) throw_error(ErrorKind::InvalidArgument, "Truncation error: Second sequence not provided");
    target = &*b;
  }
  if (target->size() > to_remove) {
    truncate_one(*target, target->size() - to_remove, stride, p.direction);
  } else {
    throw_error(ErrorKind::InvalidArgument,
                "Truncation error: Sequence to truncate too short to respect the provided max_length");
  }
}

constexpr int64_t kWholeSequence = INT64_MIN;

void pad_one(Encoding& e, std::size_t target, const PaddingParams& p) {
  for (auto& o : e.overflowing) pad_one(o, target, p);  // the crate pads the overflowing pieces first
  if (e.size() >= target) return;
  std::size_t n = target - e.size();
  auto pad = [&](auto& v, const auto& value) {
    if (p.direction == Side::Right) {
      v.insert(v.end(), n, value);
    } else {
      v.insert(v.begin(), n, value);
    }
  };
  pad(e.ids, p.pad_id);
  pad(e.type_ids, p.pad_type_id);
  pad(e.attention_mask, int64_t{0});
  pad(e.special_tokens_mask, int64_t{1});
  pad(e.tokens, p.pad_token);
  pad(e.offsets, std::pair<int64_t, int64_t>{0, 0});
  pad(e.sequence_ids, !e.sequence_ids.empty() && e.sequence_ids[0] == kWholeSequence ? kWholeSequence : int64_t{-1});
}

void pad(std::vector<Encoding>& encs, const PaddingParams& padding) {
  if (encs.empty()) return;
  std::size_t len = 0;
  if (padding.length) {
    len = static_cast<std::size_t>(std::max<int64_t>(0, *padding.length));
  } else {
    for (const auto& e : encs) len = std::max(len, e.size());
  }
  if (padding.pad_to_multiple_of > 0) {
    auto m = static_cast<std::size_t>(padding.pad_to_multiple_of);
    if (len % m) len += m - len % m;
  }
  for (auto& e : encs) pad_one(e, len, padding);
}

// Marks, until finish_sequence_ids, the tokens of an encoding that kept no sequence ranges in the crate: without a
// post-processor, a single sequence, and the overflowing pieces of a pair whose first part is a piece. The
// crate's Encoding::sequence_ids then reports sequence 0 for every token, padding included.
void whole_sequence(Encoding& e) {
  e.sequence_ids.assign(e.ids.size(), kWholeSequence);
  for (auto& o : e.overflowing) whole_sequence(o);
}

void finish_sequence_ids(Encoding& e) {
  for (auto& v : e.sequence_ids)
    if (v == kWholeSequence) v = 0;
  for (auto& o : e.overflowing) finish_sequence_ids(o);
}

}  // namespace

Encoding Tokenizer::Impl::post_process(Encoding a, std::optional<Encoding> b, bool add_special_tokens,
                                       const std::optional<TruncationParams>& truncation,
                                       const std::optional<PaddingParams>& padding) const {
  if (truncation) {
    int64_t n_added = post_processor ? post_processor->added_tokens(b.has_value()) : 0;
    int64_t max_length = truncation->max_length;
    if (add_special_tokens && n_added > 0) max_length -= n_added;
    truncate(a, b, *truncation, max_length);
  }
  const std::size_t a_pieces = a.overflowing.size(), b_pieces = b ? b->overflowing.size() : 0;
  const bool pair = b.has_value();
  std::vector<Encoding> encs;
  encs.push_back(std::move(a));
  if (b) encs.push_back(std::move(*b));
  Encoding out = tok::merge_encodings(post_processor ? post_processor->process(std::move(encs), add_special_tokens)
                                                     : std::move(encs));
  if (!post_processor && !pair) whole_sequence(out);
  if (!post_processor && pair) {
    // default_process gives the two main encodings their sequence ranges, not the pieces: a piece of the first
    // sequence combined with anything has one range or none (sequence 0 everywhere); the first sequence combined
    // with a piece of the second has only the first's range.
    std::size_t first_group = a_pieces * (1 + b_pieces);
    for (std::size_t k = 0; k < out.overflowing.size(); ++k) {
      if (k < first_group) {
        whole_sequence(out.overflowing[k]);
      } else {
        for (auto& v : out.overflowing[k].sequence_ids)
          if (v == 1) v = -1;
      }
    }
  }
  if (padding) {
    std::vector<Encoding> one{std::move(out)};
    pad(one, *padding);
    out = std::move(one[0]);
  }
  return out;
}

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl, std::optional<TruncationParams> truncation,
                     std::optional<PaddingParams> padding)
    : impl_(std::move(impl)), truncation_(std::move(truncation)), padding_(std::move(padding)) {}

namespace {

// encode() before finish_sequence_ids (the batch pads first).
Encoding encode_unfinished(const Tokenizer::Impl& impl, std::string_view text, std::optional<std::string_view> pair,
                           bool add_special_tokens, const std::optional<TruncationParams>& truncation,
                           const std::optional<PaddingParams>& padding) {
  tok::validate_utf8(text, "text");
  if (pair) tok::validate_utf8(*pair, "pair text");
  Encoding a = impl.encode_sequence(text, 0);
  std::optional<Encoding> b;
  if (pair) b = impl.encode_sequence(*pair, 1);
  return impl.post_process(std::move(a), std::move(b), add_special_tokens, truncation, padding);
}

// encode_one(i) for i < n on every core, as the crate's encode_batch runs (rayon). The pipeline is
// read-only while encoding (regexes make their own match data; sentencepiece's Encode is const), so
// the items are independent. The error of the first failing item is rethrown, as a sequential loop
// would throw it.
template <class F>
std::vector<Encoding> encode_all(std::size_t n, F encode_one) {
  hfx::detail::sync_threads();
  std::vector<Encoding> out(n);
  std::vector<std::exception_ptr> errors(n);
  const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(dynamic, 8) if (n > 1)
  for (std::ptrdiff_t i = 0; i < count; ++i) {
    try {
      out[static_cast<std::size_t>(i)] = encode_one(static_cast<std::size_t>(i));
    } catch (...) {
      errors[static_cast<std::size_t>(i)] = std::current_exception();
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

}  // namespace

Encoding Tokenizer::encode(std::string_view text, std::optional<std::string_view> pair, bool add_special_tokens) const {
  Encoding e = encode_unfinished(*impl_, text, pair, add_special_tokens, truncation_, padding_);
  finish_sequence_ids(e);
  return e;
}

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts, bool add_special_tokens) const {
  std::vector<Encoding> out = encode_all(texts.size(), [&](std::size_t i) {
    return encode_unfinished(*impl_, texts[i], std::nullopt, add_special_tokens, truncation_, padding_);
  });
  if (padding_) pad(out, *padding_);
  for (auto& e : out) finish_sequence_ids(e);
  return out;
}

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::pair<std::string, std::string>>& pairs,
                                              bool add_special_tokens) const {
  std::vector<Encoding> out = encode_all(pairs.size(), [&](std::size_t i) {
    return encode_unfinished(*impl_, pairs[i].first, std::string_view(pairs[i].second), add_special_tokens, truncation_,
                             padding_);
  });
  if (padding_) pad(out, *padding_);
  for (auto& e : out) finish_sequence_ids(e);
  return out;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  for (int64_t id : ids) {
    auto it = impl_->added_by_id.find(id);
    if (it != impl_->added_by_id.end()) {
      const auto& t = impl_->added[it->second];
      if (skip_special_tokens && t.special) continue;
      tokens.push_back(t.content);
      continue;
    }
    auto t = impl_->model->id_to_token(id);
    if (!t) continue;
    if (skip_special_tokens) {
      auto a = impl_->added_by_content.find(*t);
      if (a != impl_->added_by_content.end() && impl_->added[impl_->added_by_id.at(a->second)].special) continue;
    }
    tokens.push_back(std::move(*t));
  }
  if (impl_->decoder) {
    std::string s;
    for (const auto& t : impl_->decoder->decode_chain(std::move(tokens))) s += t;
    return s;
  }
  std::string s;
  for (std::size_t i = 0; i < tokens.size(); ++i) s += (i ? " " : "") + tokens[i];
  return s;
}

std::optional<int64_t> Tokenizer::token_to_id(std::string_view token) const {
  auto it = impl_->added_by_content.find(std::string(token));
  if (it != impl_->added_by_content.end()) return it->second;
  return impl_->model->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int64_t id) const {
  auto it = impl_->added_by_id.find(id);
  if (it != impl_->added_by_id.end()) return impl_->added[it->second].content;
  return impl_->model->id_to_token(id);
}

int64_t Tokenizer::vocab_size() const {
  int64_t n = impl_->model->vocab_size();
  for (const auto& t : impl_->added)
    if (!impl_->model->token_to_id(t.content)) ++n;
  return n;
}

void Tokenizer::set_truncation(std::optional<TruncationParams> t) {
  if (t) {
    if (t->max_length < 0) throw_error(ErrorKind::InvalidArgument, "truncation max_length must not be negative");
    if (t->stride < 0) throw_error(ErrorKind::InvalidArgument, "truncation stride must not be negative");
    // TokenizerImpl::with_truncation: the stride must fit what a single sequence keeps beside its special tokens.
    int64_t effective = std::max<int64_t>(0, t->max_length - num_special_tokens_to_add(false));
    if (effective < t->stride)
      throw_error(ErrorKind::InvalidArgument, "truncation stride " + std::to_string(t->stride) +
                                                  " is larger than the effective max length " + std::to_string(effective) +
                                                  " (max_length " + std::to_string(t->max_length) + " minus " +
                                                  std::to_string(num_special_tokens_to_add(false)) + " special tokens)");
  }
  truncation_ = std::move(t);
}
void Tokenizer::set_padding(std::optional<PaddingParams> p) { padding_ = std::move(p); }
const std::optional<TruncationParams>& Tokenizer::truncation() const { return truncation_; }
const std::optional<PaddingParams>& Tokenizer::padding() const { return padding_; }
int64_t Tokenizer::num_special_tokens_to_add(bool pair) const {
  return impl_->post_processor ? impl_->post_processor->added_tokens(pair) : 0;
}

namespace {

Side parse_side(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return Side::Right;
  if (!j[key].is_string()) throw_error(ErrorKind::Format, std::string(key) + " must be Left or Right");
  auto s = j[key].get<std::string>();
  if (s == "Right") return Side::Right;
  if (s == "Left") return Side::Left;
  throw_error(ErrorKind::Format, std::string(key) + " must be Left or Right, not '" + s + "'");
}

// The ids added tokens get, as tokenizers 0.20 gives them (TokenizerImpl's Deserialize in
// serialization.rs, then AddedVocabulary::add_tokens): the "id" written in tokenizer.json is checked
// to be a u32 and otherwise only compared with the id the token receives (the crate logs a warning
// when they differ). A token already added or in the model's vocabulary keeps that id; any other
// gets vocab_size, or one past the largest id added so far once that reaches vocab_size. So an id
// beyond the vocabulary (100 with a 3-token vocab) is never emitted as written.
void assign_added_ids(std::vector<tok::AddedToken>& tokens, const tok::Model& model) {
  std::unordered_map<std::string, int64_t> assigned;
  std::optional<int64_t> max_id;
  const int64_t vocab = model.vocab_size();
  for (auto& t : tokens) {
    if (t.content.empty()) continue;  // ignored by the crate as by add_tokens
    std::optional<int64_t> id;
    if (auto it = assigned.find(t.content); it != assigned.end()) id = it->second;
    if (!id) id = model.token_to_id(t.content);
    if (!id) id = !max_id ? vocab : (*max_id >= vocab || vocab == 0) ? *max_id + 1 : vocab;
    t.id = *id;
    assigned[t.content] = *id;
    max_id = std::max(max_id.value_or(*id), *id);
  }
}

}  // namespace

Tokenizer Tokenizer::from_json(std::string_view text, const std::string& name) {
  json j;
  try {
    j = parse_json(text, name, {.max_bytes = kMaxTokenizerFile});
  } catch (const Error& e) {
    throw_error(ErrorKind::Format, "not valid JSON: " + e.message(), name);
  }
  try {
    if (!j.is_object()) throw_error(ErrorKind::Format, "tokenizer.json must be an object");
    auto impl = std::make_shared<Impl>();
    std::optional<TruncationParams> truncation;
    std::optional<PaddingParams> padding;
    impl->name = name;
    impl->model = tok::make_model(tok::need(j, "model", "tokenizer.json"));
    impl->normalizer = tok::make_normalizer(j.value("normalizer", json()));
    impl->pre_tokenizer = tok::make_pre_tokenizer(j.value("pre_tokenizer", json()));
    impl->post_processor = tok::make_post_processor(j.value("post_processor", json()));
    impl->decoder = tok::make_decoder(j.value("decoder", json()));
    std::vector<tok::AddedToken> added;
    if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
      if (!j["added_tokens"].is_array()) throw_error(ErrorKind::Format, "added_tokens must be a list");
      for (const auto& a : j["added_tokens"]) {
        tok::AddedToken t;
        try {
          t.content = tok::need(a, "content", "added token").get<std::string>();
          t.id = tok::token_id(tok::need(a, "id", "added token"), ("added token '" + t.content + "' id").c_str());
          t.special = a.value("special", false);
          t.single_word = a.value("single_word", false);
          t.lstrip = a.value("lstrip", false);
          t.rstrip = a.value("rstrip", false);
          t.normalized = a.value("normalized", !t.special);
        } catch (const json::exception&) {
          throw_error(ErrorKind::Format, "added token has a field of the wrong type");
        }
        added.push_back(std::move(t));
      }
    }
    assign_added_ids(added, *impl->model);
    impl->add_tokens(std::move(added));
    if (j.contains("truncation") && !j["truncation"].is_null()) {
      const json& t = j["truncation"];
      TruncationParams p;
      p.max_length = tok::integer_or(t, "max_length", 512, "truncation.max_length");
      p.stride = tok::integer_or(t, "stride", 0, "truncation.stride");
      if (p.max_length < 0 || p.stride < 0)
        throw_error(ErrorKind::Format, "truncation.max_length and truncation.stride must not be negative");
      std::string s = t.value("strategy", std::string("LongestFirst"));
      p.strategy = s == "OnlyFirst" ? TruncationStrategy::OnlyFirst
                   : s == "OnlySecond" ? TruncationStrategy::OnlySecond
                                       : TruncationStrategy::LongestFirst;
      p.direction = parse_side(t, "direction");
      truncation = p;
    }
    if (j.contains("padding") && !j["padding"].is_null()) {
      const json& t = j["padding"];
      PaddingParams p;
      if (t.contains("strategy") && t["strategy"].is_object() && t["strategy"].contains("Fixed"))
        p.length = tok::integer(t["strategy"]["Fixed"], "padding.strategy.Fixed");
      p.direction = parse_side(t, "direction");
      if (t.contains("pad_to_multiple_of") && t["pad_to_multiple_of"].is_number_integer())
        p.pad_to_multiple_of = tok::integer(t["pad_to_multiple_of"], "padding.pad_to_multiple_of");
      if (t.contains("pad_id") && !t["pad_id"].is_null()) p.pad_id = tok::token_id(t["pad_id"], "padding.pad_id");
      if (t.contains("pad_type_id") && !t["pad_type_id"].is_null())
        p.pad_type_id = tok::token_id(t["pad_type_id"], "padding.pad_type_id");
      p.pad_token = t.value("pad_token", std::string("[PAD]"));
      padding = p;
    }
    return Tokenizer(impl, truncation, padding);
  } catch (const json::exception& e) {
    throw_error(ErrorKind::Format, std::string("unexpected structure: ") + e.what(), name);
  } catch (const Error& e) {
    if (!e.file().empty()) throw;
    throw_error(e.kind(), e.message(), name);
  }
}

namespace tok {
std::string read_limited(const std::string& path) {
  return read_regular_file(path, kMaxTokenizerFile);  // refuses a FIFO or device before reading (core/safe_open.h)
}
}  // namespace tok

std::vector<Encoding> flatten_overflowing(const std::vector<Encoding>& encodings, std::vector<int64_t>* sample_of) {
  std::vector<Encoding> out;
  if (sample_of) sample_of->clear();
  for (std::size_t i = 0; i < encodings.size(); ++i) {
    Encoding main = encodings[i];
    std::vector<Encoding> rest = std::move(main.overflowing);
    main.overflowing.clear();
    out.push_back(std::move(main));
    for (auto& o : rest) {
      o.overflowing.clear();
      out.push_back(std::move(o));
    }
    if (sample_of) sample_of->insert(sample_of->end(), 1 + rest.size(), static_cast<int64_t>(i));
  }
  return out;
}

Tokenizer Tokenizer::from_file(const std::string& path) { return from_json(tok::read_limited(path), path); }

}  // namespace hfx
