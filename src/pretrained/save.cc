// save_pretrained (transformers 4.46 §2–3 of ../shared/reference/transformers.md)
// with an atomic publish protocol in place of transformers' delete-first: the
// whole folder switches at one renameat2(RENAME_EXCHANGE) (docs/atomic-save.md).
#include "hfx/save.h"

#include <cctype>
#include <functional>
#include <optional>
#include <filesystem>
#include <regex>
#include <set>

#include "hfx/generate.h"
#include "hfx/io.h"
#include "naming/naming.h"
#include "pretrained/folder_swap.h"
#include "pretrained/write_progress.h"

namespace hfx {

namespace fs = std::filesystem;

int64_t parse_shard_size(const std::string& s0) {
  std::string s;
  for (char c : s0)
    if (!std::isspace(static_cast<unsigned char>(c))) s += c;
  auto bad = [&](const std::string& why) {
    throw_error(ErrorKind::InvalidArgument, "max_shard_size '" + s0 + "': " + why + " (use e.g. '5GB'; units TB, GB, MB, KB, or GiB, MiB, KiB)");
  };
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return std::stoll(s);
  std::string up = s;
  for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  struct Unit { const char* suffix; double mul; };
  static const Unit units[] = {{"TIB", 1099511627776.0}, {"GIB", 1073741824.0}, {"MIB", 1048576.0}, {"KIB", 1024.0},
                               {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}};
  for (const Unit& u : units) {
    const std::size_t n = std::strlen(u.suffix);
    if (up.size() > n && up.compare(up.size() - n, n, u.suffix) == 0) {
      const std::string num = s.substr(0, s.size() - n);
      std::size_t used = 0;
      double v = 0;
      try {
        v = std::stod(num, &used);
      } catch (const std::exception&) {
        bad("not a number");
      }
      if (used != num.size() || v <= 0) bad("not a positive number");
      return static_cast<int64_t>(v * u.mul);
    }
  }
  bad("unit not supported");
  return 0;  // not reached
}

std::vector<std::vector<std::size_t>> split_shards(const std::vector<int64_t>& sizes, int64_t limit) {
  std::vector<std::vector<std::size_t>> shards;
  std::vector<std::size_t> cur;
  int64_t cur_size = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] > limit) {
      shards.push_back({i});
      continue;
    }
    if (cur_size + sizes[i] > limit) {
      shards.push_back(cur);
      cur.clear();
      cur_size = 0;
    }
    cur.push_back(i);
    cur_size += sizes[i];
  }
  if (!cur.empty()) shards.push_back(cur);
  if (shards.empty()) shards.emplace_back();
  return shards;
}

std::vector<std::vector<std::size_t>> split_shards_legacy(const std::vector<int64_t>& sizes, int64_t limit,
                                                          bool allow_empty_first) {
  std::vector<std::vector<std::size_t>> shards(1);
  int64_t cur = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (cur + sizes[i] > limit && (allow_empty_first || !shards.back().empty())) {
      shards.emplace_back();
      cur = 0;
    }
    shards.back().push_back(i);
    cur += sizes[i];
  }
  return shards;
}

NamedTensors state_dict_for_save(const Model& model, bool drop_tied) {
  NamedTensors out;
  const ParamTable& t = model.params();
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (drop_tied && !t.specs()[i].tied_to.empty()) continue;
    out.emplace_back(t.specs()[i].name, t.value(i));
  }
  return out;
}

