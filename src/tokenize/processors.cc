// Post-processors of tokenizer.json with the semantics of the Rust crate (tokenizers 0.20:
// src/processors): TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel and Sequence; and
// Encoding::merge_with (tokenizer/encoding.rs) that joins their pieces.
#include <algorithm>
#include <map>

#include "hfx/error.h"
#include "tokenize/internal.h"

namespace hfx::tok {

namespace {

// ---------------- Post-processors ----------------

Encoding special_encoding(const std::vector<int64_t>& ids, const std::vector<std::string>& tokens, int64_t type_id) {
  Encoding e;
  e.ids = ids;
  e.tokens = tokens;
  e.type_ids.assign(ids.size(), type_id);
  e.attention_mask.assign(ids.size(), 1);
  e.special_tokens_mask.assign(ids.size(), 1);
  e.offsets.assign(ids.size(), {0, 0});
  e.sequence_ids.assign(ids.size(), -1);
  return e;
}

struct Template : PostProcessor {
  struct Piece {
    bool special;
    std::string id;  // "A"/"B" or the special token name
    int64_t type_id;
  };
  std::vector<Piece> single, pair;
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<std::string>>> specials;
  int64_t count(const std::vector<Piece>& t) const {
    int64_t n = 0;
    for (const auto& p : t)
      if (p.special) n += static_cast<int64_t>(specials.at(p.id).first.size());
    return n;
  }
  int64_t added_tokens(bool is_pair) const override { return count(is_pair ? pair : single); }
  std::vector<Encoding> process(std::vector<Encoding> encs, bool add_special) const override {
    const auto& t = encs.size() > 1 ? pair : single;
    std::vector<Encoding> out;
    for (const auto& p : t) {
      if (!p.special) {
        std::size_t i = p.id == "A" ? 0 : 1;
        if (i >= encs.size()) continue;
        Encoding e = encs[i];
        e.type_ids.assign(e.ids.size(), p.type_id);
        out.push_back(std::move(e));
      } else if (add_special) {
        const auto& sp = specials.at(p.id);
        out.push_back(special_encoding(sp.first, sp.second, p.type_id));
      }
    }
    return out;
  }
};

std::vector<Template::Piece> parse_template(const json& a, const Template& t) {
  if (!a.is_array()) throw_error(ErrorKind::Format, "TemplateProcessing: template must be a list");
  std::vector<Template::Piece> out;
  for (const auto& p : a) {
    if (p.contains("SpecialToken")) {
      const auto& s = p["SpecialToken"];
      std::string id = need(s, "id", "TemplateProcessing").get<std::string>();
      if (!t.specials.count(id)) throw_error(ErrorKind::Format, "TemplateProcessing: missing special token '" + id + "'");
      out.push_back({true, id, get_or<uint32_t>(s, "type_id", 0)});
    } else if (p.contains("Sequence")) {
      const auto& s = p["Sequence"];
      std::string id = need(s, "id", "TemplateProcessing").get<std::string>();
      if (id != "A" && id != "B") throw_error(ErrorKind::Format, "TemplateProcessing: sequence id must be A or B");
      out.push_back({false, id, get_or<uint32_t>(s, "type_id", 0)});
    } else {
      throw_error(ErrorKind::Format, "TemplateProcessing: unknown piece");
    }
  }
  return out;
}

// `pre` + e + `post` (special tokens with the given type ids); e keeps its type ids unless `type_id` is set.
// The crate builds each overflowing piece the same way.
struct Special {
  std::pair<std::string, int64_t> token;
  int64_t type_id;
};
Encoding wrap(const Encoding& e, const std::optional<Special>& pre, const Special& post, std::optional<int64_t> type_id) {
  std::vector<Encoding> parts;
  if (pre) parts.push_back(special_encoding({pre->token.second}, {pre->token.first}, pre->type_id));
  parts.push_back(e);
  parts.back().overflowing.clear();
  if (type_id) parts.back().type_ids.assign(e.ids.size(), *type_id);
  parts.push_back(special_encoding({post.token.second}, {post.token.first}, post.type_id));
  Encoding out = merge_encodings(std::move(parts));
  for (const auto& o : e.overflowing) out.overflowing.push_back(wrap(o, pre, post, type_id));
  return out;
}

struct BertProc : PostProcessor {
  std::pair<std::string, int64_t> sep, cls;
  int64_t added_tokens(bool is_pair) const override { return is_pair ? 3 : 2; }
  std::vector<Encoding> process(std::vector<Encoding> encs, bool add_special) const override {
    if (!add_special) return encs;
    std::vector<Encoding> out;
    out.push_back(wrap(encs[0], Special{cls, 0}, Special{sep, 0}, std::nullopt));
    if (encs.size() > 1) out.push_back(wrap(encs[1], std::nullopt, Special{sep, 1}, std::nullopt));
    return out;
  }
};

struct RobertaProc : PostProcessor {
  std::pair<std::string, int64_t> sep, cls;
  bool trim_offsets = true, add_prefix_space = true;
  int64_t added_tokens(bool is_pair) const override { return is_pair ? 4 : 2; }
  std::vector<Encoding> process(std::vector<Encoding> encs, bool add_special) const override {
    for (auto& e : encs) {
      if (trim_offsets) {
        process_offsets_byte_level(e, add_prefix_space);
        for (auto& o : e.overflowing) process_offsets_byte_level(o, add_prefix_space);
      }
      e.type_ids.assign(e.ids.size(), 0);  // the crate resets the main encoding only, not its overflowing pieces
    }
    if (!add_special) return encs;
    std::vector<Encoding> out;
    out.push_back(wrap(encs[0], Special{cls, 0}, Special{sep, 0}, 0));
    if (encs.size() > 1) out.push_back(wrap(encs[1], Special{sep, 0}, Special{sep, 0}, 0));
    return out;
  }
};

struct ByteLevelProc : PostProcessor {
  bool trim_offsets = true, add_prefix_space = true;
  int64_t added_tokens(bool) const override { return 0; }
  std::vector<Encoding> process(std::vector<Encoding> encs, bool) const override {
    if (trim_offsets)
      for (auto& e : encs) {
        process_offsets_byte_level(e, add_prefix_space);
        for (auto& o : e.overflowing) process_offsets_byte_level(o, add_prefix_space);
      }
    return encs;
  }
};

struct SequenceProc : PostProcessor {
  std::vector<std::unique_ptr<PostProcessor>> items;
  int64_t added_tokens(bool is_pair) const override {
    int64_t n = 0;
    for (const auto& x : items) n += x->added_tokens(is_pair);
    return n;
  }
  std::vector<Encoding> process(std::vector<Encoding> encs, bool add_special) const override {
    for (const auto& x : items) encs = x->process(std::move(encs), add_special);
    return encs;
  }
};

std::pair<std::string, int64_t> token_pair(const json& j, const char* key, const char* what) {
  const json& a = need(j, key, what);
  if (!a.is_array() || a.size() != 2 || !a[0].is_string() || !a[1].is_number_integer())
    throw_error(ErrorKind::Format, std::string(what) + ": '" + key + "' must be [token, id]");
  return {a[0].get<std::string>(), token_id(a[1], "special token id")};
}

void append_fields(Encoding& a, const Encoding& b) {
  for_each_field(a, b, [](auto& x, const auto& y) { x.insert(x.end(), y.begin(), y.end()); });
}

Encoding fields_of(const Encoding& e) {
  Encoding c;
  append_fields(c, e);
  return c;
}

// Encoding::merge_with of the crate (growing_offsets false): the overflowing pieces of the result are, in this
// order, each of ours followed by `pair` and by each of its pieces, then we followed by each of its pieces. (The
// crate also keeps pieces of pieces, which nothing reads; they are dropped here.)
void merge_with(Encoding& self, const Encoding& pair) {
  // A pair cut with a large stride multiplies its pieces (n1 * n2): refuse what would not fit in memory.
  constexpr std::size_t kMaxPieces = std::size_t{1} << 20;
  std::size_t pieces = self.overflowing.size() * (1 + pair.overflowing.size()) + pair.overflowing.size();
  if (pieces > kMaxPieces)
    throw_error(ErrorKind::InvalidArgument, "truncation would produce " + std::to_string(pieces) +
                                                " overflowing pieces (more than 2^20); use a smaller stride");
  std::vector<Encoding> ovs;
  for (const auto& so : self.overflowing) {
    ovs.push_back(fields_of(so));
    append_fields(ovs.back(), pair);
    for (const auto& po : pair.overflowing) {
      ovs.push_back(fields_of(so));
      append_fields(ovs.back(), po);
    }
  }
  for (const auto& po : pair.overflowing) {
    ovs.push_back(fields_of(self));
    append_fields(ovs.back(), po);
  }
  append_fields(self, pair);
  self.overflowing = std::move(ovs);
}

}  // namespace

void process_offsets_byte_level(Encoding& e, bool add_prefix_space) {
  const char32_t space = bytes_to_chars()[' '];
  for (std::size_t i = 0; i < e.ids.size(); ++i) {
    auto cs = to_chars(e.tokens[i]);
    auto sp = [&](char32_t c) { return c == space || is_whitespace(c); };
    std::size_t lead = 0, trail = 0;
    while (lead < cs.size() && sp(cs[lead])) ++lead;
    while (trail < cs.size() && sp(cs[cs.size() - 1 - trail])) ++trail;
    auto& off = e.offsets[i];
    if (lead > 0) {
      bool first = i == 0 || off.first == 0;
      if (first && add_prefix_space && lead == 1) lead = 0;
      off.first = std::min<int64_t>(off.first + static_cast<int64_t>(lead), off.second);
    }
    if (trail > 0 && off.second >= static_cast<int64_t>(trail))
      off.second = std::max<int64_t>(off.second - static_cast<int64_t>(trail), off.first);
  }
}

Encoding merge_encodings(std::vector<Encoding> encs) {
  Encoding out;
  for (auto& e : encs) merge_with(out, e);
  return out;
}

std::unique_ptr<PostProcessor> make_post_processor(const json& j) {
  if (j.is_null()) return nullptr;
  std::string t = type_of(j, "post_processor");
  if (t == "TemplateProcessing") {
    auto p = std::make_unique<Template>();
    const json& sp = need(j, "special_tokens", "TemplateProcessing");
    if (!sp.is_object()) throw_error(ErrorKind::Format, "TemplateProcessing: special_tokens must be an object");
    for (auto it = sp.begin(); it != sp.end(); ++it) {
      std::vector<int64_t> ids;
      std::vector<std::string> toks;
      const json& jids = need(it.value(), "ids", "TemplateProcessing");
      if (!jids.is_array()) throw_error(ErrorKind::Format, "TemplateProcessing: bad special token '" + it.key() + "'");
      for (const json& id : jids) ids.push_back(token_id(id, "TemplateProcessing: special token id"));
      try {
        toks = need(it.value(), "tokens", "TemplateProcessing").get<std::vector<std::string>>();
      } catch (const json::exception&) {
        throw_error(ErrorKind::Format, "TemplateProcessing: bad special token '" + it.key() + "'");
      }
      if (ids.size() != toks.size())
        throw_error(ErrorKind::Format, "TemplateProcessing: ids and tokens differ in length for '" + it.key() + "'");
      p->specials[it.key()] = {ids, toks};
    }
    p->single = parse_template(need(j, "single", "TemplateProcessing"), *p);
    p->pair = parse_template(need(j, "pair", "TemplateProcessing"), *p);
    return p;
  }
  if (t == "BertProcessing") {
    auto p = std::make_unique<BertProc>();
    p->sep = token_pair(j, "sep", "BertProcessing");
    p->cls = token_pair(j, "cls", "BertProcessing");
    return p;
  }
  if (t == "RobertaProcessing") {
    auto p = std::make_unique<RobertaProc>();
    p->sep = token_pair(j, "sep", "RobertaProcessing");
    p->cls = token_pair(j, "cls", "RobertaProcessing");
    p->trim_offsets = get_or<bool>(j, "trim_offsets", true);
    p->add_prefix_space = get_or<bool>(j, "add_prefix_space", true);
    return p;
  }
  if (t == "ByteLevel") {
    auto p = std::make_unique<ByteLevelProc>();
    p->trim_offsets = get_or<bool>(j, "trim_offsets", true);
    p->add_prefix_space = get_or<bool>(j, "add_prefix_space", true);
    return p;
  }
  if (t == "Sequence") {
    auto p = std::make_unique<SequenceProc>();
    for (const auto& x : need_array(j, "processors", "post_processor Sequence"))
      if (auto q = make_post_processor(x)) p->items.push_back(std::move(q));
    return p;
  }
  throw_error(ErrorKind::Unsupported, "post_processor '" + t + "' is not supported");
}

}  // namespace hfx::tok
