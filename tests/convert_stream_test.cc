// convert_model_directory (one tensor at a time from the mapped checkpoint)
// writes exactly what write_model_directory(load_pretrained(...)) writes, for
// every fixture case and format, TF1 checkpoints included; the streaming
// safetensors writer refuses a tensor that is not what it announced; a
// released tensor reads back the same.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/formats.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "hfx/pretrained.h"
#include "test_util.h"

using namespace hfx;
using hfx::testing::expect_error;
using hfx::testing::fixtures_dir;
using hfx::testing::TempDir;
namespace fs = std::filesystem;

namespace {

bool supported(const std::string& arch) {
  for (const auto& t : supported_model_types())
    if (t == arch) return true;
  return false;
}

std::string bytes_of(const fs::path& p) { return read_text_file(p.string()); }

// Both ways, into a/ and b/: the same files, byte for byte (or the same error).
void expect_same(const std::string& src, const std::string& cls, const LoadOptions& o, const std::string& tag) {
  SCOPED_TRACE(tag);
  TempDir out;
  const fs::path a = out.path() / "load", b = out.path() / "stream";
  std::string load_error;
  try {
    write_model_directory(*load_pretrained(src, cls, o).model, a.string());
  } catch (const Error& e) {
    load_error = e.what();
  }
  if (!load_error.empty()) {
    try {
      convert_model_directory(src, b.string(), cls, o);
      ADD_FAILURE() << "load_pretrained failed (" << load_error << ") but convert_model_directory did not";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), load_error);
    }
    return;
  }
  convert_model_directory(src, b.string(), cls, o);
  for (const char* f : {"model.safetensors", "config.json"}) {
    ASSERT_TRUE(fs::exists(b / f)) << f;
    EXPECT_TRUE(bytes_of(a / f) == bytes_of(b / f)) << f << " differs";
  }
}

}  // namespace

TEST(ConvertStream, SameBytesAsLoadThenWriteForEveryFixtureFormat) {
  const fs::path manifest = fixtures_dir() / "manifest.json";
  ASSERT_TRUE(fs::exists(manifest));
  auto m = nlohmann::json::parse(read_text_file(manifest.string()));
  int n = 0;
  for (const auto& c : m["cases"]) {
    if (!supported(c["arch"].get<std::string>())) continue;
    const fs::path dir = fixtures_dir() / c["dir"].get<std::string>();
    for (const auto& [format, file] : c["formats"].items()) {
      LoadOptions o;
      o.from_tf = format.rfind("tf_h5", 0) == 0;
      o.from_flax = format.rfind("flax", 0) == 0;
      if (format.rfind("pt_", 0) == 0) o.use_safetensors = false;
      // The weight file itself (a folder holds several formats; sharded ones by their index).
      expect_same((dir / file.get<std::string>()).string(), c["class"].get<std::string>(), o, c["id"].get<std::string>() + " " + format);
      ++n;
    }
  }
  EXPECT_GT(n, 100);
}

TEST(ConvertStream, Tf1CheckpointsStreamToTheSameBytes) {
  const fs::path d = fixtures_dir() / "tf1/bert";
  nlohmann::json cfg = nlohmann::json::parse(read_text_file((d / "bert_config.json").string()));
  cfg["model_type"] = "bert";  // the original release's bert_config.json has none
  LoadOptions o;
  o.from_tf = true;
  o.config = Config::from_json(cfg);
  for (const char* cls : {"BertForPreTraining", "BertModel", "BertForMaskedLM"})
    expect_same((d / "model.ckpt").string(), cls, o, cls);
  // A dtype conversion on the way (each tensor converted as it is written).
  o.torch_dtype = "float16";
  expect_same((d / "model.ckpt").string(), "BertModel", o, "float16");
  // Missing parameters (a head the checkpoint lacks) are initialised as load_pretrained does.
  expect_same((d / "model.ckpt").string(), "BertForSequenceClassification", o, "missing head");
}

