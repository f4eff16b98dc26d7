// GGUF names <-> canonical names, and config.json <-> GGUF hyper-parameters, as llama.cpp's
// convert_hf_to_gguf.py writes them (LlamaModel for llama and mistral, Qwen2Model, GemmaModel,
// GPT2Model; gguf-py's tensor_mapping.py and constants.py for the names and keys):
//  - llama / mistral (architecture "llama"): q_proj and k_proj rows permuted per head so that rotary
//    pairs are adjacent (LlamaModel.permute); undone on read.
//  - gemma: every RMSNorm weight stored + 1 (GemmaModel.modify_tensors); - 1 on read.
//  - gpt2: Conv1D weights (c_attn, c_proj, c_fc) stored transposed; output.weight a copy of token_embd.
#include <cmath>
#include <cstring>

#include "core/strings.h"
#include "hfx/gguf.h"
#include "naming/gguf.h"

namespace hfx::naming {

namespace {

int64_t cfg_int(const Config& c, const std::string& k, int64_t fb) { return c.get<int64_t>(k, fb); }


// Row permutation of LlamaModel.permute: w.reshape(heads, 2, hd/2, rest).swapaxes(1, 2).
// forward (hf -> gguf): out[h, 2j + a] = in[h, a * hd/2 + j]; inverse the other way round.
Tensor permute_rows(const Tensor& t, int64_t heads, bool inverse, const std::string& path, const std::string& name) {
  const Tensor c = t.contiguous();
  const int64_t rows = c.shape().at(0);
  if (heads <= 0 || rows % (2 * heads) != 0)
    throw_error(ErrorKind::Format, "cannot undo llama.cpp's Q/K permutation: " + std::to_string(rows) + " rows do not split into " +
                                       std::to_string(heads) + " heads of an even size", path, name);
  const int64_t hd = rows / heads, half = hd / 2;
  const std::size_t row_bytes = c.nbytes() / static_cast<std::size_t>(rows);
  Tensor out = Tensor::uninitialized(c.dtype(), c.shape());
  const auto* src = static_cast<const uint8_t*>(c.raw());
  auto* dst = static_cast<uint8_t*>(out.mutable_raw());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t j = 0; j < half; ++j) {
        const int64_t hf = h * hd + a * half + j, gg = h * hd + 2 * j + a;
        const int64_t from = inverse ? gg : hf, to = inverse ? hf : gg;
        std::memcpy(dst + static_cast<std::size_t>(to) * row_bytes, src + static_cast<std::size_t>(from) * row_bytes, row_bytes);
      }
  return out;
}

Tensor add_scalar(const Tensor& t, float v) {
  Tensor f = t.to(DType::F32).clone();
  float* p = f.mutable_data<float>();
  for (int64_t i = 0; i < f.numel(); ++i) p[i] += v;
  return f;
}

}  // namespace

std::string gguf_arch_for(const std::string& model_type) {
  if (model_type == "llama" || model_type == "mistral") return "llama";
  if (model_type == "qwen2" || model_type == "gemma" || model_type == "gpt2") return model_type;
  throw_error(ErrorKind::Unsupported, "no GGUF mapping for model_type '" + model_type + "' (hfx maps llama, mistral, qwen2, gemma, gpt2)");
}

