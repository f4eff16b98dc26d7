// A Jinja2-compatible engine for chat templates (why hand-written: jinja.h). Semantics follow Jinja2 3.1.6 in
// transformers 4.46's environment (ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
// extensions=[loopcontrols, AssistantTracker])), checked against it by tests/chat_template_test.cc:
//
//  - syntax: {{ }}, {% %}, {# #}, whitespace control (-), trim_blocks / lstrip_blocks (+ to opt out), a single
//    trailing newline of the source dropped (keep_trailing_newline=False), {% raw %};
//  - statements: if/elif/else, for (tuple targets, `for ... if`, else, loop.index/index0/revindex/revindex0/
//    first/last/length/previtem/nextitem), break/continue, set (names, tuples, namespace attributes, block
//    set), macro (defaults, keyword arguments), generation (transformers' assistant-mask block: renders its body);
//  - expressions: literals (true/True, none/None, ...), lists, tuples, dicts, attribute / item access (Jinja's
//    getattr-then-getitem and the reverse), slices, calls, filters, tests, ~ + - * / // % **, comparisons,
//    in / not in, and / or / not, inline if-else;
//  - values: Python's (str() and repr() of lists and dicts, float repr, code-point string indexing, ==
//    across int/float/bool) and Jinja's Undefined (prints "", iterates empty, is falsy; arithmetic on it, or an
//    attribute of it, is an error, as in Jinja2's default Undefined).
//
// Hostile templates: nesting depth (parser and evaluator), loop iterations and the size of every string built
// are bounded (ChatTemplateOptions); exceeding one is a typed hfx::Error, never a crash or a hang.
#include "tokenize/jinja.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include <utf8proc.h>

#include "hfx/error.h"

namespace hfx::tok::jinja {
namespace {

using json = nlohmann::ordered_json;

[[noreturn]] void syntax(int line, const std::string& msg) {
  throw_error(ErrorKind::Format, "chat template line " + std::to_string(line) + ": " + msg);
}
// A run of decimal digits as an index (`x.0`, attribute paths "a.1"): past int64 it is INT64_MAX, which, as Python's
// unbounded int would, indexes nothing (std::stoll threw std::out_of_range there: found by chat_template_fuzz).
int64_t digits_index(const std::string& digits) {
  int64_t v = 0;
  const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  return r.ec == std::errc::result_out_of_range ? INT64_MAX : v;
}

[[noreturn]] void runtime(const std::string& msg) { throw_error(ErrorKind::InvalidArgument, "chat template: " + msg); }

// ---- UTF-8 -----------------------------------------------------------------------------------------------------
std::vector<std::size_t> cp_starts(const std::string& s) {  // byte offset of each code point (lenient)
  std::vector<std::size_t> v;
  for (std::size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) v.push_back(i);
  return v;
}
std::size_t cp_count(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
void put_utf8(std::string& out, char32_t c) {
  if (c < 0x80) out += static_cast<char>(c);
  else if (c < 0x800) out += {static_cast<char>(0xC0 | (c >> 6)), static_cast<char>(0x80 | (c & 0x3F))};
  else if (c < 0x10000)
    out += {static_cast<char>(0xE0 | (c >> 12)), static_cast<char>(0x80 | ((c >> 6) & 0x3F)), static_cast<char>(0x80 | (c & 0x3F))};
  else
    out += {static_cast<char>(0xF0 | (c >> 18)), static_cast<char>(0x80 | ((c >> 12) & 0x3F)), static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
            static_cast<char>(0x80 | (c & 0x3F))};
}
std::vector<char32_t> decode(const std::string& s) {
  std::vector<char32_t> v;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t i = 0, n = static_cast<utf8proc_ssize_t>(s.size());
  while (i < n) {
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t k = utf8proc_iterate(p + i, n - i, &c);
    if (k <= 0) {
      c = 0xFFFD;
      k = 1;
    }
    v.push_back(static_cast<char32_t>(c));
    i += k;
  }
  return v;
}
std::string encode(const std::vector<char32_t>& v) {
  std::string s;
  for (char32_t c : v) put_utf8(s, c);
  return s;
}
bool py_space(char32_t c) {  // Python's str.isspace()
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) || c == 0x85) return true;
  if (c < 0x80) return false;
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}
char32_t up(char32_t c) { return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c))); }
char32_t low(char32_t c) { return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))); }
bool cased(char32_t c) { return up(c) != c || low(c) != c; }

// ---- values ----------------------------------------------------------------------------------------------------
struct Value;
using List = std::vector<Value>;
struct Dict;
struct Args;
using Fn = std::function<Value(Args&)>;

// Jinja's lists, dicts and functions are shared references, and a template can make a cycle ({% set ns.me = ns %},
// a namespace holding a dict's bound method that holds the namespace): Python's garbage collector frees those,
// shared_ptr cannot. Every container a render makes is listed here (weakly) and emptied when the render ends, which
// breaks any cycle (LeakSanitizer found the leak; ChatTemplate.CyclesAreFreedWhenTheRenderEnds).
struct Made {
  std::vector<std::weak_ptr<List>> lists;
  std::vector<std::weak_ptr<Dict>> dicts;
  std::vector<std::weak_ptr<Fn>> fns;
};
thread_local Made* t_made = nullptr;

struct Value {
  enum T { Undef, None, Bool, Int, Float, Str, Lst, Dct, Func } t = Undef;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // Str; Undef: a hint for the error message
  std::shared_ptr<List> l;
  std::shared_ptr<Dict> d;
  std::shared_ptr<Fn> fn;
  bool tuple = false;  // Lst: a tuple (prints with parentheses)
  int depth = 0;       // Lst / Dct: nesting (bounded: printing, comparing and freeing a value recurse over it)

  static Value none() { Value v; v.t = None; return v; }
  static Value undef(std::string hint = {}) { Value v; v.s = std::move(hint); return v; }
  static Value boolean(bool x) { Value v; v.t = Bool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.t = Int; v.i = x; return v; }
  static Value real(double x) { Value v; v.t = Float; v.f = x; return v; }
  static Value str(std::string x) { Value v; v.t = Str; v.s = std::move(x); return v; }
  static Value list(List x = {});
  static Value dict();
  static Value func(Fn f) {
    Value v;
    v.t = Func;
    v.fn = std::make_shared<Fn>(std::move(f));
    if (t_made) t_made->fns.push_back(v.fn);
    return v;
  }
  bool num() const { return t == Int || t == Float || t == Bool; }
  double as_f() const { return t == Float ? f : static_cast<double>(t == Bool ? b : i); }
};

struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  bool ns = false;    // a namespace(): attributes may be assigned
  bool plain = true;  // a dict (has .items() .get() ...); the loop object and namespaces are not
  const Value* find(std::string_view k) const {
    for (const auto& [key, v] : items)
      if (key == k) return &v;
    return nullptr;
  }
  void set(const std::string& k, Value v) {
    for (auto& [key, old] : items)
      if (key == k) {
        old = std::move(v);
        return;
      }
    items.emplace_back(k, std::move(v));
  }
};
Value Value::dict() {
  Value v;
  v.t = Dct;
  v.d = std::make_shared<Dict>();
  if (t_made) t_made->dicts.push_back(v.d);
  return v;
}

constexpr int kMaxNest = 256;
void check_nest(int depth) {
  if (depth > kMaxNest) throw_error(ErrorKind::InvalidArgument, "chat template: values nested deeper than " + std::to_string(kMaxNest));
}
Value Value::list(List x) {
  Value v;
  v.t = Lst;
  for (const auto& e : x) v.depth = std::max(v.depth, e.depth + 1);
  if (v.depth == 0) v.depth = 1;
  check_nest(v.depth);
  v.l = std::make_shared<List>(std::move(x));
  if (t_made) t_made->lists.push_back(v.l);
  return v;
}
// A dict built item by item: its depth from its items (namespaces are not sealed: they print and compare flat).
void seal(Value& v) {
  v.depth = 1;
  for (const auto& kv : v.d->items) v.depth = std::max(v.depth, kv.second.depth + 1);
  check_nest(v.depth);
}

struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  // The n-th positional argument or the keyword `name`; `dflt` when neither.
  Value get(std::size_t n, const char* name, Value dflt = Value::undef()) {
    for (auto& [k, v] : kw)
      if (k == name) return v;
    return n < pos.size() ? pos[n] : dflt;
  }
  bool has(std::size_t n, const char* name) const {
    if (n < pos.size()) return true;
    for (auto& kv : kw)
      if (kv.first == name) return true;
    return false;
  }
};

Value from_json(const json& j, int depth = 0) {
  check_nest(depth);
  switch (j.type()) {
    case json::value_t::null: return Value::none();
    case json::value_t::boolean: return Value::boolean(j.get<bool>());
    case json::value_t::number_integer: return Value::integer(j.get<int64_t>());
    case json::value_t::number_unsigned: {
      const auto u = j.get<uint64_t>();
      return u > static_cast<uint64_t>(INT64_MAX) ? Value::real(static_cast<double>(u)) : Value::integer(static_cast<int64_t>(u));
    }
    case json::value_t::number_float: return Value::real(j.get<double>());
    case json::value_t::string: return Value::str(j.get<std::string>());
    case json::value_t::array: {
      List l;
      l.reserve(j.size());
      for (const auto& x : j) l.push_back(from_json(x, depth + 1));
      return Value::list(std::move(l));
    }
    case json::value_t::object: {
      Value v = Value::dict();
      for (auto it = j.begin(); it != j.end(); ++it) v.d->items.emplace_back(it.key(), from_json(it.value(), depth + 1));
      seal(v);
      return v;
    }
    default: return Value::none();
  }
}

bool truthy(const Value& v) {
  switch (v.t) {
    case Value::Undef:
    case Value::None: return false;
    case Value::Bool: return v.b;
    case Value::Int: return v.i != 0;
    case Value::Float: return v.f != 0;
    case Value::Str: return !v.s.empty();
    case Value::Lst: return !v.l->empty();
    case Value::Dct: return !v.d->items.empty();
    case Value::Func: return true;
  }
  return false;
}

[[noreturn]] void undefined_error(const Value& v) {
  runtime(v.s.empty() ? std::string("an undefined value was used") : v.s);
}

std::string type_name(const Value& v) {
  switch (v.t) {
    case Value::Undef: return "Undefined";
    case Value::None: return "NoneType";
    case Value::Bool: return "bool";
    case Value::Int: return "int";
    case Value::Float: return "float";
    case Value::Str: return "str";
    case Value::Lst: return "list";
    case Value::Dct: return v.d->ns ? "Namespace" : "dict";
    case Value::Func: return "function";
  }
  return "?";
}

// Python's float repr: the shortest digits that round-trip, fixed for 1e-4 <= |x| < 1e16, else d.ddde+XX.
std::string float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (x == 0) return std::signbit(x) ? "-0.0" : "0.0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // -d.ddde+XX
  const bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  const auto e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exp = std::stoi(sci.substr(e + 1));
  std::string out;
  if (exp >= -5 && exp < 16) {  // Python: repr uses 'r' format: fixed when -4 <= exp < 16
    if (exp < -4) goto sci_form;
    if (exp < 0) out = "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
    else if (static_cast<int>(digits.size()) <= exp + 1) out = digits + std::string(static_cast<std::size_t>(exp + 1 - static_cast<int>(digits.size())), '0') + ".0";
    else out = digits.substr(0, static_cast<std::size_t>(exp + 1)) + "." + digits.substr(static_cast<std::size_t>(exp + 1));
    return (neg ? "-" : "") + out;
  }
sci_form:
  out = digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  out += exp < 0 ? "e-" : "e+";
  const int a = std::abs(exp);
  if (a < 10) out += '0';
  out += std::to_string(a);
  return (neg ? "-" : "") + out;
}

std::string py_repr_str(const std::string& s) {
  const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = dq ? '"' : '\'';
  std::string o(1, q);
  for (char32_t c : decode(s)) {
    if (c == static_cast<char32_t>(q) || c == '\\') {
      o += '\\';
      o += static_cast<char>(c);
    } else if (c == '\n') o += "\\n";
    else if (c == '\r') o += "\\r";
    else if (c == '\t') o += "\\t";
    else if (c < 0x20 || c == 0x7F) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned>(c));
      o += b;
    } else put_utf8(o, c);
  }
  return o + q;
}