TEST(ConvertStream, WriterRefusesATensorThatIsNotWhatItAnnounced) {
  TempDir out;
  const std::string p = out.file("x.safetensors");
  std::vector<LazyTensor> ts = {{"a", DType::F32, {2, 3}, [] { return Tensor::zeros(DType::F32, {3, 2}); }}};
  expect_error([&] { write_safetensors(p, ts); }, ErrorKind::InvalidArgument, {"a", "[2, 3]", "announced"});
  EXPECT_FALSE(fs::exists(p));  // nothing published
  ts = {{"a", DType::F32, {2, 3}, [] { return Tensor::zeros(DType::F16, {2, 3}); }}};
  expect_error([&] { write_safetensors(p, ts); }, ErrorKind::InvalidArgument, {"a", "announced"});
  // Bytes in place (LazyTensor::bytes) must be exactly the announced tensor's; then get() is not called.
  static const float six[6] = {1, 2, 3, 4, 5, 6};
  ts = {{"a", DType::F32, {2, 3}, [] { return Tensor::zeros(DType::F32, {2, 3}); }}};
  ts[0].bytes = [] { return TensorSource::Bytes{nullptr, reinterpret_cast<const uint8_t*>(six), 20}; };
  expect_error([&] { write_safetensors(p, ts); }, ErrorKind::InvalidArgument, {"a", "20 bytes", "24", "announced"});
  EXPECT_FALSE(fs::exists(p));
  ts[0].bytes = [] { return TensorSource::Bytes{nullptr, reinterpret_cast<const uint8_t*>(six), 24}; };
  ts[0].get = [] () -> Tensor { throw std::logic_error("get() called although bytes() gave the data"); };
  write_safetensors(p, ts);
  EXPECT_EQ(max_abs_diff(open_safetensors(p)->get("a"), Tensor::from_vector<float>(DType::F32, {2, 3}, {1, 2, 3, 4, 5, 6})), 0.0);
  fs::remove(p);
  // done() runs after each tensor is written; a released mapped tensor reads back unchanged.
  const std::string src = (fixtures_dir() / "bert/tiny/BertModel/model.safetensors").string();
  auto s = open_safetensors(src);
  const std::string name = s->entries().front().name;
  const Tensor before = s->get(name).clone();
  int done = 0;
  ts = {{name, before.dtype(), before.shape(), [&] { return s->get(name); }, [&] { s->release(name); ++done; }}};
  write_safetensors(p, ts);
  EXPECT_EQ(done, 1);
  EXPECT_EQ(max_abs_diff(s->get(name), before), 0.0);
  EXPECT_EQ(max_abs_diff(open_safetensors(p)->get(name), before), 0.0);
}

namespace {
// RssFile of this process in KiB (mapped file pages it has resident).
long rss_file_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("RssFile:", 0) == 0) return std::stol(line.substr(8));
  return -1;
}
}  // namespace

// Every mapped reader hands out a 4 MiB tensor as a view of the file (its
// pages become resident in this process as it is read) and release() drops
// those pages again: what keeps a streaming conversion at one tensor of RSS.
// (TF1 bundles and legacy .bin share this code, IndexedSource, and have no
// writer here to make a 4 MiB file.)
TEST(ConvertStream, MappedReadersReleaseATensorsPages) {
  if (rss_file_kib() < 0) GTEST_SKIP() << "no RssFile in /proc/self/status";
  TempDir dir;
  Tensor big = Tensor::zeros(DType::F32, {1024, 1024});
  float* p = big.mutable_data<float>();
  for (int64_t i = 0; i < big.numel(); ++i) p[i] = static_cast<float>(i % 977) * 0.5f;
  const Tensor small = Tensor::from_vector<float>(DType::F32, {3}, {1, 2, 3});
  struct Case {
    std::string file, name;
    std::function<void(const std::string&, const NamedTensors&)> write;
  };
  const std::vector<Case> cases = {
      {"model.safetensors", "w", [](const std::string& f, const NamedTensors& t) { write_safetensors(f, t); }},
      {"pytorch_model.bin", "w", [](const std::string& f, const NamedTensors& t) { write_torch_zip(f, t); }},
      {"tf_model.h5", "layer/w:0", [](const std::string& f, const NamedTensors& t) { write_keras_h5(f, t); }},
      {"flax_model.msgpack", "layer/w", [](const std::string& f, const NamedTensors& t) { write_flax_msgpack(f, t); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    const std::string f = dir.file(c.file);
    const std::string other = c.name.substr(0, c.name.rfind('w')) + "b" + c.name.substr(c.name.rfind('w') + 1);
    c.write(f, {{other, small}, {c.name, big}});
    auto src = open_checkpoint(f);
    const long before = rss_file_kib();
    {
      Tensor t = src->get(c.name);
      EXPECT_EQ(max_abs_diff(t, big), 0.0);  // reads every page
      const long read = rss_file_kib();
      if (t.storage()->owned()) {
        // flax.serialization packs arrays at any byte offset: a misaligned one
        // is copied out, and the copy releases the pages it has read.
        EXPECT_EQ(c.file, "flax_model.msgpack") << "expected a view of the mapped file";
        EXPECT_LE(read - before, 512) << "a copy left " << read - before << " KiB of the file resident";
      } else {
        EXPECT_GE(read - before, 3584) << "reading 4 MiB mapped " << read - before << " KiB";
      }
      src->release(c.name);
      const long released = rss_file_kib();
      EXPECT_LE(released - before, 512) << "after release() " << released - before << " KiB stay resident";
    }
    // bytes(): the same 4 MiB in place (aligned or not), for a transpose or a write without a copy.
    const TensorSource::Bytes b = src->bytes(c.name);
    ASSERT_NE(b.data, nullptr);
    ASSERT_EQ(b.size, big.nbytes());
    EXPECT_EQ(std::memcmp(b.data, big.raw(), b.size), 0);
    EXPECT_EQ(max_abs_diff(src->get(c.name), big), 0.0);  // read again from the file after release
    EXPECT_EQ(max_abs_diff(src->get(other), small), 0.0);
  }
}
