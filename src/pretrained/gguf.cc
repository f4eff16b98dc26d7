// save_gguf (hfx/gguf.h): a loaded model as llama.cpp's convert_hf_to_gguf.py writes it — tensor names
// and transforms from naming/gguf.cc, {arch}.* hyper-parameters, general.*, and tokenizer.ggml.* from
// the tokenizer files (tokenizer.json, tokenizer_config.json) when a folder with them is given.
#include <filesystem>
#include <optional>
#include <set>

#include "core/json.h"
#include "core/strings.h"
#include "hfx/gguf.h"
#include "hfx/model.h"
#include "hfx/save.h"
#include "naming/gguf.h"

namespace hfx {

namespace fs = std::filesystem;

namespace {

// llama.cpp's TokenType (gguf-py constants.py).
enum TokType : int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

// A special token of tokenizer_config.json: a string or {"content": ...}.
std::string special_text(const json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  return {};
}

// tokenizer.ggml.* as the converter's _set_vocab_gpt2 (byte-level BPE) or the llama / sentencepiece-style
// vocab (BPE with byte_fallback, Unigram) writes them. The sentencepiece BPE scores are not in
// tokenizer.json: like gguf-py's LlamaHfVocab, hfx writes a fixed score per token but orders them by id
// (score -id), which is sentencepiece's own order for BPE pieces.
void tokenizer_kvs(const std::string& dir, const Config& config, int64_t vocab_size, std::vector<GgufKV>& kv) {
  const fs::path tj_path = fs::path(dir) / "tokenizer.json";
  if (!fs::exists(tj_path)) return;
  const json tj = read_json_file(tj_path.string());
  json tcfg = json::object();
  if (fs::exists(fs::path(dir) / "tokenizer_config.json")) tcfg = read_json_file((fs::path(dir) / "tokenizer_config.json").string());
  const json& model = tj.at("model");
  const std::string type = model.value("type", std::string());
  const bool unigram = type == "Unigram";
  if (type != "BPE" && !unigram)
    throw_error(ErrorKind::Unsupported, "tokenizer model '" + type + "' has no GGUF vocab hfx writes (BPE, Unigram)", tj_path.string());
  const bool spm = unigram || model.value("byte_fallback", false);
  std::vector<std::string> tokens(static_cast<std::size_t>(vocab_size));
  std::vector<float> scores(tokens.size(), 0.0f);
  std::vector<int32_t> types(tokens.size(), Unused);
  std::vector<bool> set(tokens.size(), false);
  auto put = [&](int64_t id, const std::string& text, float score, int32_t t) {
    if (id < 0 || id >= vocab_size)
      throw_error(ErrorKind::InvalidArgument, "token id " + std::to_string(id) + " is outside the model's vocab_size " + std::to_string(vocab_size),
                  tj_path.string(), text);
    tokens[id] = text;
    scores[id] = score;
    types[id] = t;
    set[id] = true;
  };
  if (unigram) {
    const json& v = model.at("vocab");
    for (std::size_t i = 0; i < v.size(); ++i) put(static_cast<int64_t>(i), v[i].at(0).get<std::string>(), v[i].at(1).get<float>(), Normal);
    if (model.contains("unk_id") && model["unk_id"].is_number_integer()) types[model["unk_id"].get<int64_t>()] = Unknown;
  } else {
    for (const auto& [text, id] : model.at("vocab").items()) {
      const int64_t i = id.get<int64_t>();
      const bool byte = spm && text.size() == 6 && starts_with(text, "<0x") && text.back() == '>';
      put(i, text, spm ? -static_cast<float>(i) : 0.0f, byte ? Byte : Normal);
    }
    if (spm && model.contains("unk_token") && model["unk_token"].is_string())
      if (auto u = model["vocab"].find(model["unk_token"].get<std::string>()); u != model["vocab"].end()) types[u->get<int64_t>()] = Unknown;
  }
  if (tj.contains("added_tokens"))
    for (const auto& a : tj["added_tokens"]) {
      const int64_t id = a.at("id").get<int64_t>();
      const bool special = a.value("special", false);
      put(id, a.at("content").get<std::string>(), 0.0f, special ? Control : UserDefined);
    }
  for (std::size_t i = 0; i < tokens.size(); ++i)
    if (!set[i]) tokens[i] = "[PAD" + std::to_string(i) + "]";  // the converter pads the vocab to vocab_size
  auto id_of = [&](const std::string& text) -> std::optional<int64_t> {
    if (text.empty()) return std::nullopt;
    for (std::size_t i = 0; i < tokens.size(); ++i)
      if (set[i] && tokens[i] == text) return static_cast<int64_t>(i);
    return std::nullopt;
  };
  const std::string mt = config.model_type();
  kv.push_back({"tokenizer.ggml.model", GgufType::String, naming::gguf_vocab_model(spm)});
  if (!spm) kv.push_back({"tokenizer.ggml.pre", GgufType::String, naming::gguf_tokenizer_pre(mt)});
  kv.push_back({"tokenizer.ggml.tokens", GgufType::Array, tokens, GgufType::String});
  if (spm) kv.push_back({"tokenizer.ggml.scores", GgufType::Array, scores, GgufType::F32});
  kv.push_back({"tokenizer.ggml.token_type", GgufType::Array, types, GgufType::I32});
  if (!spm && model.contains("merges")) {
    std::vector<std::string> merges;
    for (const auto& m : model["merges"]) {
      if (m.is_string()) merges.push_back(m.get<std::string>());
      else if (m.is_array() && m.size() == 2) merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    }
    kv.push_back({"tokenizer.ggml.merges", GgufType::Array, merges, GgufType::String});
  }
  auto special = [&](const char* cfg_key, const char* config_id, const char* gguf_key) {
    std::optional<int64_t> id = id_of(special_text(tcfg, cfg_key));
    if (!id && config.has(config_id)) {
      const json* v = config.find(config_id);
      if (v->is_number_integer()) id = v->get<int64_t>();
    }
    if (id && *id >= 0 && *id < vocab_size) kv.push_back({std::string("tokenizer.ggml.") + gguf_key, GgufType::U32, static_cast<uint32_t>(*id)});
  };
  special("bos_token", "bos_token_id", "bos_token_id");
  special("eos_token", "eos_token_id", "eos_token_id");
  special("unk_token", "unk_token_id", "unknown_token_id");
  special("pad_token", "pad_token_id", "padding_token_id");
  if (tcfg.contains("add_bos_token") && tcfg["add_bos_token"].is_boolean()) kv.push_back({"tokenizer.ggml.add_bos_token", GgufType::Bool, tcfg["add_bos_token"]});
  if (tcfg.contains("add_eos_token") && tcfg["add_eos_token"].is_boolean()) kv.push_back({"tokenizer.ggml.add_eos_token", GgufType::Bool, tcfg["add_eos_token"]});
}

}  // namespace

Config gguf_config(const std::string& path) {
  auto src = open_gguf(path);
  return Config::from_json(naming::gguf_config_json(read_gguf_metadata(path), *src), path);
}

void save_gguf(const Model& model, const std::string& path, const GgufSaveOptions& o) {
  const Config& config = model.config();
  GgmlType big;  // the type of 2-D and larger tensors
  uint32_t file_type;  // LlamaFileType
  if (o.outtype == "f32") big = GgmlType::F32, file_type = 0;
  else if (o.outtype == "f16") big = GgmlType::F16, file_type = 1;
  else if (o.outtype == "bf16") big = GgmlType::BF16, file_type = 32;
  else if (o.outtype == "q8_0") big = GgmlType::Q8_0, file_type = 7;
  else throw_error(ErrorKind::InvalidArgument, "GGUF outtype must be f32, f16, bf16 or q8_0, not '" + o.outtype + "'");

  std::map<std::string, naming::GgufRow> by_canonical;
  for (auto& r : naming::gguf_rows(config)) by_canonical.emplace(r.canonical, r);
  const std::string prefix = model.base_model_prefix();
  const bool copy_output = naming::gguf_output_copies_embedding(config);
  NamedTensors sd = state_dict_for_save(model, /*drop_tied=*/true);
  std::vector<GgufTensorOut> out;
  std::map<std::string, Tensor> kept;  // for gpt2's output.weight copy
  std::set<std::string> have;
  for (auto& [name, t] : sd) {
    std::string key = name;
    if (!by_canonical.count(key) && by_canonical.count(prefix + "." + name)) key = prefix + "." + name;
    auto it = by_canonical.find(key);
    if (it == by_canonical.end())
      throw_error(ErrorKind::Unsupported, "GGUF has no name for this parameter (GGUF files hold the base model and the LM head)", path, name);
    const naming::GgufRow row = it->second;
    Shape shape = t.shape();
    if (row.op == naming::GgufRow::Transpose) std::swap(shape[0], shape[1]);
    // As the converter: 1-D tensors and position embeddings ("always in float32") stay F32.
    GgmlType ty = shape.size() < 2 || row.gguf == "position_embd.weight" ? GgmlType::F32 : big;
    if (ty == GgmlType::Q8_0 && shape.back() % 32 != 0) ty = GgmlType::F16;  // the converter's QuantError fallback
    Tensor src = t;
    if (copy_output && row.gguf == "token_embd.weight") kept["embd"] = t;
    out.push_back({row.gguf, ty, shape, [row, src, path] { return naming::gguf_apply(row, src, true, path); }});
    have.insert(row.gguf);
  }
  if (copy_output && !have.count("output.weight") && kept.count("embd")) {  // the converter: output = token_embd
    const Tensor w = kept["embd"];
    GgmlType ty = big == GgmlType::Q8_0 && w.shape().back() % 32 != 0 ? GgmlType::F16 : big;
    out.push_back({"output.weight", ty, w.shape(), [w] { return w; }});
  }
  // The converter's order: token_embd first, then blocks in order; hfx keeps the state dict's order.
  std::vector<GgufKV> kv;
  kv.push_back({"general.architecture", GgufType::String, naming::gguf_arch_for(config.model_type())});
  kv.push_back({"general.type", GgufType::String, "model"});
  kv.push_back({"general.name", GgufType::String, o.name.empty() ? model.class_name() : o.name});
  for (auto& h : naming::gguf_hparams(config)) kv.push_back(std::move(h));
  kv.push_back({"general.file_type", GgufType::U32, file_type});
  kv.push_back({"general.quantization_version", GgufType::U32, 2u});
  if (!o.tokenizer_dir.empty()) {
    tokenizer_kvs(o.tokenizer_dir, config, config.get<int64_t>("vocab_size", 0), kv);
  }
  write_gguf(path, kv, out);
}

}  // namespace hfx