// The largest string a render may build (ChatTemplateOptions::max_output_bytes of the render on this thread):
// str() of a container and tojson check it as they grow, so a list of large strings cannot print into gigabytes.
thread_local int64_t t_max_bytes = INT64_MAX;
void check_bytes(std::size_t n) {
  if (static_cast<int64_t>(n) > t_max_bytes) runtime("output larger than " + std::to_string(t_max_bytes) + " bytes");
}

std::string repr(const Value& v);
std::string str(const Value& v) {  // Python str() (Jinja's output of a value)
  switch (v.t) {
    case Value::Undef: return "";
    case Value::None: return "None";
    case Value::Bool: return v.b ? "True" : "False";
    case Value::Int: return std::to_string(v.i);
    case Value::Float: return float_repr(v.f);
    case Value::Str: return v.s;
    case Value::Lst: {
      std::string o = v.tuple ? "(" : "[";
      for (std::size_t k = 0; k < v.l->size(); ++k) {
        o += (k ? ", " : "") + repr((*v.l)[k]);
        check_bytes(o.size());
      }
      if (v.tuple && v.l->size() == 1) o += ",";
      return o + (v.tuple ? ")" : "]");
    }
    case Value::Dct: {
      if (v.d->ns) return "<Namespace>";
      std::string o = "{";
      bool first = true;
      for (const auto& [k, x] : v.d->items) {
        o += (first ? "" : ", ") + py_repr_str(k) + ": " + repr(x);
        check_bytes(o.size());
        first = false;
      }
      return o + "}";
    }
    case Value::Func: return "<function>";
  }
  return "";
}
std::string repr(const Value& v) { return v.t == Value::Str ? py_repr_str(v.s) : str(v); }

// json.dumps(x, ensure_ascii=False, indent=indent, separators=..., sort_keys=...) as transformers' tojson filter.
void dumps(const Value& v, std::string& o, const std::string* indent, int level, const std::string& item_sep, const std::string& key_sep,
           bool sort_keys, int depth) {
  if (depth > 512) runtime("tojson: nesting too deep");
  auto nl = [&](int lv) {
    o += '\n';
    for (int k = 0; k < lv; ++k) o += *indent;
  };
  switch (v.t) {
    case Value::Undef: runtime("tojson: Object of type Undefined is not JSON serializable");
    case Value::None: o += "null"; return;
    case Value::Bool: o += v.b ? "true" : "false"; return;
    case Value::Int: o += std::to_string(v.i); return;
    case Value::Float:
      if (std::isnan(v.f)) o += "NaN";
      else if (std::isinf(v.f)) o += v.f > 0 ? "Infinity" : "-Infinity";
      else o += float_repr(v.f);
      return;
    case Value::Str: {
      o += '"';
      for (unsigned char c : v.s) {
        switch (c) {
          case '"': o += "\\\""; break;
          case '\\': o += "\\\\"; break;
          case '\n': o += "\\n"; break;
          case '\r': o += "\\r"; break;
          case '\t': o += "\\t"; break;
          case '\b': o += "\\b"; break;
          case '\f': o += "\\f"; break;
          default:
            if (c < 0x20) {
              char b[8];
              std::snprintf(b, sizeof b, "\\u%04x", c);
              o += b;
            } else o += static_cast<char>(c);
        }
      }
      o += '"';
      return;
    }
    case Value::Lst: {
      if (v.l->empty()) { o += "[]"; return; }
      o += '[';
      for (std::size_t k = 0; k < v.l->size(); ++k) {
        if (k) o += item_sep;
        if (indent) nl(level + 1);
        dumps((*v.l)[k], o, indent, level + 1, item_sep, key_sep, sort_keys, depth + 1);
        check_bytes(o.size());
      }
      if (indent) nl(level);
      o += ']';
      return;
    }
    case Value::Dct: {
      if (v.d->ns) runtime("tojson: Object of type Namespace is not JSON serializable");
      if (v.d->items.empty()) { o += "{}"; return; }
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.d->items) items.push_back(&kv);
      if (sort_keys) std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      o += '{';
      bool first = true;
      for (const auto* kv : items) {
        if (!first) o += item_sep;
        first = false;
        if (indent) nl(level + 1);
        dumps(Value::str(kv->first), o, indent, level + 1, item_sep, key_sep, sort_keys, depth + 1);
        o += key_sep;
        dumps(kv->second, o, indent, level + 1, item_sep, key_sep, sort_keys, depth + 1);
        check_bytes(o.size());
      }
      if (indent) nl(level);
      o += '}';
      return;
    }
    case Value::Func: runtime("tojson: Object of type function is not JSON serializable");
  }
}

bool py_eq(const Value& a, const Value& b) {
  if (a.num() && b.num()) {
    if (a.t != Value::Float && b.t != Value::Float) return (a.t == Value::Bool ? a.b : a.i) == (b.t == Value::Bool ? b.b : b.i);
    return a.as_f() == b.as_f();
  }
  if (a.t != b.t) return false;
  switch (a.t) {
    case Value::Undef:
    case Value::None: return true;
    case Value::Str: return a.s == b.s;
    case Value::Lst: {
      if (a.l->size() != b.l->size()) return false;
      for (std::size_t k = 0; k < a.l->size(); ++k)
        if (!py_eq((*a.l)[k], (*b.l)[k])) return false;
      return true;
    }
    case Value::Dct: {
      if (a.d == b.d) return true;
      if (a.d->ns || b.d->ns || !a.d->plain || !b.d->plain) return false;  // a namespace equals only itself
      if (a.d->items.size() != b.d->items.size()) return false;
      for (const auto& [k, x] : a.d->items) {
        const Value* y = b.d->find(k);
        if (!y || !py_eq(x, *y)) return false;
      }
      return true;
    }
    case Value::Func: return a.fn == b.fn;
    default: return false;
  }
}

int py_cmp(const Value& a, const Value& b) {  // <0, 0, >0; a TypeError where Python has one
  if (a.t == Value::Undef) undefined_error(a);
  if (b.t == Value::Undef) undefined_error(b);
  if (a.num() && b.num()) {
    const double x = a.as_f(), y = b.as_f();
    if (a.t == Value::Int && b.t == Value::Int) return a.i < b.i ? -1 : a.i > b.i;
    return x < y ? -1 : x > y;
  }
  if (a.t == Value::Str && b.t == Value::Str) return a.s < b.s ? -1 : a.s > b.s;  // UTF-8 byte order is code point order
  if (a.t == Value::Lst && b.t == Value::Lst) {
    for (std::size_t k = 0; k < std::min(a.l->size(), b.l->size()); ++k)
      if (!py_eq((*a.l)[k], (*b.l)[k])) return py_cmp((*a.l)[k], (*b.l)[k]);
    return a.l->size() < b.l->size() ? -1 : a.l->size() > b.l->size();
  }
  runtime("'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'");
}

// ---- lexer -----------------------------------------------------------------------------------------------------
enum class Tk { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, End };
struct Token {
  Tk k;
  std::string v;
  int line;
};

struct Lexer {
  std::string_view src;
  std::vector<Token> out;
  int line = 1;

  static bool ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

  int lines_in(std::string_view s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

  void run() {
    std::size_t i = 0;
    bool lstrip_next = false;    // the previous tag ended with '-': strip the text's leading whitespace
    bool line_starting = true;   // the previous tag's match ended a line (lstrip_blocks)
    const std::size_t n = src.size();
    while (i < n) {
      // The next tag start.
      std::size_t j = i;
      while (true) {
        j = src.find('{', j);
        if (j == std::string_view::npos || j + 1 >= n) { j = n; break; }
        const char c = src[j + 1];
        if (c == '{' || c == '%' || c == '#') break;
        ++j;
      }
      std::string text(src.substr(i, j - i));
      line += lines_in(text);
      if (lstrip_next) {
        std::size_t k = 0;
        while (k < text.size() && ws(text[k])) ++k;
        text.erase(0, k);
      }
      if (j >= n) {
        if (!text.empty()) out.push_back({Tk::Text, text, line});
        break;
      }
      const char kind = src[j + 1];
      std::size_t p = j + 2;
      const char sign = p < n ? src[p] : '\0';
      if (sign == '-') {
        while (!text.empty() && ws(text.back())) text.pop_back();
        ++p;
      } else if (sign == '+') {
        ++p;
      } else if (kind != '{') {  // lstrip_blocks: a block or comment tag alone after the line's start
        const std::size_t nlpos = text.rfind('\n');
        const std::size_t l = nlpos == std::string::npos ? 0 : nlpos + 1;
        if (l > 0 || line_starting) {
          bool blank = true;
          for (std::size_t k = l; k < text.size(); ++k)
            if (text[k] != ' ' && text[k] != '\t') blank = false;
          if (blank) text.resize(l);
        }
      }
      if (!text.empty()) out.push_back({Tk::Text, text, line});
      lstrip_next = false;
      if (kind == '#') {
        const std::size_t e = src.find("#}", p);
        if (e == std::string_view::npos) syntax(line, "unterminated comment");
        const bool minus = e > p && src[e - 1] == '-';
        const bool plus = e > p && src[e - 1] == '+';
        i = e + 2;
        if (minus) lstrip_next = true;
        else if (!plus && i < n && src[i] == '\n') ++i;  // trim_blocks
        line += lines_in(src.substr(p, i - p));
        line_starting = src[i - 1] == '\n';
        continue;
      }
      // {% raw %} ... {% endraw %}
      if (kind == '%') {
        std::size_t q = p;
        while (q < n && ws(src[q])) ++q;
        if (src.substr(q, 3) == "raw") {
          std::size_t r = q + 3;
          while (r < n && ws(src[r])) ++r;
          if (r < n && (src[r] == '%' || (src[r] == '-' && r + 1 < n && src[r + 1] == '%'))) {
            const bool minus_end = src[r] == '-';
            r += minus_end ? 3 : 2;
            if (!minus_end && r < n && src[r] == '\n') ++r;
            // Find {% endraw %}
            std::size_t s = r;
            while (true) {
              s = src.find("{%", s);
              if (s == std::string_view::npos) syntax(line, "unterminated raw block");
              std::size_t t = s + 2;
              const bool m0 = t < n && src[t] == '-';
              if (m0 || (t < n && src[t] == '+')) ++t;
              while (t < n && ws(src[t])) ++t;
              if (src.substr(t, 6) == "endraw") {
                std::size_t u = t + 6;
                while (u < n && ws(src[u])) ++u;
                const bool m1 = u < n && src[u] == '-';
                if (m1) ++u;
                if (src.substr(u, 2) != "%}") syntax(line, "bad endraw tag");
                std::string body(src.substr(r, s - r));
                if (minus_end) {
                  std::size_t k = 0;
                  while (k < body.size() && ws(body[k])) ++k;
                  body.erase(0, k);
                }
                if (m0) while (!body.empty() && ws(body.back())) body.pop_back();
                line += lines_in(src.substr(j, u + 2 - j));
                if (!body.empty()) out.push_back({Tk::Text, body, line});
                i = u + 2;
                if (m1) lstrip_next = true;
                else if (i < n && src[i] == '\n') ++i;
                line_starting = src[i - 1] == '\n';
                break;
              }
              s += 2;
            }
            continue;
          }
        }
      }
      out.push_back({kind == '{' ? Tk::VarBegin : Tk::BlockBegin, "", line});
      i = lex_inside(p, kind == '{' ? '}' : '%', lstrip_next);
      line_starting = src[i - 1] == '\n';
    }
    out.push_back({Tk::End, "", line});
  }

  // Tokens of an expression up to the closing `}}` / `%}`; returns the position after it.
  std::size_t lex_inside(std::size_t p, char close, bool& lstrip_next) {
    const std::size_t n = src.size();
    int depth = 0;  // open brackets: a `}` inside a dict literal does not close the tag
    while (true) {
      while (p < n && ws(src[p])) {
        if (src[p] == '\n') ++line;
        ++p;
      }
      if (p >= n) syntax(line, std::string("unterminated tag (expected '") + close + "}')");
      const char c = src[p];
      // The end of the tag: [-+]?%} or [-+]?}}
      if (depth == 0) {
        std::size_t q = p;
        const bool minus = c == '-', plus = c == '+';
        if (minus || plus) ++q;
        if (q + 1 < n && src[q] == close && src[q + 1] == '}') {
          {
            out.push_back({close == '}' ? Tk::VarEnd : Tk::BlockEnd, "", line});
            q += 2;
            if (minus) lstrip_next = true;
            else if (close == '%' && !plus && q < n && src[q] == '\n') {  // trim_blocks
              ++q;
              ++line;
            }
            return q;
          }
        }
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        std::size_t q = p;
        while (q < n && (std::isalnum(static_cast<unsigned char>(src[q])) || src[q] == '_')) ++q;
        out.push_back({Tk::Name, std::string(src.substr(p, q - p)), line});
        p = q;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        std::size_t q = p;
        bool is_float = false;
        while (q < n && (std::isdigit(static_cast<unsigned char>(src[q])) || src[q] == '_')) ++q;
        if (q + 1 < n && src[q] == '.' && std::isdigit(static_cast<unsigned char>(src[q + 1]))) {
          is_float = true;
          ++q;
          while (q < n && (std::isdigit(static_cast<unsigned char>(src[q])) || src[q] == '_')) ++q;
        }
        if (q < n && (src[q] == 'e' || src[q] == 'E')) {
          std::size_t r = q + 1;
          if (r < n && (src[r] == '+' || src[r] == '-')) ++r;
          if (r < n && std::isdigit(static_cast<unsigned char>(src[r]))) {
            is_float = true;
            q = r;
            while (q < n && std::isdigit(static_cast<unsigned char>(src[q]))) ++q;
          }
        }
        std::string num(src.substr(p, q - p));
        num.erase(std::remove(num.begin(), num.end(), '_'), num.end());
        out.push_back({is_float ? Tk::Float : Tk::Int, num, line});
        p = q;
      } else if (c == '"' || c == '\'') {
        std::string s;
        std::size_t q = p + 1;
        while (true) {
          if (q >= n) syntax(line, "unterminated string");
          const char d = src[q];
          if (d == c) break;
          if (d == '\n') ++line;
          if (d == '\\' && q + 1 < n) {
            const char e = src[q + 1];
            q += 2;
            switch (e) {
              case 'n': s += '\n'; break;
              case 't': s += '\t'; break;
              case 'r': s += '\r'; break;
              case '\\': s += '\\'; break;
              case '\'': s += '\''; break;
              case '"': s += '"'; break;
              case '0': s += '\0'; break;
              case 'a': s += '\a'; break;
              case 'b': s += '\b'; break;
              case 'f': s += '\f'; break;
              case 'v': s += '\v'; break;
              case '\n': ++line; break;  // a line continuation
              case 'x':
              case 'u':
              case 'U': {
                const std::size_t len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                if (q + len > n) syntax(line, "truncated \\" + std::string(1, e) + " escape");
                uint32_t cp = 0;
                for (std::size_t k = 0; k < len; ++k) {
                  const char h = src[q + k];
                  if (!std::isxdigit(static_cast<unsigned char>(h))) syntax(line, "bad \\" + std::string(1, e) + " escape");
                  cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
                }
                if (cp > 0x10FFFF) syntax(line, "escape out of range");
                put_utf8(s, cp);
                q += len;
                break;
              }
              default: s += '\\'; s += e;  // Python keeps an unknown escape as written
            }
            continue;
          }
          s += d;
          ++q;
        }
        out.push_back({Tk::String, s, line});
        p = q + 1;
      } else {
        static const char* ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "(", ")",
                                    "[", "]", "{", "}", ",", ".", ":", "|", "=", ";"};
        bool found = false;
        for (const char* op : ops) {
          const std::size_t len = std::char_traits<char>::length(op);
          if (src.substr(p, len) == op) {
            if (op[0] == '(' || op[0] == '[' || op[0] == '{') ++depth;
            if ((op[0] == ')' || op[0] == ']' || op[0] == '}') && depth > 0) --depth;
            out.push_back({Tk::Op, op, line});
            p += len;
            found = true;
            break;
          }
        }
        if (!found) syntax(line, std::string("unexpected character '") + c + "'");
      }
    }
  }
};

