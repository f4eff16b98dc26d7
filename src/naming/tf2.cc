// PyTorch <-> TF2 (Keras) weight names, after transformers 4.46
// modeling_tf_pytorch_utils.py (../shared/reference/transformers.md §5.1–5.4).
//
// TF -> PyTorch is transformers' own rule (convert_tf_weight_name_to_pt_weight_name
// + apply_transpose), applied verbatim: it needs no per-architecture knowledge.
// PyTorch -> TF inverts it from the tensor's rank and its module name: a 1-D
// `weight` is a Keras LayerNormalization's `gamma` when the module has a bias
// (which becomes `beta`), else an RMSNorm-style `weight`; an embedding
// module's table is `embeddings` (`weight` for BERT-style word_embeddings); any
// other 2-D+ `weight` is a dense `kernel`, stored transposed; list indices join
// as `layer_._3`. What the inverse cannot know is a small table per
// architecture (arch_rules): TF layer names that differ from the PyTorch
// module names (the `___` renames), tied PyTorch parameters that are separate
// TF variables, index separators, GPT-2's Conv1D modules.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <set>

#include "core/strings.h"
#include "core/regex.h"
#include "naming/naming.h"

namespace hfx::naming {

namespace {

enum class Transpose { No, Simple, Conv1D, Conv2D };

std::string replace_all(std::string s, const std::string& a, const std::string& b) {
  for (std::size_t p = s.find(a); p != std::string::npos; p = s.find(a, p + b.size())) s.replace(p, a.size(), b);
  return s;
}
std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

// ---- per-architecture exceptions (the only non-generic knowledge) ---------
struct ArchRules {
  std::vector<std::string> model_types;
  // PyTorch module path prefix -> TF layer path prefix (TF names the layer
  // "<tf>___<pt>"; transformers' TF->PT rule drops the part before "___").
  std::vector<std::pair<std::string, std::string>> module_renames;
  // Parameters tied in PyTorch that the TF class nevertheless holds as a
  // variable of their own (written; read back they bind to the tie).
  std::vector<std::string> tied_but_separate;
  // How a list index joins its list's name: Keras list layers are
  // "layer_._3"; some TF classes name them "layers.3".
  std::string index_sep = "_._";
  // GPT-2 style Conv1D modules: the weight is already [in, out] in PyTorch and
  // kept as "weight" in TF; the bias is [1, out] in TF.
  std::set<std::string> conv1d_modules;
  // Embedding modules whose TF table is named "weight" (not "embeddings").
  std::set<std::string> weight_tables = {};
  // Lists of embeddings: "<list>.<i>.weight" is "<list>_._<i>/embeddings".
  std::set<std::string> embedding_lists = {};
  // Lists whose TF variables are "<list>_._<i>_._<leaf>" (add_weight names), untransposed.
  std::set<std::string> flat_lists = {};
  // Replacements on the final TF path ("/a/b/" -> "/a_._b/").
  std::vector<std::pair<std::string, std::string>> path_renames = {};
  // TF classes that hold encoder/decoder directly, not under a main layer
  // named base_model_prefix (TFT5Model: "encoder/...", no "transformer/").
  bool main_layer = true;
  // Weights the TF class creates outside its own name scope: canonical name
  // (after the main-layer prefix) -> full TF name (BART's shared embedding
  // layer "model.shared", T5's "shared", BART's top-level final_logits_bias).
  std::map<std::string, std::string> full_names = {};
};

const std::vector<ArchRules>& arch_rules() {
  static const std::vector<ArchRules> rules = {
      // TFBertMLMHead(name="mlm___cls"), TFBertNSPHead(name="nsp___cls").
      {{"bert"}, {{"cls.predictions.", "mlm___cls.predictions."}, {"cls.seq_relationship.", "nsp___cls.seq_relationship."}}, {}, "_._", {}},
      // TFAlbertMLMHead holds both `bias` and `decoder/bias`.
      {{"albert"}, {}, {"predictions.decoder.bias"}, "_._", {}},
      {{"gpt2"}, {}, {}, "_._", {"c_attn", "c_proj", "c_fc"}},
      // TFOpenAIGPTMainLayer: tokens_embed is a TFSharedEmbeddings ("weight"),
      // positions_embed a Keras Embedding ("embeddings").
      {{"openai-gpt"}, {}, {}, "_._", {"c_attn", "c_proj", "c_fc"}, {"tokens_embed"}},
      // TFMistralDecoderLayer(name=f"layers.{i}").
      {{"mistral"}, {}, {}, ".", {}},
      // TFXLMPredLayer(name="pred_layer_._proj"); the word table is TFSharedEmbeddings' "weight".
      {{"xlm"}, {}, {}, "_._", {}, {"embeddings"}, {}, {}, {{"/pred_layer/proj/", "/pred_layer_._proj/"}}},
      {{"xlnet"}, {}, {}, "_._", {}, {"word_embedding"}, {}, {}, {}},
      // TFAdaptiveEmbedding / TFAdaptiveSoftmaxMask: emb_layers_._i/embeddings, out_layers_._i_._weight;
      // the tied softmax weights and projections are TF variables of their own.
      {{"transfo-xl"}, {}, {"crit.out_layers.", "crit.out_projs."}, "_._", {}, {}, {"emb_layers"}, {"out_layers"}, {}},
      // TFBartEncoder/Decoder name their layers f"layers.{i}"; the shared
      // embedding is a layer named "model.shared" built outside the model's scope.
      {{"bart"}, {}, {}, ".", {}, {}, {}, {}, {}, true,
       {{"model.shared.weight", "model.shared/model.shared/embeddings:0"}, {"final_logits_bias", "final_logits_bias:0"}}},
      // TFT5Model and heads: encoder/decoder/lm_head at the top, shared embedding "shared".
      {{"t5"}, {}, {}, "_._", {}, {}, {}, {}, {}, false, {{"shared.weight", "shared/shared/embeddings:0"}}},
  };
  return rules;
}

// PyTorch embedding modules and the name of their TF variable.
std::string embedding_leaf(const std::string& module) {
  if (module == "word_embeddings") return "weight";  // TF*Embeddings: add_weight("weight") under "word_embeddings"
  if (ends_with(module, "embeddings") || module == "wte" || module == "wpe" || module == "embed_tokens" ||
      module == "embed_positions" || module == "positions_embed" || module == "relative_attention_bias")  // Keras Embeddings (BART, T5)
    return "embeddings";
  return {};
}

const ArchRules* rules_for(const Model& model) {
  const std::string mt = model.config().model_type();
  for (const auto& r : arch_rules())
    for (const auto& t : r.model_types)
      if (mt == t) return &r;
  return nullptr;
}

// ---- TF -> PyTorch: convert_tf_weight_name_to_pt_weight_name (4.46) --------
struct PtName {
  std::string name;
  Transpose transpose;
};

PtName tf_to_pt(std::string n, std::size_t rank, const std::string& start_prefix_to_remove) {
  static const Regex kRename("/[^/]*___([^/]*)/");
  static const Regex kSlashes("/+");
  n = replace_all(n, ":0", "");
  n = kRename.replace_all(n, "/$1/");
  n = replace_all(n, "_._", "/");
  n = kSlashes.replace_all(n, "/");
  std::vector<std::string> c = split(n, '/');
  if (c.size() > 1) c.erase(c.begin());
  std::string& last = c.back();
  bool has_proj = false;
  for (const auto& x : c) has_proj |= x == "emb_projs" || x == "out_projs";
  Transpose t = Transpose::No;
  if (last == "kernel" && rank == 4) t = Transpose::Conv2D;
  else if (last == "kernel" && rank == 3) t = Transpose::Conv1D;
  else if (last == "kernel" || last == "pointwise_kernel" || last == "depthwise_kernel" || has_proj) t = Transpose::Simple;
  if (last == "kernel" || last == "gamma" || last == "embeddings") last = "weight";
  else if (last == "beta") last = "bias";
  else if (last == "pointwise_kernel") last = "pointwise.weight";
  else if (last == "depthwise_kernel") last = "depthwise.weight";
  std::string pt = join(c, ".");
  if (!start_prefix_to_remove.empty())
    if (std::size_t p = pt.find(start_prefix_to_remove); p != std::string::npos) pt.erase(p, start_prefix_to_remove.size());
  return {pt, t};
}

// ---- transposes (apply_transpose) ------------------------------------------
std::vector<int64_t> perm_for(Transpose t, std::size_t rank, bool pt_to_tf) {
  std::vector<int64_t> p;
  if (t == Transpose::Conv2D && rank == 4) return pt_to_tf ? std::vector<int64_t>{2, 3, 1, 0} : std::vector<int64_t>{3, 2, 0, 1};
  if (t == Transpose::Conv1D && rank == 3) return {2, 1, 0};
  for (std::size_t i = 0; i < rank; ++i) p.push_back(static_cast<int64_t>(t == Transpose::No ? i : rank - 1 - i));
  return p;
}

Shape permuted_shape(const Shape& s, const std::vector<int64_t>& perm) {
  Shape out;
  for (int64_t p : perm) out.push_back(s[static_cast<std::size_t>(p)]);
  return out;
}

// t with its axes permuted, as a strided view (no copy).
Tensor permuted_view(const Tensor& t, const std::vector<int64_t>& perm) {
  std::vector<int64_t> cur(perm.size());
  for (std::size_t i = 0; i < cur.size(); ++i) cur[i] = static_cast<int64_t>(i);
  Tensor v = t;
  for (std::size_t i = 0; i < perm.size(); ++i) {
    std::size_t j = i;
    while (cur[j] != perm[i]) ++j;
    if (j != i) {
      v = v.transpose(static_cast<int64_t>(i), static_cast<int64_t>(j));
      std::swap(cur[i], cur[j]);
    }
  }
  return v;
}

// An owned, contiguous copy of t with its axes permuted (t itself when the
// permutation is the identity); a 2-D transpose goes through Tensor::clone's
// tiled register transposes.
Tensor permute(const Tensor& t, const std::vector<int64_t>& perm) {
  bool identity = true;
  for (std::size_t i = 0; i < perm.size(); ++i) identity &= perm[i] == static_cast<int64_t>(i);
  return identity ? t : permuted_view(t, perm).clone();
}

// ---- TF source presenting canonical names ----------------------------------
class Tf2CanonicalSource final : public RenamingSource {
 public:
  Tf2CanonicalSource(std::unique_ptr<TensorSource> src, const Model& model) : RenamingSource(std::move(src)) {
    const std::string& prefix = model.base_model_prefix();
    bool any_prefixed = false;
    for (const auto& s : model.params().specs()) any_prefixed |= !prefix.empty() && starts_with(s.name, prefix);
    const std::string remove = !prefix.empty() && !any_prefixed ? prefix + "." : std::string();
    std::map<std::string, Shape> spec_shape;
    for (const auto& s : model.params().specs()) spec_shape[s.name] = s.shape;
    for (const auto& e : src_->entries()) {
      PtName m = tf_to_pt(e.name, e.shape.size(), remove);
      Item it{e.name, perm_for(m.transpose, e.shape.size(), false), {}};
      Shape shape = permuted_shape(e.shape, it.perm);
      // apply_transpose's final step: squeeze / unsqueeze / reshape to the
      // model's shape when the element count allows it.
      if (auto sp = spec_shape.find(m.name); sp != spec_shape.end() && sp->second != shape) {
        try {
          if (shape_numel(sp->second) == shape_numel(shape)) {
            shape = sp->second;
            it.reshape = true;
          }
        } catch (const Error&) {
        }
      }
      // Like transformers' dict, a later TF weight with the same PyTorch name wins.
      if (auto p = index_.find(m.name); p != index_.end()) {
        entries_[p->second] = {m.name, e.dtype, shape};
        items_[p->second] = std::move(it);
      } else {
        index_[m.name] = entries_.size();
        entries_.push_back({m.name, e.dtype, shape});
        items_.push_back(std::move(it));
      }
    }
  }
  Tensor get(const std::string& name) const override {
    const std::size_t i = find(name);
    Tensor t = permute(src_->get(items_[i].tf_name), items_[i].perm);
    if (items_[i].reshape) t = t.reshape(entries_[i].shape);
    return t;
  }
  const std::string& source_name(std::size_t i) const override { return items_[i].tf_name; }
  // An untransposed variable is the file's bytes (a reshape keeps them).
  Bytes bytes(const std::string& name) const override {
    const Item& it = items_[find(name)];
    for (std::size_t k = 0; k < it.perm.size(); ++k)
      if (it.perm[k] != static_cast<int64_t>(k)) return {};
    return src_->bytes(it.tf_name);
  }

