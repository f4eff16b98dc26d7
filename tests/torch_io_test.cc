// PyTorch checkpoints: torch.save zip archives and legacy (pre-1.6) files.
// Parity of models loaded from the fixtures' pytorch_model.bin against the
// reference outputs, bit-exact agreement with model.safetensors, zero-copy
// views, the writer (round trip, and torch.load(weights_only=True) when the
// pinned Python env is present), and a malformed/malicious input corpus.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <functional>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/formats.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "io/pickle.h"
#include "io/zip.h"
#include "test_util.h"

using namespace hfx;
using hfx::testing::expect_error;
using hfx::testing::TempDir;
using hfx::testing::write_bytes;
namespace fs = std::filesystem;
using namespace std::string_literals;

namespace {

std::string read_bytes(const std::string& p) {
  auto m = MappedFile::open(p);
  return std::string(reinterpret_cast<const char*>(m->data()), m->size());
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.nbytes() == cb.nbytes() && (ca.nbytes() == 0 || std::memcmp(ca.raw(), cb.raw(), ca.nbytes()) == 0);
}

// ---- fixture parity ---------------------------------------------------------
struct PtCase {
  std::string id, format, cls;
  fs::path dir;
  nlohmann::json entry;
};

std::vector<PtCase> pt_cases() {
  std::vector<PtCase> out;
  fs::path manifest = hfx::testing::fixtures_dir() / "manifest.json";
  if (!fs::exists(manifest)) return out;
  const auto types = supported_model_types();
  auto m = nlohmann::json::parse(read_text_file(manifest.string()));
  for (const auto& c : m["cases"]) {
    const std::string arch = c["arch"];
    if (std::find(types.begin(), types.end(), arch) == types.end()) continue;  // no hfx model yet
    for (const char* f : {"pt_zip", "pt_legacy", "pt_zip_sharded"})
      if (c["formats"].contains(f))
        out.push_back({c["id"].get<std::string>() + "/" + f, f, c["class"], hfx::testing::fixtures_dir() / c["dir"].get<std::string>(), c});
  }
  return out;
}

ModelInputs read_inputs(const fs::path& file) { return hfx::testing::read_fixture_inputs(file); }

class TorchParity : public ::testing::TestWithParam<PtCase> {};

TEST_P(TorchParity, TensorsBitExactAndOutputsMatch) {
  const PtCase& c = GetParam();
  const std::string weights = (c.dir / c.entry["formats"][c.format].get<std::string>()).string();
  // Every tensor equals the one in model.safetensors bit for bit (the .bin may
  // also hold tied copies that safetensors leaves out).
  auto bin = open_checkpoint(weights);
  EXPECT_EQ(bin->format(), c.format == "pt_zip_sharded" ? "pytorch-sharded" : "pytorch");
  auto st = open_safetensors((c.dir / c.entry["formats"]["safetensors"].get<std::string>()).string());
  for (const auto& e : st->entries()) {
    ASSERT_TRUE(bin->contains(e.name)) << c.id << ": .bin lacks " << e.name;
    EXPECT_EQ(bin->info(e.name).shape, e.shape) << e.name;
    EXPECT_TRUE(bit_equal(bin->get(e.name), st->get(e.name))) << c.id << ": " << e.name;
  }
  for (const auto& e : bin->entries()) {
    Tensor t = bin->get(e.name);
    EXPECT_EQ(t.shape(), e.shape);
    if (c.format != "pt_legacy") {
      EXPECT_FALSE(t.storage()->owned()) << c.id << ": " << e.name << " was copied";
    }
  }

  LoadedModel lm = load_pretrained(weights, c.cls);
  EXPECT_TRUE(lm.info.missing_keys.empty()) << "first missing: " << lm.info.missing_keys.front();
  Outputs out = lm.model->forward(read_inputs(c.dir / c.entry["inputs"].get<std::string>()));
  hfx::testing::expect_outputs_match_reference(out, c.dir / c.entry["outputs"].get<std::string>(), c.id);
}

std::string case_name(const ::testing::TestParamInfo<PtCase>& pinfo) {
  std::string n = pinfo.param.id;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}
INSTANTIATE_TEST_SUITE_P(Fixtures, TorchParity, ::testing::ValuesIn(pt_cases()), case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TorchParity);

TEST(TorchZip, FixtureCoverage) {
  std::set<std::string> formats;
  for (const auto& c : pt_cases()) formats.insert(c.format);
  EXPECT_EQ(formats, (std::set<std::string>{"pt_zip", "pt_legacy", "pt_zip_sharded"}));
}

// Tied weights: the fixture's MaskedLM .bin stores decoder.bias and
// predictions.bias in one storage; both tensors view the same Storage.
TEST(TorchZip, SharedStorageIsOneView) {
  const fs::path p = hfx::testing::fixtures_dir() / "bert/tiny/BertForMaskedLM/pytorch_model.bin";
  if (!fs::exists(p)) GTEST_SKIP() << "fixture missing";
  auto src = open_torch_zip(p.string());
  Tensor a = src->get("cls.predictions.bias"), b = src->get("cls.predictions.decoder.bias");
  EXPECT_EQ(a.storage().get(), b.storage().get());
  EXPECT_EQ(a.raw(), b.raw());
}

// ---- writer -------------------------------------------------------------------
NamedTensors sample_tensors() {
  Tensor m = Tensor::from_vector<float>(DType::F32, {2, 3}, {1, 2, 3, 4, 5, 6});
  return {{"a", m},
          {"a_t", m.transpose(0, 1)},  // non-contiguous input: written contiguous
          {"b", Tensor::from_vector<int64_t>(DType::I64, {2}, {7, -(int64_t{1} << 40)})},
          {"c", Tensor::from_vector<float>(DType::F32, {4}, {0.5f, 1.5f, -2.0f, 3.0f}).to(DType::BF16)},
          {"h", Tensor::from_vector<float>(DType::F32, {3}, {0.25f, -65504.0f, 1e-7f}).to(DType::F16)},
          {"d", Tensor::from_vector<double>(DType::F64, {1}, {3.141592653589793})},
          {"i", Tensor::from_vector<int32_t>(DType::I32, {2}, {-5, 70000})},
          {"s16", Tensor::from_vector<int16_t>(DType::I16, {1}, {-300})},
          {"i8", Tensor::from_vector<int8_t>(DType::I8, {2}, {-1, 127})},
          {"u8", Tensor::from_vector<uint8_t>(DType::U8, {2}, {0, 255})},
          {"mask", Tensor::from_vector<uint8_t>(DType::Bool, {3}, {1, 0, 1})},
          {"scalar", Tensor::from_vector<float>(DType::F32, {}, {42})},
          {"empty", Tensor::zeros(DType::F32, {0, 5})},
          {"big", Tensor::from_vector<float>(DType::F32, {2, 2, 2, 2, 2}, std::vector<float>(32, 1.25f))}};
}

TEST(TorchZip, WriterRoundTripBitExactAndAligned) {
  TempDir dir;
  const std::string p = dir.file("pytorch_model.bin");
  const NamedTensors in = sample_tensors();
  write_torch_zip(p, in);
  auto src = open_checkpoint(p);
  EXPECT_EQ(src->format(), "pytorch");
  ASSERT_EQ(src->entries().size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(src->entries()[i].name, in[i].first);  // file order = pickle order
    Tensor t = src->get(in[i].first);
    EXPECT_TRUE(bit_equal(t, in[i].second)) << in[i].first;
    EXPECT_FALSE(t.storage()->owned()) << in[i].first << ": expected a zero-copy view";
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u) << in[i].first;
  }
  // The layout torch uses: archive/ prefix, 64-byte aligned stored entries.
  auto m = MappedFile::open(p);
  zip::ZipReader z(m);
  std::vector<std::string> names;
  for (const auto& e : z.entries()) {
    names.push_back(e.name);
    EXPECT_EQ(e.method, 0);
    EXPECT_EQ(e.data_offset % 64, 0u) << e.name;
    EXPECT_EQ(zip::crc32(m->data() + e.data_offset, e.size), e.crc) << e.name;
  }
  EXPECT_EQ(names.front(), "archive/data.pkl");
  EXPECT_EQ(z.stored("archive/version"), "3\n");
  EXPECT_EQ(z.stored("archive/byteorder"), "little");
  EXPECT_EQ(z.stored("archive/.data/serialization_id").size(), 40u);
  for (const auto& f : fs::directory_iterator(dir.path())) EXPECT_EQ(f.path().filename().string().find(".tmp-"), std::string::npos);
  // Rewriting what was read gives the same file (reproducible saves).
  NamedTensors back;
  for (const auto& e : src->entries()) back.emplace_back(e.name, src->get(e.name));
  write_torch_zip(dir.file("again.bin"), back);
  EXPECT_EQ(read_bytes(p), read_bytes(dir.file("again.bin")));
}

