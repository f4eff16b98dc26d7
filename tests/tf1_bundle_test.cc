// TF1 checkpoint (V2 bundle) reader: real checkpoints written by TensorFlow
// (tests/data/tf1, from tools/fixtures/tf1_samples.py) compared bit-exact
// with their expected safetensors, plus a malformed corpus built with a tiny
// table/proto writer below (and by corrupting the real files).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "hfx/formats.h"
#include "hfx/io.h"
#include "io/tf1_crc32c.h"
#include "test_util.h"

using namespace hfx;
using hfx::testing::expect_error;
using hfx::testing::TempDir;
using hfx::testing::write_bytes;
namespace fs = std::filesystem;

namespace {

fs::path data_dir() { return hfx::testing::source_dir() / "tests" / "data" / "tf1"; }

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// ---- a minimal bundle writer (test side) --------------------------------------
std::string varint(uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  return s + static_cast<char>(v);
}
std::string fixed32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
  return s;
}
std::string pb_varint(int field, uint64_t v) { return varint(static_cast<uint64_t>(field) << 3) + varint(v); }
std::string pb_bytes(int field, const std::string& b) {
  return varint(static_cast<uint64_t>(field) << 3 | 2) + varint(b.size()) + b;
}
std::string pb_fixed32(int field, uint32_t v) { return varint(static_cast<uint64_t>(field) << 3 | 5) + fixed32(v); }
uint32_t masked_crc(const std::string& s) { return internal::crc32c_mask(internal::crc32c(s.data(), s.size())); }

struct Ent {
  std::string name;
  int dtype = 1;  // DT_FLOAT
  std::vector<int64_t> dims;
  int shard = 0;
  int64_t offset = 0, size = 0;
  uint32_t crc = 0;  // masked
  int slices = 0;
  std::string raw;  // when set, the proto bytes verbatim
};

std::string entry_proto(const Ent& e) {
  if (!e.raw.empty()) return e.raw;
  std::string shape;
  for (auto d : e.dims) shape += pb_bytes(2, pb_varint(1, static_cast<uint64_t>(d)));
  std::string s = pb_varint(1, static_cast<uint64_t>(e.dtype)) + pb_bytes(2, shape);
  if (e.shard) s += pb_varint(3, static_cast<uint64_t>(e.shard));
  s += pb_varint(4, static_cast<uint64_t>(e.offset)) + pb_varint(5, static_cast<uint64_t>(e.size)) + pb_fixed32(6, e.crc);
  for (int i = 0; i < e.slices; ++i) s += pb_bytes(7, "");
  return s;
}

std::string pad5(int v) {
  std::string s = std::to_string(v);
  return std::string(s.size() < 5 ? 5 - s.size() : 0, '0') + s;
}

using KVs = std::vector<std::pair<std::string, std::string>>;

// Block contents: prefix-compressed entries, restart array, restart count.
std::string block(const KVs& kvs, int interval = 16) {
  std::string out, prev;
  std::vector<uint32_t> restarts;
  int k = 0;
  for (const auto& [key, val] : kvs) {
    std::size_t shared = 0;
    if (k++ % interval == 0) {
      restarts.push_back(static_cast<uint32_t>(out.size()));
    } else {
      while (shared < prev.size() && shared < key.size() && prev[shared] == key[shared]) ++shared;
    }
    out += varint(shared) + varint(key.size() - shared) + varint(val.size()) + key.substr(shared) + val;
    prev = key;
  }
  if (restarts.empty()) restarts.push_back(0);
  for (auto r : restarts) out += fixed32(r);
  return out + fixed32(static_cast<uint32_t>(restarts.size()));
}
std::string trailer(const std::string& contents, char type = 0) {
  return std::string(1, type) + fixed32(masked_crc(contents + type));
}
std::string handle(uint64_t off, uint64_t size) { return varint(off) + varint(size); }
std::string footer(const std::string& meta_handle, const std::string& index_handle) {
  std::string f = meta_handle + index_handle;
  f.resize(40, '\0');
  return f + fixed32(0x8b80fb57u) + fixed32(0xdb477524u);
}