// ---- AST -------------------------------------------------------------------------------------------------------
struct Expr;
using ExprP = std::unique_ptr<Expr>;
struct Expr {
  enum K { Lit, Name, Attr, Item, Slice, Call, Filter, Test, Neg, Pos, Not, Bin, And, Or, Cmp, Cond, ListE, TupleE, DictE } k;
  int line = 0;
  Value lit;
  std::string name;  // Name, Attr, Filter, Test, Bin's op
  std::vector<ExprP> a;  // operands / arguments / elements (Dict: key, value pairs)
  std::vector<std::pair<std::string, ExprP>> kw;
  std::vector<std::string> ops;  // Cmp
  bool negate = false;           // Test
  bool has[3] = {false, false, false};  // Slice parts present
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;
struct Stmt {
  enum K { Text, Out, If, For, Set, SetBlock, Macro, Break, Continue, Block } k;
  int line = 0;
  std::string text;                 // Text; Set/SetBlock/Macro name
  ExprP e;                          // Out; For's iterable; Set's value
  ExprP cond;                       // For's filter
  std::vector<ExprP> conds;         // If
  std::vector<Body> bodies;         // If (one per cond, + else); For: body, else; Macro/SetBlock/Block: body
  std::vector<std::string> targets; // For / Set names; Set: {ns, attr} when attr
  bool attr = false;                // Set: ns.attr = ...
  std::vector<std::pair<std::string, ExprP>> params;  // Macro
};

}  // namespace

struct Program {
  Body body;
};

namespace {

// ---- parser ----------------------------------------------------------------------------------------------------
struct Parser {
  std::vector<Token> t;
  std::size_t p = 0;
  int max_depth;
  int depth = 0;

  struct Depth {
    Parser& ps;
    explicit Depth(Parser& q) : ps(q) {
      if (++ps.depth > ps.max_depth) syntax(ps.cur().line, "nesting deeper than " + std::to_string(ps.max_depth));
    }
    ~Depth() { --ps.depth; }
  };

  const Token& cur() const { return t[p]; }
  bool is_op(const char* op) const { return cur().k == Tk::Op && cur().v == op; }
  bool is_name(const char* n) const { return cur().k == Tk::Name && cur().v == n; }
  bool accept_op(const char* op) {
    if (!is_op(op)) return false;
    ++p;
    return true;
  }
  bool accept_name(const char* n) {
    if (!is_name(n)) return false;
    ++p;
    return true;
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) syntax(cur().line, std::string("expected '") + op + "', got '" + describe() + "'");
  }
  std::string describe() const {
    switch (cur().k) {
      case Tk::VarEnd: return "}}";
      case Tk::BlockEnd: return "%}";
      case Tk::End: return "end of template";
      case Tk::Text: return "text";
      default: return cur().v;
    }
  }
  std::string expect_name() {
    if (cur().k != Tk::Name) syntax(cur().line, "expected a name, got '" + describe() + "'");
    return t[p++].v;
  }
  void expect_block_end() {
    if (cur().k != Tk::BlockEnd) syntax(cur().line, "expected '%}', got '" + describe() + "'");
    ++p;
  }

  ExprP mk(Expr::K k) {
    auto e = std::make_unique<Expr>();
    e->k = k;
    e->line = cur().line;
    return e;
  }

