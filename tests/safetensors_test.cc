#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hfx/io.h"
#include "test_util.h"

using namespace hfx;
using hfx::testing::expect_error;
using hfx::testing::TempDir;
using hfx::testing::write_bytes;

namespace {
// A safetensors file from a raw header string and a data section.
std::string st_bytes(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
  return out + header + data;
}
std::string zeros(std::size_t n) { return std::string(n, '\0'); }
}  // namespace

TEST(Safetensors, RoundTripAndZeroCopyViews) {
  TempDir dir;
  Tensor a = Tensor::from_vector<float>(DType::F32, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::from_vector<int64_t>(DType::I64, {2}, {7, -8});
  Tensor c = Tensor::from_vector<float>(DType::F32, {4}, {0.5f, 1.5f, -2.0f, 3.0f}).to(DType::BF16);
  Tensor s = Tensor::from_vector<float>(DType::F32, {}, {42});
  Tensor e = Tensor::zeros(DType::F16, {0, 5});
  const std::string p = dir.file("m.safetensors");
  write_safetensors(p, {{"a", a}, {"b", b}, {"c", c}, {"scalar", s}, {"empty", e}});
  auto src = open_safetensors(p);
  EXPECT_EQ(src->entries().size(), 5u);
  EXPECT_EQ(src->metadata().at("format"), "pt");
  Tensor ra = src->get("a");
  EXPECT_FALSE(ra.storage()->owned());  // a view of the mapped file
  EXPECT_EQ(ra.shape(), (Shape{2, 3}));
  EXPECT_EQ(max_abs_diff(ra, a), 0.0);
  EXPECT_EQ(max_abs_diff(src->get("b"), b), 0.0);
  EXPECT_EQ(max_abs_diff(src->get("c"), c), 0.0);
  EXPECT_EQ(src->get("scalar").numel(), 1);
  EXPECT_EQ(src->get("empty").numel(), 0);
  // Header is padded to 8 bytes and the data section holds widest dtypes first.
  auto m = MappedFile::open(p);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | m->data()[i];
  EXPECT_EQ(n % 8, 0u);
  auto hdr = nlohmann::json::parse(std::string(reinterpret_cast<const char*>(m->data() + 8), n));
  EXPECT_EQ(hdr["b"]["data_offsets"][0], 0);  // I64 first
  expect_error([&] { src->get("nope"); }, ErrorKind::NotFound, {p, "nope"});
  // No temporary file is left behind.
  for (const auto& f : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(f.path().filename().string().find(".tmp-"), std::string::npos);
}

TEST(Safetensors, WriterRejectsDuplicates) {
  TempDir dir;
  Tensor a = Tensor::zeros(DType::F32, {1});
  expect_error([&] { write_safetensors(dir.file("x.safetensors"), {{"a", a}, {"a", a}}); }, ErrorKind::InvalidArgument, {"duplicate", "a"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.safetensors")));
}

struct Malformed {
  const char* name;
  std::string bytes;
  ErrorKind kind;
  const char* needle;  // substring of the message (tensor name or problem)
};

class SafetensorsMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(SafetensorsMalformed, TypedErrorNamingFileAndTensor) {
  TempDir dir;
  const std::string p = dir.file("bad.safetensors");
  write_bytes(p, GetParam().bytes);
  expect_error([&] { open_safetensors(p); }, GetParam().kind, {p, GetParam().needle});
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SafetensorsMalformed,
    ::testing::Values(
        Malformed{"truncated", "\x10\x00\x00", ErrorKind::Format, "too small"},
        Malformed{"header_past_eof", std::string("\x64\0\0\0\0\0\0\0", 8) + "{}", ErrorKind::Format, "past the end"},
        Malformed{"huge_header_len", std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}", ErrorKind::Format, "exceeds"},
        Malformed{"not_object", st_bytes("[1,2]   ", ""), ErrorKind::Format, "does not start"},
        Malformed{"invalid_json", st_bytes("{\"a\": {", ""), ErrorKind::Format, "invalid JSON"},
        Malformed{"duplicate", st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", zeros(4)),
                  ErrorKind::Format, "'w'"},
        Malformed{"offset_out_of_range", st_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", zeros(4)),
                  ErrorKind::Format, "'w'"},
        Malformed{"overlap", st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", zeros(8)),
                  ErrorKind::Format, "overlaps"},
        Malformed{"hole", st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", zeros(8)), ErrorKind::Format, "hole"},
        Malformed{"trailing", st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", zeros(8)), ErrorKind::Format, "trailing"},
        Malformed{"size_mismatch", st_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", zeros(8)), ErrorKind::Format, "does not match"},
        Malformed{"shape_overflow", st_bytes(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,8]}})", zeros(8)),
                  ErrorKind::Format, "'a'"},
        Malformed{"negative_dim", st_bytes(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", zeros(4)), ErrorKind::Format, "'a'"},
        Malformed{"begin_after_end", st_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", zeros(4)), ErrorKind::Format, "begin > end"},
        Malformed{"unknown_dtype", st_bytes(R"({"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", zeros(1)), ErrorKind::Unsupported, "Q4"},
        Malformed{"missing_offsets", st_bytes(R"({"a":{"dtype":"F32","shape":[1]}})", zeros(4)), ErrorKind::Format, "data_offsets"},
        Malformed{"nesting_bomb", st_bytes("{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}", ""), ErrorKind::Format, "'a'"},
        Malformed{"bad_metadata", st_bytes(R"({"__metadata__":{"format":1}})", ""), ErrorKind::Format, "__metadata__"}),
    [](const auto& pinfo) { return std::string(pinfo.param.name); });

TEST(Checkpoint, SniffsLfsPointerAndOtherFormats) {
  TempDir dir;
  write_bytes(dir.file("model.safetensors"), "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n");
  expect_error([&] { open_checkpoint(dir.file("model.safetensors")); }, ErrorKind::Format, {"Git LFS pointer"});
  write_bytes(dir.file("x.bin"), "garbage!garbage!");
  expect_error([&] { open_checkpoint(dir.file("x.bin")); }, ErrorKind::Format, {"unrecognised"});
  expect_error([&] { open_checkpoint(dir.file("missing.safetensors")); }, ErrorKind::NotFound, {"missing.safetensors"});
}

TEST(Checkpoint, ShardedIndex) {
  TempDir dir;
  Tensor a = Tensor::from_vector<float>(DType::F32, {2}, {1, 2});
  Tensor b = Tensor::from_vector<float>(DType::F32, {1}, {3});
  write_safetensors(dir.file("model-00001-of-00002.safetensors"), {{"a", a}});
  write_safetensors(dir.file("model-00002-of-00002.safetensors"), {{"b", b}});
  write_bytes(dir.file("model.safetensors.index.json"),
              R"({"metadata":{"total_size":12},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}})");
  auto src = open_checkpoint(dir.file("model.safetensors.index.json"));
  EXPECT_EQ(src->entries().size(), 2u);
  EXPECT_EQ(src->get("b").item(0), 3.0);
  EXPECT_EQ(src->format(), "safetensors-sharded");
  write_bytes(dir.file("evil.index.json"), R"({"weight_map":{"a":"../etc/passwd"}})");
  expect_error([&] { open_checkpoint(dir.file("evil.index.json")); }, ErrorKind::Security, {"a"});
  write_bytes(dir.file("lying.index.json"), R"({"weight_map":{"c":"model-00001-of-00002.safetensors"}})");
  expect_error([&] { open_checkpoint(dir.file("lying.index.json")); }, ErrorKind::Format, {"'c'"});
  write_bytes(dir.file("bad.index.json"), R"({"weight_map": 3})");
  expect_error([&] { open_checkpoint(dir.file("bad.index.json")); }, ErrorKind::Format, {"weight_map"});
}

// Hostile indices (the seeds of fuzz/corpus/index_json are these and more).
TEST(Checkpoint, ShardedIndexHostile) {
  TempDir dir;
  write_safetensors(dir.file("a.safetensors"), {{"a", Tensor::from_vector<float>(DType::F32, {2}, {1, 2})}});
  auto bad = [&](const std::string& text, ErrorKind kind, std::initializer_list<std::string> needles) {
    write_bytes(dir.file("model.safetensors.index.json"), text);
    expect_error([&] { open_checkpoint(dir.file("model.safetensors.index.json")); }, kind, needles);
  };
  bad(R"({"weight_map":{"a":"model.safetensors.index.json"}})", ErrorKind::Format, {"names an index"});  // itself
  bad(R"({"weight_map":{"a":"other.index"}})", ErrorKind::Format, {"names an index"});
  bad(R"({"weight_map":{"a":"/etc/passwd"}})", ErrorKind::Security, {"plain file name"});
  bad(R"({"weight_map":{"a":"missing.safetensors"}})", ErrorKind::NotFound, {"missing.safetensors"});
  bad(R"({"weight_map":{"a":"a.safetensors"})", ErrorKind::Format, {"invalid index JSON"});  // truncated
  bad(R"([1, 2])", ErrorKind::Format, {"weight_map"});
  bad(R"({"weight_map":{"a":7}})", ErrorKind::Format, {"not a file name"});
  bad(std::string(100000, '[') + std::string(100000, ']'), ErrorKind::Format, {"nested deeper"});
  bad("{\"metadata\":" + std::string(70, '[') + std::string(70, ']') + R"(,"weight_map":{}})", ErrorKind::Format, {"nested deeper"});
  // Brackets inside strings do not count.
  write_bytes(dir.file("model.safetensors.index.json"),
              R"({"metadata":{"note":")" + std::string(100, '[') + R"("},"weight_map":{"a":"a.safetensors"}})");
  EXPECT_EQ(open_checkpoint(dir.file("model.safetensors.index.json"))->entries().size(), 1u);
}
