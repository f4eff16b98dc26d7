// GGUF (src/io/gguf.cc, src/naming/gguf.cc, src/pretrained/gguf.cc): hfx -> GGUF -> hfx round trips on the
// fixtures, files written by the `gguf` Python package (tools/gguf/write_reference.py, pinned venv from
// tools/gguf/env.sh) loaded alone, the dequantizers against gguf-py's, and malformed files as typed errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "hfx/generate.h"
#include "hfx/gguf.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "hfx/pretrained.h"
#include "test_util.h"

namespace hfx {
namespace {

namespace fs = std::filesystem;

fs::path fixture(const std::string& rel) { return testing::fixtures_dir() / rel; }

LoadedModel load(const std::string& path, const std::string& cls = {}) {
  LoadOptions o;
  o.strict = true;
  return load_pretrained(path, cls, o);
}

Outputs run_fixture(const Model& m, const fs::path& dir) { return m.forward(testing::read_fixture_inputs(dir / "inputs.safetensors")); }

double max_abs(const Tensor& t) { return max_abs_diff(t, Tensor::zeros(t.dtype(), t.shape())); }

// ---- round trip: hfx writes, hfx reads the lone file -----------------------------------------------------
class GgufRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufRoundTrip, F32OutputsEqualTheReference) {
  const fs::path dir = fixture(GetParam());
  testing::TempDir tmp;
  LoadedModel src = load(dir.string());
  save_gguf(*src.model, tmp.file("m.gguf"));
  LoadedModel back = load(tmp.file("m.gguf"));  // config from the metadata alone
  EXPECT_EQ(back.model->class_name(), src.model->class_name());
  EXPECT_TRUE(back.info.unexpected_keys.empty()) << back.info.unexpected_keys.front();
  testing::expect_outputs_match_reference(run_fixture(*back.model, dir), dir / "outputs.safetensors", GetParam());
}

TEST_P(GgufRoundTrip, HalfAndQ8_0WithinTheirError) {
  const fs::path dir = fixture(GetParam());
  testing::TempDir tmp;
  LoadedModel src = load(dir.string());
  const Tensor ref = open_safetensors((dir / "outputs.safetensors").string())->get("logits");
  // Bounds on max |logits - reference| / max |reference| (measured: printed below).
  for (const auto& [type, bound] : std::vector<std::pair<std::string, double>>{{"f16", 2e-3}, {"bf16", 2e-2}, {"q8_0", 5e-2}}) {
    GgufSaveOptions o;
    o.outtype = type;
    save_gguf(*src.model, tmp.file(type + ".gguf"), o);
    LoadedModel back = load(tmp.file(type + ".gguf"));
    const Tensor got = back.model->forward(testing::read_fixture_inputs(dir / "inputs.safetensors", false)).get("logits");
    const double rel = max_abs_diff(got, ref) / max_abs(ref);
    std::printf("[ measured ] %s %s: max |logits - reference| / max |reference| = %.3e (bound %.0e)\n", GetParam(), type.c_str(), rel, bound);
    EXPECT_LE(rel, bound) << type;
    EXPECT_GT(rel, 0.0) << type << ": a lossy type gave exact logits (was it written as F32?)";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufRoundTrip,
                         ::testing::Values("llama/tiny/LlamaForCausalLM", "llama/gqa/LlamaForCausalLM",
                                           "llama/rope_linear/LlamaForCausalLM", "gpt2/tiny/GPT2LMHeadModel",
                                           "qwen2/tiny/Qwen2ForCausalLM", "gemma/tiny/GemmaForCausalLM"),
                         [](const auto& p) {
                           std::string s = p.param;
                           for (char& c : s)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return s;
                         });

TEST(Gguf, LayoutAsLlamaCppNamesIt) {
  testing::TempDir tmp;
  LoadedModel src = load(fixture("llama/tiny/LlamaForCausalLM").string());
  GgufSaveOptions o;
  o.outtype = "q8_0";
  save_gguf(*src.model, tmp.file("m.gguf"), o);
  auto g = open_gguf(tmp.file("m.gguf"));
  EXPECT_EQ(g->format(), "gguf");
  const auto meta = g->metadata();
  EXPECT_EQ(meta.at("general.architecture"), "llama");
  EXPECT_EQ(meta.at("llama.embedding_length"), "32");
  EXPECT_EQ(meta.at("llama.block_count"), "2");
  EXPECT_EQ(meta.at("llama.attention.head_count_kv"), "4");
  EXPECT_EQ(meta.at("general.file_type"), "7");
  EXPECT_EQ(g->info("token_embd.weight").shape, (Shape{99, 32}));
  EXPECT_EQ(g->info("blk.1.ffn_down.weight").shape, (Shape{32, 37}));
  EXPECT_TRUE(g->contains("output.weight"));
  EXPECT_TRUE(g->contains("blk.0.attn_output.weight"));
  // The Q rows are permuted as convert_hf_to_gguf.py's LlamaModel.permute: row 1 of head 0 is HF row hd/2.
  const Tensor hf = open_safetensors((fixture("llama/tiny/LlamaForCausalLM") / "model.safetensors").string())->get("model.layers.0.self_attn.q_proj.weight");
  const Tensor gg = open_gguf(tmp.file("m.gguf"))->get("blk.0.attn_q.weight");
  const Tensor want_row = hf.narrow(0, 4, 1).contiguous();  // head_dim 8: hd/2 = 4
  EXPECT_LE(max_abs_diff(gg.narrow(0, 1, 1).contiguous(), want_row), 2e-3);  // Q8_0
}

TEST(Gguf, RefusesWhatLlamaCppCannotHold) {
  testing::TempDir tmp;
  auto refuse = [&](const char* rel, std::initializer_list<std::string> needles) {
    LoadedModel m = load(fixture(rel).string());
    testing::expect_error([&] { save_gguf(*m.model, tmp.file("x.gguf")); }, ErrorKind::Unsupported, needles);
    EXPECT_FALSE(fs::exists(tmp.file("x.gguf"))) << rel;
  };
  refuse("llama/rope_dynamic/LlamaForCausalLM", {"rope_scaling", "dynamic"});
  refuse("mistral/tiny/MistralForCausalLM", {"sliding window"});
  refuse("llama/tiny/LlamaForSequenceClassification", {"score.weight"});
  refuse("bert/tiny/BertModel", {"bert"});
  refuse("gpt2/awkward/GPT2LMHeadModel", {"relu"});  // llama.cpp's gpt2 graph is gelu
  refuse("llama/awkward/LlamaForCausalLM", {"silu", "gelu_new"});
  refuse("gemma/awkward/GemmaForCausalLM", {"gelu_pytorch_tanh", "activation is gelu"});
  LoadedModel m = load(fixture("llama/tiny/LlamaForCausalLM").string());
  GgufSaveOptions o;
  o.outtype = "q4_k";
  testing::expect_error([&] { save_gguf(*m.model, tmp.file("x.gguf"), o); }, ErrorKind::InvalidArgument, {"outtype", "q4_k"});
}

// tokenizer.ggml.* from the tokenizer files: a byte-level BPE (gpt2) and a byte-fallback BPE (llama).
TEST(Gguf, TokenizerMetadata) {
  testing::TempDir tmp;
  auto meta_of = [&](const char* model_rel, const char* tok, int64_t vocab) {
    LoadOptions lo;  // the fixture with the tokenizer's vocab size (embeddings initialised as transformers does)
    lo.config_overrides = {{"vocab_size", vocab}};
    lo.ignore_mismatched_sizes = true;
    LoadedModel lm = load_pretrained(fixture(model_rel).string(), "", lo);
    const Model* m = lm.model.get();
    GgufSaveOptions o;
    o.tokenizer_dir = fixture(std::string("tokenizers/") + tok).string();
    save_gguf(*m, tmp.file(std::string(tok) + ".gguf"), o);
    std::map<std::string, GgufKV> kv;
    for (auto& k : read_gguf_metadata(tmp.file(std::string(tok) + ".gguf"))) kv[k.key] = k;
    return kv;
  };
  const json gtok = json::parse(read_text_file(fixture("tokenizers/gpt2/tokenizer.json").string()));
  auto g = meta_of("gpt2/tiny/GPT2LMHeadModel", "gpt2", 1210);
  EXPECT_EQ(g.at("tokenizer.ggml.model").value, "gpt2");
  EXPECT_EQ(g.at("tokenizer.ggml.pre").value, "gpt-2");
  ASSERT_EQ(g.at("tokenizer.ggml.tokens").value.size(), 1210u);  // padded to vocab_size as the converter does
  for (const auto& [text, id] : gtok["model"]["vocab"].items()) ASSERT_EQ(g.at("tokenizer.ggml.tokens").value[id.get<int>()], text);
  EXPECT_EQ(g.at("tokenizer.ggml.tokens").value[1205], "[PAD1205]");
  EXPECT_EQ(g.at("tokenizer.ggml.token_type").value[1205], 5);  // UNUSED
  EXPECT_EQ(g.at("tokenizer.ggml.token_type").value[0], 3);     // <|endoftext|>: added, special -> CONTROL
  EXPECT_EQ(g.at("tokenizer.ggml.merges").value.size(), gtok["model"]["merges"].size());
  EXPECT_EQ(g.count("tokenizer.ggml.scores"), 0u);
  auto l = meta_of("llama/tiny/LlamaForCausalLM", "llama", 1000);
  EXPECT_EQ(l.at("tokenizer.ggml.model").value, "llama");
  EXPECT_EQ(l.at("tokenizer.ggml.tokens").value.size(), 1000u);
  EXPECT_EQ(l.at("tokenizer.ggml.scores").elem, GgufType::F32);
  EXPECT_EQ(l.at("tokenizer.ggml.token_type").value[1], 3);  // <s>
  EXPECT_EQ(l.at("tokenizer.ggml.bos_token_id").value, 1);
  EXPECT_EQ(l.at("tokenizer.ggml.eos_token_id").value, 2);
  int bytes = 0;
  for (const auto& t : l.at("tokenizer.ggml.token_type").value) bytes += t == 6;
  EXPECT_EQ(bytes, 256);  // <0x00> .. <0xFF>: BYTE
  // A vocab larger than the model's is refused (the token ids would not fit the embedding).
  testing::expect_error([&] { meta_of("gpt2/tiny/GPT2LMHeadModel", "gpt2", 99); }, ErrorKind::InvalidArgument, {"vocab_size"});
}

TEST(Gguf, CliExport) {
  testing::TempDir tmp;
  const std::string src = fixture("gpt2/tiny/GPT2LMHeadModel").string();
  auto r = testing::run_cli("export " + src + " --to gguf --outtype q8_0 --out " + tmp.file("g.gguf"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("gguf q8_0"), std::string::npos) << r.out;
  EXPECT_EQ(open_gguf(tmp.file("g.gguf"))->metadata().at("general.file_type"), "7");
  // F32 is held to --max-error; a refused export writes nothing.
  r = testing::run_cli("export " + src + " --to gguf --outtype q8_0 --max-error 1e-9 --out " + tmp.file("h.gguf"));
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("refused"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(tmp.file("h.gguf")));
  r = testing::run_cli("export " + src + " --format gguf --out " + tmp.path().string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(tmp.file("model-f32.gguf")));
}

// ---- files written by the gguf Python package ------------------------------------------------------------
fs::path gguf_python() { return testing::source_dir() / "tools/gguf/.venv/bin/python"; }

std::string write_reference(const testing::TempDir& tmp, const std::string& args, const std::string& out) {
  const std::string log = tmp.file("py.log");
  const std::string cmd = gguf_python().string() + " " + (testing::source_dir() / "tools/gguf/write_reference.py").string() + " " + args +
                          " " + out + " > " + log + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << read_text_file(log);
  return out;
}

TEST(GgufPython, DequantizersEqualGgufPy) {
  if (!fs::exists(gguf_python())) GTEST_SKIP() << "gguf venv missing (tools/gguf/env.sh creates it; scripts/test.sh runs it)";
  testing::TempDir tmp;
  const std::string f = write_reference(tmp, "quants", tmp.file("q.gguf"));
  auto g = open_gguf(f);
  for (const char* t : {"Q8_0", "Q4_0", "Q4_K"}) {
    const Tensor got = g->get(t), want = g->get(std::string(t) + ".ref");
    ASSERT_EQ(got.shape(), want.shape()) << t;
    EXPECT_EQ(max_abs_diff(got, want), 0.0) << t;
  }
}

class GgufPython : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufPython, WrittenByGgufLoadsAlone) {
  if (!fs::exists(gguf_python())) GTEST_SKIP() << "gguf venv missing (tools/gguf/env.sh creates it; scripts/test.sh runs it)";
  const fs::path dir = fixture(GetParam());
  testing::TempDir tmp;
  // F32: outputs equal the reference's (the fixture's outputs.safetensors) within the fp32 parity budget.
  const std::string f32 = write_reference(tmp, "model " + dir.string(), tmp.file("f32.gguf") + " f32");
  (void)f32;
  LoadedModel m = load(tmp.file("f32.gguf"));
  EXPECT_TRUE(m.info.unexpected_keys.empty());
  testing::expect_outputs_match_reference(run_fixture(*m.model, dir), dir / "outputs.safetensors", GetParam());
  // Q8_0 / Q4_0 / F16: within their quantization error; and hfx's own Q8_0 file dequantizes to exactly the same
  // weights as gguf-py's (quantize_row_q8_0_ref, bit for bit).
  const Tensor ref = open_safetensors((dir / "outputs.safetensors").string())->get("logits");
  for (const auto& [type, bound] : std::vector<std::pair<std::string, double>>{{"f16", 2e-3}, {"q8_0", 5e-2}, {"q4_0", 0.3}}) {
    write_reference(tmp, "model " + dir.string(), tmp.file(type + ".gguf") + " " + type);
    LoadedModel q = load(tmp.file(type + ".gguf"));
    const Tensor got = q.model->forward(testing::read_fixture_inputs(dir / "inputs.safetensors", false)).get("logits");
    const double rel = max_abs_diff(got, ref) / max_abs(ref);
    std::printf("[ measured ] gguf-py %s %s: max |logits - reference| / max |reference| = %.3e (bound %.0e)\n", GetParam(), type.c_str(), rel, bound);
    EXPECT_LE(rel, bound) << type;
  }
  LoadedModel src = load(dir.string());
  GgufSaveOptions o;
  o.outtype = "q8_0";
  save_gguf(*src.model, tmp.file("hfx_q8.gguf"), o);
  auto mine = open_gguf(tmp.file("hfx_q8.gguf")), theirs = open_gguf(tmp.file("q8_0.gguf"));
  for (const auto& e : theirs->entries()) {
    ASSERT_TRUE(mine->contains(e.name)) << e.name;
    EXPECT_EQ(max_abs_diff(mine->get(e.name).to(DType::F32), theirs->get(e.name).to(DType::F32)), 0.0) << e.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufPython,
                         ::testing::Values("llama/tiny/LlamaForCausalLM", "llama/gqa/LlamaForCausalLM", "gpt2/tiny/GPT2LMHeadModel",
                                           "qwen2/tiny/Qwen2ForCausalLM", "gemma/tiny/GemmaForCausalLM"),
                         [](const auto& p) {
                           std::string s = p.param;
                           for (char& c : s)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return s;
                         });

// ---- malformed files: typed errors naming the file and what is wrong ---------------------------------------
// A GGUF header built field by field, so that each test can break one thing.
struct Builder {
  std::string b;
  void u32(uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); }
  void u64(uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); }
  void str(const std::string& s) {
    u64(s.size());
    b += s;
  }
  void pad(std::size_t a = 32) { b.resize((b.size() + a - 1) / a * a, '\0'); }
};

// magic, version, counts, one string kv, then tensors (name, dims innermost first, type, offset); data follows.
struct Spec {
  std::string magic = "GGUF";
  uint32_t version = 3;
  uint64_t n_tensors = 2, n_kv = 1;
  uint32_t kv_type = 8;
  std::vector<uint64_t> dims0 = {32, 2};
  uint32_t type0 = 0, type1 = 0;
  uint64_t off0 = 0, off1 = 256;
  std::string name1 = "b";
  uint32_t ndims1 = 1;
  uint64_t data = 512;
  std::string extra_kv;  // appended raw kv bytes (n_kv counts them)
};
std::string build(const Spec& s) {
  Builder w;
  w.b = s.magic;
  w.u32(s.version);
  w.u64(s.n_tensors);
  w.u64(s.n_kv);
  w.str("general.architecture");
  w.u32(s.kv_type);
  w.str("llama");
  w.b += s.extra_kv;
  w.str("a");
  w.u32(static_cast<uint32_t>(s.dims0.size()));
  for (auto d : s.dims0) w.u64(d);
  w.u32(s.type0);
  w.u64(s.off0);
  w.str(s.name1);
  w.u32(s.ndims1);
  for (uint32_t i = 0; i < s.ndims1; ++i) w.u64(32);
  w.u32(s.type1);
  w.u64(s.off1);
  w.pad();
  w.b += std::string(s.data, '\x01');
  return w.b;
}

TEST(GgufMalformed, TypedErrors) {
  testing::TempDir tmp;
  int n = 0;
  auto check = [&](const Spec& s, ErrorKind kind, std::initializer_list<std::string> needles) {
    const std::string p = tmp.file("m" + std::to_string(n++) + ".gguf");
    testing::write_bytes(p, build(s));
    testing::expect_error([&] { open_gguf(p); }, kind, needles);
    testing::expect_error([&] { open_gguf(p); }, kind, {p});
  };
  {  // the valid base opens, and its tensors read
    testing::write_bytes(tmp.file("ok.gguf"), build(Spec{}));
    auto g = open_gguf(tmp.file("ok.gguf"));
    EXPECT_EQ(g->info("a").shape, (Shape{2, 32}));
    EXPECT_EQ(g->get("b").numel(), 32);
  }
  Spec s;
  s.magic = "GGUG";
  check(s, ErrorKind::Format, {"bad magic"});
  s = {};
  s.version = 7;
  check(s, ErrorKind::Format, {"version 7"});
  s.version = 2;
  check(s, ErrorKind::Unsupported, {"version 2"});
  s = {};
  s.n_tensors = uint64_t{1} << 60;
  check(s, ErrorKind::Format, {"tensor count"});
  s = {};
  s.n_kv = uint64_t{1} << 59;
  check(s, ErrorKind::Format, {"metadata count"});
  s = {};
  s.kv_type = 13;
  check(s, ErrorKind::Format, {"general.architecture", "type 13"});
  s = {};
  s.type0 = 99;
  check(s, ErrorKind::Format, {"ggml type 99"});
  s.type0 = 3;  // Q4_1: a ggml type hfx does not read
  check(s, ErrorKind::Unsupported, {"ggml type 3"});
  s = {};
  s.type0 = 8;  // Q8_0 rows of 30: not a whole block
  s.dims0 = {30, 2};
  check(s, ErrorKind::Format, {"not a multiple", "Q8_0"});
  s = {};
  s.dims0 = {32, 2, 1, 1, 1};
  check(s, ErrorKind::Format, {"n_dims 5"});
  s = {};
  s.dims0 = {uint64_t{1} << 40, uint64_t{1} << 40};
  check(s, ErrorKind::Format, {"too large"});
  s = {};
  s.off1 = 100;  // not a multiple of 32
  check(s, ErrorKind::Format, {"alignment"});
  s.off1 = 1024;  // past the data
  check(s, ErrorKind::Format, {"runs past"});
  s.off1 = 128;  // inside a's 256 bytes
  check(s, ErrorKind::Format, {"overlaps"});
  s = {};
  s.name1 = "a";
  check(s, ErrorKind::Format, {"duplicate tensor name"});
  s.name1 = std::string(70, 'x');
  check(s, ErrorKind::Format, {"GGML_MAX_NAME"});
  s = {};
  s.ndims1 = 0;
  check(s, ErrorKind::Format, {"n_dims 0"});
  Builder kv;  // general.alignment 48: not a power of two
  kv.str("general.alignment");
  kv.u32(4);
  kv.u32(48);
  s = {};
  s.n_kv = 2;
  s.extra_kv = kv.b;
  check(s, ErrorKind::Format, {"general.alignment 48"});
  kv = {};  // as a u64: gguf.cpp wants a u32
  kv.str("general.alignment");
  kv.u32(10);
  kv.u64(32);
  s.extra_kv = kv.b;
  check(s, ErrorKind::Format, {"general.alignment must be a u32"});
  kv = {};  // an array of arrays
  kv.str("x");
  kv.u32(9);
  kv.u32(9);
  kv.u64(1);
  s.extra_kv = kv.b;
  check(s, ErrorKind::Format, {"nested arrays"});
  kv = {};  // an array longer than the file
  kv.str("x");
  kv.u32(9);
  kv.u32(6);
  kv.u64(uint64_t{1} << 61);
  s.extra_kv = kv.b;
  check(s, ErrorKind::Format, {"array count"});
  kv = {};  // a string longer than the file
  kv.str("x");
  kv.u32(8);
  kv.u64(uint64_t{1} << 20);
  s.extra_kv = kv.b;
  check(s, ErrorKind::Format, {"truncated"});
  kv = {};  // the same key twice
  kv.str("general.architecture");
  kv.u32(8);
  kv.str("gpt2");
  s.extra_kv = kv.b;
  check(s, ErrorKind::Format, {"duplicate metadata key"});
  kv = {};  // a bool that is 2
  kv.str("x");
  kv.u32(7);
  kv.b += '\x02';
  s.extra_kv = kv.b;
  check(s, ErrorKind::Format, {"bool"});
}

// Every cut of a valid file (header, tensor infos, data) is a Format error, never a crash or a short read.
TEST(GgufMalformed, TruncatedAnywhere) {
  testing::TempDir tmp;
  const std::string full = build(Spec{});
  const std::size_t data_end = full.size() - 512 + 256 + 128;  // b's 128 bytes end the data that is read
  for (std::size_t cut = 0; cut < data_end; cut += (cut < 400 ? 1 : 37)) {
    testing::write_bytes(tmp.file("t.gguf"), full.substr(0, cut));
    try {
      open_gguf(tmp.file("t.gguf"));
      ADD_FAILURE() << "cut at " << cut << " opened";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Format) << cut << ": " << e.what();
    }
  }
}