  // expression := inline-if
  ExprP expr() {
    Depth d(*this);
    ExprP e = or_expr();
    while (is_name("if")) {
      ++p;
      auto c = mk(Expr::Cond);
      ExprP cond = or_expr();
      ExprP other;
      if (accept_name("else")) other = expr();
      c->a.push_back(std::move(cond));
      c->a.push_back(std::move(e));
      if (other) c->a.push_back(std::move(other));
      e = std::move(c);
    }
    return e;
  }
  ExprP or_expr() {
    ExprP e = and_expr();
    while (is_name("or")) {
      ++p;
      auto o = mk(Expr::Or);
      o->a.push_back(std::move(e));
      o->a.push_back(and_expr());
      e = std::move(o);
    }
    return e;
  }
  ExprP and_expr() {
    ExprP e = not_expr();
    while (is_name("and")) {
      ++p;
      auto o = mk(Expr::And);
      o->a.push_back(std::move(e));
      o->a.push_back(not_expr());
      e = std::move(o);
    }
    return e;
  }
  ExprP not_expr() {
    if (is_name("not")) {
      Depth d(*this);
      ++p;
      auto o = mk(Expr::Not);
      o->a.push_back(not_expr());
      return o;
    }
    return compare();
  }
  ExprP compare() {
    ExprP e = math1();
    ExprP c;
    while (true) {
      std::string op;
      if (cur().k == Tk::Op && (cur().v == "==" || cur().v == "!=" || cur().v == "<" || cur().v == ">" || cur().v == "<=" || cur().v == ">=")) {
        op = cur().v;
        ++p;
      } else if (is_name("in")) {
        op = "in";
        ++p;
      } else if (is_name("not") && p + 1 < t.size() && t[p + 1].k == Tk::Name && t[p + 1].v == "in") {
        op = "notin";
        p += 2;
      } else break;
      if (!c) {
        c = mk(Expr::Cmp);
        c->a.push_back(std::move(e));
      }
      c->ops.push_back(op);
      c->a.push_back(math1());
    }
    return c ? std::move(c) : std::move(e);
  }
  ExprP binary(ExprP l, const std::string& op, ExprP r) {
    auto b = mk(Expr::Bin);
    b->name = op;
    b->a.push_back(std::move(l));
    b->a.push_back(std::move(r));
    return b;
  }
  ExprP math1() {
    ExprP e = concat();
    while (is_op("+") || is_op("-")) {
      const std::string op = t[p++].v;
      e = binary(std::move(e), op, concat());
    }
    return e;
  }
  ExprP concat() {
    ExprP e = math2();
    while (accept_op("~")) e = binary(std::move(e), "~", math2());
    return e;
  }
  ExprP math2() {
    ExprP e = pow_expr();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string op = t[p++].v;
      e = binary(std::move(e), op, pow_expr());
    }
    return e;
  }
  ExprP pow_expr() {
    ExprP e = unary();
    while (accept_op("**")) e = binary(std::move(e), "**", unary());
    return e;
  }
  ExprP unary() {
    Depth d(*this);
    if (is_op("-") || is_op("+")) {
      const bool neg = t[p++].v == "-";
      auto u = mk(neg ? Expr::Neg : Expr::Pos);
      u->a.push_back(unary_nofilter());
      return filters(std::move(u));
    }
    return filters(postfix(primary()));
  }
  ExprP unary_nofilter() {
    Depth d(*this);
    if (is_op("-") || is_op("+")) {
      const bool neg = t[p++].v == "-";
      auto u = mk(neg ? Expr::Neg : Expr::Pos);
      u->a.push_back(unary_nofilter());
      return u;
    }
    return postfix(primary());
  }
  void call_args(Expr& c) {  // after '('
    while (!accept_op(")")) {
      if (cur().k == Tk::Name && p + 1 < t.size() && t[p + 1].k == Tk::Op && t[p + 1].v == "=") {
        std::string k = t[p].v;
        p += 2;
        c.kw.emplace_back(std::move(k), expr());
      } else {
        if (!c.kw.empty()) syntax(cur().line, "positional argument after a keyword argument");
        c.a.push_back(expr());
      }
      if (!accept_op(",")) {
        expect_op(")");
        break;
      }
    }
  }
  ExprP postfix(ExprP e) {
    while (true) {
      if (accept_op(".")) {
        auto a = mk(Expr::Attr);
        if (cur().k == Tk::Int) a->name = t[p++].v;  // x.0 is x[0] in Jinja
        else a->name = expect_name();
        if (!a->name.empty() && std::isdigit(static_cast<unsigned char>(a->name[0]))) {
          auto it = mk(Expr::Item);
          it->a.push_back(std::move(e));
          auto idx = mk(Expr::Lit);
          idx->lit = Value::integer(digits_index(a->name));
          it->a.push_back(std::move(idx));
          e = std::move(it);
          continue;
        }
        a->a.push_back(std::move(e));
        e = std::move(a);
      } else if (accept_op("[")) {
        Depth d(*this);
        ExprP parts[3];
        bool slice = false;
        int n = 0;
        bool has[3] = {false, false, false};
        while (true) {
          if (!is_op(":") && !is_op("]")) {
            parts[n] = expr();
            has[n] = true;
          }
          if (accept_op(":")) {
            slice = true;
            if (++n > 2) syntax(cur().line, "too many ':' in a slice");
            continue;
          }
          break;
        }
        expect_op("]");
        if (slice) {
          auto s = mk(Expr::Slice);
          s->a.push_back(std::move(e));
          for (int k = 0; k < 3; ++k) {
            s->has[k] = has[k];
            s->a.push_back(std::move(parts[k]));
          }
          e = std::move(s);
        } else {
          if (!has[0]) syntax(cur().line, "empty subscript");
          auto it = mk(Expr::Item);
          it->a.push_back(std::move(e));
          it->a.push_back(std::move(parts[0]));
          e = std::move(it);
        }
      } else if (accept_op("(")) {
        Depth d(*this);
        auto c = mk(Expr::Call);
        c->a.push_back(std::move(e));
        call_args(*c);
        e = std::move(c);
      } else return e;
    }
  }
  ExprP filters(ExprP e) {
    while (true) {
      if (accept_op("|")) {
        Depth d(*this);
        auto f = mk(Expr::Filter);
        f->name = expect_name();
        while (accept_op(".")) f->name += "." + expect_name();
        f->a.push_back(std::move(e));
        if (accept_op("(")) call_args(*f);
        e = std::move(f);
      } else if (is_name("is")) {
        Depth d(*this);
        ++p;
        auto f = mk(Expr::Test);
        if (accept_name("not")) f->negate = true;
        f->name = expect_name();
        f->a.push_back(std::move(e));
        if (accept_op("(")) call_args(*f);
        else if ((cur().k == Tk::Name && cur().v != "else" && cur().v != "or" && cur().v != "and" && cur().v != "if" && cur().v != "is" &&
                  cur().v != "in" && cur().v != "not") ||
                 cur().k == Tk::String || cur().k == Tk::Int || cur().k == Tk::Float || is_op("[") || is_op("{") || is_op("-")) {
          f->a.push_back(postfix(primary()));
        }
        e = std::move(f);
      } else return e;
    }
  }
  ExprP primary() {
    Depth d(*this);
    const Token& k = cur();
    if (k.k == Tk::Name) {
      ++p;
      auto e = mk(Expr::Lit);
      if (k.v == "true" || k.v == "True") e->lit = Value::boolean(true);
      else if (k.v == "false" || k.v == "False") e->lit = Value::boolean(false);
      else if (k.v == "none" || k.v == "None") e->lit = Value::none();
      else {
        e->k = Expr::Name;
        e->name = k.v;
      }
      return e;
    }
    if (k.k == Tk::String) {
      auto e = mk(Expr::Lit);
      std::string s;
      while (cur().k == Tk::String) s += t[p++].v;  // adjacent literals concatenate
      e->lit = Value::str(std::move(s));
      return e;
    }
    if (k.k == Tk::Int || k.k == Tk::Float) {
      auto e = mk(Expr::Lit);
      ++p;
      if (k.k == Tk::Int) {
        int64_t v = 0;
        auto r = std::from_chars(k.v.data(), k.v.data() + k.v.size(), v);
        if (r.ec != std::errc()) e->lit = Value::real(std::strtod(k.v.c_str(), nullptr));
        else e->lit = Value::integer(v);
      } else e->lit = Value::real(std::strtod(k.v.c_str(), nullptr));
      return e;
    }
    if (accept_op("(")) {
      if (accept_op(")")) return mk(Expr::TupleE);
      ExprP first = expr();
      if (accept_op(")")) return first;
      auto tup = mk(Expr::TupleE);
      tup->a.push_back(std::move(first));
      while (accept_op(",")) {
        if (is_op(")")) break;
        tup->a.push_back(expr());
      }
      expect_op(")");
      return tup;
    }
    if (accept_op("[")) {
      auto l = mk(Expr::ListE);
      while (!accept_op("]")) {
        l->a.push_back(expr());
        if (!accept_op(",")) {
          expect_op("]");
          break;
        }
      }
      return l;
    }
    if (accept_op("{")) {
      auto dct = mk(Expr::DictE);
      while (!accept_op("}")) {
        dct->a.push_back(expr());
        expect_op(":");
        dct->a.push_back(expr());
        if (!accept_op(",")) {
          expect_op("}");
          break;
        }
      }
      return dct;
    }
    syntax(k.line, "unexpected '" + describe() + "'");
  }

  // A tuple without parentheses where statements allow one (for targets, set values).
  ExprP tuple_or_expr() {
    ExprP e = expr();
    if (!is_op(",")) return e;
    auto tup = mk(Expr::TupleE);
    tup->a.push_back(std::move(e));
    while (accept_op(",")) {
      if (cur().k == Tk::BlockEnd) break;
      tup->a.push_back(expr());
    }
    return tup;
  }

  // ---- statements ----
  // Parses until one of `ends` (a block tag name) is next; leaves p at that name.
  Body body(const std::vector<std::string>& ends) {
    Depth d(*this);
    Body b;
    while (true) {
      const Token& k = cur();
      if (k.k == Tk::End) {
        if (!ends.empty()) syntax(k.line, "unexpected end of template, expected '" + ends[0] + "'");
        return b;
      }
      if (k.k == Tk::Text) {
        auto s = std::make_unique<Stmt>();
        s->k = Stmt::Text;
        s->text = k.v;
        s->line = k.line;
        b.push_back(std::move(s));
        ++p;
      } else if (k.k == Tk::VarBegin) {
        ++p;
        auto s = std::make_unique<Stmt>();
        s->k = Stmt::Out;
        s->line = k.line;
        s->e = tuple_or_expr();
        if (cur().k != Tk::VarEnd) syntax(cur().line, "expected '}}', got '" + describe() + "'");
        ++p;
        b.push_back(std::move(s));
      } else if (k.k == Tk::BlockBegin) {
        ++p;
        if (cur().k != Tk::Name) syntax(cur().line, "expected a statement name");
        const std::string name = cur().v;
        for (const auto& e : ends)
          if (e == name) return b;
        b.push_back(statement());
      } else syntax(k.line, "unexpected '" + describe() + "'");
    }
  }

  std::unique_ptr<Stmt> statement() {
    const int line = cur().line;
    const std::string name = expect_name();
    auto s = std::make_unique<Stmt>();
    s->line = line;
    if (name == "if") {
      s->k = Stmt::If;
      s->conds.push_back(tuple_or_expr());
      expect_block_end();
      s->bodies.push_back(body({"elif", "else", "endif"}));
      while (true) {
        const std::string kw = expect_name();
        if (kw == "elif") {
          s->conds.push_back(tuple_or_expr());
          expect_block_end();
          s->bodies.push_back(body({"elif", "else", "endif"}));
        } else if (kw == "else") {
          expect_block_end();
          s->bodies.push_back(body({"endif"}));
        } else {  // endif
          expect_block_end();
          break;
        }
      }
    } else if (name == "for") {
      s->k = Stmt::For;
      s->targets.push_back(expect_name());
      while (accept_op(",")) s->targets.push_back(expect_name());
      if (!accept_name("in")) syntax(cur().line, "expected 'in' in a for loop");
      s->e = or_expr_noif();
      if (accept_name("if")) s->cond = expr();
      accept_name("recursive");
      expect_block_end();
      s->bodies.push_back(body({"else", "endfor"}));
      if (expect_name() == "else") {
        expect_block_end();
        s->bodies.push_back(body({"endfor"}));
        expect_name();
      }
      expect_block_end();
    } else if (name == "set") {
      const std::string first = expect_name();
      if (accept_op(".")) {
        s->k = Stmt::Set;
        s->attr = true;
        s->targets = {first, expect_name()};
        expect_op("=");
        s->e = tuple_or_expr();
        expect_block_end();
      } else {
        s->targets.push_back(first);
        while (accept_op(",")) s->targets.push_back(expect_name());
        if (accept_op("=")) {
          s->k = Stmt::Set;
          s->e = tuple_or_expr();
          expect_block_end();
        } else {
          if (s->targets.size() != 1) syntax(cur().line, "a block set takes one name");
          s->k = Stmt::SetBlock;
          if (accept_op("|")) syntax(cur().line, "filters on a block set are not supported");
          expect_block_end();
          s->bodies.push_back(body({"endset"}));
          expect_name();
          expect_block_end();
        }
      }
    } else if (name == "macro") {
      s->k = Stmt::Macro;
      s->text = expect_name();
      expect_op("(");
      while (!accept_op(")")) {
        std::string param = expect_name();
        ExprP dflt;
        if (accept_op("=")) dflt = expr();
        s->params.emplace_back(std::move(param), std::move(dflt));
        if (!accept_op(",")) {
          expect_op(")");
          break;
        }
      }
      expect_block_end();
      s->bodies.push_back(body({"endmacro"}));
      expect_name();
      if (cur().k == Tk::Name) ++p;  // {% endmacro name %}
      expect_block_end();
    } else if (name == "break" || name == "continue") {
      s->k = name == "break" ? Stmt::Break : Stmt::Continue;
      expect_block_end();
    } else if (name == "generation") {  // transformers' AssistantTracker: the body renders as is
      s->k = Stmt::Block;
      expect_block_end();
      s->bodies.push_back(body({"endgeneration"}));
      expect_name();
      expect_block_end();
    } else {
      syntax(line, "unknown or unsupported statement '" + name + "'");
    }
    return s;
  }
  ExprP or_expr_noif() {  // a for loop's iterable: `if` after it is the loop filter
    Depth d(*this);
    ExprP e = or_expr();
    if (!is_op(",")) return e;
    auto tup = mk(Expr::TupleE);
    tup->a.push_back(std::move(e));
    while (accept_op(",")) tup->a.push_back(or_expr());
    return tup;
  }
};

// ---- interpreter -----------------------------------------------------------------------------------------------
enum class Flow { Normal, Break, Continue };

struct Macro {
  const Stmt* def;
};

struct Interp {
  const ChatTemplateOptions& o;
  std::vector<std::map<std::string, Value, std::less<>>> frames;  // frames[0]: the context; [1]: template globals set
  std::size_t barrier = 0;  // frames below this index (but above 1) are invisible (inside a macro)
  std::string* out = nullptr;
  int64_t iterations = 0;
  int depth = 0;

  struct Depth {
    Interp& in;
    explicit Depth(Interp& x) : in(x) {
      if (++in.depth > in.o.max_depth) runtime("nesting deeper than " + std::to_string(in.o.max_depth) + " (a recursive macro?)");
    }
    ~Depth() { --in.depth; }
  };

  explicit Interp(const ChatTemplateOptions& opts) : o(opts) {}

  void check_size(std::size_t n) const {
    if (static_cast<int64_t>(n) > o.max_output_bytes) runtime("output larger than " + std::to_string(o.max_output_bytes) + " bytes");
  }
  void tick(int64_t n = 1) {
    iterations += n;
    if (iterations > o.max_loop_iterations) runtime("more than " + std::to_string(o.max_loop_iterations) + " loop iterations");
  }
  // Work that is not a loop iteration but grows with the data (copying a list for `+`, `in` over a list, a
  // string built piece by piece): a template doing it in a loop is quadratic, so it has a budget too
  // (64 units per allowed iteration; a unit is one element or 16 bytes).
  int64_t work = 0;
  void charge(std::size_t units) {
    work += static_cast<int64_t>(std::min<std::size_t>(units, static_cast<std::size_t>(INT64_MAX / 4)));
    if (work / 64 > o.max_loop_iterations) runtime("the template does too much work (quadratic string or list building?)");
  }
  void emit(const std::string& s) {
    check_size(out->size() + s.size());
    *out += s;
  }

  Value lookup(const std::string& n) {
    for (std::size_t k = frames.size(); k-- > 0;) {
      if (k < barrier && k > 1) continue;
      auto it = frames[k].find(n);
      if (it != frames[k].end()) return it->second;
    }
    return Value::undef("'" + n + "' is undefined");
  }
  void assign(const std::string& n, Value v) { frames.back()[n] = std::move(v); }