// Knobs for the table layout (to build malformed variants).
struct TableOpts {
  std::size_t per_block = 1000;  // entries per data block
  int interval = 16;              // restart interval
  char compression = 0;           // type byte of the data blocks
  bool duplicate_handle = false;  // index points twice at the first data block
  std::string index_handle;       // footer's index handle, verbatim, when set
};

std::string table(const KVs& kvs, const TableOpts& o = {}) {
  std::string file;
  KVs index;
  for (std::size_t i = 0; i < kvs.size() || i == 0; i += o.per_block) {
    KVs part(kvs.begin() + static_cast<std::ptrdiff_t>(std::min(i, kvs.size())),
             kvs.begin() + static_cast<std::ptrdiff_t>(std::min(i + o.per_block, kvs.size())));
    std::string b = block(part, o.interval);
    std::string h = handle(file.size(), b.size());
    file += b + trailer(b, o.compression);
    index.emplace_back(part.empty() ? std::string() : part.back().first, h);
    if (o.duplicate_handle && index.size() == 1) index.emplace_back(index.back().first + "~", h);
  }
  std::string meta = block({});
  std::string mh = handle(file.size(), meta.size());
  file += meta + trailer(meta);
  std::string ib = block(index, 1);
  std::string ih = handle(file.size(), ib.size());
  file += ib + trailer(ib);
  return file + footer(mh, o.index_handle.empty() ? ih : o.index_handle);
}

std::string header_proto(int num_shards, int endianness = 0) {
  std::string s = pb_varint(1, static_cast<uint64_t>(num_shards));
  if (endianness) s += pb_varint(2, static_cast<uint64_t>(endianness));
  return s + pb_bytes(3, pb_varint(1, 1));
}

// A bundle under construction: tensors' bytes appended to their shard.
struct Bundle {
  int num_shards = 1;
  std::string header;  // verbatim header proto when set
  bool with_header = true;
  std::vector<std::string> shard_data = std::vector<std::string>(1);
  std::vector<Ent> ents;
  std::set<int> skip_shards;  // data files not written
  TableOpts opts;

  Ent& add(const std::string& name, int dtype, std::vector<int64_t> dims, const std::string& bytes, int shard = 0) {
    if (shard_data.size() <= static_cast<std::size_t>(shard)) shard_data.resize(static_cast<std::size_t>(shard) + 1);
    std::string& d = shard_data[static_cast<std::size_t>(shard)];
    Ent e{name, dtype, std::move(dims), shard, static_cast<int64_t>(d.size()), static_cast<int64_t>(bytes.size()),
          masked_crc(bytes), 0, {}};
    d += bytes;
    ents.push_back(e);
    return ents.back();
  }
  KVs kvs() const {
    KVs out;
    if (with_header) out.emplace_back("", header.empty() ? header_proto(num_shards) : header);
    for (const auto& e : ents) out.emplace_back(e.name, entry_proto(e));
    return out;
  }
  void write(const std::string& prefix) const {
    write_bytes(prefix + ".index", table(kvs(), opts));
    for (int s = 0; s < num_shards; ++s) {
      if (skip_shards.count(s)) continue;
      write_bytes(prefix + ".data-" + pad5(s) + "-of-" + pad5(num_shards), static_cast<std::size_t>(s) < shard_data.size() ? shard_data[static_cast<std::size_t>(s)] : "");
    }
  }
};

