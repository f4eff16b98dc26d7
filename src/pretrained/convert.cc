// transformers-cli convert (4.46's models/*/convert_*_original_tf_checkpoint_to_pytorch.py)
// over the TF1 name tables in src/naming/tf1.cc.
#include "core/json.h"
#include "hfx/convert.h"

#include <filesystem>
#include <map>

#include "hfx/formats.h"
#include "hfx/io.h"
#include "hfx/save.h"
#include "naming/naming.h"

namespace hfx {

namespace fs = std::filesystem;

namespace {

// PretrainedConfig().to_dict() and, per config class, Class().to_dict() where it
// differs from it (transformers 4.46.3, printed by the pinned venv). The
// converters write config.to_json_string(), i.e. to_diff_dict() against these.
const char* kBaseDefaults = R"({"_attn_implementation_autoset": false, "_name_or_path": "", "add_cross_attention": false, "architectures": null, "bad_words_ids": null, "begin_suppress_tokens": null, "bos_token_id": null, "chunk_size_feed_forward": 0, "cross_attention_hidden_size": null, "decoder_start_token_id": null, "diversity_penalty": 0.0, "do_sample": false, "early_stopping": false, "encoder_no_repeat_ngram_size": 0, "eos_token_id": null, "exponential_decay_length_penalty": null, "finetuning_task": null, "forced_bos_token_id": null, "forced_eos_token_id": null, "id2label": {"0": "LABEL_0", "1": "LABEL_1"}, "is_decoder": false, "is_encoder_decoder": false, "label2id": {"LABEL_0": 0, "LABEL_1": 1}, "length_penalty": 1.0, "max_length": 20, "min_length": 0, "model_type": "", "no_repeat_ngram_size": 0, "num_beam_groups": 1, "num_beams": 1, "num_return_sequences": 1, "output_attentions": false, "output_hidden_states": false, "output_scores": false, "pad_token_id": null, "prefix": null, "problem_type": null, "pruned_heads": {}, "remove_invalid_values": false, "repetition_penalty": 1.0, "return_dict": true, "return_dict_in_generate": false, "sep_token_id": null, "suppress_tokens": null, "task_specific_params": null, "temperature": 1.0, "tf_legacy_loss": false, "tie_encoder_decoder": false, "tie_word_embeddings": true, "tokenizer_class": null, "top_k": 50, "top_p": 1.0, "torch_dtype": null, "torchscript": false, "typical_p": 1.0, "use_bfloat16": false})";

struct ClassInfo {
  const char* type;
  const char* defaults;  // Class().to_dict() entries that differ from PretrainedConfig's
  std::map<std::string, std::string> attribute_map;
};

const std::vector<ClassInfo>& classes() {
  static const std::vector<ClassInfo> c = {
      {"gpt", R"({"afn": "gelu", "attn_pdrop": 0.1, "embd_pdrop": 0.1, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "openai-gpt", "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 512, "resid_pdrop": 0.1, "summary_activation": null, "summary_first_dropout": 0.1, "summary_proj_to_labels": true, "summary_type": "cls_index", "summary_use_proj": true, "vocab_size": 40478})",
       {{"max_position_embeddings", "n_positions"}, {"hidden_size", "n_embd"}, {"num_attention_heads", "n_head"}, {"num_hidden_layers", "n_layer"}}},
      {"gpt2", R"({"activation_function": "gelu_new", "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_embd": 768, "n_head": 12, "n_inner": null, "n_layer": 12, "n_positions": 1024, "reorder_and_upcast_attn": false, "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": false, "scale_attn_weights": true, "summary_activation": null, "summary_first_dropout": 0.1, "summary_proj_to_labels": true, "summary_type": "cls_index", "summary_use_proj": true, "use_cache": true, "vocab_size": 50257})",
       {{"hidden_size", "n_embd"}, {"max_position_embeddings", "n_positions"}, {"num_attention_heads", "n_head"}, {"num_hidden_layers", "n_layer"}}},
      {"xlnet", R"({"attn_type": "bi", "bi_data": false, "bos_token_id": 1, "clamp_len": -1, "d_head": 64, "d_inner": 4096, "d_model": 1024, "dropout": 0.1, "end_n_top": 5, "eos_token_id": 2, "ff_activation": "gelu", "initializer_range": 0.02, "layer_norm_eps": 1e-12, "mem_len": 512, "model_type": "xlnet", "n_head": 16, "n_layer": 24, "pad_token_id": 5, "reuse_len": null, "same_length": false, "start_n_top": 5, "summary_activation": "tanh", "summary_last_dropout": 0.1, "summary_type": "last", "summary_use_proj": true, "untie_r": true, "use_mems_eval": true, "use_mems_train": false, "vocab_size": 32000})",
       {{"n_token", "vocab_size"}, {"hidden_size", "d_model"}, {"num_attention_heads", "n_head"}, {"num_hidden_layers", "n_layer"}}},
      {"transfo_xl", R"({"adaptive": true, "attn_type": 0, "clamp_len": 1000, "cutoffs": [20000, 40000, 200000], "d_embed": 1024, "d_head": 64, "d_inner": 4096, "d_model": 1024, "div_val": 4, "dropatt": 0.0, "dropout": 0.1, "eos_token_id": 0, "init": "normal", "init_range": 0.01, "init_std": 0.02, "layer_norm_epsilon": 1e-05, "mem_len": 1600, "model_type": "transfo-xl", "n_head": 16, "n_layer": 18, "pre_lnorm": false, "proj_init_std": 0.01, "same_length": true, "sample_softmax": -1, "tie_projs": [false, true, true, true], "untie_r": true, "vocab_size": 267735})",
       {{"n_token", "vocab_size"}, {"hidden_size", "d_model"}, {"num_attention_heads", "n_head"}, {"num_hidden_layers", "n_layer"}}},
      {"t5", R"({"classifier_dropout": 0.0, "d_ff": 2048, "d_kv": 64, "d_model": 512, "dense_act_fn": "relu", "dropout_rate": 0.1, "eos_token_id": 1, "feed_forward_proj": "relu", "initializer_factor": 1.0, "is_encoder_decoder": true, "is_gated_act": false, "layer_norm_epsilon": 1e-06, "model_type": "t5", "num_decoder_layers": 6, "num_heads": 8, "num_layers": 6, "pad_token_id": 0, "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32, "use_cache": true, "vocab_size": 32128})",
       {{"hidden_size", "d_model"}, {"num_attention_heads", "num_heads"}, {"num_hidden_layers", "num_layers"}, {"head_dim", "d_kv"}}},
      // bert / albert: the converters write no config; their full view is only used for the layer counts.
      {"bert", R"({"attention_probs_dropout_prob": 0.1, "classifier_dropout": null, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert", "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 0, "position_embedding_type": "absolute", "type_vocab_size": 2, "use_cache": true, "vocab_size": 30522})", {}},
      {"albert", R"({"attention_probs_dropout_prob": 0, "bos_token_id": 2, "classifier_dropout_prob": 0.1, "embedding_size": 128, "eos_token_id": 3, "hidden_act": "gelu_new", "hidden_dropout_prob": 0, "hidden_size": 4096, "initializer_range": 0.02, "inner_group_num": 1, "intermediate_size": 16384, "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "albert", "num_attention_heads": 64, "num_hidden_groups": 1, "num_hidden_layers": 12, "pad_token_id": 0, "position_embedding_type": "absolute", "type_vocab_size": 2, "vocab_size": 30000})", {}},
  };
  return c;
}