std::vector<GgufRow> gguf_rows(const Config& c) {
  const std::string mt = c.model_type();
  gguf_arch_for(mt);
  std::vector<GgufRow> r;
  const int64_t layers = cfg_int(c, mt == "gpt2" ? "n_layer" : "num_hidden_layers", 0);
  if (layers < 0 || layers > 100000) throw_error(ErrorKind::Format, "layer count " + std::to_string(layers) + " out of range", c.source());
  if (mt == "gpt2") {
    r.push_back({"token_embd.weight", "transformer.wte.weight"});
    r.push_back({"position_embd.weight", "transformer.wpe.weight"});
    r.push_back({"output_norm.weight", "transformer.ln_f.weight"});
    r.push_back({"output_norm.bias", "transformer.ln_f.bias"});
    r.push_back({"output.weight", "lm_head.weight"});
    for (int64_t i = 0; i < layers; ++i) {
      const std::string b = "blk." + std::to_string(i) + ".", h = "transformer.h." + std::to_string(i) + ".";
      for (const char* s : {"weight", "bias"}) {
        const bool w = std::string(s) == "weight";
        const GgufRow::Op op = w ? GgufRow::Transpose : GgufRow::Copy;
        r.push_back({b + "attn_norm." + s, h + "ln_1." + s});
        r.push_back({b + "attn_qkv." + s, h + "attn.c_attn." + s, op});
        r.push_back({b + "attn_output." + s, h + "attn.c_proj." + s, op});
        r.push_back({b + "ffn_norm." + s, h + "ln_2." + s});
        r.push_back({b + "ffn_up." + s, h + "mlp.c_fc." + s, op});
        r.push_back({b + "ffn_down." + s, h + "mlp.c_proj." + s, op});
      }
    }
    return r;
  }
  const bool permute = mt == "llama" || mt == "mistral";
  const bool gemma = mt == "gemma";
  const int64_t heads = cfg_int(c, "num_attention_heads", 0);
  const int64_t kv = c.has("num_key_value_heads") ? cfg_int(c, "num_key_value_heads", heads) : heads;
  const GgufRow::Op norm = gemma ? GgufRow::AddOne : GgufRow::Copy;
  r.push_back({"token_embd.weight", "model.embed_tokens.weight"});
  r.push_back({"output_norm.weight", "model.norm.weight", norm});
  r.push_back({"output.weight", "lm_head.weight"});
  for (int64_t i = 0; i < layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".", m = "model.layers." + std::to_string(i) + ".";
    r.push_back({b + "attn_norm.weight", m + "input_layernorm.weight", norm});
    r.push_back({b + "ffn_norm.weight", m + "post_attention_layernorm.weight", norm});
    for (const char* s : {"weight", "bias"}) {
      r.push_back({b + "attn_q." + s, m + "self_attn.q_proj." + s, permute ? GgufRow::Permute : GgufRow::Copy, heads});
      r.push_back({b + "attn_k." + s, m + "self_attn.k_proj." + s, permute ? GgufRow::Permute : GgufRow::Copy, kv});
      r.push_back({b + "attn_v." + s, m + "self_attn.v_proj." + s});
      r.push_back({b + "attn_output." + s, m + "self_attn.o_proj." + s});
      r.push_back({b + "ffn_gate." + s, m + "mlp.gate_proj." + s});
      r.push_back({b + "ffn_up." + s, m + "mlp.up_proj." + s});
      r.push_back({b + "ffn_down." + s, m + "mlp.down_proj." + s});
    }
  }
  return r;
}

Tensor gguf_apply(const GgufRow& row, const Tensor& t, bool to_gguf, const std::string& path) {
  switch (row.op) {
    case GgufRow::Copy: return t;
    case GgufRow::Permute: return permute_rows(t, row.heads, !to_gguf, path, to_gguf ? row.canonical : row.gguf);
    case GgufRow::Transpose: return t.transpose(0, 1).contiguous();
    case GgufRow::AddOne: return add_scalar(t, to_gguf ? 1.0f : -1.0f);
  }
  return t;
}

namespace {

class GgufCanonicalSource final : public RenamingSource {
 public:
  GgufCanonicalSource(std::unique_ptr<TensorSource> src, const Model& model) : RenamingSource(std::move(src)) {
    std::map<std::string, GgufRow> by_gguf;
    for (auto& row : gguf_rows(model.config())) by_gguf.emplace(row.gguf, row);
    const auto& se = src_->entries();
    for (std::size_t i = 0; i < se.size(); ++i) {
      const TensorInfo& e = se[i];
      if (e.name == "rope_freqs.weight")
        throw_error(ErrorKind::Unsupported, "rope_freqs (llama3-style rope scaling factors) are not mapped to a config yet", src_->path(), e.name);
      auto it = by_gguf.find(e.name);
      GgufRow row = it != by_gguf.end() ? it->second : GgufRow{e.name, e.name};  // unknown: passed on, reported unexpected
      TensorInfo ti{row.canonical, e.dtype, e.shape};
      if (row.op == GgufRow::Transpose) {
        if (e.shape.size() != 2) throw_error(ErrorKind::Format, "a Conv1D weight must have 2 dimensions", src_->path(), e.name);
        std::swap(ti.shape[0], ti.shape[1]);
      }
      if (row.op == GgufRow::AddOne) ti.dtype = DType::F32;
      if (index_.count(ti.name)) throw_error(ErrorKind::Format, "two GGUF tensors map to " + ti.name, src_->path(), e.name);
      index_[ti.name] = entries_.size();
      entries_.push_back(ti);
      rows_.push_back(row);
    }
  }
  Tensor get(const std::string& name) const override {
    const std::size_t i = find(name);
    return gguf_apply(rows_[i], src_->get(rows_[i].gguf), false, src_->path());
  }