std::string f32_bytes(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

// Opens the checkpoint and reads every listed tensor (so data errors surface).
void open_and_read_all(const std::string& prefix) {
  auto src = open_tf1_checkpoint(prefix);
  for (const auto& e : src->entries()) (void)src->get(e.name);
}

struct Counts {
  int views = 0, copies = 0;
};

// Every tensor equals the expected file bit for bit; the name sets agree.
void expect_matches(const TensorSource& src, const std::string& expected_path, Counts* counts = nullptr) {
  Counts scratch;
  Counts& c = counts ? *counts : scratch;
  auto want = open_safetensors(expected_path);
  std::set<std::string> got_names, want_names;
  for (const auto& e : src.entries()) got_names.insert(e.name);
  for (const auto& e : want->entries()) want_names.insert(e.name);
  EXPECT_EQ(got_names, want_names);
  for (const auto& e : want->entries()) {
    if (!src.contains(e.name)) continue;
    SCOPED_TRACE(e.name);
    Tensor w = want->get(e.name);
    Tensor g = src.get(e.name);
    EXPECT_EQ(src.info(e.name).dtype, e.dtype);
    EXPECT_EQ(src.info(e.name).shape, e.shape);
    ASSERT_EQ(g.dtype(), w.dtype());
    ASSERT_EQ(g.shape(), w.shape());
    ASSERT_EQ(g.nbytes(), w.nbytes());
    EXPECT_TRUE(g.nbytes() == 0 || std::memcmp(g.raw(), w.raw(), g.nbytes()) == 0);
    if (g.nbytes() == 0) continue;
    if (g.storage()->owned()) {
      ++c.copies;
    } else {
      ++c.views;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(g.raw()) % dtype_size(g.dtype()), 0u) << "misaligned view";
    }
  }
}

}  // namespace

TEST(Tf1Crc32c, KnownValuesAndMasking) {
  const std::string s = "123456789";
  EXPECT_EQ(internal::crc32c(s.data(), s.size()), 0xe3069283u);
  EXPECT_EQ(internal::crc32c("", 0), 0u);
  std::string big(1000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 + 7);
  const uint32_t whole = internal::crc32c(big.data(), big.size());
  for (std::size_t cut : {1u, 3u, 8u, 13u, 999u})  // chunked and unaligned == whole
    EXPECT_EQ(internal::crc32c_extend(internal::crc32c(big.data(), cut), big.data() + cut, big.size() - cut), whole);
  EXPECT_EQ(internal::crc32c_unmask(internal::crc32c_mask(whole)), whole);
  EXPECT_NE(internal::crc32c_mask(whole), whole);
  // The instruction (where the CPU has it) and the tables agree, at every alignment and length.
  EXPECT_EQ(internal::crc32c_extend_tables(0, s.data(), s.size()), 0xe3069283u);
  for (std::size_t off : {0u, 1u, 5u, 8u})
    for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 500u})
      EXPECT_EQ(internal::crc32c_extend(0x12345678u, big.data() + off, n), internal::crc32c_extend_tables(0x12345678u, big.data() + off, n))
          << off << " " << n;
}

TEST(Tf1Bundle, EveryDtypeBitExactWithViewsWhereAligned) {
  const std::string prefix = (data_dir() / "dtypes").string();
  auto src = open_tf1_checkpoint(prefix);
  EXPECT_EQ(src->format(), "tf1");
  EXPECT_EQ(src->path(), prefix + ".index");
  EXPECT_EQ(src->entries().size(), 13u * 5u);
  Counts c;
  expect_matches(*src, prefix + ".expected.safetensors", &c);
  EXPECT_GT(c.views, 0);   // aligned tensors are views of the mapped data file
  EXPECT_GT(c.copies, 0);  // bundles pack without padding: some are misaligned
  // Every dtype, scalars and 0-size tensors are there.
  for (DType d : {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I8, DType::I16, DType::I32, DType::I64,
                  DType::U8, DType::U16, DType::U32, DType::U64, DType::Bool}) {
    int n = 0;
    for (const auto& e : src->entries()) n += e.dtype == d;
    EXPECT_EQ(n, 5) << to_string(d);
  }
  EXPECT_EQ(src->info("dtypes/int64/scalar").shape, Shape{});
  EXPECT_EQ(src->get("dtypes/bfloat16/empty").shape(), (Shape{0, 3}));
  // The DT_STRING entry is not listed; asking for it says why.
  const std::string str = "bookkeeping/string_table";
  EXPECT_FALSE(src->contains(str));
  EXPECT_NE(src->metadata().at("unsupported").find(str), std::string::npos);
  expect_error([&] { src->get(str); }, ErrorKind::Unsupported, {"dtypes.index", str, "DT_STRING"});
  expect_error([&] { src->get("nope"); }, ErrorKind::NotFound, {"dtypes.index", "nope"});
}