  // ---- attribute / item access (Jinja's environment.getattr / getitem, sandboxed) ----
  Value method(const Value& self, const std::string& name) {
    if (self.t == Value::Str) {
      static const char* names[] = {"strip", "lstrip", "rstrip", "startswith", "endswith", "split", "upper", "lower", "title", "capitalize",
                                    "replace", "join", "find", "count", "splitlines", "isdigit", "isalpha", "isspace", "isupper", "islower", "format"};
      for (const char* m : names)
        if (name == m) return Value::func([this, self, name](Args& a) { return str_method(self, name, a); });
    } else if (self.t == Value::Dct && self.d->plain && !self.d->ns) {
      if (name == "items" || name == "keys" || name == "values" || name == "get")
        return Value::func([this, self, name](Args& a) { return dict_method(self, name, a); });
    } else if (self.t == Value::Lst) {
      if (name == "index" || name == "count") return Value::func([this, self, name](Args& a) { return list_method(self, name, a); });
      if (name == "append" || name == "pop" || name == "extend" || name == "insert" || name == "remove" || name == "sort" || name == "reverse" ||
          name == "clear")
        return Value::func([name](Args&) -> Value { runtime("access to attribute '" + name + "' of 'list' object is unsafe (immutable sandbox)"); });
    }
    if (self.t == Value::Dct && self.d->plain && (name == "update" || name == "pop" || name == "setdefault" || name == "clear" || name == "popitem"))
      return Value::func([name](Args&) -> Value { runtime("access to attribute '" + name + "' of 'dict' object is unsafe (immutable sandbox)"); });
    return Value::undef();
  }
  Value getattr(const Value& obj, const std::string& name) {
    if (obj.t == Value::Undef) undefined_error(obj);
    Value m = method(obj, name);
    if (m.t != Value::Undef) return m;
    if (obj.t == Value::Dct)
      if (const Value* v = obj.d->find(name)) return *v;
    return Value::undef("'" + type_name(obj) + " object' has no attribute '" + name + "'");
  }
  Value getitem(const Value& obj, const Value& key) {
    if (obj.t == Value::Undef) undefined_error(obj);
    if (obj.t == Value::Dct && key.t == Value::Str) {
      if (const Value* v = obj.d->find(key.s)) return *v;
    } else if ((obj.t == Value::Lst || obj.t == Value::Str) && (key.t == Value::Int || key.t == Value::Bool)) {
      int64_t idx = key.t == Value::Bool ? key.b : key.i;
      if (obj.t == Value::Lst) {
        const auto n = static_cast<int64_t>(obj.l->size());
        if (idx < 0) idx += n;
        if (idx >= 0 && idx < n) return (*obj.l)[static_cast<std::size_t>(idx)];
      } else {
        const auto st = cp_starts(obj.s);
        const auto n = static_cast<int64_t>(st.size());
        if (idx < 0) idx += n;
        if (idx >= 0 && idx < n) {
          const std::size_t b = st[static_cast<std::size_t>(idx)], e = idx + 1 < n ? st[static_cast<std::size_t>(idx + 1)] : obj.s.size();
          return Value::str(obj.s.substr(b, e - b));
        }
      }
    }
    if (key.t == Value::Str) {
      Value m = method(obj, key.s);
      if (m.t != Value::Undef) return m;
    }
    return Value::undef("'" + type_name(obj) + " object' has no attribute '" + str(key) + "'");
  }