 protected:
  const std::string& source_name(std::size_t i) const override { return rows_[i].gguf; }

 private:
  std::vector<GgufRow> rows_;
};

// A value for a message: GGUF strings are bytes, so invalid UTF-8 is replaced, never thrown on (and long ones cut).
std::string show(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 80 ? s.substr(0, 80) + "..." : s;
}

// A metadata value as an integer, checked (any GGUF integer type).
int64_t kv_int(const std::map<std::string, const GgufKV*>& kv, const std::string& key, const std::string& path, int64_t fallback,
               bool required, int64_t max) {
  auto it = kv.find(key);
  if (it == kv.end()) {
    if (required) throw_error(ErrorKind::Format, "GGUF metadata has no '" + key + "'", path);
    return fallback;
  }
  const json& v = it->second->value;
  if (!v.is_number_integer()) throw_error(ErrorKind::Format, "GGUF metadata '" + key + "' must be an integer, not " + show(v), path);
  const int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(max) ? max + 1 : v.get<int64_t>();
  if (x < 0 || x > max) throw_error(ErrorKind::Format, "GGUF metadata '" + key + "' = " + show(v) + " is out of range (0.." + std::to_string(max) + ")", path);
  return x;
}
std::optional<double> kv_float(const std::map<std::string, const GgufKV*>& kv, const std::string& key, const std::string& path) {
  auto it = kv.find(key);
  if (it == kv.end()) return std::nullopt;
  const json& v = it->second->value;
  if (!v.is_number() || !std::isfinite(v.get<double>())) throw_error(ErrorKind::Format, "GGUF metadata '" + key + "' must be a finite number", path);
  // The converter stores f32: print it back as the shortest decimal of that f32, as config.json had it.
  return v.get<double>();
}

}  // namespace

std::unique_ptr<TensorSource> gguf_to_canonical(std::unique_ptr<TensorSource> src, const Model& model) {
  return std::make_unique<GgufCanonicalSource>(std::move(src), model);
}

