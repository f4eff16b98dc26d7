// Restricted pickle VM and protocol-2 writer (see pickle.h). Opcode
// semantics follow CPython's Lib/pickle.py (_Unpickler); the allow-list
// mirrors what torch.load(weights_only=True) accepts for a state dict
// (torch/_weights_only_unpickler.py), minus everything a state dict does not
// need.
#include "io/pickle.h"

#include <cstring>
#include <unordered_map>

namespace hfx::pickle {

namespace {

struct StorageName {
  const char* name;
  std::optional<DType> dtype;  // nullopt: a torch storage type hfx has no dtype for
};
constexpr StorageName kStorages[] = {
    {"FloatStorage", DType::F32},  {"HalfStorage", DType::F16},   {"BFloat16Storage", DType::BF16},
    {"DoubleStorage", DType::F64}, {"LongStorage", DType::I64},   {"IntStorage", DType::I32},
    {"ShortStorage", DType::I16},  {"CharStorage", DType::I8},    {"ByteStorage", DType::U8},
    {"BoolStorage", DType::Bool},  {"ComplexFloatStorage", {}},   {"ComplexDoubleStorage", {}},
    {"QInt8Storage", {}},          {"QUInt8Storage", {}},         {"QInt32Storage", {}},
    {"QUInt4x2Storage", {}},       {"QUInt2x4Storage", {}},
};
// torch dtypes without an hfx DType: recognised (Unsupported when used), not a security issue.
constexpr const char* kForeignDtypes[] = {"complex32", "complex64", "complex128", "qint8", "quint8", "qint32",
                                          "quint4x2", "quint2x4", "float8_e4m3fn", "float8_e5m2",
                                          "float8_e4m3fnuz", "float8_e5m2fnuz", "bits8", "bits16"};

class Vm {
 public:
  Vm(const uint8_t* d, std::size_t n, const std::string& file, const std::string& what, const Limits& lim)
      : d_(d), n_(n), file_(file), what_(what), lim_(lim) {}