TEST(Tf1Bundle, BertLikeSaverCheckpointThroughOpenCheckpoint) {
  const std::string prefix = (data_dir() / "bert_like").string();
  for (const std::string& p : {prefix, prefix + ".index"}) {
    auto src = open_checkpoint(p);
    EXPECT_EQ(src->format(), "tf1");
    expect_matches(*src, prefix + ".expected.safetensors");
    EXPECT_TRUE(src->contains("bert/encoder/layer_0/attention/self/query/kernel"));
    EXPECT_TRUE(src->contains("bert/encoder/layer_0/attention/self/query/kernel/adam_v"));
    EXPECT_EQ(src->info("bert/embeddings/word_embeddings").shape, (Shape{64, 128}));
    EXPECT_EQ(src->info("global_step").dtype, DType::I64);
    EXPECT_EQ(src->get("global_step").data<int64_t>()[0], 1000);
    EXPECT_EQ(src->metadata().at("num_shards"), "1");
  }
}

TEST(Tf1Bundle, TwoShards) {
  const std::string prefix = (data_dir() / "sharded").string();
  auto src = open_tf1_checkpoint(prefix);
  EXPECT_EQ(src->metadata().at("num_shards"), "2");
  expect_matches(*src, prefix + ".expected.safetensors");
}

TEST(Tf1Bundle, IndexSpanningSeveralBlocks) {
  const std::string prefix = (data_dir() / "many").string();
  EXPECT_GT(fs::file_size(prefix + ".index"), 262144u);  // > one 256 KiB table block
  auto src = open_tf1_checkpoint(prefix);
  ASSERT_EQ(src->entries().size(), 1250u);
  for (std::size_t i = 0; i < 1250; ++i) {
    std::string digits = std::to_string(i);
    const std::string full = "many/v" + std::string(4 - digits.size(), '0') + digits + "/" + std::string(200, 'x');
    ASSERT_EQ(src->entries()[i].name, full);  // file order is key order
    Tensor t = src->get(full);
    ASSERT_EQ(t.shape(), Shape{2});
    EXPECT_EQ(t.data<float>()[0], static_cast<float>(i));
    EXPECT_EQ(t.data<float>()[1], -0.5f * static_cast<float>(i));
  }
}

TEST(Tf1Bundle, HandBuiltTablesWithRestartsBlocksAndSkippedEntries) {
  TempDir dir;
  Bundle b;
  b.opts.per_block = 3;
  b.opts.interval = 2;
  for (int i = 0; i < 10; ++i) {
    const float v = static_cast<float>(i);
    b.add("layer_" + std::to_string(i) + "/kernel", 1, {2}, f32_bytes({v, -v}));
  }
  b.add("z/partitioned", 1, {1}, f32_bytes({1})).slices = 2;
  b.add("z/unknown_dtype", 8, {1}, std::string(8, '\0'));  // DT_COMPLEX64
  std::sort(b.ents.begin(), b.ents.end(), [](const Ent& x, const Ent& y) { return x.name < y.name; });
  const std::string prefix = dir.file("m");
  b.write(prefix);
  auto src = open_tf1_checkpoint(prefix);
  EXPECT_EQ(src->entries().size(), 10u);
  EXPECT_EQ(src->get("layer_7/kernel").data<float>()[1], -7.0f);
  expect_error([&] { src->get("z/partitioned"); }, ErrorKind::Unsupported, {"z/partitioned", "partitioned"});
  expect_error([&] { src->get("z/unknown_dtype"); }, ErrorKind::Unsupported, {"z/unknown_dtype", "DT_COMPLEX64"});
}

TEST(Tf1Bundle, FixtureCheckpointsListVariables) {
  const fs::path root = hfx::testing::fixtures_dir() / "tf1";
  if (!fs::is_directory(root)) GTEST_SKIP() << "no " << root.string() << " (fixtures not generated)";
  int opened = 0;
  for (const auto& f : fs::recursive_directory_iterator(root)) {
    if (f.path().extension() != ".index") continue;
    SCOPED_TRACE(f.path().string());
    auto src = open_checkpoint(f.path().string());
    EXPECT_FALSE(src->entries().empty());
    for (const auto& e : src->entries()) (void)src->get(e.name);  // every data CRC checks out
    ++opened;
  }
  if (opened == 0) GTEST_SKIP() << "no *.index under " << root.string();
}