  static int64_t slice_index(const Value& v) {
    if (v.t == Value::Int) return v.i;
    if (v.t == Value::Bool) return v.b;
    if (v.t == Value::None) return 0;
    runtime("slice indices must be integers or None");
  }
  Value slice(const Value& obj, const Value* parts[3]) {
    if (obj.t == Value::Undef) undefined_error(obj);
    int64_t step = parts[2] && parts[2]->t != Value::None ? slice_index(*parts[2]) : 1;
    if (step == 0) runtime("slice step cannot be zero");
    auto run = [&](int64_t n, auto&& take) {
      auto norm = [&](const Value* v, int64_t dflt) -> int64_t {
        if (!v || v->t == Value::None) return dflt;
        int64_t x = slice_index(*v);
        if (x < 0) x += n;
        if (step > 0) return std::clamp<int64_t>(x, 0, n);
        return std::clamp<int64_t>(x, -1, n - 1);
      };
      const int64_t start = norm(parts[0], step > 0 ? 0 : n - 1), stop = norm(parts[1], step > 0 ? n : -1);
      for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) take(k);
    };
    if (obj.t == Value::Lst) {
      List l;
      run(static_cast<int64_t>(obj.l->size()), [&](int64_t k) { l.push_back((*obj.l)[static_cast<std::size_t>(k)]); });
      return Value::list(std::move(l));
    }
    if (obj.t == Value::Str) {
      const auto cps = decode(obj.s);
      std::vector<char32_t> r;
      run(static_cast<int64_t>(cps.size()), [&](int64_t k) { r.push_back(cps[static_cast<std::size_t>(k)]); });
      return Value::str(encode(r));
    }
    runtime("'" + type_name(obj) + "' object is not subscriptable");
  }

  // The items a for loop (or a filter) iterates: a list's elements, a dict's keys, a string's characters.
  List iterate(const Value& v) {
    if (v.t == Value::Lst) charge(v.l->size() + 1);
    if (v.t == Value::Str) charge(v.s.size() + 1);
    if (v.t == Value::Dct) charge(v.d->items.size() + 1);
    switch (v.t) {
      case Value::Undef: return {};
      case Value::Lst: return *v.l;
      case Value::Dct: {
        if (v.d->ns) runtime("'Namespace' object is not iterable");
        List l;
        for (const auto& kv : v.d->items) l.push_back(Value::str(kv.first));
        return l;
      }
      case Value::Str: {
        List l;
        const auto st = cp_starts(v.s);
        for (std::size_t k = 0; k < st.size(); ++k) l.push_back(Value::str(v.s.substr(st[k], (k + 1 < st.size() ? st[k + 1] : v.s.size()) - st[k])));
        return l;
      }
      default: runtime("'" + type_name(v) + "' object is not iterable");
    }
  }

  // ---- operators ----
  Value arith(const std::string& op, const Value& a, const Value& b) {
    if (a.t == Value::Undef) undefined_error(a);
    if (b.t == Value::Undef) undefined_error(b);
    if (op == "+") {
      if (a.t == Value::Str && b.t == Value::Str) {
        check_size(a.s.size() + b.s.size());
        charge((a.s.size() + b.s.size()) / 16 + 1);
        return Value::str(a.s + b.s);
      }
      if (a.t == Value::Lst && b.t == Value::Lst) {
        charge(a.l->size() + b.l->size() + 1);
        List l = *a.l;
        l.insert(l.end(), b.l->begin(), b.l->end());
        return Value::list(std::move(l));
      }
    }
    if (op == "*") {
      const Value* s = a.t == Value::Str || a.t == Value::Lst ? &a : b.t == Value::Str || b.t == Value::Lst ? &b : nullptr;
      const Value* n = s == &a ? &b : &a;
      if (s && (n->t == Value::Int || n->t == Value::Bool)) {
        const int64_t times = std::max<int64_t>(0, n->t == Value::Bool ? n->b : n->i);
        if (s->t == Value::Str) {
          if (s->s.empty() || times == 0) return Value::str("");
          if (times > o.max_output_bytes / static_cast<int64_t>(s->s.size())) check_size(static_cast<std::size_t>(o.max_output_bytes) + 1);
          charge(static_cast<std::size_t>(times) * s->s.size() / 16 + 1);
          std::string r;
          for (int64_t k = 0; k < times; ++k) r += s->s;
          return Value::str(std::move(r));
        }
        if (s->l->empty() || times == 0) return Value::list();
        const auto len = static_cast<int64_t>(s->l->size());
        tick(times > o.max_loop_iterations / len ? o.max_loop_iterations + 1 : times * len);
        List l;
        for (int64_t k = 0; k < times; ++k) l.insert(l.end(), s->l->begin(), s->l->end());
        return Value::list(std::move(l));
      }
    }
    if (!a.num() || !b.num())
      runtime("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
    const bool ints = a.t != Value::Float && b.t != Value::Float;
    const int64_t x = a.t == Value::Bool ? a.b : a.i, y = b.t == Value::Bool ? b.b : b.i;
    const double fx = a.as_f(), fy = b.as_f();
    if (op == "+") return ints ? Value::integer(static_cast<int64_t>(static_cast<uint64_t>(x) + static_cast<uint64_t>(y))) : Value::real(fx + fy);
    if (op == "-") return ints ? Value::integer(static_cast<int64_t>(static_cast<uint64_t>(x) - static_cast<uint64_t>(y))) : Value::real(fx - fy);
    if (op == "*") return ints ? Value::integer(static_cast<int64_t>(static_cast<uint64_t>(x) * static_cast<uint64_t>(y))) : Value::real(fx * fy);
    if (op == "/") {
      if (fy == 0) runtime("division by zero");
      return Value::real(fx / fy);
    }
    if (op == "//" || op == "%") {
      if (ints) {
        if (y == 0) runtime("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) return op == "//" ? Value::integer(x) : Value::integer(0);
        int64_t q = x / y, r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) {
          --q;
          r += y;
        }
        return Value::integer(op == "//" ? q : r);
      }
      if (fy == 0) runtime("float division or modulo by zero");
      const double q = std::floor(fx / fy);
      return Value::real(op == "//" ? q : fx - q * fy);
    }
    if (op == "**") {
      if (ints && y >= 0) {
        int64_t r = 1;
        for (int64_t k = 0; k < y && k < 64; ++k) r = static_cast<int64_t>(static_cast<uint64_t>(r) * static_cast<uint64_t>(x));
        return Value::integer(r);
      }
      return Value::real(std::pow(fx, fy));
    }
    runtime("unknown operator " + op);
  }

  bool contains(const Value& hay, const Value& needle) {
    switch (hay.t) {
      case Value::Undef: return false;
      case Value::Str:
        if (needle.t != Value::Str) runtime("'in <string>' requires string as left operand, not " + type_name(needle));
        charge(hay.s.size() / 16 + 1);
        return hay.s.find(needle.s) != std::string::npos;
      case Value::Lst:
        charge(hay.l->size() + 1);
        for (const auto& x : *hay.l)
          if (py_eq(x, needle)) return true;
        return false;
      case Value::Dct: return needle.t == Value::Str && hay.d->find(needle.s) != nullptr;
      default: runtime("argument of type '" + type_name(hay) + "' is not iterable");
    }
  }

  // ---- expressions ----
  Value eval(const Expr& e) {
    Depth d(*this);
    switch (e.k) {
      case Expr::Lit: return e.lit;
      case Expr::Name: return lookup(e.name);
      case Expr::Attr: return getattr(eval(*e.a[0]), e.name);
      case Expr::Item: {
        Value obj = eval(*e.a[0]);
        return getitem(obj, eval(*e.a[1]));
      }
      case Expr::Slice: {
        Value obj = eval(*e.a[0]);
        Value parts[3];
        const Value* ptr[3] = {nullptr, nullptr, nullptr};
        for (int k = 0; k < 3; ++k)
          if (e.has[k]) {
            parts[k] = eval(*e.a[static_cast<std::size_t>(k + 1)]);
            ptr[k] = &parts[k];
          }
        return slice(obj, ptr);
      }
      case Expr::Call: {
        Value f = eval(*e.a[0]);
        if (f.t == Value::Undef) {
          if (e.a[0]->k == Expr::Name) runtime("'" + e.a[0]->name + "' is undefined");
          undefined_error(f);
        }
        if (f.t != Value::Func) runtime("'" + type_name(f) + "' object is not callable");
        Args args = eval_args(e);
        return (*f.fn)(args);
      }
      case Expr::Filter: return filter(e);
      case Expr::Test: {
        const bool r = test(e);
        return Value::boolean(e.negate ? !r : r);
      }
      case Expr::Neg:
      case Expr::Pos: {
        Value v = eval(*e.a[0]);
        if (v.t == Value::Undef) undefined_error(v);
        if (!v.num()) runtime("bad operand type for unary " + std::string(e.k == Expr::Neg ? "-" : "+") + ": '" + type_name(v) + "'");
        if (e.k == Expr::Pos) return v.t == Value::Bool ? Value::integer(v.b) : v;
        if (v.t == Value::Float) return Value::real(-v.f);
        return Value::integer(static_cast<int64_t>(0 - static_cast<uint64_t>(v.t == Value::Bool ? v.b : v.i)));
      }
      case Expr::Not: return Value::boolean(!truthy(eval(*e.a[0])));
      case Expr::And: {
        Value l = eval(*e.a[0]);
        return truthy(l) ? eval(*e.a[1]) : l;
      }
      case Expr::Or: {
        Value l = eval(*e.a[0]);
        return truthy(l) ? l : eval(*e.a[1]);
      }
      case Expr::Bin: {
        Value l = eval(*e.a[0]), r = eval(*e.a[1]);
        if (e.name == "~") {
          std::string s = str(l);
          const std::string rs = str(r);
          check_size(s.size() + rs.size());
          charge((s.size() + rs.size()) / 16 + 1);
          return Value::str(s + rs);
        }
        return arith(e.name, l, r);
      }
      case Expr::Cmp: {
        Value l = eval(*e.a[0]);
        for (std::size_t k = 0; k < e.ops.size(); ++k) {
          Value r = eval(*e.a[k + 1]);
          const std::string& op = e.ops[k];
          bool ok;
          if (op == "==") ok = py_eq(l, r);
          else if (op == "!=") ok = !py_eq(l, r);
          else if (op == "in") ok = contains(r, l);
          else if (op == "notin") ok = !contains(r, l);
          else {
            const int c = py_cmp(l, r);
            ok = op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0;
          }
          if (!ok) return Value::boolean(false);
          l = std::move(r);
        }
        return Value::boolean(true);
      }
      case Expr::Cond: {
        if (truthy(eval(*e.a[0]))) return eval(*e.a[1]);
        return e.a.size() > 2 ? eval(*e.a[2]) : Value::undef("the inline if's condition was false and it has no else");
      }
      case Expr::ListE:
      case Expr::TupleE: {
        List l;
        for (const auto& x : e.a) l.push_back(eval(*x));
        Value v = Value::list(std::move(l));
        v.tuple = e.k == Expr::TupleE;
        return v;
      }
      case Expr::DictE: {
        Value v = Value::dict();
        for (std::size_t k = 0; k + 1 < e.a.size(); k += 2) {
          Value key = eval(*e.a[k]);
          if (key.t != Value::Str) runtime("dict keys other than strings are not supported");
          v.d->set(key.s, eval(*e.a[k + 1]));
        }
        seal(v);
        return v;
      }
    }
    runtime("bad expression");
  }

  Args eval_args(const Expr& e, std::size_t skip = 1) {
    Args a;
    for (std::size_t k = skip; k < e.a.size(); ++k) a.pos.push_back(eval(*e.a[k]));
    for (const auto& [k, x] : e.kw) a.kw.emplace_back(k, eval(*x));
    return a;
  }

  // ---- string and dict methods ----
  static std::string strip_chars(const std::string& s, const Value& chars, bool left, bool right) {
    const auto cps = decode(s);
    std::vector<char32_t> set;
    const bool ws = chars.t == Value::Undef || chars.t == Value::None;
    if (!ws) {
      if (chars.t != Value::Str) runtime("strip arg must be None or str");
      set = decode(chars.s);
    }
    auto drop = [&](char32_t c) { return ws ? py_space(c) : std::find(set.begin(), set.end(), c) != set.end(); };
    std::size_t b = 0, e = cps.size();
    if (left)
      while (b < e && drop(cps[b])) ++b;
    if (right)
      while (e > b && drop(cps[e - 1])) --e;
    return encode(std::vector<char32_t>(cps.begin() + static_cast<std::ptrdiff_t>(b), cps.begin() + static_cast<std::ptrdiff_t>(e)));
  }
  static std::string py_title(const std::string& s) {  // str.title()
    std::vector<char32_t> cps = decode(s);
    bool prev_cased = false;
    for (auto& c : cps) {
      c = prev_cased ? low(c) : up(c);
      prev_cased = cased(c);
    }
    return encode(cps);
  }
  static std::string py_capitalize(const std::string& s) {
    std::vector<char32_t> cps = decode(s);
    for (std::size_t k = 0; k < cps.size(); ++k) cps[k] = k ? low(cps[k]) : up(cps[k]);
    return encode(cps);
  }
  static std::string map_case(const std::string& s, bool upper) {
    std::vector<char32_t> cps = decode(s);
    for (auto& c : cps) c = upper ? up(c) : low(c);
    return encode(cps);
  }
  std::string replace(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
    charge(s.size() / 16 + 1);
    std::string r;
    if (from.empty()) {  // Python inserts `to` between characters
      const auto st = cp_starts(s);
      int64_t done = 0;
      for (std::size_t k = 0; k <= st.size(); ++k) {
        if (count < 0 || done < count) {
          r += to;
          ++done;
        }
        if (k < st.size()) r += s.substr(st[k], (k + 1 < st.size() ? st[k + 1] : s.size()) - st[k]);
        check_size(r.size());
      }
      return r;
    }
    std::size_t pos = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
      const std::size_t at = s.find(from, pos);
      if (at == std::string::npos) break;
      r.append(s, pos, at - pos);
      r += to;
      check_size(r.size());
      pos = at + from.size();
      ++done;
    }
    r.append(s, pos, std::string::npos);
    check_size(r.size());
    return r;
  }
  Value split(const std::string& s, const Value& sep, int64_t maxsplit) {
    charge(s.size() / 16 + 1);
    List l;
    if (sep.t == Value::Undef || sep.t == Value::None) {
      const auto cps = decode(s);
      std::size_t k = 0;
      while (true) {
        while (k < cps.size() && py_space(cps[k])) ++k;
        if (k >= cps.size()) break;
        if (maxsplit >= 0 && static_cast<int64_t>(l.size()) >= maxsplit) {
          std::size_t e = cps.size();
          while (e > k && py_space(cps[e - 1])) --e;
          l.push_back(Value::str(encode(std::vector<char32_t>(cps.begin() + static_cast<std::ptrdiff_t>(k), cps.begin() + static_cast<std::ptrdiff_t>(e)))));
          break;
        }
        std::size_t e = k;
        while (e < cps.size() && !py_space(cps[e])) ++e;
        l.push_back(Value::str(encode(std::vector<char32_t>(cps.begin() + static_cast<std::ptrdiff_t>(k), cps.begin() + static_cast<std::ptrdiff_t>(e)))));
        tick();
        k = e;
      }
      return Value::list(std::move(l));
    }
    if (sep.t != Value::Str) runtime("must be str or None, not " + type_name(sep));
    if (sep.s.empty()) runtime("empty separator");
    std::size_t pos = 0;
    while (maxsplit < 0 || static_cast<int64_t>(l.size()) < maxsplit) {
      const std::size_t at = s.find(sep.s, pos);
      if (at == std::string::npos) break;
      l.push_back(Value::str(s.substr(pos, at - pos)));
      tick();
      pos = at + sep.s.size();
    }
    l.push_back(Value::str(s.substr(pos)));
    return Value::list(std::move(l));
  }
  static bool affix(const std::string& s, const Value& x, bool start) {
    auto one = [&](const std::string& a) {
      return a.size() <= s.size() && (start ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0);
    };
    if (x.t == Value::Str) return one(x.s);
    if (x.t == Value::Lst) {
      for (const auto& y : *x.l) {
        if (y.t != Value::Str) runtime("tuple for startswith/endswith must only contain str");
        if (one(y.s)) return true;
      }
      return false;
    }
    runtime("startswith/endswith first arg must be str or a tuple of str, not " + type_name(x));
  }
  Value str_method(const Value& self, const std::string& m, Args& a) {
    const std::string& s = self.s;
    if (m == "strip" || m == "lstrip" || m == "rstrip") return Value::str(strip_chars(s, a.get(0, "chars"), m != "rstrip", m != "lstrip"));
    if (m == "startswith" || m == "endswith") return Value::boolean(affix(s, a.get(0, "prefix"), m == "startswith"));
    if (m == "split") {
      Value mx = a.get(1, "maxsplit", Value::integer(-1));
      return split(s, a.get(0, "sep"), mx.t == Value::Int ? mx.i : -1);
    }
    if (m == "splitlines") {
      List l;
      std::size_t pos = 0;
      while (pos < s.size()) {
        std::size_t e = s.find_first_of("\r\n", pos);
        if (e == std::string::npos) {
          l.push_back(Value::str(s.substr(pos)));
          break;
        }
        l.push_back(Value::str(s.substr(pos, e - pos)));
        pos = e + (s[e] == '\r' && e + 1 < s.size() && s[e + 1] == '\n' ? 2 : 1);
      }
      return Value::list(std::move(l));
    }
    if (m == "upper" || m == "lower") return Value::str(map_case(s, m == "upper"));
    if (m == "title") return Value::str(py_title(s));
    if (m == "capitalize") return Value::str(py_capitalize(s));
    if (m == "replace") {
      Value from = a.get(0, "old"), to = a.get(1, "new"), n = a.get(2, "count", Value::integer(-1));
      if (from.t != Value::Str || to.t != Value::Str) runtime("replace() arguments must be str");
      return Value::str(replace(s, from.s, to.s, n.t == Value::Int ? n.i : -1));
    }
    if (m == "join") {
      std::string r;
      bool first = true;
      for (const auto& x : iterate(a.get(0, "iterable"))) {
        if (x.t != Value::Str) runtime("sequence item: expected str instance, " + type_name(x) + " found");
        if (!first) r += s;
        first = false;
        r += x.s;
        check_size(r.size());
      }
      return Value::str(r);
    }
    if (m == "find" || m == "count") {
      Value x = a.get(0, "sub");
      if (x.t != Value::Str) runtime(m + "() argument must be str");
      if (m == "find") {
        const std::size_t at = s.find(x.s);
        return Value::integer(at == std::string::npos ? -1 : static_cast<int64_t>(cp_count(s.substr(0, at))));
      }
      if (x.s.empty()) return Value::integer(static_cast<int64_t>(cp_count(s)) + 1);
      int64_t n = 0;
      for (std::size_t at = s.find(x.s); at != std::string::npos; at = s.find(x.s, at + x.s.size())) ++n;
      return Value::integer(n);
    }
    if (m == "isdigit" || m == "isalpha" || m == "isspace" || m == "isupper" || m == "islower") {
      const auto cps = decode(s);
      if (cps.empty()) return Value::boolean(false);
      bool any_cased = false;
      for (char32_t c : cps) {
        if (m == "isdigit" && !(c >= '0' && c <= '9')) return Value::boolean(false);
        if (m == "isalpha" && !cased(c) && !(c >= 0x80 && utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_LO)) return Value::boolean(false);
        if (m == "isspace" && !py_space(c)) return Value::boolean(false);
        if (m == "isupper" && low(c) != c && up(c) == c) any_cased = true;
        if (m == "isupper" && up(c) != c) return Value::boolean(false);
        if (m == "islower" && up(c) != c && low(c) == c) any_cased = true;
        if (m == "islower" && low(c) != c) return Value::boolean(false);
      }
      return Value::boolean(m == "isupper" || m == "islower" ? any_cased : true);
    }
    runtime("str." + m + "() is not supported");
  }
  Value dict_method(const Value& self, const std::string& m, Args& a) {
    if (m == "get") {
      Value k = a.get(0, "key");
      if (k.t == Value::Str)
        if (const Value* v = self.d->find(k.s)) return *v;
      return a.get(1, "default", Value::none());
    }
    List l;
    for (const auto& [k, v] : self.d->items) {
      if (m == "keys") l.push_back(Value::str(k));
      else if (m == "values") l.push_back(v);
      else {
        l.push_back(Value::list({Value::str(k), v}));
        l.back().tuple = true;  // Python's items() are (key, value) tuples
      }
    }
    return Value::list(std::move(l));
  }
  Value list_method(const Value& self, const std::string& m, Args& a) {
    Value x = a.get(0, "value");
    int64_t n = 0;
    for (std::size_t k = 0; k < self.l->size(); ++k)
      if (py_eq((*self.l)[k], x)) {
        if (m == "index") return Value::integer(static_cast<int64_t>(k));
        ++n;
      }
    if (m == "index") runtime(repr(x) + " is not in list");
    return Value::integer(n);
  }

  // ---- tests ----
  bool apply_test(const std::string& name, const Value& v, Args& a) {
    if (name == "defined") return v.t != Value::Undef;
    if (name == "undefined") return v.t == Value::Undef;
    if (name == "none") return v.t == Value::None;
    if (name == "string") return v.t == Value::Str;
    if (name == "mapping") return v.t == Value::Dct;
    if (name == "iterable") return v.t == Value::Lst || v.t == Value::Str || v.t == Value::Dct || v.t == Value::Undef;
    if (name == "sequence") return v.t == Value::Lst || v.t == Value::Str || (v.t == Value::Dct && !v.d->ns);
    if (name == "number") return v.num();
    if (name == "integer") return v.t == Value::Int;
    if (name == "float") return v.t == Value::Float;
    if (name == "boolean") return v.t == Value::Bool;
    if (name == "true") return v.t == Value::Bool && v.b;
    if (name == "false") return v.t == Value::Bool && !v.b;
    if (name == "callable") return v.t == Value::Func;
    if (name == "lower") return v.t == Value::Str && map_case(v.s, false) == v.s;
    if (name == "upper") return v.t == Value::Str && map_case(v.s, true) == v.s;
    if (name == "odd" || name == "even") {
      if (v.t != Value::Int) runtime("the " + name + " test needs an integer");
      return (v.i % 2 != 0) == (name == "odd");
    }
    if (name == "divisibleby") {
      Value n = a.get(0, "num");
      if (v.t != Value::Int || n.t != Value::Int || n.i == 0) runtime("divisibleby needs non-zero integers");
      return v.i % n.i == 0;
    }
    if (name == "eq" || name == "equalto" || name == "==") return py_eq(v, a.get(0, "other"));
    if (name == "ne" || name == "!=") return !py_eq(v, a.get(0, "other"));
    if (name == "lt" || name == "lessthan" || name == "<") return py_cmp(v, a.get(0, "other")) < 0;
    if (name == "gt" || name == "greaterthan" || name == ">") return py_cmp(v, a.get(0, "other")) > 0;
    if (name == "le" || name == "<=") return py_cmp(v, a.get(0, "other")) <= 0;
    if (name == "ge" || name == ">=") return py_cmp(v, a.get(0, "other")) >= 0;
    if (name == "in") return contains(a.get(0, "seq"), v);
    if (name == "sameas") {
      Value o2 = a.get(0, "other");
      if (v.t != o2.t) return false;
      if (v.t == Value::Lst) return v.l == o2.l;
      if (v.t == Value::Dct) return v.d == o2.d;
      return py_eq(v, o2);
    }
    runtime("no test named '" + name + "'");
  }
  bool test(const Expr& e) {
    Value v = eval(*e.a[0]);
    Args a = eval_args(e);
    return apply_test(e.name, v, a);
  }

  // ---- filters ----
  Value attribute_path(const Value& v, const Value& attr) {  // Jinja's make_attrgetter: "a.b", or an int index
    if (attr.t == Value::Int) return getitem(v, attr);
    if (attr.t != Value::Str) runtime("attribute must be a string");
    Value cur = v;
    std::size_t pos = 0;
    while (true) {
      const std::size_t dot = attr.s.find('.', pos);
      const std::string part = attr.s.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
      Value key = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })
                      ? Value::integer(digits_index(part))
                      : Value::str(part);
      cur = getitem(cur, key);
      if (dot == std::string::npos) return cur;
      pos = dot + 1;
    }
  }
  Value call_filter(const std::string& name, const Value& v, Args& a) {
    if (name == "safe") return v;
    if (name == "trim") return Value::str(strip_chars(str(v), a.get(0, "chars"), true, true));
    if (name == "tojson") {
      Value ind = a.get(0, "indent", Value::none());
      std::string indent_s;
      const std::string* indent = nullptr;
      if (ind.t == Value::Int) {
        indent_s = std::string(static_cast<std::size_t>(std::clamp<int64_t>(ind.i, 0, 64)), ' ');
        indent = &indent_s;
      } else if (ind.t == Value::Str) {
        indent_s = ind.s;
        indent = &indent_s;
      }
      std::string item_sep = indent ? "," : ", ", key_sep = ": ";
      Value seps = a.get(2, "separators", Value::none());
      if (seps.t == Value::Lst && seps.l->size() == 2 && (*seps.l)[0].t == Value::Str && (*seps.l)[1].t == Value::Str) {
        item_sep = (*seps.l)[0].s;
        key_sep = (*seps.l)[1].s;
      }
      std::string o2;
      dumps(v, o2, indent, 0, item_sep, key_sep, truthy(a.get(3, "sort_keys", Value::boolean(false))), 0);
      check_size(o2.size());
      return Value::str(o2);
    }
    if (name == "length" || name == "count") {
      switch (v.t) {
        case Value::Str: return Value::integer(static_cast<int64_t>(cp_count(v.s)));
        case Value::Lst: return Value::integer(static_cast<int64_t>(v.l->size()));
        case Value::Dct: return Value::integer(static_cast<int64_t>(v.d->items.size()));
        case Value::Undef: return Value::integer(0);
        default: runtime("object of type '" + type_name(v) + "' has no len()");
      }
    }
    if (name == "upper" || name == "lower") return Value::str(map_case(str(v), name == "upper"));
    if (name == "capitalize") return Value::str(py_capitalize(str(v)));
    if (name == "title") {  // Jinja's do_title: words split at whitespace and - ( { [ <
      std::vector<char32_t> cps = decode(str(v));
      bool start = true;
      for (auto& c : cps) {
        const bool sep = py_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
        if (sep) {
          start = true;
          continue;
        }
        c = start ? up(c) : low(c);
        start = false;
      }
      return Value::str(encode(cps));
    }
    if (name == "replace") {
      Value from = a.get(0, "old"), to = a.get(1, "new"), n = a.get(2, "count", Value::none());
      return Value::str(replace(str(v), str(from), str(to), n.t == Value::Int ? n.i : -1));
    }
    if (name == "join") {
      const std::string sep = str(a.get(0, "d", Value::str("")));
      Value attr = a.get(1, "attribute", Value::none());
      std::string r;
      bool first = true;
      for (const auto& x : iterate(v)) {
        if (!first) r += sep;
        first = false;
        r += str(attr.t == Value::None ? x : attribute_path(x, attr));
        check_size(r.size());
      }
      return Value::str(r);
    }
    if (name == "default" || name == "d") {
      Value dflt = a.get(0, "default_value", Value::str(""));
      const bool boolean = truthy(a.get(1, "boolean", Value::boolean(false)));
      if (v.t == Value::Undef || (boolean && !truthy(v))) return dflt;
      return v;
    }
    if (name == "first") {
      List l = iterate(v);
      return l.empty() ? Value::undef("no first item, sequence was empty") : l.front();
    }
    if (name == "last") {
      List l = iterate(v);
      return l.empty() ? Value::undef("no last item, sequence was empty") : l.back();
    }
    if (name == "string") return Value::str(str(v));
    if (name == "int") {
      Value dflt = a.get(0, "default", Value::integer(0));
      if (v.t == Value::Int) return v;
      if (v.t == Value::Bool) return Value::integer(v.b);
      if (v.t == Value::Float) return std::isfinite(v.f) ? Value::integer(static_cast<int64_t>(v.f)) : dflt;
      if (v.t == Value::Str) {
        const std::string s = strip_chars(v.s, Value::undef(), true, true);
        int64_t x = 0;
        auto r = std::from_chars(s.data() + (!s.empty() && s[0] == '+'), s.data() + s.size(), x);
        if (r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty()) return Value::integer(x);
        char* end = nullptr;
        const double f = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(f) && std::fabs(f) < 9.2e18) return Value::integer(static_cast<int64_t>(f));
      }
      return dflt;
    }
    if (name == "float") {
      Value dflt = a.get(0, "default", Value::real(0));
      if (v.num()) return Value::real(v.as_f());
      if (v.t == Value::Str) {
        const std::string s = strip_chars(v.s, Value::undef(), true, true);
        char* end = nullptr;
        const double f = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size()) return Value::real(f);
      }
      return dflt;
    }
    if (name == "items") {
      if (v.t == Value::Undef) return Value::list();
      if (v.t != Value::Dct) runtime("can only get item pairs from a mapping");
      Args none;
      return dict_method(v, "items", none);
    }
    if (name == "list") return Value::list(iterate(v));
    if (name == "reverse") {
      if (v.t == Value::Str) {
        auto cps = decode(v.s);
        std::reverse(cps.begin(), cps.end());
        return Value::str(encode(cps));
      }
      List l = iterate(v);
      std::reverse(l.begin(), l.end());
      return Value::list(std::move(l));
    }
    if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
      const bool attr = name == "selectattr" || name == "rejectattr", keep = name == "selectattr" || name == "select";
      std::size_t k = 0;
      Value attr_name = attr ? (k < a.pos.size() ? a.pos[k++] : Value::undef()) : Value::undef();
      std::string test_name;
      if (k < a.pos.size()) test_name = str(a.pos[k++]);
      Args targs;
      targs.pos.assign(a.pos.begin() + static_cast<std::ptrdiff_t>(std::min(k, a.pos.size())), a.pos.end());
      targs.kw = a.kw;
      List l;
      for (const auto& x : iterate(v)) {
        tick();
        const Value item = attr ? attribute_path(x, attr_name) : x;
        const bool r = test_name.empty() ? truthy(item) : apply_test(test_name, item, targs);
        if (r == keep) l.push_back(x);
      }
      return Value::list(std::move(l));
    }
    if (name == "map") {
      List l;
      Value attr = a.get(99, "attribute");
      if (attr.t != Value::Undef) {
        Value dflt = a.get(99, "default");
        for (const auto& x : iterate(v)) {
          tick();
          Value y = attribute_path(x, attr);
          l.push_back(y.t == Value::Undef && dflt.t != Value::Undef ? dflt : y);
        }
      } else {
        if (a.pos.empty()) runtime("map needs a filter name or attribute=");
        const std::string f = str(a.pos[0]);
        Args fargs;
        fargs.pos.assign(a.pos.begin() + 1, a.pos.end());
        fargs.kw = a.kw;
        for (const auto& x : iterate(v)) {
          tick();
          l.push_back(call_filter(f, x, fargs));
        }
      }
      return Value::list(std::move(l));
    }
    if (name == "unique") {
      List l;
      for (const auto& x : iterate(v)) {
        tick();
        bool seen = false;
        charge(l.size() + 1);
        for (const auto& y : l) {
          const bool eq = x.t == Value::Str && y.t == Value::Str && !truthy(a.get(0, "case_sensitive", Value::boolean(false)))
                              ? map_case(x.s, false) == map_case(y.s, false)
                              : py_eq(x, y);
          if (eq) seen = true;
        }
        if (!seen) l.push_back(x);
      }
      return Value::list(std::move(l));
    }
    if (name == "indent") {
      Value w = a.get(0, "width", Value::integer(4));
      const std::string ind = w.t == Value::Str ? w.s : std::string(static_cast<std::size_t>(std::clamp<int64_t>(w.t == Value::Int ? w.i : 4, 0, 1024)), ' ');
      const bool first = truthy(a.get(1, "first", Value::boolean(false))), blank = truthy(a.get(2, "blank", Value::boolean(false)));
      std::string s = str(v) + "\n";
      // Python's splitlines (\n, \r\n, \r; other separators are rare in templates)
      std::vector<std::string> lines;
      std::size_t pos = 0;
      while (pos < s.size()) {
        std::size_t e = s.find_first_of("\r\n", pos);
        if (e == std::string::npos) {
          lines.push_back(s.substr(pos));
          break;
        }
        lines.push_back(s.substr(pos, e - pos));
        pos = e + (s[e] == '\r' && e + 1 < s.size() && s[e + 1] == '\n' ? 2 : 1);
      }
      std::string r;
      for (std::size_t k = 0; k < lines.size(); ++k) {
        if (k) r += "\n";
        if (k && (blank || !lines[k].empty())) r += ind;
        r += lines[k];
        check_size(r.size());
      }
      if (first) r = ind + r;
      return Value::str(r);
    }
    if (name == "e" || name == "escape") {
      if (v.t == Value::Undef) return Value::str("");
      std::string r;
      for (char c : str(v)) {
        switch (c) {
          case '&': r += "&amp;"; break;
          case '<': r += "&lt;"; break;
          case '>': r += "&gt;"; break;
          case '"': r += "&#34;"; break;
          case '\'': r += "&#39;"; break;
          default: r += c;
        }
      }
      check_size(r.size());
      return Value::str(r);
    }
    if (name == "abs") {
      if (v.t == Value::Int) return Value::integer(v.i < 0 ? static_cast<int64_t>(0 - static_cast<uint64_t>(v.i)) : v.i);
      if (v.t == Value::Float) return Value::real(std::fabs(v.f));
      runtime("bad operand type for abs(): '" + type_name(v) + "'");
    }
    if (name == "round") {
      const int64_t prec = std::clamp<int64_t>(a.get(0, "precision", Value::integer(0)).i, 0, 15);
      const std::string method = str(a.get(1, "method", Value::str("common")));
      if (!v.num()) runtime("round needs a number");
      const double m = std::pow(10.0, static_cast<double>(prec)), x = v.as_f() * m;
      const double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::round(x);
      return Value::real(r / m);
    }
    if (name == "sum") {
      Value acc = a.get(1, "start", Value::integer(0));
      Value attr = a.get(0, "attribute", Value::none());
      for (const auto& x : iterate(v)) acc = arith("+", acc, attr.t == Value::None ? x : attribute_path(x, attr));
      return acc;
    }
    if (name == "min" || name == "max") {
      List l = iterate(v);
      if (l.empty()) return Value::undef("no " + name + " item, sequence was empty");
      Value best = l[0];
      for (const auto& x : l)
        if ((name == "min") ? py_cmp(x, best) < 0 : py_cmp(x, best) > 0) best = x;
      return best;
    }
    if (name == "sort" || name == "dictsort") {
      List l = name == "sort" ? iterate(v) : call_filter("items", v, a).l ? *call_filter("items", v, a).l : List{};
      const bool rev = truthy(a.get(name == "sort" ? 0 : 1, "reverse", Value::boolean(false)));
      const bool cs = truthy(a.get(name == "sort" ? 1 : 0, "case_sensitive", Value::boolean(false)));
      Value attr = name == "sort" ? a.get(2, "attribute", Value::none()) : Value::integer(0);
      auto key = [&](const Value& x) {  // Jinja compares strings case-insensitively unless case_sensitive
        Value k = attr.t == Value::None ? x : attribute_path(x, attr);
        return !cs && k.t == Value::Str ? Value::str(map_case(k.s, false)) : k;
      };
      charge(l.size() * 20 + 1);  // n log n comparisons
      std::stable_sort(l.begin(), l.end(), [&](const Value& x, const Value& y) {
        const Value kx = key(x), ky = key(y);
        return rev ? py_cmp(ky, kx) < 0 : py_cmp(kx, ky) < 0;
      });
      return Value::list(std::move(l));
    }
    if (name == "wordcount") return Value::integer(static_cast<int64_t>(split(str(v), Value::undef(), -1).l->size()));
    runtime("no filter named '" + name + "'");
  }
  Value filter(const Expr& e) {
    Value v = eval(*e.a[0]);
    Args a = eval_args(e);
    return call_filter(e.name, v, a);
  }

  // ---- statements ----
  Flow exec(const Body& b) {
    for (const auto& s : b) {
      const Flow f = exec(*s);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }
  Flow exec(const Stmt& s) {
    Depth d(*this);
    switch (s.k) {
      case Stmt::Text: emit(s.text); return Flow::Normal;
      case Stmt::Out: {
        Value v = eval(*s.e);
        emit(str(v));
        return Flow::Normal;
      }
      case Stmt::If:
        for (std::size_t k = 0; k < s.conds.size(); ++k)
          if (truthy(eval(*s.conds[k]))) return exec(s.bodies[k]);
        if (s.bodies.size() > s.conds.size()) return exec(s.bodies.back());
        return Flow::Normal;
      case Stmt::For: return exec_for(s);
      case Stmt::Set: {
        Value v = eval(*s.e);
        if (s.attr) {
          Value ns = lookup(s.targets[0]);
          if (ns.t != Value::Dct || !ns.d->ns) runtime("cannot assign attribute on non-namespace object '" + s.targets[0] + "'");
          ns.d->set(s.targets[1], std::move(v));
        } else if (s.targets.size() == 1) {
          assign(s.targets[0], std::move(v));
        } else {
          List items = iterate(v);
          if (items.size() != s.targets.size()) runtime("cannot unpack " + std::to_string(items.size()) + " values into " + std::to_string(s.targets.size()));
          for (std::size_t k = 0; k < items.size(); ++k) assign(s.targets[k], items[k]);
        }
        return Flow::Normal;
      }
      case Stmt::SetBlock: {
        std::string buf;
        std::string* saved = out;
        out = &buf;
        exec(s.bodies[0]);
        out = saved;
        assign(s.targets[0], Value::str(std::move(buf)));
        return Flow::Normal;
      }
      case Stmt::Macro: {
        const Stmt* def = &s;
        assign(s.text, Value::func([this, def](Args& a) { return call_macro(*def, a); }));
        return Flow::Normal;
      }
      case Stmt::Break: return Flow::Break;
      case Stmt::Continue: return Flow::Continue;
      case Stmt::Block: return exec(s.bodies[0]);
    }
    return Flow::Normal;
  }

  Value call_macro(const Stmt& def, Args& a) {
    Depth d(*this);
    std::map<std::string, Value, std::less<>> frame;
    for (std::size_t k = 0; k < def.params.size(); ++k) {
      const auto& [pname, dflt] = def.params[k];
      Value v = a.get(k, pname.c_str());
      if (v.t == Value::Undef && dflt) v = eval(*dflt);
      frame[pname] = v;
    }
    std::string buf;
    std::string* saved = out;
    const std::size_t saved_barrier = barrier;
    frames.push_back(std::move(frame));
    barrier = frames.size() - 1;
    out = &buf;
    struct Restore {
      Interp& in;
      std::string* saved;
      std::size_t barrier;
      ~Restore() {
        in.out = saved;
        in.frames.pop_back();
        in.barrier = barrier;
      }
    } restore{*this, saved, saved_barrier};
    exec(def.bodies[0]);
    return Value::str(std::move(buf));
  }

  Flow exec_for(const Stmt& s) {
    List items = iterate(eval(*s.e));
    // `for x in xs if cond`: filter first (loop.length counts what passes), the condition sees x.
    auto bind = [&](std::map<std::string, Value, std::less<>>& frame, const Value& item) {
      if (s.targets.size() == 1) {
        frame[s.targets[0]] = item;
        return;
      }
      List parts = iterate(item);
      if (parts.size() != s.targets.size())
        runtime("cannot unpack " + std::to_string(parts.size()) + " values into " + std::to_string(s.targets.size()) + " loop variables");
      for (std::size_t k = 0; k < parts.size(); ++k) frame[s.targets[k]] = parts[k];
    };
    if (s.cond) {
      List kept;
      for (const auto& it : items) {
        tick();
        frames.emplace_back();
        bind(frames.back(), it);
        const bool keep = truthy(eval(*s.cond));
        frames.pop_back();
        if (keep) kept.push_back(it);
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      if (s.bodies.size() > 1) return exec(s.bodies[1]);
      return Flow::Normal;
    }
    const auto n = static_cast<int64_t>(items.size());
    for (int64_t k = 0; k < n; ++k) {
      tick();
      frames.emplace_back();
      struct Pop {
        Interp& in;
        ~Pop() { in.frames.pop_back(); }
      } pop{*this};
      auto& frame = frames.back();
      bind(frame, items[static_cast<std::size_t>(k)]);
      Value loop = Value::dict();
      loop.d->plain = false;
      auto& L = *loop.d;
      L.set("index", Value::integer(k + 1));
      L.set("index0", Value::integer(k));
      L.set("revindex", Value::integer(n - k));
      L.set("revindex0", Value::integer(n - k - 1));
      L.set("first", Value::boolean(k == 0));
      L.set("last", Value::boolean(k == n - 1));
      L.set("length", Value::integer(n));
      L.set("depth", Value::integer(1));
      L.set("depth0", Value::integer(0));
      L.set("previtem", k > 0 ? items[static_cast<std::size_t>(k - 1)] : Value::undef("there is no previous item"));
      L.set("nextitem", k + 1 < n ? items[static_cast<std::size_t>(k + 1)] : Value::undef("there is no next item"));
      L.set("cycle", Value::func([k](Args& a) -> Value {
              if (a.pos.empty()) runtime("no items for cycling given");
              return a.pos[static_cast<std::size_t>(k) % a.pos.size()];
            }));
      frame["loop"] = loop;
      const Flow f = exec(s.bodies[0]);
      if (f == Flow::Break) break;
    }
    return Flow::Normal;
  }
};

std::string strftime_at(const std::string& fmt, int64_t when) {
  const std::time_t t = static_cast<std::time_t>(when);
  std::tm tm{};
  localtime_r(&t, &tm);
  if (fmt.size() > 1024) runtime("strftime_now: format too long");
  std::string buf(fmt.size() * 8 + 64, '\0');
  const std::size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
  if (n == 0 && !fmt.empty()) return "";
  buf.resize(n);
  return buf;
}

}  // namespace