TEST(TorchZip, WriterRejects) {
  TempDir dir;
  Tensor a = Tensor::zeros(DType::F32, {1});
  expect_error([&] { write_torch_zip(dir.file("x.bin"), {{"a", a}, {"a", a}}); }, ErrorKind::InvalidArgument, {"duplicate", "a"});
  expect_error([&] { write_torch_zip(dir.file("x.bin"), {{"u", Tensor::zeros(DType::U32, {1})}}); }, ErrorKind::Unsupported, {"'u'"});
  EXPECT_FALSE(fs::exists(dir.file("x.bin")));
}

const fs::path kPython = hfx::testing::source_dir() / "tools/fixtures/.venv/bin/python";

int run_python(const std::string& script, std::string* out) {
  const std::string cmd = "'" + kPython.string() + "' -c \"" + script + "\" 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return -1;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
  return pclose(f);
}

// torch.load(weights_only=True) accepts the writer's output: Python re-saves
// what torch read as safetensors, which must equal the input bit for bit.
TEST(TorchZip, TorchLoadsWriterOutput) {
  if (!fs::exists(kPython)) GTEST_SKIP() << "no pinned Python at " << kPython << " (run tools/fixtures/env.sh) to check torch.load";
  TempDir dir;
  const std::string p = dir.file("pytorch_model.bin"), q = dir.file("from_torch.safetensors");
  const NamedTensors in = sample_tensors();
  write_torch_zip(p, in);
  std::string out;
  const std::string script = "import torch, safetensors.torch as st; sd = torch.load('" + p +
                             "', weights_only=True, map_location='cpu'); "
                             "assert type(sd).__name__ == 'OrderedDict', type(sd); "
                             "st.save_file({k: v.contiguous() for k, v in sd.items()}, '" + q + "'); print('ok', len(sd))";
  ASSERT_EQ(run_python(script, &out), 0) << out;
  EXPECT_NE(out.find("ok " + std::to_string(in.size())), std::string::npos) << out;
  auto src = open_safetensors(q);
  for (const auto& [name, t] : in) EXPECT_TRUE(bit_equal(src->get(name), t)) << name;
}