// ---- malformed corpus -------------------------------------------------------------
struct Tf1Malformed {
  const char* name;
  std::function<void(const std::string& prefix)> make;  // writes <prefix>.index and data files
  ErrorKind kind;
  std::vector<std::string> needles;  // file (suffix), tensor, problem
};
void PrintTo(const Tf1Malformed& m, std::ostream* os) { *os << m.name; }

class Tf1BundleMalformed : public ::testing::TestWithParam<Tf1Malformed> {};

TEST_P(Tf1BundleMalformed, TypedErrorNamingFileAndTensor) {
  TempDir dir;
  const std::string prefix = dir.file("bad");
  GetParam().make(prefix);
  try {
    open_and_read_all(prefix);
    ADD_FAILURE() << "expected hfx::Error of kind " << to_string(GetParam().kind);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), GetParam().kind) << e.what();
    for (const auto& n : GetParam().needles)
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << "'" << n << "' not in: " << e.what();
  }
}

namespace {
// A copy of a real checkpoint with its index bytes passed through `edit`.
std::function<void(const std::string&)> real(std::function<void(std::string&)> edit) {
  return [edit](const std::string& prefix) {
    const std::string src = (data_dir() / "bert_like").string();
    std::string index = read_bytes(src + ".index");
    edit(index);
    write_bytes(prefix + ".index", index);
    fs::copy_file(src + ".data-00000-of-00001", prefix + ".data-00000-of-00001");
  };
}
// A one-tensor hand-built bundle ("w": f32 [2]) after `edit`.
std::function<void(const std::string&)> tiny(std::function<void(Bundle&)> edit) {
  return [edit](const std::string& prefix) {
    Bundle b;
    b.add("w", 1, {2}, f32_bytes({1, 2}));
    edit(b);
    b.write(prefix);
  };
}
// A hand-built index with one data block whose contents are `contents`.
std::function<void(const std::string&)> raw_block(std::string contents, char type = 0) {
  return [contents, type](const std::string& prefix) {
    std::string file = contents + trailer(contents, type);
    std::string meta = block({});
    std::string mh = handle(file.size(), meta.size());
    file += meta + trailer(meta);
    std::string ib = block({{"\xff", handle(0, contents.size())}}, 1);
    std::string ih = handle(file.size(), ib.size());
    file += ib + trailer(ib);
    write_bytes(prefix + ".index", file + footer(mh, ih));
    write_bytes(prefix + ".data-00000-of-00001", "");
  };
}
const std::string kIdx = "bad.index";
const std::string kData = "bad.data-00000-of-00001";
}  // namespace

