// convert_model_directory (one tensor at a time from the mapped checkpoint)
// writes exactly what write_model_directory(load_pretrained(...)) writes, for
// every fixture case and format, TF1 checkpoints included; the streaming
// safetensors writer refuses a tensor that is not what it announced; a
// released tensor reads back the same.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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