  Result run() {
    for (;;) {
      op_at_ = pos_;
      if (pos_ >= n_) fail("pickle ends without a STOP opcode (truncated)");
      const uint8_t op = d_[pos_++];
      switch (op) {
        case 0x80: {  // PROTO
          const uint8_t v = u8();
          if (v > 5) throw_error(ErrorKind::Unsupported, where() + "pickle protocol " + std::to_string(v) + " (hfx reads 2 to 5)", file_);
          break;
        }
        case 0x95: {  // FRAME: a length hint; the opcodes follow inline
          const uint64_t len = le(8);
          if (len > n_ - pos_) fail("FRAME of " + std::to_string(len) + " bytes runs past the end");
          break;
        }
        case '.': {  // STOP
          r_.root = pop();
          r_.end = pos_;
          return std::move(r_);
        }
        case '(':
          if (marks_.size() >= lim_.max_marks) fail("too many nested MARKs");
          marks_.push_back(stack_.size());
          break;
        case '}': push(make(Kind::Dict)); break;
        case ']': push(make(Kind::List)); break;
        case ')': push(make(Kind::Tuple)); break;
        case 't': push(make_seq(Kind::Tuple, pop_mark())); break;
        case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
          std::vector<uint32_t> items(op - 0x84u);
          for (std::size_t k = items.size(); k-- > 0;) items[k] = pop();
          push(make_seq(Kind::Tuple, std::move(items)));
          break;
        }
        case 'J': push(make_int(static_cast<int32_t>(static_cast<uint32_t>(le(4))))); break;
        case 'K': push(make_int(u8())); break;
        case 'M': push(make_int(static_cast<int64_t>(le(2)))); break;
        case 0x8a: long_bytes(u8()); break;  // LONG1
        case 0x8b: {                         // LONG4
          const int32_t len = static_cast<int32_t>(static_cast<uint32_t>(le(4)));
          if (len < 0) fail("LONG4 with a negative length");
          long_bytes(static_cast<uint64_t>(len));
          break;
        }
        case 'G': {  // BINFLOAT, big-endian
          need(8);
          uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | d_[pos_ + static_cast<std::size_t>(k)];
          pos_ += 8;
          uint32_t o = make(Kind::Float);
          std::memcpy(&r_.objects[o].f, &bits, 8);
          push(o);
          break;
        }
        case 'N': push(make(Kind::None)); break;
        case 0x88: case 0x89: {
          uint32_t o = make(Kind::Bool);
          r_.objects[o].i = op == 0x88;
          push(o);
          break;
        }
        case 'X': push(make_str(Kind::Str, le(4))); break;     // BINUNICODE
        case 0x8c: push(make_str(Kind::Str, u8())); break;    // SHORT_BINUNICODE
        case 0x8d: push(make_str(Kind::Str, le(8))); break;   // BINUNICODE8
        case 'U': push(make_str(Kind::Str, u8())); break;     // SHORT_BINSTRING (decoded as text, as torch does)
        case 'T': {                                            // BINSTRING
          const int32_t len = static_cast<int32_t>(static_cast<uint32_t>(le(4)));
          if (len < 0) fail("BINSTRING with a negative length");
          push(make_str(Kind::Str, static_cast<uint64_t>(len)));
          break;
        }
        case 'C': push(make_str(Kind::Bytes, u8())); break;   // SHORT_BINBYTES
        case 'B': push(make_str(Kind::Bytes, le(4))); break;  // BINBYTES
        case 0x8e: push(make_str(Kind::Bytes, le(8))); break; // BINBYTES8
        case 'c': {  // GLOBAL "module\nname\n"
          std::string module = line(), name = line();
          push(resolve(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const uint32_t name = pop(), module = pop();
          if (obj(name).kind != Kind::Str || obj(module).kind != Kind::Str) fail("STACK_GLOBAL needs two strings");
          push(resolve(obj(module).s, obj(name).s));
          break;
        }
        case 'i': case 'o': case 0x82: case 0x83: case 0x84: {
          std::string what = op == 'i' ? "INST" : op == 'o' ? "OBJ" : "EXT" + std::to_string(op == 0x82 ? 1 : op == 0x83 ? 2 : 4);
          throw_error(ErrorKind::Security,
                      where() + "refused opcode " + what +
                          ", which instantiates a class by name; hfx's restricted unpickler only builds state dicts (nothing was executed)",
                      file_);
        }
        case 'Q': {  // BINPERSID
          const uint32_t pid = pop();
          uint32_t o = make(Kind::PersId);
          r_.objects[o].items = {pid};
          push(o);
          break;
        }
        case 'R': {  // REDUCE
          const uint32_t args = pop(), fn = pop();
          push(call(fn, args));
          break;
        }
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
          const uint32_t args = pop(), cls = pop();
          const Object& c = obj(cls);
          if (c.kind != Kind::Global || (c.global != Global::Parameter && c.global != Global::OrderedDict))
            fail("NEWOBJ of something other than torch.nn.Parameter or OrderedDict");
          push(call(cls, args));
          break;
        }
        case 'b': {  // BUILD: state for an OrderedDict (_metadata) or a tensor; kept out of the result
          pop();
          const Kind k = obj(top()).kind;
          if (k != Kind::Dict && k != Kind::Tensor && k != Kind::Opaque) fail("BUILD on a " + kind_name(k) + " (only dicts and tensors take state)");
          break;
        }
        case 's': {  // SETITEM
          const uint32_t v = pop(), k = pop();
          dict_add(top(), {k, v});
          break;
        }
        case 'u': {  // SETITEMS
          std::vector<uint32_t> kv = pop_mark();
          if (kv.size() % 2) fail("SETITEMS with an odd number of items");
          dict_add(top(), kv);
          break;
        }
        case 'a': {  // APPEND
          const uint32_t v = pop();
          list_add(top(), {v});
          break;
        }
        case 'e': {  // APPENDS
          std::vector<uint32_t> items = pop_mark();
          list_add(top(), items);
          break;
        }
        case 'q': memo_put(u8()); break;
        case 'r': memo_put(static_cast<uint32_t>(le(4))); break;
        case 0x94: memo_put(static_cast<uint32_t>(memo_.size())); break;  // MEMOIZE
        case 'h': memo_get(u8()); break;
        case 'j': memo_get(static_cast<uint32_t>(le(4))); break;
        case '0':  // POP
          if (stack_.size() > base()) stack_.pop_back();
          else pop_mark();
          break;
        case '1': pop_mark(); break;  // POP_MARK
        case '2': push(top()); break;  // DUP
        default: {
          std::string c = (op >= 0x20 && op < 0x7f) ? std::string(" ('") + static_cast<char>(op) + "')" : "";
          static const char* hex = "0123456789abcdef";
          fail(std::string("unsupported pickle opcode 0x") + hex[op >> 4] + hex[op & 15] + c +
               " (not one a PyTorch state dict uses)");
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const { throw_error(ErrorKind::Format, where() + msg, file_); }
  std::string where() const { return what_ + " at byte " + std::to_string(op_at_) + ": "; }
  static std::string kind_name(Kind k) {
    switch (k) {
      case Kind::None: return "None";
      case Kind::Opaque: return "numpy object";
      case Kind::Bool: return "bool";
      case Kind::Int: case Kind::BigInt: return "int";
      case Kind::Float: return "float";
      case Kind::Str: return "str";
      case Kind::Bytes: return "bytes";
      case Kind::Tuple: return "tuple";
      case Kind::List: return "list";
      case Kind::Dict: return "dict";
      case Kind::Global: return "global";
      case Kind::PersId: return "persistent id";
      case Kind::Tensor: return "tensor";
    }
    return "object";
  }

  void need(uint64_t k) const {
    if (k > n_ - pos_)
      fail("truncated: needs " + std::to_string(k) + " more bytes, " + std::to_string(n_ - pos_) + " left");
  }
  uint8_t u8() {
    need(1);
    return d_[pos_++];
  }
  uint64_t le(int bytes) {
    need(static_cast<uint64_t>(bytes));
    uint64_t v = 0;
    for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | d_[pos_ + static_cast<std::size_t>(k)];
    pos_ += static_cast<std::size_t>(bytes);
    return v;
  }
  std::string line() {
    const std::size_t limit = std::min<std::size_t>(n_ - pos_, 1024);
    const void* nl = std::memchr(d_ + pos_, '\n', limit);
    if (!nl) fail("GLOBAL name without a newline within 1024 bytes");
    const std::size_t len = static_cast<std::size_t>(static_cast<const uint8_t*>(nl) - (d_ + pos_));
    std::string s(reinterpret_cast<const char*>(d_ + pos_), len);
    pos_ += len + 1;
    return s;
  }

  const Object& obj(uint32_t i) const { return r_.objects[i]; }
  uint32_t make(Kind k) {
    if (r_.objects.size() >= lim_.max_objects) fail("more than " + std::to_string(lim_.max_objects) + " objects");
    r_.objects.emplace_back();
    r_.objects.back().kind = k;
    return static_cast<uint32_t>(r_.objects.size() - 1);
  }
  uint32_t make_int(int64_t v) {
    uint32_t o = make(Kind::Int);
    r_.objects[o].i = v;
    return o;
  }
  uint32_t make_str(Kind k, uint64_t len) {
    need(len);  // never allocate more than the input holds
    uint32_t o = make(k);
    r_.objects[o].s.assign(reinterpret_cast<const char*>(d_ + pos_), static_cast<std::size_t>(len));
    pos_ += static_cast<std::size_t>(len);
    return o;
  }
  uint32_t make_seq(Kind k, std::vector<uint32_t> items) {
    uint32_t o = make(k);
    r_.objects[o].items = std::move(items);
    return o;
  }
  void long_bytes(uint64_t len) {
    need(len);
    const uint8_t* p = d_ + pos_;
    pos_ += static_cast<std::size_t>(len);
    if (len <= 8) {
      uint64_t v = 0;
      for (uint64_t k = len; k-- > 0;) v = (v << 8) | p[k];
      if (len > 0 && len < 8 && (p[len - 1] & 0x80)) v |= ~uint64_t{0} << (8 * len);  // sign-extend
      push(make_int(static_cast<int64_t>(v)));
      return;
    }
    uint32_t o = make(Kind::BigInt);
    r_.objects[o].s.assign(reinterpret_cast<const char*>(p), static_cast<std::size_t>(len));
    push(o);
  }

  std::size_t base() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(uint32_t o) {
    if (stack_.size() >= lim_.max_stack) fail("stack deeper than " + std::to_string(lim_.max_stack));
    stack_.push_back(o);
  }
  uint32_t pop() {
    if (stack_.size() <= base()) fail("stack underflow");
    uint32_t o = stack_.back();
    stack_.pop_back();
    return o;
  }
  uint32_t top() const {
    if (stack_.size() <= base()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<uint32_t> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    const std::size_t b = marks_.back();
    marks_.pop_back();
    std::vector<uint32_t> items(stack_.begin() + static_cast<std::ptrdiff_t>(b), stack_.end());
    stack_.resize(b);
    return items;
  }
  void list_add(uint32_t list, const std::vector<uint32_t>& items) {
    if (obj(list).kind != Kind::List) fail("APPEND(S) to a " + kind_name(obj(list).kind));
    auto& v = r_.objects[list].items;
    v.insert(v.end(), items.begin(), items.end());
  }
  void dict_add(uint32_t dict, const std::vector<uint32_t>& kv) {
    if (obj(dict).kind != Kind::Dict) fail("SETITEM(S) on a " + kind_name(obj(dict).kind));
    auto& v = r_.objects[dict].items;
    v.insert(v.end(), kv.begin(), kv.end());
  }
  void memo_put(uint32_t slot) {
    const uint32_t t = top();
    if (memo_.size() >= lim_.max_objects && !memo_.count(slot)) fail("memo too large");
    memo_[slot] = t;
  }
  void memo_get(uint32_t slot) {
    auto it = memo_.find(slot);
    if (it == memo_.end()) fail("memo index " + std::to_string(slot) + " out of range (never stored)");
    push(it->second);
  }

  uint32_t make_global(Global g, const std::string& qual) {
    uint32_t o = make(Kind::Global);
    r_.objects[o].global = g;
    r_.objects[o].s = qual;
    return o;
  }
  // The allow-list. Anything not here is refused before the next opcode is read.
  uint32_t resolve(std::string module, const std::string& name) {
    if (module == "__builtin__") module = "builtins";  // Python 2 spelling (protocol 2)
    const std::string qual = module + "." + name;
    if (module == "collections" && name == "OrderedDict") return make_global(Global::OrderedDict, qual);
    if (lim_.numpy_opaque && (qual == "numpy.core.multiarray._reconstruct" || qual == "numpy.ndarray" ||
                              qual == "numpy.dtype" || qual == "numpy.core.multiarray.scalar" || qual == "_codecs.encode"))
      return make_global(Global::Opaque, qual);
    if (module == "torch._utils") {
      if (name == "_rebuild_tensor") return make_global(Global::RebuildTensor, qual);
      if (name == "_rebuild_tensor_v2") return make_global(Global::RebuildTensorV2, qual);
      if (name == "_rebuild_tensor_v3") return make_global(Global::RebuildTensorV3, qual);
      if (name == "_rebuild_parameter") return make_global(Global::RebuildParameter, qual);
      if (name == "_rebuild_parameter_with_state") return make_global(Global::RebuildParameterWithState, qual);
    }
    if (module == "torch.nn.parameter" && name == "Parameter") return make_global(Global::Parameter, qual);
    if ((module == "torch" || module == "torch.storage") && name == "UntypedStorage") {
      uint32_t o = make_global(Global::StorageType, qual);
      r_.objects[o].untyped = true;
      r_.objects[o].dtype = DType::U8;
      return o;
    }
    if (module == "torch" || module == "torch.cuda") {
      for (const auto& s : kStorages)
        if (name == s.name) {
          uint32_t o = make_global(Global::StorageType, qual);
          r_.objects[o].supported = s.dtype.has_value();
          if (s.dtype) r_.objects[o].dtype = *s.dtype;
          return o;
        }
    }
    if (module == "torch") {
      if (auto dt = dtype_from_torch("torch." + name); dt && info(*dt).torch == "torch." + name) {
        uint32_t o = make_global(Global::Dtype, qual);
        r_.objects[o].dtype = *dt;
        return o;
      }
      for (const char* f : kForeignDtypes)
        if (name == f) {
          uint32_t o = make_global(Global::Dtype, qual);
          r_.objects[o].supported = false;
          return o;
        }
    }
    throw_error(ErrorKind::Security,
                where() + "refused GLOBAL '" + qual +
                    "': not on hfx's allow-list of what a PyTorch state dict needs (nothing was executed; hfx never runs pickled code)",
                file_);
  }

  // REDUCE / NEWOBJ of an allowed global, implemented as data.
  uint32_t call(uint32_t fn, uint32_t args_i) {
    const Object& f = obj(fn);
    if (f.kind != Kind::Global) fail("REDUCE on a " + kind_name(f.kind) + ", which is not callable");
    if (obj(args_i).kind != Kind::Tuple) fail("REDUCE arguments are not a tuple");
    if (obj(args_i).items.size() > 8) fail(f.s + " called with " + std::to_string(obj(args_i).items.size()) + " arguments");
    const std::vector<uint32_t> args = obj(args_i).items;
    const std::string fname = f.s;
    const Global g = f.global;
    auto argc = [&](std::size_t lo, std::size_t hi) {
      if (args.size() < lo || args.size() > hi)
        fail(fname + " called with " + std::to_string(args.size()) + " arguments");
    };
    switch (g) {
      case Global::OrderedDict:  // torch pickles the items with SETITEMS, never as an argument
        argc(0, 0);
        return make(Kind::Dict);
      case Global::RebuildTensor: argc(4, 4); return tensor(args, fname, false);
      case Global::RebuildTensorV2: argc(6, 7); return tensor(args, fname, false);
      case Global::RebuildTensorV3: argc(7, 8); return tensor(args, fname, true);
      case Global::RebuildParameter: case Global::RebuildParameterWithState: case Global::Parameter: {
        argc(g == Global::Parameter ? 0 : 3, g == Global::RebuildParameterWithState ? 4 : 3);
        if (args.empty()) fail("torch.nn.Parameter() without data");
        if (obj(args[0]).kind != Kind::Tensor) fail(fname + " of a " + kind_name(obj(args[0]).kind) + ", not a tensor");
        return args[0];
      }
      case Global::Opaque: return make(Kind::Opaque);
      case Global::StorageType: case Global::Dtype: break;
    }
    fail(fname + " is not callable here");
  }

  std::vector<int64_t> ints(uint32_t o, const char* what) {
    const Object& t = obj(o);
    if (t.kind != Kind::Tuple && t.kind != Kind::List) fail(std::string("tensor ") + what + " is a " + kind_name(t.kind) + ", not a tuple");
    if (t.items.size() > lim_.max_dims) fail(std::string("tensor ") + what + " has more than " + std::to_string(lim_.max_dims) + " dimensions");
    std::vector<int64_t> v;
    for (uint32_t x : t.items) {
      if (obj(x).kind != Kind::Int) fail(std::string("tensor ") + what + " holds a " + kind_name(obj(x).kind) + ", not an int");
      v.push_back(obj(x).i);
    }
    return v;
  }
  uint32_t tensor(const std::vector<uint32_t>& a, const std::string& fname, bool v3) {
    TensorDesc t;
    if (obj(a[0]).kind != Kind::PersId) fail(fname + ": storage is a " + kind_name(obj(a[0]).kind) + ", not a persistent id");
    t.storage = a[0];
    if (obj(a[1]).kind != Kind::Int) fail(fname + ": storage offset is not an int");
    t.offset = obj(a[1]).i;
    t.size = ints(a[2], "size");
    t.stride = ints(a[3], "stride");
    if (t.size.size() != t.stride.size()) fail(fname + ": size and stride have different lengths");
    if (v3) {
      const Object& dt = obj(a[6]);
      if (dt.kind != Kind::Global || dt.global != Global::Dtype) fail(fname + ": dtype argument is not a torch dtype");
      if (!dt.supported) throw_error(ErrorKind::Unsupported, where() + "dtype " + dt.s + " is not supported by hfx", file_);
      t.dtype = dt.dtype;
    }
    uint32_t o = make(Kind::Tensor);
    r_.objects[o].i = static_cast<int64_t>(r_.tensors.size());
    r_.tensors.push_back(std::move(t));
    return o;
  }

  const uint8_t* d_;
  std::size_t n_;
  const std::string& file_;
  const std::string& what_;
  Limits lim_;
  std::size_t pos_ = 0, op_at_ = 0;
  Result r_;
  std::vector<uint32_t> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<uint32_t, uint32_t> memo_;
};

}  // namespace

Result unpickle(const uint8_t* data, std::size_t n, const std::string& file, const std::string& what, const Limits& limits) {
  return Vm(data, n, file, what, limits).run();
}

// ---- writer ---------------------------------------------------------------
Writer::Writer() { out_ = "\x80\x02"; }

// One memo opcode: the 1-byte form (`short_op`, slot < 256) or the 4-byte one.
void Writer::memo_op(char short_op, char long_op, uint32_t slot) {
  if (slot < 256) {
    out_ += short_op;
    out_ += static_cast<char>(slot);
  } else {
    out_ += long_op;
    for (int k = 0; k < 4; ++k) out_ += static_cast<char>((slot >> (8 * k)) & 0xff);
  }
}

void Writer::put_memo() { memo_op('q', 'r', next_memo_++); }

bool Writer::memo_get(const std::string& key) {
  for (const auto& [k, slot] : memo_)
    if (k == key) {
      memo_op('h', 'j', slot);
      return true;
    }
  return false;
}

void Writer::global(const std::string& module, const std::string& name) {
  const std::string key = "g:" + module + "\n" + name;
  if (memo_get(key)) return;
  out_ += 'c' + module + "\n" + name + "\n";
  memo_.emplace_back(key, next_memo_);
  put_memo();
}

void Writer::str(const std::string& s, bool memo) {
  if (memo && memo_get("s:" + s)) return;
  out_ += 'X';
  const uint32_t n = static_cast<uint32_t>(s.size());
  for (int k = 0; k < 4; ++k) out_ += static_cast<char>((n >> (8 * k)) & 0xff);
  out_ += s;
  if (memo) {
    memo_.emplace_back("s:" + s, next_memo_);
    put_memo();
  }
}

void Writer::integer(int64_t v) {
  if (v >= 0 && v < 256) {
    out_ += 'K';
    out_ += static_cast<char>(v);
  } else if (v >= 0 && v < 65536) {
    out_ += 'M';
    out_ += static_cast<char>(v & 0xff);
    out_ += static_cast<char>(v >> 8);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    out_ += 'J';
    const uint32_t u = static_cast<uint32_t>(static_cast<int32_t>(v));
    for (int k = 0; k < 4; ++k) out_ += static_cast<char>((u >> (8 * k)) & 0xff);
  } else {  // LONG1, minimal two's complement
    const uint64_t u = static_cast<uint64_t>(v);
    std::string b;
    for (int k = 0; k < 8; ++k) b += static_cast<char>((u >> (8 * k)) & 0xff);
    while (b.size() > 1) {
      const uint8_t last = static_cast<uint8_t>(b.back()), prev = static_cast<uint8_t>(b[b.size() - 2]);
      if ((last == 0 && !(prev & 0x80)) || (last == 0xff && (prev & 0x80))) b.pop_back();
      else break;
    }
    out_ += '\x8a';
    out_ += static_cast<char>(b.size());
    out_ += b;
  }
}

void Writer::tuple(std::size_t n) {
  static const char ops[] = {')', '\x85', '\x86', '\x87'};
  out_ += ops[n];
}

void Writer::int_tuple(const std::vector<int64_t>& v) {
  if (v.size() > 3) mark();
  for (int64_t x : v) integer(x);
  if (v.size() > 3) tuple_from_mark();
  else tuple(v.size());
}

std::string Writer::finish() {
  out_ += '.';
  return std::move(out_);
}

}  // namespace hfx::pickle