// ZIP64: the reader follows the ZIP64 end records and extra fields, and what
// the writer produces with them is a standard archive (Python's zipfile reads it).
TEST(TorchZip, Zip64RecordsRoundTrip) {
  TempDir dir;
  const std::string p = dir.file("z64.zip");
  {
    AtomicFile f(p);
    zip::ZipWriter w(f, /*force_zip64=*/true);
    w.add("arch/a", "hello");
    w.add("arch/b", std::vector<std::string_view>{"wor", "ld!"});
    w.finish();
    f.commit();
  }
  zip::ZipReader z(MappedFile::open(p));
  ASSERT_EQ(z.entries().size(), 2u);
  EXPECT_EQ(z.stored("arch/a"), "hello");
  EXPECT_EQ(z.stored("arch/b"), "world!");
  EXPECT_EQ(z.find("arch/b")->data_offset % 64, 0u);
  if (fs::exists(kPython)) {
    std::string out;
    ASSERT_EQ(run_python("import zipfile; z = zipfile.ZipFile('" + p + "'); assert z.testzip() is None; print(z.read('arch/b').decode())", &out), 0) << out;
    EXPECT_NE(out.find("world!"), std::string::npos) << out;
  }
}

// ---- malformed and malicious inputs -------------------------------------------
// A state dict pickle with one tensor; parameters can be bent out of shape.
struct PklSpec {
  std::string storage = "FloatStorage", key = "0";
  int64_t numel = 4, offset = 0;
  std::vector<int64_t> size{2, 2}, stride{2, 1};
};
std::string state_dict_pkl(const PklSpec& s, const std::string& name = "w") {
  pickle::Writer w;
  w.global("collections", "OrderedDict");
  w.empty_tuple();
  w.reduce();
  w.mark();
  w.str(name);
  w.global("torch._utils", "_rebuild_tensor_v2");
  w.mark();
  w.mark();
  w.str("storage");
  w.global("torch", s.storage);
  w.str(s.key);
  w.str("cpu");
  w.integer(s.numel);
  w.tuple_from_mark();
  w.binpersid();
  w.integer(s.offset);
  w.int_tuple(s.size);
  w.int_tuple(s.stride);
  w.boolean(false);
  w.global("collections", "OrderedDict");
  w.empty_tuple();
  w.reduce();
  w.tuple_from_mark();
  w.reduce();
  w.setitems();
  return w.finish();
}