json gguf_config_json(const std::vector<GgufKV>& kvs, const TensorSource& src) {
  const std::string& path = src.path();
  std::map<std::string, const GgufKV*> kv;
  for (const auto& k : kvs) kv[k.key] = &k;
  auto arch_it = kv.find("general.architecture");
  if (arch_it == kv.end() || !arch_it->second->value.is_string())
    throw_error(ErrorKind::Format, "GGUF metadata has no string 'general.architecture'", path);
  const std::string arch = arch_it->second->value.get<std::string>();
  if (arch != "llama" && arch != "qwen2" && arch != "gemma" && arch != "gpt2")
    throw_error(ErrorKind::Unsupported, "GGUF architecture '" + arch + "' has no hfx mapping (llama, qwen2, gemma, gpt2)", path);
  const std::string a = arch + ".";
  constexpr int64_t kDim = int64_t{1} << 20, kLayers = 4096, kHeads = 1 << 16, kCtx = int64_t{1} << 24;
  const int64_t embd = kv_int(kv, a + "embedding_length", path, 0, true, kDim);
  const int64_t layers = kv_int(kv, a + "block_count", path, 0, true, kLayers);
  const int64_t ff = kv_int(kv, a + "feed_forward_length", path, 0, true, kDim * 8);
  const int64_t heads = kv_int(kv, a + "attention.head_count", path, 0, true, kHeads);
  const int64_t ctx = kv_int(kv, a + "context_length", path, 2048, false, kCtx);
  if (heads == 0 || embd == 0) throw_error(ErrorKind::Format, "GGUF embedding_length and attention.head_count must be positive", path);
  if (!src.contains("token_embd.weight")) throw_error(ErrorKind::Format, "GGUF file has no token_embd.weight", path);
  const Shape& emb = src.info("token_embd.weight").shape;
  if (emb.size() != 2 || emb[1] != embd)
    throw_error(ErrorKind::Format, "token_embd.weight is " + shape_str(emb) + ", not [vocab, " + std::to_string(embd) + "]", path, "token_embd.weight");
  json c = json::object();
  c["model_type"] = arch;
  c["vocab_size"] = emb[0];
  c["torch_dtype"] = "float32";
  const bool tied = !src.contains("output.weight");
  auto tok = [&](const char* k, const char* field) {
    if (kv.count(std::string("tokenizer.ggml.") + k)) c[field] = kv_int(kv, std::string("tokenizer.ggml.") + k, path, 0, false, emb[0] - 1);
  };
  tok("bos_token_id", "bos_token_id");
  tok("eos_token_id", "eos_token_id");
  tok("padding_token_id", "pad_token_id");
  if (arch == "gpt2") {
    c["architectures"] = {"GPT2LMHeadModel"};
    c["n_embd"] = embd;
    c["n_layer"] = layers;
    c["n_head"] = heads;
    c["n_inner"] = ff;
    c["n_positions"] = ctx;
    c["n_ctx"] = ctx;
    if (auto e = kv_float(kv, a + "attention.layer_norm_epsilon", path)) c["layer_norm_epsilon"] = *e;
    return c;
  }
  static const std::map<std::string, std::string> cls = {{"llama", "LlamaForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"}, {"gemma", "GemmaForCausalLM"}};
  c["architectures"] = {cls.at(arch)};
  c["hidden_size"] = embd;
  c["num_hidden_layers"] = layers;
  c["intermediate_size"] = ff;
  c["num_attention_heads"] = heads;
  c["num_key_value_heads"] = kv_int(kv, a + "attention.head_count_kv", path, heads, false, kHeads);
  if (c["num_key_value_heads"].get<int64_t>() == 0 || heads % c["num_key_value_heads"].get<int64_t>() != 0)
    throw_error(ErrorKind::Format, "GGUF attention.head_count_kv must divide attention.head_count", path);
  c["max_position_embeddings"] = ctx;
  c["tie_word_embeddings"] = tied;
  if (kv.count(a + "attention.key_length")) c["head_dim"] = kv_int(kv, a + "attention.key_length", path, 0, false, kDim);
  else if (embd % heads != 0) throw_error(ErrorKind::Format, "embedding_length does not divide by head_count and no attention.key_length", path);
  else c["head_dim"] = embd / heads;
  if (auto e = kv_float(kv, a + "attention.layer_norm_rms_epsilon", path)) c["rms_norm_eps"] = *e;
  c["rope_theta"] = kv_float(kv, a + "rope.freq_base", path).value_or(10000.0);
  if (auto t = kv.find(a + "rope.scaling.type"); t != kv.end()) {
    const std::string type = t->second->value.is_string() ? t->second->value.get<std::string>() : "";
    if (type == "linear") {
      c["rope_scaling"] = {{"type", "linear"}, {"factor", kv_float(kv, a + "rope.scaling.factor", path).value_or(1.0)}};
    } else if (type != "none") {
      throw_error(ErrorKind::Unsupported, "GGUF rope.scaling.type '" + type + "' is not mapped (linear only)", path);
    }
  }
  if (arch != "qwen2") c["attention_bias"] = src.contains("blk.0.attn_q.bias");  // qwen2's q/k/v always have biases
  if (arch == "llama") c["mlp_bias"] = src.contains("blk.0.ffn_up.bias");
  return c;
}

