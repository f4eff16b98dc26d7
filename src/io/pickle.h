// Internal: a restricted pickle VM for PyTorch state dicts, and a small
// pickle writer. Shared by the zip (torch_zip.cc) and legacy
// (torch_legacy.cc) readers.
//
// The VM never runs Python: it understands the opcodes of protocols 2-5 that
// torch.save emits for a state dict (formats.md §2) and an explicit
// allow-list of GLOBALs whose meaning it implements itself as data
// (collections.OrderedDict, torch._utils._rebuild_tensor{,_v2,_v3},
// torch._utils._rebuild_parameter{,_with_state}, torch.nn.Parameter, the
// typed storage classes, torch.UntypedStorage and the dtypes). Any other
// GLOBAL / STACK_GLOBAL, and the opcodes that import by name (INST, OBJ,
// EXT1/2/4), are refused with ErrorKind::Security at the opcode itself, so
// nothing that follows is even decoded. Everything else unknown is Format.
//
// Objects live in one arena and refer to each other by index, so cyclic or
// shared references (memo) cannot leak or recurse; every length and count is
// checked against the bytes left before anything is allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hfx/tensor.h"

namespace hfx::pickle {

enum class Kind : uint8_t { None, Bool, Int, BigInt, Float, Str, Bytes, Tuple, List, Dict, Global, PersId, Tensor, Opaque };

enum class Global : uint8_t {
  OrderedDict,
  RebuildTensor,    // torch._utils._rebuild_tensor(storage, offset, size, stride)
  RebuildTensorV2,  // (storage, offset, size, stride, requires_grad, hooks[, metadata])
  RebuildTensorV3,  // (..., hooks, dtype[, metadata])
  RebuildParameter, RebuildParameterWithState, Parameter,
  StorageType,  // dtype set; untyped: UntypedStorage (bytes); supported=false: a torch type hfx lacks
  Dtype,
  Opaque,  // a numpy object (Limits::numpy_opaque): never built, an inert Kind::Opaque placeholder
};

struct TensorDesc {
  uint32_t storage = 0;  // index of a Kind::PersId object
  int64_t offset = 0;    // in elements
  Shape size, stride;
  std::optional<DType> dtype;  // _rebuild_tensor_v3's explicit dtype
};

struct Object {
  Kind kind = Kind::None;
  Global global = Global::OrderedDict;
  bool supported = true;  // StorageType/Dtype that hfx can represent
  bool untyped = false;   // StorageType: UntypedStorage
  DType dtype = DType::F32;
  int64_t i = 0;  // Int, Bool; Tensor: index into Result::tensors
  double f = 0;
  std::string s;                // Str, Bytes, BigInt (little-endian two's complement), Global: "module.name"
  std::vector<uint32_t> items;  // Tuple/List elements; Dict: key, value, key, value...; PersId: [pid]
};

struct Result {
  std::vector<Object> objects;
  std::vector<TensorDesc> tensors;
  uint32_t root = 0;
  std::size_t end = 0;  // offset just past STOP
  const Object& at(uint32_t i) const { return objects[i]; }
};

struct Limits {
  std::size_t max_objects = std::size_t{1} << 24;
  std::size_t max_stack = std::size_t{1} << 22;
  std::size_t max_marks = 4096;
  std::size_t max_dims = 64;
  // The original XLM dump (convert --model_type xlm) holds numpy arrays and
  // dtypes beside its tensors: accept numpy.core.multiarray._reconstruct,
  // numpy.ndarray, numpy.dtype, numpy.core.multiarray.scalar and _codecs.encode
  // (protocol 2's spelling of the arrays' bytes) as inert
  // placeholders (nothing is constructed or executed; their state is dropped).
  bool numpy_opaque = false;
};

// Runs the pickle starting at data[0]; stops at STOP. `file` (and `what`,
// e.g. "data.pkl") name the input in errors.
Result unpickle(const uint8_t* data, std::size_t n, const std::string& file, const std::string& what,
                const Limits& limits = {});

// Pickle protocol 2 writer with memoisation of repeated strings and globals.
class Writer {
 public:
  Writer();
  void global(const std::string& module, const std::string& name);  // memoised
  void str(const std::string& s, bool memo = false);
  void integer(int64_t v);
  void boolean(bool b) { out_ += b ? '\x88' : '\x89'; }
  void none() { out_ += 'N'; }
  void mark() { out_ += '('; }
  void tuple_from_mark() { out_ += 't'; }
  void tuple(std::size_t n);  // from the last n items (n <= 3), or EMPTY_TUPLE
  void int_tuple(const std::vector<int64_t>& v);
  void empty_tuple() { out_ += ')'; }
  void reduce() { out_ += 'R'; }
  void binpersid() { out_ += 'Q'; }
  void setitems() { out_ += 'u'; }
  void raw(char op) { out_ += op; }
  std::string finish();  // appends STOP

 private:
  void memo_op(char short_op, char long_op, uint32_t slot);
  void put_memo();
  bool memo_get(const std::string& key);  // emits a memo fetch when `key` was memoised
  std::string out_;
  uint32_t next_memo_ = 0;
  std::vector<std::pair<std::string, uint32_t>> memo_;  // key -> memo slot
};

}  // namespace hfx::pickle