 private:
  struct Item {
    std::string tf_name;
    std::vector<int64_t> perm;
    bool reshape = false;
  };
  std::vector<Item> items_;
};

// Keras' generic_utils.to_snake_case (a model's default name).
std::string to_snake_case(const std::string& name) {
  static const Regex a("(.)([A-Z][a-z]+)");
  static const Regex b("([a-z])([A-Z])");
  std::string s = b.replace_all(a.replace_all(name, "$1_$2"), "$1_$2");
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return !s.empty() && s[0] == '_' ? "private" + s : s;
}

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char ch : s)
    if (ch < '0' || ch > '9') return false;
  return true;
}

}  // namespace

std::unique_ptr<TensorSource> tf2_to_canonical(std::unique_ptr<TensorSource> src, const Model& model) {
  return std::make_unique<Tf2CanonicalSource>(std::move(src), model);
}

NamedTensors canonical_to_tf2(const NamedTensors& canonical, const Model& model) {
  const ArchRules* rules = rules_for(model);
  const std::string model_name = to_snake_case("TF" + model.class_name());
  const std::string& prefix = model.base_model_prefix();
  std::map<std::string, const ParamSpec*> specs;
  bool any_prefixed = false;
  for (const auto& s : model.params().specs()) {
    specs[s.name] = &s;
    any_prefixed |= !prefix.empty() && starts_with(s.name, prefix);
  }
  // TF models always hold the main layer under the prefix ("bert/...").
  const std::string add = !prefix.empty() && !any_prefixed && (!rules || rules->main_layer) ? prefix + "." : std::string();
  std::map<std::string, std::size_t> rank;
  for (const auto& [n, s] : specs) rank[n] = s->shape.size();
  for (const auto& [n, t] : canonical) rank[n] = static_cast<std::size_t>(t.dim());

  NamedTensors out;
  std::set<std::string> written;
  for (const auto& [name, t] : canonical) {
    auto sp = specs.find(name);
    if (sp != specs.end() && !sp->second->tied_to.empty()) {
      bool separate = false;
      if (rules)
        for (const auto& s : rules->tied_but_separate)  // "x." entries: every parameter under x
        separate |= name == s || ends_with(name, "." + s) ||
                    (s.back() == '.' && (starts_with(name, s) || name.find("." + s) != std::string::npos));
      if (!separate) continue;  // the TF model holds one variable: the tie's target
    }
    std::string n = add + name;
    if (rules)
      if (auto f = rules->full_names.find(n); f != rules->full_names.end()) {
        if (!written.insert(f->second).second)
          throw_error(ErrorKind::InvalidArgument, "two parameters map to the same TF weight " + f->second, "", name);
        const std::size_t r = static_cast<std::size_t>(t.dim());
        const bool emb = ends_with(f->second, "/embeddings:0");
        out.emplace_back(f->second, emb || r <= 1 || !ends_with(f->second, "/kernel:0") ? t : permuted_view(t, perm_for(Transpose::Simple, r, true)));
        continue;
      }
    if (rules)
      for (const auto& [from, to] : rules->module_renames)
        if (starts_with(n, from)) {
          n = to + n.substr(from.size());
          break;
        }
    std::vector<std::string> c = split(n, '.');
    Transpose tr = Transpose::No;
    for (const auto& x : c)  // the mirror of the TF->PT rule: adaptive projections are stored transposed
      if (x == "emb_projs" || x == "out_projs") tr = Transpose::Simple;
    bool done = false;  // the leaf is already the TF one
    if (rules && c.size() >= 3 && all_digits(c[c.size() - 2])) {
      const std::string& list = c[c.size() - 3];
      if (rules->flat_lists.count(list)) {
        c[c.size() - 3] = list + "_._" + c[c.size() - 2] + "_._" + c.back();
        c.resize(c.size() - 2);
        done = true;
      } else if (rules->embedding_lists.count(list) && c.back() == "weight") {
        c.back() = "embeddings";
        done = true;
      }
    }
    std::string& leaf = c.back();
    const std::string module = c.size() >= 2 ? c[c.size() - 2] : std::string();
    const std::size_t r = static_cast<std::size_t>(t.dim());
    const std::string stem = name.substr(0, name.rfind('.') + 1);
    const bool conv1d = rules && rules->conv1d_modules.count(module);
    Shape tf_shape;  // empty: as transposed
    if (done) {
    } else if (leaf == "weight") {
      const std::string emb = rules && rules->weight_tables.count(module) ? "weight" : embedding_leaf(module);
      if (conv1d) {
        // kept as "weight", [in, out] in both frameworks
      } else if (r <= 1) {
        leaf = rank.count(stem + "bias") ? "gamma" : "weight";  // Keras LayerNormalization vs RMSNorm-style layers
      } else if (!emb.empty()) {
        leaf = emb;
      } else {
        leaf = "kernel";
        tr = r == 4 ? Transpose::Conv2D : r == 3 ? Transpose::Conv1D : Transpose::Simple;
      }
    } else if (leaf == "bias") {
      if (conv1d && r == 1) tf_shape = {1, t.size(0)};
      else if (auto it = rank.find(stem + "weight"); it != rank.end() && it->second == 1) leaf = "beta";
    }
    const std::string sep = rules ? rules->index_sep : "_._";
    std::vector<std::string> tf;
    for (const auto& x : c) {
      if (!tf.empty() && all_digits(x)) tf.back() += sep + x;
      else tf.push_back(x);
    }
    std::string tf_name = model_name + "/" + join(tf, "/") + ":0";
    if (rules)
      for (const auto& [from, to] : rules->path_renames) tf_name = replace_all(tf_name, from, to);
    if (!written.insert(tf_name).second)
      throw_error(ErrorKind::InvalidArgument, "two parameters map to the same TF weight " + tf_name, "", name);
    Tensor v = permuted_view(t, perm_for(tr, r, true));
    out.emplace_back(std::move(tf_name), tf_shape.empty() ? v : v.contiguous().reshape(tf_shape));
  }
  return out;
}

}  // namespace hfx::naming