const ClassInfo& class_info(const std::string& type) {
  for (const auto& c : classes())
    if (c.type == type) return c;
  throw_error(ErrorKind::InvalidArgument, "no config class for model type '" + type + "'");
}

json read_json(const std::string& path) {
  try {
    return read_json_file(path);
  } catch (const json::exception& e) {
    throw_error(ErrorKind::Format, std::string("invalid JSON: ") + e.what(), path);
  }
}

// The config object the reference builds (from_json_file + __init__'s derived fields).
json full_config(const std::string& type, const json& input, const std::string& task, int64_t num_labels) {
  const ClassInfo& ci = class_info(type);
  json full = json::parse(kBaseDefaults);
  full.update(json::parse(ci.defaults));
  json in = input.is_object() ? input : json::object();
  for (auto& [k, v] : in.items()) {
    auto a = ci.attribute_map.find(k);
    full[a == ci.attribute_map.end() ? k : a->second] = v;
  }
  if (type == "t5") {
    const std::string ff = full.value("feed_forward_proj", "relu");
    if (!in.contains("dense_act_fn")) full["dense_act_fn"] = ff == "gated-gelu" ? "gelu_new" : ff.substr(ff.rfind('-') + 1);
    if (!in.contains("is_gated_act")) full["is_gated_act"] = ff.rfind("gated-", 0) == 0;
    if (full["num_decoder_layers"].is_null() || !in.contains("num_decoder_layers")) full["num_decoder_layers"] = full["num_layers"];
  }
  if (type == "transfo_xl" && !in.contains("tie_projs") && full["cutoffs"].is_array()) {
    json tp = json::array({false});
    const bool share = in.value("proj_share_all_but_first", true);
    for (std::size_t i = 0; i < full["cutoffs"].size(); ++i) tp.push_back(share);
    full["tie_projs"] = tp;
  }
  full.erase("proj_share_all_but_first");
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

// convert_xlm_original_pytorch_checkpoint_to_pytorch: the dump's "model" state
// dict with "transformer." prefixed (pred_layer kept), its "params" minus
// tensors and arrays as config.json, dico_word2id rewritten as vocab.json.
ConvertResult convert_xlm(const ConvertOptions& o) {
  json rest;
  auto src = open_torch_dump(o.tf_checkpoint, "model", rest);
  NamedTensors sd;
  for (const auto& e : src->entries())
    sd.emplace_back(e.name.find("pred_layer") != std::string::npos ? e.name : "transformer." + e.name, src->get(e.name));
  if (!rest.contains("params") || !rest["params"].is_object()) throw_error(ErrorKind::Format, "the XLM dump has no 'params' dict", o.tf_checkpoint);
  if (!rest.contains("dico_word2id") || !rest["dico_word2id"].is_object())
    throw_error(ErrorKind::Format, "the XLM dump has no 'dico_word2id' dict", o.tf_checkpoint);
  json vocab = json::object();
  for (const auto& [s, i] : rest["dico_word2id"].items()) {
    if (!i.is_number_integer()) throw_error(ErrorKind::Format, "dico_word2id value is not an int", o.tf_checkpoint, s);
    std::string w = s;
    if (s.find("@@") == std::string::npos && i.get<int64_t>() > 13) w += "</w>";
    else for (std::size_t p = w.find("@@"); p != std::string::npos; p = w.find("@@", p)) w.erase(p, 2);
    vocab[w] = i;
  }
  std::error_code ec;
  fs::create_directories(o.output, ec);
  if (ec) throw_error(ErrorKind::Io, "cannot create the output folder: " + ec.message(), o.output);
  const fs::path dir(o.output);
  ConvertResult r;
  r.class_name = "XLMWithLMHeadModel";
  r.tensors = sd.size();
  const std::string weights = (dir / (o.safetensors ? "model.safetensors" : "pytorch_model.bin")).string();
  if (o.safetensors) write_safetensors(weights, sd, {{"format", "pt"}});
  else write_torch_zip(weights, sd);
  write_file_atomic((dir / "config.json").string(), dump_json(rest["params"]));
  write_file_atomic((dir / "vocab.json").string(), dump_json(vocab));
  r.files = {weights, (dir / "config.json").string(), (dir / "vocab.json").string()};
  return r;
}

}  // namespace