std::vector<GgufKV> gguf_hparams(const Config& c) {
  const std::string mt = c.model_type();
  const std::string arch = gguf_arch_for(mt);
  const std::string a = arch + ".";
  std::vector<GgufKV> kv;
  auto u32 = [&](const std::string& k, int64_t v) {
    if (v < 0 || v > 0xFFFFFFFFll) throw_error(ErrorKind::InvalidArgument, "config value for " + k + " does not fit a u32", c.source());
    kv.push_back({a + k, GgufType::U32, static_cast<uint32_t>(v)});
  };
  auto f32 = [&](const std::string& k, double v) { kv.push_back({a + k, GgufType::F32, static_cast<float>(v)}); };
  if (mt == "gpt2") {
    const int64_t e = c.get<int64_t>("n_embd", 768);
    u32("block_count", c.get<int64_t>("n_layer", 12));
    u32("context_length", c.get<int64_t>("n_positions", 1024));
    u32("embedding_length", e);
    u32("feed_forward_length", c.has("n_inner") ? c.get<int64_t>("n_inner", 4 * e) : 4 * e);
    u32("attention.head_count", c.get<int64_t>("n_head", 12));
    f32("attention.layer_norm_epsilon", c.get<double>("layer_norm_epsilon", 1e-5));
    const std::string act = c.get<std::string>("activation_function", "gelu_new");
    if (act != "gelu_new" && act != "gelu")
      throw_error(ErrorKind::Unsupported, "llama.cpp's gpt2 runs gelu (tanh form); activation_function is " + act, c.source());
    return kv;
  }
  // llama.cpp's llama / qwen2 graphs gate with SiLU, its gemma graph with the tanh GELU.
  const std::string act = mt == "gemma" ? c.get<std::string>("hidden_activation", "gelu_pytorch_tanh") : c.get<std::string>("hidden_act", "silu");
  const std::string want_act = mt == "gemma" ? "gelu_pytorch_tanh" : "silu";
  if (act != want_act && !(mt != "gemma" && act == "swish"))
    throw_error(ErrorKind::Unsupported, "llama.cpp's " + arch + " graph runs " + want_act + "; this config's activation is " + act, c.source());
  const int64_t hidden = c.get<int64_t>("hidden_size", 4096), heads = c.get<int64_t>("num_attention_heads", 32);
  const int64_t kvh = c.has("num_key_value_heads") ? c.get<int64_t>("num_key_value_heads", heads) : heads;
  const int64_t hd = c.has("head_dim") ? c.get<int64_t>("head_dim", hidden / heads) : hidden / heads;
  u32("context_length", c.get<int64_t>("max_position_embeddings", 2048));
  u32("embedding_length", hidden);
  u32("block_count", c.get<int64_t>("num_hidden_layers", 32));
  u32("feed_forward_length", c.get<int64_t>("intermediate_size", 11008));
  u32("attention.head_count", heads);
  u32("attention.head_count_kv", kvh);
  f32("rope.freq_base", c.get<double>("rope_theta", 10000.0));
  f32("attention.layer_norm_rms_epsilon", c.get<double>("rms_norm_eps", 1e-6));
  if (arch == "llama") {
    u32("vocab_size", c.get<int64_t>("vocab_size", 32000));
    u32("rope.dimension_count", hd);
  }
  if (arch == "gemma" || hd != hidden / heads) {
    u32("attention.key_length", hd);
    u32("attention.value_length", hd);
  }
  if (const json* rs = c.find("rope_scaling"); rs && rs->is_object()) {
    const std::string type = rs->value("rope_type", rs->value("type", std::string()));
    if (type != "linear")
      throw_error(ErrorKind::Unsupported, "rope_scaling '" + type + "' has no GGUF key hfx writes (linear only)", c.source());
    kv.push_back({a + "rope.scaling.type", GgufType::String, "linear"});
    f32("rope.scaling.factor", rs->value("factor", 1.0));
  }
  if (mt == "mistral" || mt == "qwen2") {
    if (const json* sw = c.find("sliding_window"); sw && sw->is_number_integer() && c.get<bool>("use_sliding_window", mt == "mistral") &&
                                                 sw->get<int64_t>() < c.get<int64_t>("max_position_embeddings", 2048))
      throw_error(ErrorKind::Unsupported, "a sliding window shorter than the context has no GGUF key for this architecture", c.source());
  }
  return kv;
}

std::string gguf_vocab_model(bool sentencepiece) { return sentencepiece ? "llama" : "gpt2"; }

std::string gguf_tokenizer_pre(const std::string& model_type) {
  // convert_hf_to_gguf.py names the pre-tokenizer by a hash of its output; hfx names the ones it knows.
  if (model_type == "gpt2") return "gpt-2";
  if (model_type == "qwen2") return "qwen2";
  return "default";
}

bool gguf_output_copies_embedding(const Config& c) { return c.model_type() == "gpt2"; }

}  // namespace hfx::naming