namespace {

bool exists_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::string dump_json(const json& j) { return j.dump(2, ' ', /*ensure_ascii=*/true) + "\n"; }

std::string shard_name(const std::string& weights, std::size_t i, std::size_t n) {
  if (n == 1) return weights;
  const std::size_t dot = weights.rfind('.');
  char suffix[64];
  std::snprintf(suffix, sizeof suffix, "-%05zu-of-%05zu", i + 1, n);
  return weights.substr(0, dot) + suffix + weights.substr(dot);
}

void write_weights(const std::string& path, const std::string& framework, bool safe, const NamedTensors& ts,
                   detail::WriteProgress& progress) {
  if (framework == "tf" || framework == "flax") {
    if (framework == "tf") write_keras_h5(path, ts);
    else write_flax_msgpack(path, ts);
    progress.add(detail::tensor_bytes(ts));
    return;
  }
  const std::vector<LazyTensor> lazy = progress.lazy(ts);
  if (safe) return write_safetensors(path, lazy, {{"format", "pt"}});
  write_torch_zip(path, lazy);
}

// Files of a previous PyTorch-family save that from_pretrained would resolve
// before, or instead of, what we just wrote.
bool is_weight_file(const std::string& f, const std::string& framework) {
  static const std::regex pt(R"((model|pytorch_model)(-\d{5}-of-\d{5})?\.(safetensors|bin)(\.index\.json)?)");
  static const std::regex tf(R"(tf_model(-\d{5}-of-\d{5})?\.h5(\.index\.json)?)");
  static const std::regex flax(R"(flax_model(-\d{5}-of-\d{5})?\.msgpack(\.index\.json)?)");
  return std::regex_match(f, framework == "tf" ? tf : framework == "flax" ? flax : pt);
}

// Staged files and temporary files that an interrupted earlier in-place save left behind.
bool is_leftover(const std::string& f, const std::string& framework) {
  if (f.find(".hfx-new") != std::string::npos) return true;
  const std::size_t t = f.find(".tmp-");
  if (t == std::string::npos) return false;
  const std::string base = f.substr(0, t);
  return is_weight_file(base, framework) || base == "config.json" || base == "generation_config.json";
}

// The protocol where the folder cannot be swapped (a file system without
// RENAME_EXCHANGE, a mount point, a parent we may not write): every file is
// atomic and an index never names a missing shard, but config.json and the
// weights switch at different instants (docs/atomic-save.md).
void save_in_place(const fs::path& dir, const std::string& framework, const std::string& weights, const std::string& index_name,
                   const std::vector<std::string>& finals, std::size_t N,
                   const std::function<void(std::size_t, const std::string&)>& write_shard,
                   const std::function<std::string(const std::vector<std::string>&)>& index_json, const std::string& cfg,
                   const std::optional<std::string>& gen_cfg) {
  std::error_code ec;
  // 1. Write every shard under a staging name ("<final>.hfx-new"), fsynced.
  //    An index left by a killed save may still point at staged names: then
  //    this save stages under the other suffix, so those stay untouched.
  std::string suffix = ".hfx-new";
  if (exists_file(dir / index_name) && read_text_file((dir / index_name).string()).find(".hfx-new\"") != std::string::npos)
    suffix = ".hfx-new-b";
  std::vector<std::string> staged;
  bool published = false;  // an index names the staged files: they are part of a checkpoint now
  try {
    for (std::size_t s = 0; s < N; ++s) {
      staged.push_back((dir / (finals[s] + suffix)).string());
      write_shard(s, staged.back());
    }
    write_file_atomic((dir / "config.json").string(), cfg);
    if (gen_cfg) write_file_atomic((dir / "generation_config.json").string(), *gen_cfg);
    if (N == 1) {
      // 2a. Single file: one atomic rename publishes it.
      fs::rename(staged[0], dir / finals[0], ec);
      if (ec) throw_error(ErrorKind::Io, "rename failed: " + ec.message(), (dir / finals[0]).string());
    } else {
      // 2b. Publish an index that points at the staged names: the new checkpoint
      //     is now complete, and nothing the old index references was touched.
      std::vector<std::string> staged_names;
      for (const auto& p : staged) staged_names.push_back(fs::path(p).filename().string());
      write_file_atomic((dir / index_name).string(), index_json(staged_names));
      published = true;
      // If an old single-file checkpoint would win resolution, retire it now.
      std::error_code ignore;
      fs::remove(dir / weights, ignore);
      // 3. Link the shards under their final names, then swap the index to them.
      for (std::size_t s = 0; s < N; ++s) {
        fs::remove(dir / finals[s], ignore);  // an old shard no index references any more
        fs::create_hard_link(staged[s], dir / finals[s], ec);
        if (ec) fs::copy_file(staged[s], dir / finals[s], fs::copy_options::overwrite_existing, ec);
        if (ec) throw_error(ErrorKind::Io, "cannot place shard: " + ec.message(), (dir / finals[s]).string());
      }
      fsync_directory(dir.string());
      write_file_atomic((dir / index_name).string(), index_json(finals));
      published = false;
      for (const auto& p : staged) fs::remove(p, ignore);
    }
  } catch (...) {
    // Every failure path (ENOSPC, EFBIG, EIO...): staged files no index names go.
    if (!published)
      for (const auto& p : staged) {
        std::error_code ignore;
        fs::remove(p, ignore);
      }
    throw;
  }
  fsync_directory(dir.string());
  // 4. Only now remove the previous save's weight files that are not part of this one.
  std::set<std::string> keep(finals.begin(), finals.end());
  if (N > 1) keep.insert(index_name);
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string f = e.path().filename().string();
    if (!e.is_regular_file() || keep.count(f) || (!is_weight_file(f, framework) && !is_leftover(f, framework))) continue;
    std::error_code ignore;
    fs::remove(e.path(), ignore);
  }
  fsync_directory(dir.string());
}

}  // namespace