json converted_config(const std::string& type, const json& input, const std::string& task, int64_t num_labels) {
  const json base = json::parse(kBaseDefaults);
  json klass = base;
  klass.update(json::parse(class_info(type).defaults));
  const json full = full_config(type, input, task, num_labels);
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
  if (type == "xlm") return convert_xlm(o);
  const auto types = naming::tf1_convert_types();
  if (std::find(types.begin(), types.end(), type) == types.end())
    throw_error(ErrorKind::InvalidArgument, "--model_type should be one of bert, albert, gpt, gpt2, xlnet, xlm, t5, transfo_xl; not '" + type + "'");
  if (o.output.empty()) throw_error(ErrorKind::InvalidArgument, "--pytorch_dump_output is required");
  if (o.config.empty() && (type == "bert" || type == "albert" || type == "xlnet" || type == "t5"))
    throw_error(ErrorKind::InvalidArgument, "--config is required for model type " + type);
  const json input = o.config.empty() ? json::object() : read_json(o.config);

  // Open the checkpoint.
  std::unique_ptr<TensorSource> src;
  if (type == "gpt") {
    std::string dir = o.tf_checkpoint;
    if (dir.find(".ckpt") != std::string::npos) dir = fs::path(dir).parent_path().string();  // as the reference
    src = open_openai_npy_folder(dir);
  } else {
    std::string prefix = o.tf_checkpoint;
    if (prefix.size() > 6 && prefix.compare(prefix.size() - 6, 6, ".index") == 0) prefix.resize(prefix.size() - 6);
    src = open_tf1_checkpoint(prefix);
  }

  std::string task;
  if (type == "xlnet") task = o.finetuning_task;
  json full = full_config(type, input, "", 0);
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
    // save_pretrained (t5) drops tied parameters, as transformers does.
    if (type == "t5" && p.tied) continue;
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
  auto write = [&](const std::string& path, bool safe) {
    if (safe) write_safetensors(path, sd, {{"format", "pt"}});
    else write_torch_zip(path, sd);
    r.files.push_back(path);
  };
  if (type == "bert" || type == "albert") {
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
  if (type == "t5") {
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