// Loading a lone .gguf: a hostile metadata value is a typed error naming the key.
TEST(GgufMalformed, ConfigFromMetadata) {
  testing::TempDir tmp;
  LoadedModel src = load(fixture("llama/tiny/LlamaForCausalLM").string());
  save_gguf(*src.model, tmp.file("m.gguf"));
  auto kvs = read_gguf_metadata(tmp.file("m.gguf"));
  auto g = open_gguf(tmp.file("m.gguf"));
  std::vector<GgufTensorOut> ts;
  for (const auto& e : g->entries()) {
    const std::string name = e.name;
    ts.push_back({name, e.dtype == DType::F32 ? GgmlType::F32 : GgmlType::F16, e.shape, [&g, name] { return g->get(name); }});
  }
  auto rewrite = [&](const std::string& key, GgufKV kv) {
    std::vector<GgufKV> k2;
    for (const auto& k : kvs)
      if (k.key != key) k2.push_back(k);
    if (!kv.key.empty()) k2.push_back(kv);
    write_gguf(tmp.file("bad.gguf"), k2, ts);
    return tmp.file("bad.gguf");
  };
  testing::expect_error([&] { load(rewrite("llama.block_count", {"llama.block_count", GgufType::U32, 1u << 30})); }, ErrorKind::Format,
                        {"llama.block_count", "out of range"});
  testing::expect_error([&] { load(rewrite("llama.embedding_length", {"llama.embedding_length", GgufType::String, "32"})); }, ErrorKind::Format,
                        {"llama.embedding_length", "integer"});
  testing::expect_error([&] { load(rewrite("llama.attention.head_count", {})); }, ErrorKind::Format, {"llama.attention.head_count"});
  testing::expect_error([&] { load(rewrite("general.architecture", {"general.architecture", GgufType::String, "mamba"})); },
                        ErrorKind::Unsupported, {"mamba"});
  testing::expect_error([&] { load(rewrite("llama.attention.head_count_kv", {"llama.attention.head_count_kv", GgufType::U32, 3u})); },
                        ErrorKind::Format, {"head_count_kv"});
}

}  // namespace
}  // namespace hfx