std::shared_ptr<const Program> parse(std::string_view source, int max_depth) {
  std::string_view src = source;
  // keep_trailing_newline=False: Jinja drops one trailing newline of the source.
  if (!src.empty() && src.back() == '\n') {
    src.remove_suffix(1);
    if (!src.empty() && src.back() == '\r') src.remove_suffix(1);
  }
  Lexer lx{src, {}, 1};
  lx.run();
  Parser ps{std::move(lx.out), 0, max_depth, 0};
  auto prog = std::make_shared<Program>();
  prog->body = ps.body({});
  if (ps.cur().k != Tk::End) syntax(ps.cur().line, "unexpected '" + ps.describe() + "'");
  return prog;
}

std::string render(const Program& p, const nlohmann::ordered_json& context, const ChatTemplateOptions& o) {
  Made made;
  struct Sweep {  // after `in` is gone (declared before it): what a cycle still holds is emptied
    Made* prev;
    Made& m;
    ~Sweep() {
      t_made = prev;
      for (auto& w : m.dicts)
        if (auto d = w.lock()) d->items.clear();
      for (auto& w : m.lists)
        if (auto l = w.lock()) l->clear();
      for (auto& w : m.fns)
        if (auto f = w.lock()) *f = Fn();
    }
  } sweep{t_made, made};
  t_made = &made;
  Interp in(o);
  struct MaxBytes {
    int64_t saved = t_max_bytes;
    ~MaxBytes() { t_max_bytes = saved; }
  } max_bytes;
  t_max_bytes = o.max_output_bytes;
  in.frames.emplace_back();
  for (auto it = context.begin(); context.is_object() && it != context.end(); ++it) in.frames[0][it.key()] = from_json(it.value());
  auto& g = in.frames[0];
  g["raise_exception"] = Value::func([](Args& a) -> Value { throw ChatTemplateError(a.pos.empty() ? std::string() : str(a.pos[0])); });
  g["strftime_now"] = Value::func([&o](Args& a) -> Value {
    const int64_t when = o.now ? *o.now : static_cast<int64_t>(std::time(nullptr));
    return Value::str(strftime_at(str(a.get(0, "format")), when));
  });
  g["namespace"] = Value::func([](Args& a) -> Value {
    Value v = Value::dict();
    v.d->ns = true;
    v.d->plain = false;
    for (const auto& x : a.pos)  // namespace({'a': 1})
      if (x.t == Value::Dct)
        for (const auto& kv : x.d->items) v.d->set(kv.first, kv.second);
    for (auto& [k, x] : a.kw) v.d->set(k, x);
    return v;
  });
  g["dict"] = Value::func([](Args& a) -> Value {
    Value v = Value::dict();
    for (auto& [k, x] : a.kw) v.d->set(k, x);
    seal(v);
    return v;
  });
  Interp* self = &in;
  g["range"] = Value::func([self](Args& a) -> Value {
    auto num = [](const Value& v) {
      if (v.t != Value::Int && v.t != Value::Bool) runtime("range() takes integers");
      return v.t == Value::Bool ? static_cast<int64_t>(v.b) : v.i;
    };
    int64_t start = 0, stop = 0, step = 1;
    if (a.pos.size() == 1) stop = num(a.pos[0]);
    else if (a.pos.size() >= 2) {
      start = num(a.pos[0]);
      stop = num(a.pos[1]);
      if (a.pos.size() > 2) step = num(a.pos[2]);
    } else runtime("range expected at least 1 argument");
    if (step == 0) runtime("range() arg 3 must not be zero");
    const double count = std::max(0.0, std::ceil((static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step)));
    self->tick(static_cast<int64_t>(std::min(count, 9e18)));
    List l;
    for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) l.push_back(Value::integer(k));
    return Value::list(std::move(l));
  });
  in.frames.emplace_back();  // the template's own top-level assignments
  std::string result;
  in.out = &result;
  in.exec(p.body);
  return result;
}

}  // namespace hfx::tok::jinja