INSTANTIATE_TEST_SUITE_P(
    Cases, Tf1BundleMalformed,
    ::testing::Values(
        Tf1Malformed{"truncated_index", real([](std::string& s) { s.resize(40); }), ErrorKind::Format, {kIdx, "too small"}},
        Tf1Malformed{"truncated_half", real([](std::string& s) { s.resize(s.size() / 2); }), ErrorKind::Format, {kIdx, "magic"}},
        Tf1Malformed{"empty_index", real([](std::string& s) { s.clear(); }), ErrorKind::Format, {kIdx, "too small"}},
        Tf1Malformed{"bad_footer_magic", real([](std::string& s) { s.back() ^= 1; }), ErrorKind::Format, {kIdx, "magic"}},
        Tf1Malformed{"block_crc_mismatch", real([](std::string& s) { s[20] ^= 0x40; }), ErrorKind::Format, {kIdx, "checksum"}},
        Tf1Malformed{"footer_crc_of_index", real([](std::string& s) { s[s.size() - 49] ^= 1; }), ErrorKind::Format, {kIdx, "checksum"}},
        Tf1Malformed{"index_handle_past_eof", tiny([](Bundle& b) { b.opts.index_handle = handle(100000, 10); }),
                     ErrorKind::Format, {kIdx, "past the end"}},
        Tf1Malformed{"index_handle_size_overflow", tiny([](Bundle& b) { b.opts.index_handle = handle(5, ~uint64_t{0} - 2); }),
                     ErrorKind::Format, {kIdx, "past the end"}},
        Tf1Malformed{"garbage_footer_varint", tiny([](Bundle& b) { b.opts.index_handle = std::string(12, '\xff'); }),
                     ErrorKind::Format, {kIdx, "varint"}},
        Tf1Malformed{"data_crc_mismatch", tiny([](Bundle& b) { b.ents[0].crc ^= 1; }), ErrorKind::Format, {kData, "'w'", "checksum"}},
        Tf1Malformed{"entry_past_data_file", tiny([](Bundle& b) { b.ents[0].offset = 4; }), ErrorKind::Format, {kData, "'w'", "past the end"}},
        Tf1Malformed{"entry_offset_overflow", tiny([](Bundle& b) { b.ents[0].offset = INT64_MAX - 2; }), ErrorKind::Format, {kData, "'w'"}},
        Tf1Malformed{"negative_offset", tiny([](Bundle& b) { b.ents[0].offset = -8; }), ErrorKind::Format, {kIdx, "'w'", "negative"}},
        Tf1Malformed{"missing_data_shard", tiny([](Bundle& b) { b.num_shards = 2; b.skip_shards = {1}; }),
                     ErrorKind::NotFound, {"bad.data-00001-of-00002", "missing"}},
        Tf1Malformed{"shard_id_out_of_range", tiny([](Bundle& b) { b.ents[0].shard = 3; }), ErrorKind::Format, {kIdx, "'w'", "shard_id"}},
        Tf1Malformed{"shape_times_dtype_not_size", tiny([](Bundle& b) { b.ents[0].dims = {3}; }), ErrorKind::Format, {kIdx, "'w'", "does not match"}},
        Tf1Malformed{"shape_overflow", tiny([](Bundle& b) { b.ents[0].dims = {INT64_MAX / 2, 4}; }), ErrorKind::Format, {kIdx, "'w'"}},
        Tf1Malformed{"negative_dim", tiny([](Bundle& b) { b.ents[0].dims = {-1}; }), ErrorKind::Format, {kIdx, "'w'", "negative"}},
        Tf1Malformed{"garbage_entry_varint", tiny([](Bundle& b) { b.ents[0].raw = "\x08" + std::string(11, '\xff'); }),
                     ErrorKind::Format, {kIdx, "'w'", "varint"}},
        Tf1Malformed{"entry_length_past_end", tiny([](Bundle& b) { b.ents[0].raw = pb_varint(1, 1) + "\x12\x7f"; }),
                     ErrorKind::Format, {kIdx, "'w'", "past the end"}},
        Tf1Malformed{"entry_wrong_wire_type", tiny([](Bundle& b) { b.ents[0].raw = pb_bytes(1, "x"); }),
                     ErrorKind::Format, {kIdx, "'w'", "wire type"}},
        Tf1Malformed{"entry_group_wire_type", tiny([](Bundle& b) { b.ents[0].raw = pb_varint(1, 1) + "\x4b"; }),
                     ErrorKind::Format, {kIdx, "'w'", "wire type"}},
        Tf1Malformed{"garbage_block_varints", raw_block(std::string(12, '\xff') + fixed32(0) + fixed32(1)),
                     ErrorKind::Format, {kIdx, "varint"}},
        Tf1Malformed{"entry_past_block_end", raw_block(varint(0) + varint(50) + varint(1) + "ab" + fixed32(0) + fixed32(1)),
                     ErrorKind::Format, {kIdx, "past the end of the block"}},
        Tf1Malformed{"restart_count_too_large", raw_block(std::string(8, '\0') + fixed32(1000)), ErrorKind::Format, {kIdx, "restart"}},
        Tf1Malformed{"restart_not_at_entry", raw_block(varint(0) + varint(0) + varint(header_proto(1).size()) + header_proto(1) + fixed32(0) +
                                                       fixed32(2) + fixed32(2)),
                     ErrorKind::Format, {kIdx, "restart"}},
        Tf1Malformed{"shared_longer_than_key", raw_block(varint(0) + varint(0) + varint(header_proto(1).size()) + header_proto(1) +
                                                         varint(5) + varint(1) + varint(0) + "a" + fixed32(0) + fixed32(1)),
                     ErrorKind::Format, {kIdx, "shares"}},
        Tf1Malformed{"prefix_compression_bomb", raw_block([] {
                       std::string b = varint(0) + varint(0) + varint(header_proto(1).size()) + header_proto(1);
                       b += varint(0) + varint(60000) + varint(0) + std::string(60000, 'a');
                       for (uint32_t len = 60000; len < 60400; ++len) b += varint(len) + varint(1) + varint(0) + "a";
                       return b + fixed32(0) + fixed32(1);
                     }()),
                     ErrorKind::Format, {kIdx, "expand"}},
        Tf1Malformed{"block_too_small", raw_block("ab"), ErrorKind::Format, {kIdx, "too small"}},
        Tf1Malformed{"snappy_compressed_block", tiny([](Bundle& b) { b.opts.compression = 1; }), ErrorKind::Unsupported, {kIdx, "snappy"}},
        Tf1Malformed{"unknown_compression_byte", tiny([](Bundle& b) { b.opts.compression = 7; }),
                     ErrorKind::Format, {kIdx, "compression type 7"}},
        Tf1Malformed{"same_data_block_twice", tiny([](Bundle& b) { b.opts.duplicate_handle = true; }), ErrorKind::Format, {kIdx, "overlaps"}},
        Tf1Malformed{"keys_not_sorted", tiny([](Bundle& b) {
                       b.add("a", 1, {1}, f32_bytes({3}));
                       b.add("z", 1, {1}, f32_bytes({4}));
                     }),
                     ErrorKind::Format, {kIdx, "'a'", "strictly increasing"}},
        Tf1Malformed{"duplicate_key", tiny([](Bundle& b) { b.add("w", 1, {1}, f32_bytes({3})); }),
                     ErrorKind::Format, {kIdx, "'w'", "strictly increasing"}},
        Tf1Malformed{"no_header", tiny([](Bundle& b) { b.with_header = false; }), ErrorKind::Format, {kIdx, "header"}},
        Tf1Malformed{"zero_shards", tiny([](Bundle& b) { b.header = header_proto(0); }), ErrorKind::Format, {kIdx, "num_shards"}},
        Tf1Malformed{"big_endian", tiny([](Bundle& b) { b.header = header_proto(1, 1); }), ErrorKind::Unsupported, {kIdx, "big-endian"}},
        Tf1Malformed{"future_version", tiny([](Bundle& b) { b.header = pb_varint(1, 1) + pb_bytes(3, pb_varint(2, 7)); }),
                     ErrorKind::Unsupported, {kIdx, "version"}},
        Tf1Malformed{"key_too_long", tiny([](Bundle& b) { b.ents[0].name = std::string(70000, 'k'); }), ErrorKind::Format, {kIdx, "limit"}}),
    [](const auto& pinfo) { return std::string(pinfo.param.name); });

// bytes() hands out a variable's data in place only after its checksum, as get() does.
TEST(Tf1Bundle, BytesInPlaceAreChecksummedLikeGet) {
  TempDir dir;
  const std::string good = dir.file("good"), bad = dir.file("bad");
  tiny([](Bundle&) {})(good);
  tiny([](Bundle& b) { b.ents[0].crc ^= 1; })(bad);
  auto g = open_tf1_checkpoint(good);
  const TensorSource::Bytes b = g->bytes("w");
  ASSERT_EQ(b.size, 8u);
  const std::string want = f32_bytes({1, 2});
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data), b.size), want);
  auto s = open_tf1_checkpoint(bad);
  expect_error([&] { s->bytes("w"); }, ErrorKind::Format, {"'w'", "checksum"});
}