namespace hfx {
namespace {

// ---- llama.cpp runs what hfx writes ------------------------------------------------------------------------
// tools/llamacpp/env.sh builds llama-cpp-python (llama.cpp from source: minutes, cached by its pin). The fixtures
// carry no tokenizer files, so a byte-level BPE vocab of vocab_size tokens (no merges) is written beside them:
// llama.cpp needs a vocab to load; the prompt is given as ids, so the vocab's text plays no part.
fs::path llamacpp_python() { return testing::source_dir() / "tools/llamacpp/.venv/bin/python"; }

void write_placeholder_tokenizer(const fs::path& dir, int64_t vocab) {
  json v = json::object();
  for (int64_t i = 0; i < vocab; ++i) {
    // Printable ASCII first (byte-level BPE keeps them as they are), then byte-level pieces ("Ċ" is '\n').
    std::string t = i < 94 ? std::string(1, static_cast<char>(33 + i)) : i == 94 ? "\xC4\x8A" : i == 95 ? "\xC4\xA0" : "t" + std::to_string(i);
    v[t] = i;
  }
  json tj = {{"model", {{"type", "BPE"}, {"vocab", v}, {"merges", json::array()}}}, {"added_tokens", json::array()}};
  std::ofstream(dir / "tokenizer.json") << tj.dump();
}

class GgufLlamaCpp : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufLlamaCpp, SameGreedyTokensAsHfx) {
  if (!fs::exists(llamacpp_python())) GTEST_SKIP() << "llama-cpp-python venv missing (tools/llamacpp/env.sh builds it; slow)";
  const fs::path dir = fixture(GetParam());
  testing::TempDir tmp;
  LoadedModel src = load(dir.string());
  write_placeholder_tokenizer(tmp.path(), src.model->config().get<int64_t>("vocab_size", 0));
  const Tensor ids = testing::read_fixture_inputs(dir / "inputs.safetensors", false).input_ids.narrow(0, 0, 1).contiguous();
  const int64_t n = 12;
  std::string prompt;
  for (int64_t i = 0; i < ids.numel(); ++i) prompt += " " + std::to_string(ids.data<int64_t>()[i]);
  for (const char* type : {"f32", "f16", "q8_0"}) {
    GgufSaveOptions o;
    o.outtype = type;
    o.tokenizer_dir = tmp.path().string();
    const std::string f = tmp.file(std::string(type) + ".gguf");
    save_gguf(*src.model, f, o);
    LoadedModel m = load(f);  // hfx on the same file
    GenerationConfig g;
    g.max_new_tokens = g.min_new_tokens = n;
    const Tensor out = generate(*m.model, ids, Tensor(), g);
    json mine = json::array();
    for (int64_t i = ids.numel(); i < out.numel(); ++i) mine.push_back(out.data<int64_t>()[i]);
    const std::string log = tmp.file("llama.log"), res = tmp.file("llama.json");
    const std::string cmd = llamacpp_python().string() + " " + (testing::source_dir() / "tools/llamacpp/greedy.py").string() + " " + f +
                            " " + std::to_string(n) + prompt + " > " + res + " 2> " + log;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << read_text_file(log);
    const json r = json::parse(read_text_file(res));
    const json& theirs = r["tokens"];
    // The prompt's last logits: hfx on the same file against llama.cpp's (its own kernels: F16 / Q8_0 activations
    // are rounded by llama.cpp, so those budgets are wider), relative to max |logits|.
    const Tensor lg = m.model->forward([&] {
      ModelInputs in;
      in.input_ids = ids;
      return in;
    }()).get("logits").contiguous();
    const int64_t V = lg.shape().back();
    const float* last = lg.data<float>() + (lg.numel() - V);
    double diff = 0, mag = 0;
    ASSERT_EQ(static_cast<int64_t>(r["logits"].size()), V);
    for (int64_t v = 0; v < V; ++v) {
      diff = std::max(diff, std::fabs(static_cast<double>(last[v]) - r["logits"][v].get<double>()));
      mag = std::max(mag, std::fabs(static_cast<double>(last[v])));
    }
    // F32: the SiLU models agree to ~1e-7; llama.cpp's CPU GELU (gpt2, gemma) reads an F16 table (GGML_GELU_FP16),
    // measured 2.4e-4 (gpt2) and 2.8e-5 (gemma). F16 / Q8_0: llama.cpp rounds the activations too.
    const bool gelu = std::string(GetParam()).rfind("gpt2", 0) == 0 || std::string(GetParam()).rfind("gemma", 0) == 0;
    const double bound = std::string(type) == "f32" ? (gelu ? 5e-4 : 1e-5) : 2e-2;
    std::printf("[ measured ] %s %s: hfx %s llama.cpp %s; last-position logits max |hfx - llama.cpp| / max |hfx| = %.2e (bound %.0e)\n",
                GetParam(), type, mine.dump().c_str(), theirs.dump().c_str(), diff / mag, bound);
    EXPECT_EQ(mine, theirs) << type;
    EXPECT_LE(diff / mag, bound) << type;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufLlamaCpp,
                         ::testing::Values("llama/tiny/LlamaForCausalLM", "llama/gqa/LlamaForCausalLM", "gpt2/tiny/GPT2LMHeadModel",
                                           "qwen2/tiny/Qwen2ForCausalLM", "gemma/tiny/GemmaForCausalLM"),
                         [](const auto& p) {
                           std::string s = p.param;
                           for (char& c : s)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return s;
                         });

}  // namespace
}  // namespace hfx