using Entries = std::vector<std::pair<std::string, std::string>>;
std::string zip_of(const TempDir& dir, const Entries& entries) {
  const std::string p = dir.file("build.zip");
  {
    AtomicFile f(p);
    zip::ZipWriter w(f);
    for (const auto& [n, d] : entries) w.add(n, d);
    w.finish();
    f.commit();
  }
  return read_bytes(p);
}
std::string archive(const TempDir& dir, const std::string& pkl, const std::string& data = std::string(16, '\0')) {
  return zip_of(dir, {{"archive/data.pkl", pkl}, {"archive/data/0", data}, {"archive/version", "3\n"}});
}
uint32_t rd32(const std::string& s, std::size_t at) {
  uint32_t v = 0;
  for (int k = 3; k >= 0; --k) v = (v << 8) | static_cast<uint8_t>(s[at + static_cast<std::size_t>(k)]);
  return v;
}
void wr32(std::string& s, std::size_t at, uint32_t v) {
  for (int k = 0; k < 4; ++k) s[at + static_cast<std::size_t>(k)] = static_cast<char>((v >> (8 * k)) & 0xff);
}

// A pickle that would run `touch <marker>` if anything executed it.
std::string payload_marker(const TempDir& dir) { return dir.file("pwned"); }
std::string shell_pkl(const std::string& module, const std::string& fn, const std::string& cmd) {
  std::string s = "\x80\x02" "c" + module + "\n" + fn + "\n" "X";
  const uint32_t n = static_cast<uint32_t>(cmd.size());
  for (int k = 0; k < 4; ++k) s += static_cast<char>((n >> (8 * k)) & 0xff);
  return s + cmd + "\x85" "R.";
}

struct Bad {
  const char* name;
  std::function<std::string(const TempDir&)> bytes;
  ErrorKind kind;
  std::vector<std::string> needles;  // besides the file name
};

class TorchZipMalformed : public ::testing::TestWithParam<Bad> {};

TEST_P(TorchZipMalformed, TypedErrorNamingFileAndTensor) {
  TempDir dir;
  const std::string bytes = GetParam().bytes(dir);
  const std::string p = dir.file("bad.bin");
  write_bytes(p, bytes);
  try {
    open_torch_zip(p);
    ADD_FAILURE() << "expected hfx::Error of kind " << to_string(GetParam().kind);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), GetParam().kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    for (const auto& n : GetParam().needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << "'" << n << "' not in: " << e.what();
  }
  // Nothing ran: the shell payloads would have created this file.
  EXPECT_FALSE(fs::exists(payload_marker(dir)));
}

std::string valid_archive(const TempDir& d) { return archive(d, state_dict_pkl({})); }