void save_pretrained(const Model& model, const std::string& dir_s, const SaveOptions& o) {
  const fs::path dir(dir_s);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw_error(ErrorKind::InvalidArgument, "save_pretrained needs a directory, this is a file", dir_s);
  fs::create_directories(dir, ec);
  if (ec) throw_error(ErrorKind::Io, "cannot create directory: " + ec.message(), dir_s);
  if (o.framework != "pt" && o.framework != "tf" && o.framework != "flax")
    throw_error(ErrorKind::InvalidArgument, "framework must be pt, tf or flax, not '" + o.framework + "'");

  // State dict (canonical), then framework names.
  const bool safe = o.framework == "pt" && o.safe_serialization;
  NamedTensors sd = o.state_dict ? *o.state_dict : state_dict_for_save(model, /*drop_tied=*/o.framework != "pt" || safe);
  if (o.framework == "tf") sd = naming::canonical_to_tf2(sd, model);
  if (o.framework == "flax") sd = naming::canonical_to_flax(sd, model);
  std::set<std::string> seen;
  for (const auto& [n, t] : sd)
    if (!seen.insert(n).second) throw_error(ErrorKind::InvalidArgument, "duplicate tensor name in state dict", dir_s, n);

  // config.json as transformers writes it.
  json cfg = model.config().fields();
  cfg["model_type"] = model.config().model_type();
  cfg["architectures"] = json::array({model.class_name()});
  for (const auto& [n, t] : sd)
    if (is_floating(t.dtype())) {
      cfg["torch_dtype"] = std::string(to_string(t.dtype()));
      break;
    }
  cfg["transformers_version"] = kTransformersVersion;
  cfg.erase("_name_or_path");

  const std::string weights = o.framework == "tf" ? "tf_model.h5"
                              : o.framework == "flax" ? "flax_model.msgpack"
                              : safe ? "model.safetensors" : "pytorch_model.bin";
  const int64_t limit = parse_shard_size(o.max_shard_size.empty() ? (o.framework == "flax" ? "10GB" : "5GB") : o.max_shard_size);
  std::vector<int64_t> sizes;
  int64_t total = 0;
  for (const auto& [n, t] : sd) {
    sizes.push_back(static_cast<int64_t>(t.nbytes()));
    total += static_cast<int64_t>(t.nbytes());
  }
  auto shards = o.framework == "pt" ? split_shards(sizes, limit) : split_shards_legacy(sizes, limit, o.framework == "flax");
  const std::size_t N = shards.size();

  auto index_json = [&](const std::vector<std::string>& names) {
    json wm = json::object();
    for (std::size_t s = 0; s < N; ++s)
      for (std::size_t i : shards[s]) wm[sd[i].first] = names[s];
    return dump_json({{"metadata", {{"total_size", total}}}, {"weight_map", wm}});
  };
  std::optional<json> gen_cfg;
  if (dynamic_cast<const CausalLM*>(&model)) {
    json gc = {{"_from_model_config", true}, {"transformers_version", kTransformersVersion}};
    for (const char* k : {"bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"})
      if (const json* v = model.config().find(k)) gc[k] = *v;
    gen_cfg = gc;
  }
  const std::string index_name = weights + ".index.json";
  std::vector<std::string> finals;
  for (std::size_t s = 0; s < N; ++s) finals.push_back(shard_name(weights, s, N));
  detail::WriteProgress progress("Saving " + (N == 1 ? weights : std::to_string(N) + " shards of " + weights), o.progress,
                                  static_cast<uint64_t>(total));
  auto write_shard = [&](std::size_t s, const std::string& path) {
    NamedTensors part;
    for (std::size_t i : shards[s]) part.push_back(sd[i]);
    write_weights(path, o.framework, safe, part, progress);
  };

  // The whole folder changes at one commit point (docs/atomic-save.md): the new
  // files are written into a staging folder next to it, which is then swapped
  // with the folder; what the folder held besides the previous checkpoint's
  // weights (tokenizer files, README, subfolders) is carried over.
  detail::FolderSwap swap(dir);
  if (swap.supported()) {
    const fs::path& out = swap.staging();
    std::set<std::string> written;
    for (std::size_t s = 0; s < N; ++s) {
      write_shard(s, (out / finals[s]).string());
      written.insert(finals[s]);
    }
    if (N > 1) {
      write_file_atomic((out / index_name).string(), index_json(finals));
      written.insert(index_name);
    }
    write_file_atomic((out / "config.json").string(), dump_json(cfg));
    written.insert("config.json");
    if (gen_cfg) {
      write_file_atomic((out / "generation_config.json").string(), dump_json(*gen_cfg));
      written.insert("generation_config.json");
    }
    swap.commit([&](const std::string& f) {
      if (written.count(f) || is_weight_file(f, o.framework)) return false;  // replaced, or the previous weights
      return !is_leftover(f, o.framework);
    });
    return;
  }
  save_in_place(dir, o.framework, weights, index_name, finals, N, write_shard, index_json, dump_json(cfg),
                gen_cfg ? std::optional<std::string>(dump_json(*gen_cfg)) : std::nullopt);
}

}  // namespace hfx
