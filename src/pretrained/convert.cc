// transformers-cli convert (4.46's models/*/convert_*_original_tf_checkpoint_to_pytorch.py)
// over the TF1 name tables in src/naming/tf1.cc.
#include "core/json.h"
#include "hfx/convert.h"

#include <filesystem>
#include <map>

#include "hfx/formats.h"
#include "hfx/io.h"
#include "hfx/model.h"
#include "hfx/save.h"
#include "naming/naming.h"
#include "pretrained/write_progress.h"

namespace hfx {

namespace fs = std::filesystem;

namespace {

// PretrainedConfig().to_dict() and, per config class, Class().to_dict() where it
// differs from it (transformers 4.46.3, printed by the pinned venv). The
// converters write config.to_json_string(), i.e. to_diff_dict() against these.
const char* kBaseDefaults = R"({"_attn_implementation_autoset": false, "_name_or_path": "", "add_cross_attention": false, "architectures": null, "bad_words_ids": null, "begin_suppress_tokens": null, "bos_token_id": null, "chunk_size_feed_forward": 0, "cross_attention_hidden_size": null, "decoder_start_token_id": null, "diversity_penalty": 0.0, "do_sample": false, "early_stopping": false, "encoder_no_repeat_ngram_size": 0, "eos_token_id": null, "exponential_decay_length_penalty": null, "finetuning_task": null, "forced_bos_token_id": null, "forced_eos_token_id": null, "id2label": {"0": "LABEL_0", "1": "LABEL_1"}, "is_decoder": false, "is_encoder_decoder": false, "label2id": {"LABEL_0": 0, "LABEL_1": 1}, "length_penalty": 1.0, "max_length": 20, "min_length": 0, "model_type": "", "no_repeat_ngram_size": 0, "num_beam_groups": 1, "num_beams": 1, "num_return_sequences": 1, "output_attentions": false, "output_hidden_states": false, "output_scores": false, "pad_token_id": null, "prefix": null, "problem_type": null, "pruned_heads": {}, "remove_invalid_values": false, "repetition_penalty": 1.0, "return_dict": true, "return_dict_in_generate": false, "sep_token_id": null, "suppress_tokens": null, "task_specific_params": null, "temperature": 1.0, "tf_legacy_loss": false, "tie_encoder_decoder": false, "tie_word_embeddings": true, "tokenizer_class": null, "top_k": 50, "top_p": 1.0, "torch_dtype": null, "torchscript": false, "typical_p": 1.0, "use_bfloat16": false})";

// The architecture whose `hfx convert` spelling is `name` (ConvertTraits::name), or nullptr.
const Architecture* convert_architecture(const std::string& name) {
  for (const auto& a : architectures())
    if (!a.convert.name.empty() && a.convert.name == name) return &architecture(a.model_type);
  return nullptr;
}

std::string convert_names() {
  std::string list;
  for (const auto& a : architectures())
    if (!a.convert.name.empty()) list += (list.empty() ? "" : ", ") + a.convert.name;
  return list;
}

const Architecture& convert_architecture_or_throw(const std::string& name) {
  if (const Architecture* a = convert_architecture(name)) return *a;
  throw_error(ErrorKind::InvalidArgument, "no config class for model type '" + name + "'");
}

// Class().to_dict(): PretrainedConfig's defaults overlaid with the config class's (the registry's
// config_defaults) and __init__'s derived fields for an empty input.
json class_dict(const Architecture& a) {
  json klass = json::parse(kBaseDefaults);
  klass.update(a.config_defaults);
  klass["model_type"] = a.model_type;
  if (a.convert.derive) a.convert.derive(klass, json::object());
  return klass;
}

json read_json(const std::string& path) {
  try {
    return read_json_file(path);
  } catch (const json::exception& e) {
    throw_error(ErrorKind::Format, std::string("invalid JSON: ") + e.what(), path);
  }
}

// The config object the reference builds (from_json_file + __init__'s derived fields).
json full_config(const Architecture& arch, const json& input, const std::string& task, int64_t num_labels) {
  json full = json::parse(kBaseDefaults);
  full.update(arch.config_defaults);
  full["model_type"] = arch.model_type;
  json in = input.is_object() ? input : json::object();
  const auto& attribute_map = arch.convert.attribute_map;
  for (auto& [k, v] : in.items()) {
    auto a = attribute_map.find(k);
    full[a == attribute_map.end() ? k : a->second] = v;
  }
  if (arch.convert.derive) arch.convert.derive(full, in);
  if (!task.empty()) full["finetuning_task"] = task;
  if (num_labels > 0) {
    json id2label = json::object(), label2id = json::object();
    for (int64_t i = 0; i < num_labels; ++i) {
      id2label[std::to_string(i)] = "LABEL_" + std::to_string(i);
      label2id["LABEL_" + std::to_string(i)] = i;
    }
    full["id2label"] = id2label;
    full["label2id"] = label2id;
  }
  return full;
}

std::string dump_json(const json& j) { return j.dump(2, ' ', /*ensure_ascii=*/true) + "\n"; }

// An original torch dump (ConvertTraits::Source::TorchDump; the layout of
// convert_xlm_original_pytorch_checkpoint_to_pytorch): the dump's "model" state
// dict renamed by the architecture, its "params" minus tensors and arrays as
// config.json, its "dico_word2id" turned into vocab.json by the architecture.
ConvertResult convert_torch_dump(const Architecture& arch, const ConvertOptions& o) {
  json rest;
  auto src = open_torch_dump(o.tf_checkpoint, "model", rest);
  NamedTensors sd;
  for (const auto& e : src->entries())
    sd.emplace_back(arch.convert.rename ? arch.convert.rename(e.name) : e.name, src->get(e.name));
  if (!rest.contains("params") || !rest["params"].is_object()) throw_error(ErrorKind::Format, "the dump has no 'params' dict", o.tf_checkpoint);
  if (!rest.contains("dico_word2id") || !rest["dico_word2id"].is_object())
    throw_error(ErrorKind::Format, "the dump has no 'dico_word2id' dict", o.tf_checkpoint);
  for (const auto& [w, i] : rest["dico_word2id"].items())
    if (!i.is_number_integer()) throw_error(ErrorKind::Format, "dico_word2id value is not an int", o.tf_checkpoint, w);
  const json vocab = arch.convert.vocab ? arch.convert.vocab(rest["dico_word2id"]) : rest["dico_word2id"];
  std::error_code ec;
  fs::create_directories(o.output, ec);
  if (ec) throw_error(ErrorKind::Io, "cannot create the output folder: " + ec.message(), o.output);
  const fs::path dir(o.output);
  ConvertResult r;
  r.class_name = arch.convert.class_name;
  r.tensors = sd.size();
  const std::string weights = (dir / (o.safetensors ? "model.safetensors" : "pytorch_model.bin")).string();
  detail::WriteProgress progress("Converting " + fs::path(weights).filename().string(), o.progress, detail::tensor_bytes(sd));
  const std::vector<LazyTensor> lazy = progress.lazy(sd);
  if (o.safetensors) write_safetensors(weights, lazy, {{"format", "pt"}});
  else write_torch_zip(weights, lazy);
  write_file_atomic((dir / "config.json").string(), dump_json(rest["params"]));
  write_file_atomic((dir / "vocab.json").string(), dump_json(vocab));
  r.files = {weights, (dir / "config.json").string(), (dir / "vocab.json").string()};
  return r;
}

}  // namespace

json converted_config(const std::string& type, const json& input, const std::string& task, int64_t num_labels) {
  const Architecture& arch = convert_architecture_or_throw(type);
  const json base = json::parse(kBaseDefaults);
  const json klass = class_dict(arch);
  const json full = full_config(arch, input, task, num_labels);
  json out = json::object();
  for (const auto& [k, v] : full.items()) {
    const bool in_base = base.contains(k);
    if (!in_base || v != base[k] || (klass.contains(k) && v != klass[k])) out[k] = v;
  }
  out["transformers_version"] = kTransformersVersion;
  return out;
}

ConvertResult convert_original_checkpoint(const ConvertOptions& o) {
  const std::string& type = o.model_type;
  const Architecture* found = convert_architecture(type);
  if (!found) throw_error(ErrorKind::InvalidArgument, "--model_type should be one of " + convert_names() + "; not '" + type + "'");
  const Architecture& arch = *found;
  const ConvertTraits& ct = arch.convert;
  if (ct.source == ConvertTraits::Source::TorchDump) return convert_torch_dump(arch, o);
  if (o.output.empty()) throw_error(ErrorKind::InvalidArgument, "--pytorch_dump_output is required");
  if (o.config.empty() && ct.config_required) throw_error(ErrorKind::InvalidArgument, "--config is required for model type " + type);
  const json input = o.config.empty() ? json::object() : read_json(o.config);

  // Open the checkpoint.
  std::unique_ptr<TensorSource> src;
  if (ct.source == ConvertTraits::Source::OpenAINpyFolder) {
    std::string dir = o.tf_checkpoint;
    if (dir.find(".ckpt") != std::string::npos) dir = fs::path(dir).parent_path().string();  // as the reference
    src = open_openai_npy_folder(dir);
  } else {
    std::string prefix = o.tf_checkpoint;
    if (prefix.size() > 6 && prefix.compare(prefix.size() - 6, 6, ".index") == 0) prefix.resize(prefix.size() - 6);
    src = open_tf1_checkpoint(prefix);
  }

  std::string task;
  if (ct.finetuning_task) task = o.finetuning_task;
  json full = full_config(arch, input, "", 0);
  naming::Tf1PlanOptions po;
  po.finetuning_task = task;
  naming::Tf1Plan plan = naming::tf1_plan(type, full, src->entries(), po);

  // Tensors are streamed: each one is read (a view of the mapped checkpoint
  // where possible), converted and written when the writer reaches it, and its
  // source pages released; a tie re-reads the variable of the parameter it
  // shares. Dtypes and shapes come from the checkpoint's index up front.
  std::map<std::string, const naming::Tf1Param*> by_name;
  std::vector<LazyTensor> sd;
  for (const auto& p : plan.params) {
    by_name[p.name] = &p;
    // save_pretrained drops tied parameters, as transformers does.
    if (ct.output == ConvertTraits::Output::SavePretrained && p.tied) continue;
    const naming::Tf1Param* origin = &p;
    if (p.tied) {
      auto it = by_name.find(p.source);
      if (it == by_name.end() || it->second->tied)
        throw_error(ErrorKind::NotFound, "'" + p.name + "' is tied to '" + p.source + "', which the checkpoint lacks");
      origin = it->second;
    }
    TensorInfo info = naming::tf1_param_info(*origin, *src, plan.cast_f32);
    const TensorSource* s = src.get();
    const bool cast = plan.cast_f32;
    sd.push_back({p.name, info.dtype, info.shape, [s, origin, cast] { return naming::tf1_tensor(*origin, *s, {}, cast); },
                  [s, origin] {
                    if (origin->op != naming::Tf1Op::InvFreq) s->release(origin->source);
                  },
                  // A tie is one storage in torch.save's file, as the reference's state dict holds it.
                  p.tied ? origin->name : std::string()});
  }

  ConvertResult r;
  r.skipped = plan.skipped;
  r.tensors = sd.size();
  r.class_name = plan.class_name;
  // One file is written per conversion; the bar counts its tensors' bytes (a tie is stored once).
  detail::WriteProgress progress("Converting " + type, o.progress, detail::tensor_bytes(sd));
  progress.track(sd);
  auto write = [&](const std::string& path, bool safe) {
    if (safe) write_safetensors(path, sd, {{"format", "pt"}});
    else write_torch_zip(path, sd);
    r.files.push_back(path);
  };
  if (ct.output == ConvertTraits::Output::StateDictFile) {
    std::string path = o.output;
    if (o.safetensors) {  // pytorch_model.bin -> model.safetensors (transformers' names), else x.bin -> x.safetensors
      const fs::path p(path);
      path = (p.parent_path() / (p.filename() == "pytorch_model.bin" ? std::string("model") : p.stem().string())).string() + ".safetensors";
    }
    if (const auto parent = fs::path(path).parent_path(); !parent.empty()) fs::create_directories(parent);
    write(path, o.safetensors);
    return r;
  }
  std::error_code ec;
  fs::create_directories(o.output, ec);
  if (ec) throw_error(ErrorKind::Io, "cannot create the output folder: " + ec.message(), o.output);
  const fs::path dir(o.output);
  if (ct.output == ConvertTraits::Output::SavePretrained) {
    // convert_tf_checkpoint_to_pytorch -> model.save_pretrained(dir) (safetensors by default in 4.46).
    write((dir / "model.safetensors").string(), true);
    json cfg = converted_config(type, input);
    cfg.erase("_attn_implementation_autoset");
    cfg["architectures"] = json::array({plan.class_name});
    cfg["torch_dtype"] = "float32";
    write_file_atomic((dir / "config.json").string(), dump_json(cfg));
    json gc = {{"_from_model_config", true}, {"transformers_version", kTransformersVersion}};
    for (const char* k : {"bos_token_id", "decoder_start_token_id", "eos_token_id", "pad_token_id"})
      if (full.contains(k) && !full[k].is_null()) gc[k] = full[k];
    write_file_atomic((dir / "generation_config.json").string(), dump_json(gc));
    r.files.push_back((dir / "config.json").string());
    r.files.push_back((dir / "generation_config.json").string());
    return r;
  }
  write((dir / (o.safetensors ? "model.safetensors" : "pytorch_model.bin")).string(), o.safetensors);
  json cfg = converted_config(type, input, plan.finetuning_task, plan.num_labels);
  cfg["_attn_implementation_autoset"] = true;  // set when the reference built the model
  write_file_atomic((dir / "config.json").string(), dump_json(cfg));
  r.files.push_back((dir / "config.json").string());
  return r;
}

}  // namespace hfx