INSTANTIATE_TEST_SUITE_P(
    Cases, TorchZipMalformed,
    ::testing::Values(
        Bad{"empty_file", [](const TempDir&) { return std::string(); }, ErrorKind::Format, {"too small"}},
        Bad{"pickle_crc_mismatch", [](const TempDir& d) {  // central directory CRC of data.pkl off by one
              std::string s = valid_archive(d);
              const std::size_t name = s.rfind("archive/data.pkl");  // in the central directory header (name at +46)
              wr32(s, name - 46 + 16, rd32(s, name - 46 + 16) ^ 1u);
              return s; }, ErrorKind::Format, {"CRC-32 mismatch", "data.pkl"}},
        Bad{"truncated", [](const TempDir& d) { std::string s = valid_archive(d); return s.substr(0, s.size() / 2); },
            ErrorKind::Format, {"end of central directory"}},
        Bad{"cd_offset_past_eof", [](const TempDir& d) { std::string s = valid_archive(d); wr32(s, s.size() - 6, 0x7fffffff); return s; },
            ErrorKind::Format, {"central directory"}},
        Bad{"entry_count_too_big", [](const TempDir& d) { std::string s = valid_archive(d); s[s.size() - 12] = '\xff'; s[s.size() - 11] = '\x0f'; return s; },
            ErrorKind::Format, {"entries"}},
        Bad{"local_offset_out_of_range", [](const TempDir& d) {
              std::string s = valid_archive(d);
              const std::size_t cd = rd32(s, s.size() - 6);
              wr32(s, cd + 42, 0x7ffffff0);
              return s; }, ErrorKind::Format, {"local header offset"}},
        Bad{"entry_size_past_cd", [](const TempDir& d) {
              std::string s = valid_archive(d);
              const std::size_t cd = rd32(s, s.size() - 6);
              wr32(s, cd + 20, 0x100000);
              wr32(s, cd + 24, 0x100000);
              return s; }, ErrorKind::Format, {"runs past"}},
        Bad{"compressed_entry", [](const TempDir& d) {
              std::string s = valid_archive(d);
              const std::size_t cd = rd32(s, s.size() - 6);
              s[8] = 8;        // local header of data.pkl: deflate
              s[cd + 10] = 8;  // and its central directory record
              return s; }, ErrorKind::Unsupported, {"compressed", "deflate", "data.pkl"}},
        Bad{"no_data_pkl", [](const TempDir& d) { return zip_of(d, {{"archive/version", "3\n"}}); }, ErrorKind::Format, {"data.pkl"}},
        Bad{"not_in_folder", [](const TempDir& d) { return zip_of(d, {{"data.pkl", state_dict_pkl({})}}); }, ErrorKind::Format, {"archive folder"}},
        Bad{"missing_data_entry", [](const TempDir& d) { PklSpec s; s.key = "7"; return archive(d, state_dict_pkl(s)); },
            ErrorKind::Format, {"'w'", "archive/data/7", "missing"}},
        Bad{"storage_entry_too_small", [](const TempDir& d) { PklSpec s; s.numel = 100; return archive(d, state_dict_pkl(s)); },
            ErrorKind::Format, {"'w'", "holds 16 bytes"}},
        Bad{"offset_plus_size_past_storage", [](const TempDir& d) { PklSpec s; s.offset = 1; return archive(d, state_dict_pkl(s)); },
            ErrorKind::Format, {"'w'", "too small"}},
        Bad{"negative_stride", [](const TempDir& d) { PklSpec s; s.stride = {-2, 1}; return archive(d, state_dict_pkl(s)); },
            ErrorKind::Format, {"'w'", "negative stride"}},
        Bad{"negative_offset", [](const TempDir& d) { PklSpec s; s.offset = -4; return archive(d, state_dict_pkl(s)); },
            ErrorKind::Format, {"'w'", "negative storage offset"}},
        Bad{"huge_dims", [](const TempDir& d) { PklSpec s; s.size = {int64_t{1} << 62, int64_t{1} << 62}; s.stride = {0, 0}; return archive(d, state_dict_pkl(s)); },
            ErrorKind::Format, {"'w'"}},
        Bad{"huge_expanded", [](const TempDir& d) { PklSpec s; s.size = {int64_t{1} << 40}; s.stride = {0}; return archive(d, state_dict_pkl(s)); },
            ErrorKind::Format, {"'w'", "repeats storage elements"}},
        Bad{"huge_numel_in_pid", [](const TempDir& d) { PklSpec s; s.numel = int64_t{1} << 62; return archive(d, state_dict_pkl(s)); },
            ErrorKind::Format, {"'w'", "archive/data/0"}},
        Bad{"unknown_storage_type", [](const TempDir& d) { PklSpec s; s.storage = "EvilStorage"; return archive(d, state_dict_pkl(s)); },
            ErrorKind::Security, {"torch.EvilStorage"}},
        Bad{"complex_storage", [](const TempDir& d) { PklSpec s; s.storage = "ComplexFloatStorage"; return archive(d, state_dict_pkl(s)); },
            ErrorKind::Unsupported, {"'w'", "ComplexFloatStorage"}},
        Bad{"global_os_system", [](const TempDir& d) { return archive(d, shell_pkl("os", "system", "touch " + payload_marker(d))); },
            ErrorKind::Security, {"os.system", "data.pkl"}},
        Bad{"global_posix_system", [](const TempDir& d) { return archive(d, shell_pkl("posix", "system", "touch " + payload_marker(d))); },
            ErrorKind::Security, {"posix.system"}},
        Bad{"global_builtins_eval", [](const TempDir& d) {
              return archive(d, shell_pkl("builtins", "eval", "__import__('os').system('touch " + payload_marker(d) + "')")); },
            ErrorKind::Security, {"builtins.eval"}},
        Bad{"global_py2_builtin_exec", [](const TempDir& d) { return archive(d, shell_pkl("__builtin__", "exec", "open('" + payload_marker(d) + "','w')")); },
            ErrorKind::Security, {"builtins.exec"}},
        Bad{"reduce_subprocess", [](const TempDir& d) {
              // What pickle.dumps(obj) writes for obj.__reduce__ = lambda: (subprocess.Popen, (['touch', marker],))
              std::string s = "\x80\x02" "csubprocess\nPopen\n" "q\x00"s "]q\x01(X\x05\x00\x00\x00touchX"s;
              const std::string m = payload_marker(d);
              const uint32_t n = static_cast<uint32_t>(m.size());
              for (int k = 0; k < 4; ++k) s += static_cast<char>((n >> (8 * k)) & 0xff);
              return archive(d, s + m + "e\x85R."); },
            ErrorKind::Security, {"subprocess.Popen"}},
        Bad{"stack_global_os_system", [](const TempDir& d) {
              std::string s = "\x80\x04\x8c\x02os\x8c\x06system\x93\x8c";
              const std::string cmd = "touch " + payload_marker(d);
              s += static_cast<char>(cmd.size());
              return archive(d, s + cmd + "\x85R."); },
            ErrorKind::Security, {"os.system"}},
        Bad{"inst_opcode", [](const TempDir& d) {
              std::string s = shell_pkl("x", "y", "touch " + payload_marker(d));  // reuse its BINUNICODE argument
              s = s.substr(s.find('X'));
              s = s.substr(0, s.size() - 3);
              return archive(d, "\x80\x02(" + s + "ios\nsystem\n."); },
            ErrorKind::Security, {"INST"}},
        Bad{"global_inside_state_dict", [](const TempDir& d) {
              // A valid tensor first, then a hostile value: refused all the same.
              std::string s = state_dict_pkl({});
              s.pop_back();  // STOP
              s.pop_back();  // SETITEMS
              return archive(d, s + "X\x01\x00\x00\x00x"s + shell_pkl("os", "system", "touch " + payload_marker(d)).substr(2)); },
            ErrorKind::Security, {"os.system"}},
        Bad{"unknown_opcode", [](const TempDir& d) { return archive(d, "\x80\x02\xff."); }, ErrorKind::Format, {"unsupported pickle opcode 0xff"}},
        Bad{"protocol_6", [](const TempDir& d) { return archive(d, "\x80\x06}."); }, ErrorKind::Unsupported, {"protocol 6"}},
        Bad{"stack_underflow", [](const TempDir& d) { return archive(d, "\x80\x02N\x86."); }, ErrorKind::Format, {"stack underflow"}},
        Bad{"underflow_across_mark", [](const TempDir& d) { return archive(d, "\x80\x02N(R."); }, ErrorKind::Format, {"stack underflow"}},
        Bad{"tuple_without_mark", [](const TempDir& d) { return archive(d, "\x80\x02t."); }, ErrorKind::Format, {"MARK"}},
        Bad{"memo_out_of_range", [](const TempDir& d) { return archive(d, "\x80\x02}q\x00h\x05."s); }, ErrorKind::Format, {"memo index 5"}},
        Bad{"no_stop", [](const TempDir& d) { return archive(d, "\x80\x02}"); }, ErrorKind::Format, {"STOP"}},
        Bad{"string_past_end", [](const TempDir& d) { return archive(d, "\x80\x02X\xff\xff\xff\x7f" "abc."); }, ErrorKind::Format, {"truncated"}},
        Bad{"huge_binunicode8", [](const TempDir& d) { return archive(d, "\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f."); }, ErrorKind::Format, {"truncated"}},
        Bad{"setitems_on_list", [](const TempDir& d) { return archive(d, "\x80\x02](K\x01K\x02u."); }, ErrorKind::Format, {"SETITEM"}},
        Bad{"reduce_on_string", [](const TempDir& d) { return archive(d, "\x80\x02X\x01\x00\x00\x00"s "a)R."); }, ErrorKind::Format, {"not callable"}},
        Bad{"rebuild_without_pid", [](const TempDir& d) {
              return archive(d, "\x80\x02}X\x01\x00\x00\x00w"s "ctorch._utils\n_rebuild_tensor_v2\n" "(K\x00K\x00)))\x89NtRs."s); },
            ErrorKind::Format, {"persistent id"}},
        Bad{"not_a_state_dict", [](const TempDir& d) { return archive(d, "\x80\x02K\x01."); }, ErrorKind::Unsupported, {"not a state dict"}},
        Bad{"non_tensor_value", [](const TempDir& d) { return archive(d, "\x80\x02}X\x01\x00\x00\x00kK\x01s."s); }, ErrorKind::Unsupported, {"'k'", "not a tensor"}},
        Bad{"bad_pid_shape", [](const TempDir& d) {
              return archive(d, "\x80\x02}X\x01\x00\x00\x00w"s "ctorch._utils\n_rebuild_tensor_v2\n" "(X\x03\x00\x00\x00"s "bad\x85QK\x00))\x89NtRs."s); },
            ErrorKind::Format, {"'w'", "persistent id"}},
        Bad{"big_endian", [](const TempDir& d) {
              return zip_of(d, {{"archive/data.pkl", state_dict_pkl({})}, {"archive/byteorder", "big"}, {"archive/data/0", std::string(16, '\0')}}); },
            ErrorKind::Unsupported, {"byteorder"}},
        Bad{"torchscript", [](const TempDir& d) {
              return zip_of(d, {{"m/data.pkl", state_dict_pkl({})}, {"m/constants.pkl", "\x80\x02)."}}); },
            ErrorKind::Unsupported, {"TorchScript"}}),
    [](const auto& pinfo) { return std::string(pinfo.param.name); });

// Exotic but valid layouts: a transposed view (copied contiguous), a view at
// an offset into a shared storage (zero-copy), a scalar, and an untyped
// storage read through _rebuild_tensor_v3 with an explicit dtype.
TEST(TorchZip, StridedOffsetAndUntypedStorages) {
  TempDir dir;
  std::vector<float> vals(12);
  for (std::size_t i = 0; i < vals.size(); ++i) vals[i] = static_cast<float>(i);
  std::string data(reinterpret_cast<const char*>(vals.data()), vals.size() * 4);
  pickle::Writer w;
  w.raw('}');
  w.mark();
  auto tensor = [&](const std::string& name, const char* storage, int64_t numel, int64_t off, std::vector<int64_t> size,
                    std::vector<int64_t> stride, const char* v3_dtype = nullptr) {
    w.str(name);
    w.global("torch._utils", v3_dtype ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2");
    w.mark();
    w.mark();
    w.str("storage", true);
    w.global(v3_dtype ? "torch.storage" : "torch", storage);
    w.str("0", true);
    w.str("cpu", true);
    w.integer(numel);
    w.tuple_from_mark();
    w.binpersid();
    w.integer(off);
    w.int_tuple(size);
    w.int_tuple(stride);
    w.boolean(false);
    w.global("collections", "OrderedDict");
    w.empty_tuple();
    w.reduce();
    if (v3_dtype) w.global("torch", v3_dtype);
    w.tuple_from_mark();
    w.reduce();
  };
  tensor("t", "FloatStorage", 12, 0, {4, 3}, {1, 4});      // transpose of a 3x4
  tensor("row", "FloatStorage", 12, 4, {4}, {1});           // second row, zero-copy
  tensor("s", "FloatStorage", 12, 11, {}, {});              // scalar
  tensor("bcast", "FloatStorage", 12, 2, {2, 3}, {0, 1});   // broadcast rows
  w.setitems();
  const std::string pkl = w.finish();
  write_bytes(dir.file("m.bin"), zip_of(dir, {{"archive/data.pkl", pkl}, {"archive/data/0", data}}));
  auto src = open_torch_zip(dir.file("m.bin"));
  Tensor t = src->get("t");
  EXPECT_TRUE(t.storage()->owned());
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(t.item(i * 3 + j), static_cast<double>(j * 4 + i));
  Tensor row = src->get("row");
  EXPECT_FALSE(row.storage()->owned());
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(row.item(i), 4.0 + static_cast<double>(i));
  EXPECT_EQ(src->get("s").item(0), 11.0);
  Tensor b = src->get("bcast");
  EXPECT_EQ(b.shape(), (Shape{2, 3}));
  EXPECT_EQ(b.item(4), 3.0);

  pickle::Writer w3;
  w = std::move(w3);
  w.raw('}');
  w.mark();
  tensor("u", "UntypedStorage", 48, 1, {2}, {1}, "float32");  // 48 bytes viewed as f32 from element 1
  w.setitems();
  write_bytes(dir.file("u.bin"), zip_of(dir, {{"archive/data.pkl", w.finish()}, {"archive/data/0", data}}));
  auto u = open_torch_zip(dir.file("u.bin"));
  EXPECT_EQ(u->info("u").dtype, DType::F32);
  EXPECT_EQ(u->get("u").item(1), 2.0);
}

// ---- legacy format ------------------------------------------------------------
std::string legacy_file(const std::string& main_pkl, const std::vector<std::string>& keys, const std::string& raw) {
  std::string s = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.";  // magic number
  s += "\x80\x02M\xe9\x03.";                                                     // 1001
  s += "\x80\x02}(X\x0d\x00\x00\x00little_endian\x88u."s;                         // sys_info
  s += main_pkl;
  pickle::Writer w;
  w.raw(']');
  w.mark();
  for (const auto& k : keys) w.str(k);
  w.raw('e');
  s += w.finish();
  return s + raw;
}
std::string legacy_pkl(const std::string& key, int64_t size, bool view, int64_t view_off = 1, int64_t view_size = 2,
                       std::vector<int64_t> shape = {2}) {
  pickle::Writer w;
  w.global("collections", "OrderedDict");
  w.empty_tuple();
  w.reduce();
  w.mark();
  w.str("w");
  w.global("torch._utils", "_rebuild_tensor_v2");
  w.mark();
  w.mark();
  w.str("storage");
  w.global("torch", "FloatStorage");
  w.str(key);
  w.str("cpu");
  w.integer(size);
  if (view) {
    w.str("view0");
    w.integer(view_off);
    w.integer(view_size);
    w.tuple(3);
  } else {
    w.none();
  }
  w.tuple_from_mark();
  w.binpersid();
  w.integer(0);
  w.int_tuple(shape);
  w.int_tuple({1});
  w.boolean(false);
  w.global("collections", "OrderedDict");
  w.empty_tuple();
  w.reduce();
  w.tuple_from_mark();
  w.reduce();
  w.setitems();
  return w.finish();
}
std::string count_and_floats(uint64_t count, std::vector<float> v) {
  std::string s;
  for (int k = 0; k < 8; ++k) s += static_cast<char>((count >> (8 * k)) & 0xff);
  return s + std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

TEST(TorchLegacy, ViewMetadataAndMisalignedData) {
  TempDir dir;
  const std::string p = dir.file("legacy.bin");
  write_bytes(p, legacy_file(legacy_pkl("k1", 4, true), {"k1"}, count_and_floats(4, {10, 11, 12, 13})));
  auto src = open_checkpoint(p);
  EXPECT_EQ(src->format(), "pytorch");
  Tensor t = src->get("w");
  EXPECT_EQ(t.item(0), 11.0);
  EXPECT_EQ(t.item(1), 12.0);
}

struct BadLegacy {
  const char* name;
  std::function<std::string()> bytes;
  ErrorKind kind;
  std::vector<std::string> needles;
};
class TorchLegacyMalformed : public ::testing::TestWithParam<BadLegacy> {};
TEST_P(TorchLegacyMalformed, TypedErrorNamingFileAndTensor) {
  TempDir dir;
  const std::string p = dir.file("legacy.bin");
  write_bytes(p, GetParam().bytes());
  std::vector<std::string> needles = GetParam().needles;
  try {
    open_torch_legacy(p);
    ADD_FAILURE() << "expected hfx::Error of kind " << to_string(GetParam().kind);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), GetParam().kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << "'" << n << "' not in: " << e.what();
  }
}
INSTANTIATE_TEST_SUITE_P(
    Cases, TorchLegacyMalformed,
    ::testing::Values(
        BadLegacy{"wrong_magic", [] { return std::string("\x80\x02\x8a\x01\x05."); }, ErrorKind::Format, {"magic number"}},
        BadLegacy{"truncated_data", [] { return legacy_file(legacy_pkl("k", 4, false, 0, 0, {4}), {"k"}, count_and_floats(4, {1, 2})); },
                  ErrorKind::Format, {"'w'", "truncated"}},
        BadLegacy{"count_mismatch", [] { return legacy_file(legacy_pkl("k", 4, false, 0, 0, {4}), {"k"}, count_and_floats(3, {1, 2, 3})); },
                  ErrorKind::Format, {"'w'", "3 elements"}},
        BadLegacy{"key_not_listed", [] { return legacy_file(legacy_pkl("k", 4, false, 0, 0, {4}), {}, ""); }, ErrorKind::Format, {"'w'", "no data"}},
        BadLegacy{"unknown_key_listed", [] { return legacy_file(legacy_pkl("k", 4, false, 0, 0, {4}), {"zz"}, ""); }, ErrorKind::Format, {"'zz'"}},
        BadLegacy{"view_outside_storage", [] { return legacy_file(legacy_pkl("k", 4, true, 3, 2), {"k"}, count_and_floats(4, {1, 2, 3, 4})); },
                  ErrorKind::Format, {"'w'", "outside storage"}},
        BadLegacy{"tensor_past_view", [] { return legacy_file(legacy_pkl("k", 4, true, 1, 1), {"k"}, count_and_floats(4, {1, 2, 3, 4})); },
                  ErrorKind::Format, {"'w'", "too small"}},
        BadLegacy{"evil_main_pickle", [] { return legacy_file(shell_pkl("os", "system", "true"), {}, ""); }, ErrorKind::Security, {"os.system"}},
        BadLegacy{"big_endian", [] {
                    std::string s = legacy_file(legacy_pkl("k", 1, false, 0, 0, {1}), {"k"}, count_and_floats(1, {1}));
                    s[s.find("little_endian") + 13] = '\x89';
                    return s; }, ErrorKind::Unsupported, {"big-endian"}}),
    [](const auto& pinfo) { return std::string(pinfo.param.name); });

}  // namespace
