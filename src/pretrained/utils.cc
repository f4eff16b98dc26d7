// PreTrainedModel utilities: counts, masks, embeddings (get/set/tie/resize),
// dtype casts, train state, writing a model directory.
// Reference: transformers 4.46.3 modeling_utils.py (ModuleUtilsMixin, PreTrainedModel);
// ../shared/reference/transformers.md §8.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <random>

#include "core/strings.h"
#include "hfx/auto.h"
#include "hfx/io.h"
#include "hfx/pretrained.h"
#include "kernels/cpu/ops.h"
#include "nn/layers.h"
#include "pretrained/folder_swap.h"
#include "pretrained/load_internal.h"
#include "pretrained/write_progress.h"

namespace hfx {

namespace fs = std::filesystem;

namespace {

// The last module name of "a.b.word_embeddings.weight" is "word_embeddings".
std::string module_of(const std::string& name) {
  const std::size_t dot = name.rfind('.');
  if (dot == std::string::npos) return {};
  const std::size_t prev = name.rfind('.', dot - 1);
  return name.substr(prev == std::string::npos ? 0 : prev + 1, dot - (prev == std::string::npos ? 0 : prev + 1));
}

// Copies rows [0, min(old, new)) of a [rows, dim] tensor into a new [new_rows, dim]
// tensor of the same dtype (bit-exact); the caller fills the rest.
Tensor copy_rows(const Tensor& old, int64_t new_rows) {
  Tensor src = old.contiguous();
  Shape s = src.shape();
  s[0] = new_rows;
  Tensor out = Tensor::zeros(src.dtype(), s);
  const int64_t row_elems = src.dim() > 1 ? src.numel() / src.size(0) : 1;
  const int64_t n = std::min(src.size(0), new_rows);
  std::memcpy(out.mutable_raw(), src.raw(), static_cast<std::size_t>(n * row_elems) * dtype_size(src.dtype()));
  return out;
}

// Writes f32 values into rows [from, to) of `t` (any float dtype).
void write_rows(Tensor& t, int64_t from, const std::vector<float>& values) {
  if (values.empty()) return;
  const int64_t row_elems = t.dim() > 1 ? t.numel() / t.size(0) : 1;
  Tensor f = Tensor::from_vector(DType::F32, {static_cast<int64_t>(values.size())}, values).to(t.dtype());
  std::memcpy(static_cast<uint8_t*>(t.mutable_raw()) + static_cast<std::size_t>(from * row_elems) * dtype_size(t.dtype()),
              f.raw(), f.nbytes());
}

// _get_resized_embeddings / _get_resized_lm_head with mean_resizing=True (4.46):
// added rows ~ N(mean, 1e-9 * cov) of the old rows, or the mean when cov is not
// positive definite (and, in hfx, when dim > 2048: the Cholesky would dominate).
Tensor resize_matrix(const Tensor& old, int64_t new_rows, std::mt19937_64& rng) {
  Tensor out = copy_rows(old, new_rows);
  const int64_t rows = old.size(0), dim = old.size(1);
  if (new_rows <= rows) return out;
  Tensor x = old.to(DType::F32).contiguous();
  const float* X = x.data<float>();
  std::vector<double> mean(static_cast<std::size_t>(dim), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < dim; ++j) mean[static_cast<std::size_t>(j)] += X[r * dim + j];
  for (double& m : mean) m /= static_cast<double>(rows);
  std::vector<double> L;  // Cholesky factor of 1e-9 * cov, row-major lower
  if (dim <= 2048) {
    std::vector<float> centered(static_cast<std::size_t>(rows * dim));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < dim; ++j)
        centered[static_cast<std::size_t>(r * dim + j)] = X[r * dim + j] - static_cast<float>(mean[static_cast<std::size_t>(j)]);
    std::vector<float> cov(static_cast<std::size_t>(dim * dim));
    cpu::gemm(true, false, dim, dim, rows, 1.0f / static_cast<float>(rows), centered.data(), dim, centered.data(), dim, 0.0f,
              cov.data(), dim);
    L.assign(static_cast<std::size_t>(dim * dim), 0.0);
    bool pd = true;
    for (int64_t i = 0; i < dim && pd; ++i)
      for (int64_t j = 0; j <= i && pd; ++j) {
        double sum = 1e-9 * cov[static_cast<std::size_t>(i * dim + j)];
        for (int64_t k = 0; k < j; ++k) sum -= L[static_cast<std::size_t>(i * dim + k)] * L[static_cast<std::size_t>(j * dim + k)];
        if (i == j) {
          if (!(sum > 0.0)) pd = false;
          else L[static_cast<std::size_t>(i * dim + i)] = std::sqrt(sum);
        } else {
          L[static_cast<std::size_t>(i * dim + j)] = sum / L[static_cast<std::size_t>(j * dim + j)];
        }
      }
    if (!pd) L.clear();
  }
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<float> added(static_cast<std::size_t>((new_rows - rows) * dim));
  std::vector<double> z(static_cast<std::size_t>(dim));
  for (int64_t r = 0; r < new_rows - rows; ++r) {
    if (!L.empty())
      for (double& v : z) v = nd(rng);
    for (int64_t i = 0; i < dim; ++i) {
      double v = mean[static_cast<std::size_t>(i)];
      if (!L.empty())
        for (int64_t k = 0; k <= i; ++k) v += L[static_cast<std::size_t>(i * dim + k)] * z[static_cast<std::size_t>(k)];
      added[static_cast<std::size_t>(r * dim + i)] = static_cast<float>(v);
    }
  }
  write_rows(out, rows, added);
  return out;
}

// An LM-head bias of an untied head: added entries ~ N(mean(old), 1e-9 * std(old)).
Tensor resize_bias_mean(const Tensor& old, int64_t new_rows, std::mt19937_64& rng) {
  Tensor out = copy_rows(old, new_rows);
  const int64_t rows = old.size(0);
  if (new_rows <= rows) return out;
  Tensor x = old.to(DType::F32).contiguous();
  double mean = 0, var = 0;
  for (int64_t i = 0; i < rows; ++i) mean += x.data<float>()[i];
  mean /= static_cast<double>(rows);
  for (int64_t i = 0; i < rows; ++i) var += (x.data<float>()[i] - mean) * (x.data<float>()[i] - mean);
  const double sd = rows > 1 ? std::sqrt(var / static_cast<double>(rows - 1)) : 0.0;
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<float> added(static_cast<std::size_t>(new_rows - rows));
  for (float& v : added) v = static_cast<float>(mean + 1e-9 * sd * nd(rng));
  write_rows(out, rows, added);
  return out;
}

std::string bias_of(const std::string& weight_name) {
  return weight_name.substr(0, weight_name.size() - std::string("weight").size()) + "bias";
}

// Sets a parameter's tensor and shape, and the shapes of parameters tied to it.
void set_param(ParamTable& t, std::size_t i, Tensor v) {
  t.set_shape(i, v.shape());
  for (std::size_t j = 0; j < t.size(); ++j)
    if (t.specs()[j].tied_to == t.specs()[i].name) t.set_shape(j, v.shape());
  t.set(i, std::move(v));
}

}  // namespace

// ---- counts -------------------------------------------------------------------
// Buffers (ParamRole::Buffer) are not parameters; nn.Embedding weights are
// what exclude_embeddings drops (roles declared by the model files).
int64_t num_parameters(const Model& model, bool /*only_trainable*/, bool exclude_embeddings) {
  int64_t n = 0;
  for (const auto& s : model.params().specs()) {
    if (!s.tied_to.empty() || s.role == ParamRole::Buffer) continue;
    if (exclude_embeddings && s.role == ParamRole::Embedding) continue;
    n += shape_numel(s.shape);
  }
  return n;
}

int64_t estimate_tokens(const ModelInputs& inputs) { return inputs.input_ids.defined() ? inputs.input_ids.numel() : 0; }

int64_t floating_point_ops(const Model& model, const ModelInputs& inputs, bool exclude_embeddings) {
  return 6 * estimate_tokens(inputs) * num_parameters(model, false, exclude_embeddings);
}

DType model_dtype(const Model& model) {
  const ParamTable& t = model.params();
  for (std::size_t i = 0; i < t.size(); ++i)
    if (t.specs()[i].tied_to.empty() && t.bound(i) && is_floating(t.value(i).dtype())) return t.value(i).dtype();
  return DType::F32;
}

double dtype_min(DType d) {
  switch (d) {
    case DType::F32: return static_cast<double>(std::numeric_limits<float>::lowest());
    case DType::F64: return std::numeric_limits<double>::lowest();
    case DType::F16: return -65504.0;
    case DType::BF16: return -3.3895313892515355e38;
    default: throw_error(ErrorKind::InvalidArgument, "no finfo for dtype " + std::string(to_string(d)));
  }
}

// ---- masks --------------------------------------------------------------------
namespace {
Tensor fill_inverted(const Tensor& keep_f32, const Shape& out_shape, DType dtype) {
  const double mn = dtype_min(dtype);
  Tensor o = Tensor::zeros(DType::F64, out_shape);
  const float* k = keep_f32.data<float>();
  for (int64_t i = 0; i < o.numel(); ++i) o.mutable_data<double>()[i] = (1.0 - static_cast<double>(k[i])) * mn;
  return o.to(dtype);
}
}  // namespace

Tensor get_extended_attention_mask(const Tensor& mask, const Shape& input_shape, bool is_decoder, DType dtype) {
  if (!mask.defined()) throw_error(ErrorKind::InvalidArgument, "attention_mask is required");
  if (mask.dim() == 3) {
    Tensor k = mask.to(DType::F32).contiguous();
    return fill_inverted(k, {mask.size(0), 1, mask.size(1), mask.size(2)}, dtype);
  }
  if (mask.dim() != 2)
    throw_error(ErrorKind::InvalidArgument, "Wrong shape for input_ids (shape " + shape_str(input_shape) + ") or attention_mask (shape " +
                                                shape_str(mask.shape()) + ")");
  const int64_t B = mask.size(0), T = mask.size(1);
  if (is_decoder && (input_shape.size() != 2 || input_shape[0] != B))
    throw_error(ErrorKind::Mismatch, "input_shape " + shape_str(input_shape) + " does not fit attention_mask " + shape_str(mask.shape()));
  const int64_t S = is_decoder ? input_shape[1] : T;
  if (S > T) throw_error(ErrorKind::Mismatch, "attention_mask " + shape_str(mask.shape()) + " is shorter than the input " + shape_str(input_shape));
  // nn/mask builds it (create_extended_attention_mask_for_decoder: causal over the last S keys, past keys visible).
  const Shape shape{B, 1, is_decoder ? S : 1, T};
  if (dtype == DType::F32) return nn::extended_attention_mask(mask, B, S, is_decoder, T - S).bias.reshape(shape);
  return fill_inverted(nn::keep_mask(mask, B, S, is_decoder, T - S), shape, dtype);
}

Tensor get_extended_attention_mask(const Model& model, const Tensor& mask, const Shape& input_shape) {
  return get_extended_attention_mask(mask, input_shape, model.config().get<bool>("is_decoder", false), model_dtype(model));
}

Tensor invert_attention_mask(const Tensor& mask, DType dtype) {
  if (!mask.defined()) throw_error(ErrorKind::InvalidArgument, "encoder_attention_mask is required");
  Tensor k = mask.to(DType::F32).contiguous();
  if (mask.dim() == 3) return fill_inverted(k, {mask.size(0), 1, mask.size(1), mask.size(2)}, dtype);
  if (mask.dim() == 2) return fill_inverted(k, {mask.size(0), 1, 1, mask.size(1)}, dtype);
  throw_error(ErrorKind::InvalidArgument, "encoder_attention_mask must be [batch, seq] or [batch, from, to], got " + shape_str(mask.shape()));
}

Tensor get_head_mask(const Tensor& head_mask, int64_t L, DType dtype) {
  if (!head_mask.defined()) return {};
  if (head_mask.dim() != 1 && head_mask.dim() != 2)
    throw_error(ErrorKind::InvalidArgument, "head_mask must be [heads] or [layers, heads], got " + shape_str(head_mask.shape()));
  const int64_t H = head_mask.size(-1);
  auto per = nn::per_layer_head_mask(head_mask, L, H);
  Tensor o = Tensor::zeros(DType::F32, {L, 1, H, 1, 1});
  for (int64_t l = 0; l < L; ++l) std::copy_n(per[static_cast<std::size_t>(l)].data(), H, o.mutable_data<float>() + l * H);
  return o.to(dtype);
}

// ---- embeddings ---------------------------------------------------------------
std::string input_embeddings_name(const Model& model) {
  const std::string& n = model.traits().input_embeddings;
  if (n.empty()) throw_error(ErrorKind::Unsupported, model.class_name() + " has no single input embedding table");
  return n;
}

std::string output_embeddings_name(const Model& model) { return model.traits().output_embeddings; }

const Tensor& get_input_embeddings(const Model& model) { return model.params().value(input_embeddings_name(model)); }

std::optional<Tensor> get_output_embeddings(const Model& model) {
  const std::string n = output_embeddings_name(model);
  if (n.empty()) return std::nullopt;
  return model.params().value(n);
}

void set_input_embeddings(Model& model, const Tensor& table) {
  const std::string n = input_embeddings_name(model);
  ParamTable& t = model.mutable_params();
  const std::size_t i = *t.index_of(n);
  if (table.dim() != 2 || table.size(1) != t.specs()[i].shape[1])
    throw_error(ErrorKind::Mismatch, "new input embeddings " + shape_str(table.shape()) + " do not keep the embedding dim of " +
                                         shape_str(t.specs()[i].shape), {}, n);
  set_param(t, i, table);
}

void set_output_embeddings(Model& model, const Tensor& weight) {
  const std::string n = output_embeddings_name(model);
  if (n.empty()) throw_error(ErrorKind::Unsupported, model.class_name() + " has no output embeddings");
  ParamTable& t = model.mutable_params();
  const std::size_t i = *t.index_of(n);
  if (!t.specs()[i].tied_to.empty())
    throw_error(ErrorKind::Unsupported, "the output embeddings are tied to " + t.specs()[i].tied_to + "; set the input embeddings", {}, n);
  if (weight.dim() != 2 || weight.size(1) != t.specs()[i].shape[1])
    throw_error(ErrorKind::Mismatch, "new output embeddings " + shape_str(weight.shape()) + " do not fit " + shape_str(t.specs()[i].shape), {}, n);
  set_param(t, i, weight);
}

void tie_weights(Model& model) {
  const std::string out = output_embeddings_name(model);
  if (out.empty() || !model.config().get<bool>("tie_word_embeddings", true)) return;
  ParamTable& t = model.mutable_params();
  const std::string in = input_embeddings_name(model);
  const std::size_t oi = *t.index_of(out);
  const Tensor table = t.value(in);
  if (t.specs()[oi].tied_to.empty()) set_param(t, oi, table);  // shares the storage
  if (auto bi = t.index_of(bias_of(out))) {
    std::size_t target = *bi;
    if (!t.specs()[target].tied_to.empty()) target = *t.index_of(t.specs()[target].tied_to);
    if (t.bound(target) && t.value(target).size(0) != table.size(0)) set_param(t, target, copy_rows(t.value(target), table.size(0)));
  }
}

// ---- LM head ------------------------------------------------------------------
std::optional<std::string> get_lm_head(const Model& model) {
  const std::string& m = model.traits().lm_head.module;
  if (m.empty()) return std::nullopt;
  return m;
}

std::optional<std::string> get_output_layer_with_bias(const Model& model) { return get_lm_head(model); }

std::optional<std::map<std::string, Tensor>> get_bias(const Model& model) {
  const auto& bias = model.traits().lm_head.bias;
  if (bias.empty()) return std::nullopt;
  std::map<std::string, Tensor> out;
  for (const auto& [key, name] : bias) out[key] = model.params().value(name);
  return out;
}

void set_bias(Model& model, const std::map<std::string, Tensor>& value) {
  const auto& bias = model.traits().lm_head.bias;
  if (bias.empty()) throw_error(ErrorKind::Unsupported, model.class_name() + " has no LM-head bias");
  ParamTable& t = model.mutable_params();
  std::vector<std::pair<std::size_t, Tensor>> todo;  // validate all first
  for (const auto& [key, tensor] : value) {
    const std::string& k = key;  // clang 14 refuses a lambda capture of a structured binding
    auto it = std::find_if(bias.begin(), bias.end(), [&](const auto& b) { return b.first == k; });
    if (it == bias.end()) throw_error(ErrorKind::NotFound, model.class_name() + "'s LM head has no bias '" + key + "'");
    std::size_t i = *t.index_of(it->second);
    if (!t.specs()[i].tied_to.empty()) i = *t.index_of(t.specs()[i].tied_to);
    if (!tensor.defined() || tensor.dim() != static_cast<int64_t>(t.specs()[i].shape.size()))
      throw_error(ErrorKind::Mismatch, "new bias '" + key + "' " + (tensor.defined() ? shape_str(tensor.shape()) : std::string("(undefined)")) +
                                           " does not have the rank of " + shape_str(t.specs()[i].shape), {}, it->second);
    todo.emplace_back(i, tensor);
  }
  for (auto& [i, tensor] : todo) set_param(t, i, std::move(tensor));
}

namespace {
// Keras' default layer name: generic_utils.to_snake_case (the regexes
// "(.)([A-Z][a-z0-9]+)" -> "\1_\2", then "([a-z])([A-Z])" -> "\1_\2", lower-cased),
// written out as two scans.
std::string keras_snake_case(const std::string& name) {
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  std::string a;
  for (std::size_t p = 0; p < name.size();) {
    if (p + 2 < name.size() && upper(name[p + 1]) && lower_or_digit(name[p + 2])) {
      std::size_t e = p + 3;
      while (e < name.size() && lower_or_digit(name[e])) ++e;
      a += name[p];
      a += '_';
      a += name.substr(p + 1, e - p - 1);
      p = e;
    } else {
      a += name[p++];
    }
  }
  std::string b;
  for (std::size_t p = 0; p < a.size(); ++p) {
    b += a[p];
    if (p + 1 < a.size() && a[p] >= 'a' && a[p] <= 'z' && upper(a[p + 1])) {
      b += '_';
      b += a[++p];
    }
  }
  std::transform(b.begin(), b.end(), b.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return b;
}
}  // namespace

std::optional<std::string> get_prefix_bias_name(const Model& model, const std::string& keras_name) {
  const std::string& p = model.traits().lm_head.tf_prefix_bias_name;
  if (p.empty()) return std::nullopt;
  return (keras_name.empty() ? keras_snake_case("TF" + model.class_name()) : keras_name) + "/" + p;
}

namespace {

// Rebuilds `model` from `cfg` (same class), taking each parameter from `replaced`
// or else from the old model; the shapes must fit the rebuilt model.
void rebuild_with(std::unique_ptr<Model>& model, const Config& cfg, const std::map<std::string, Tensor>& replaced) {
  const Model& m = *model;
  std::unique_ptr<Model> fresh = build_model(cfg, m.class_name());
  apply_config_pruned_heads(*fresh);
  ParamTable& ft = fresh->mutable_params();
  for (std::size_t i = 0; i < ft.size(); ++i) {
    const ParamSpec& s = ft.specs()[i];
    if (!s.tied_to.empty()) continue;
    auto r = replaced.find(s.name);
    Tensor v = r != replaced.end() ? r->second : m.params().value(s.name);
    if (v.shape() != s.shape)
      throw_error(ErrorKind::Mismatch, "resize: " + shape_str(v.shape()) + " does not fit the rebuilt " + shape_str(s.shape) +
                                           " (a vocabulary-sized parameter hfx does not know how to resize)", {}, s.name);
    ft.set(i, std::move(v));
  }
  fresh->mutable_params().set_training(m.training(), m.params().dropout_p(), 0);
  fresh->mutable_params().set_quantization(m.params().quantization());
  model = std::move(fresh);
}

}  // namespace

int64_t resize_adaptive_token_embeddings(std::unique_ptr<Model>& model, std::optional<int64_t> new_num_tokens, int64_t layer,
                                         uint64_t seed) {
  if (!model) throw_error(ErrorKind::InvalidArgument, "resize_token_embeddings: no model");
  const Model& m = *model;
  const std::vector<std::string>& tables = m.traits().adaptive_input_embeddings;
  if (tables.empty())
    throw_error(ErrorKind::Unsupported, m.class_name() + " has no adaptive input embedding (Transformer-XL word_emb.emb_layers)");
  const int64_t nc = static_cast<int64_t>(tables.size());
  std::vector<int64_t> rows;
  int64_t vocab = 0;
  for (const auto& t : tables) {
    rows.push_back(m.params().specs()[*m.params().index_of(t)].shape[0]);
    vocab += rows.back();
  }
  if (!new_num_tokens) return vocab;
  const int64_t n = *new_num_tokens;
  if (n <= 0) throw_error(ErrorKind::InvalidArgument, "new_num_tokens must be positive, got " + std::to_string(n));
  if (layer == -1) layer = nc - 1;
  if (layer < 0 || layer >= nc)
    throw_error(ErrorKind::InvalidArgument, "resize_token_embeddings: layer " + std::to_string(layer) + " is not a layer of the adaptive embedding (it has " +
                                                std::to_string(nc) + "; -1 = the last)");
  if (nc == 1)
    throw_error(ErrorKind::Unsupported, "resize_token_embeddings of an adaptive embedding with one cluster (Transformer-XL div_val = 1): "
                                        "transformers 4.46 sets every cutoff to the new vocabulary size (degenerate clusters); hfx does not");
  const int64_t layer_rows = n - (vocab - rows[static_cast<std::size_t>(layer)]);
  if (layer_rows <= 0)
    throw_error(ErrorKind::InvalidArgument, "resize_token_embeddings: " + std::to_string(n) + " tokens leave " + std::to_string(layer_rows) +
                                                " rows for adaptive embedding layer " + std::to_string(layer) +
                                                " (the other layers hold " + std::to_string(vocab - rows[static_cast<std::size_t>(layer)]) + ")");
  if (n == vocab) return vocab;
  const std::string& in = tables[static_cast<std::size_t>(layer)];
  std::mt19937_64 rng(seed);
  std::map<std::string, Tensor> replaced;
  replaced[in] = resize_matrix(m.params().value(in), layer_rows, rng);
  // TransfoXLLMHeadModel: tie_weights ties crit.out_layers[i].weight to emb_layers[i] and pads the
  // bias with zeros (_tie_or_clone_weights); an untied softmax would not fit the new cutoffs.
  const std::vector<std::string>& outs = m.traits().adaptive_output_embeddings;
  const std::string ow = layer < static_cast<int64_t>(outs.size()) ? outs[static_cast<std::size_t>(layer)] : std::string();
  if (auto oi = m.params().index_of(ow)) {
    if (m.params().specs()[*oi].tied_to.empty())
      throw_error(ErrorKind::Unsupported, "resize_token_embeddings: the adaptive softmax is not tied to the input embedding "
                                          "(tie_word_embeddings = false); transformers 4.46 resizes only the input side", {}, ow);
    const std::string ob = bias_of(ow);
    if (auto bi = m.params().index_of(ob)) replaced[ob] = copy_rows(m.params().value(*bi), layer_rows);
  }
  rows[static_cast<std::size_t>(layer)] = layer_rows;
  std::vector<int64_t> cutoffs;  // _resize_cutoffs: cumulative sizes, the last (= vocab) dropped
  int64_t acc = 0;
  for (int64_t i = 0; i + 1 < nc; ++i) cutoffs.push_back(acc += rows[static_cast<std::size_t>(i)]);
  Config cfg = m.config();
  cfg.set("vocab_size", n);
  cfg.set("cutoffs", cutoffs);
  rebuild_with(model, cfg, replaced);
  return n;
}

int64_t resize_token_embeddings(std::unique_ptr<Model>& model, std::optional<int64_t> new_num_tokens,
                                std::optional<int64_t> pad_to_multiple_of, uint64_t seed) {
  if (!model) throw_error(ErrorKind::InvalidArgument, "resize_token_embeddings: no model");
  if (!model->traits().adaptive_input_embeddings.empty()) {  // TransfoXLPreTrainedModel.resize_token_embeddings(n, layer=-1)
    if (pad_to_multiple_of)
      throw_error(ErrorKind::InvalidArgument, "resize_token_embeddings: Transformer-XL takes no pad_to_multiple_of (its resize is per adaptive layer)");
    return resize_adaptive_token_embeddings(model, new_num_tokens, -1, seed);
  }
  const Model& m = *model;
  const std::string in = input_embeddings_name(m);
  const Tensor old = m.params().value(in);
  const int64_t old_rows = old.size(0);
  if (pad_to_multiple_of) {
    if (*pad_to_multiple_of <= 0)
      throw_error(ErrorKind::InvalidArgument, "pad_to_multiple_of must be a positive integer, got " + std::to_string(*pad_to_multiple_of));
    int64_t n = new_num_tokens.value_or(old_rows);
    if (n <= 0) throw_error(ErrorKind::InvalidArgument, "new_num_tokens must be positive, got " + std::to_string(n));
    new_num_tokens = (n + *pad_to_multiple_of - 1) / *pad_to_multiple_of * *pad_to_multiple_of;
  }
  if (!new_num_tokens) return old_rows;
  const int64_t n = *new_num_tokens;
  if (n <= 0) throw_error(ErrorKind::InvalidArgument, "new_num_tokens must be positive, got " + std::to_string(n));
  if (n == old_rows) return old_rows;

  std::mt19937_64 rng(seed);
  std::map<std::string, Tensor> replaced;
  replaced[in] = resize_matrix(old, n, rng);
  const std::string out = output_embeddings_name(m);
  if (!out.empty()) {
    const ParamTable& t = m.params();
    const bool tied = !t.specs()[*t.index_of(out)].tied_to.empty();
    if (!tied) replaced[out] = resize_matrix(t.value(out), n, rng);
    if (auto bi = t.index_of(bias_of(out))) {
      std::string target = t.specs()[*bi].tied_to.empty() ? t.specs()[*bi].name : t.specs()[*bi].tied_to;
      const Tensor& b = t.value(target);
      replaced[target] = tied ? copy_rows(b, n) : resize_bias_mean(b, n, rng);  // tied: zero padding (tie_weights)
    }
  }
  Config cfg = m.config();
  cfg.set("vocab_size", n);
  rebuild_with(model, cfg, replaced);
  return n;
}

// ---- dtypes -------------------------------------------------------------------
void to_dtype(Model& model, DType dtype, const ParamMask& mask) {
  if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
    throw_error(ErrorKind::InvalidArgument, "parameters can be cast to float32, float16 or bfloat16, not " + std::string(to_string(dtype)));
  ParamTable& t = model.mutable_params();
  for (std::size_t i = 0; i < t.size(); ++i) {
    const ParamSpec& s = t.specs()[i];
    if (!s.tied_to.empty() || !t.bound(i) || s.dtype) continue;  // a fixed dtype stays
    if (mask && !mask(s.name)) continue;
    const Tensor& v = t.value(i);
    if (is_floating(v.dtype()) && v.dtype() != dtype) t.set(i, v.to(dtype));
  }
}

void cast_parameters(Model& model, DType dtype) { to_dtype(model, dtype, {}); }

bool not_layer_norm(const std::string& name) {
  const std::string m = module_of(name);
  std::string lower = m;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("layernorm") == std::string::npos && lower.find("layer_norm") == std::string::npos &&
         lower.rfind("ln_", 0) != 0 && lower.find("norm") == std::string::npos;
}

// ---- train / eval ---------------------------------------------------------------
void Model::set_training(bool training, uint64_t seed) {
  float p = 0.0f;
  for (const char* key : {"hidden_dropout_prob", "dropout", "resid_pdrop", "hidden_dropout"})
    if (const json* v = config_.find(key); v && v->is_number()) {
      p = v->get<float>();
      break;
    }
  params_.set_training(training, p, seed);
}

// ---- saving ---------------------------------------------------------------------
namespace {
// config.json of write_model_directory; `d`: the model's dtype (model_dtype).
void write_directory_config(const Model& model, DType d, const std::string& dir) {
  Config cfg = model.config();
  cfg.set("architectures", json::array({model.class_name()}));
  cfg.set("torch_dtype", d == DType::F16 ? "float16" : d == DType::BF16 ? "bfloat16" : "float32");
  write_file_atomic((fs::path(dir) / "config.json").string(), cfg.to_json_string());
}

void create_directory(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw_error(ErrorKind::Io, "cannot create directory: " + ec.message(), dir);
}

// model.safetensors and config.json switch together (docs/atomic-save.md):
// `write` fills a staging folder that is then swapped with `dir`; the other
// files of `dir` are carried over. In place where the folder cannot be swapped.
void publish_model_files(const std::string& dir, const std::function<void(const std::string&)>& write) {
  create_directory(dir);
  detail::FolderSwap swap(dir);
  if (!swap.supported()) return write(dir);
  write(swap.staging().string());
  swap.commit([](const std::string& f) {
    return f != "model.safetensors" && f != "config.json" && f.find(".hfx-new") == std::string::npos &&
           f.find(".tmp-") == std::string::npos;
  });
}
}  // namespace

void write_model_directory(const Model& model, const std::string& dir) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  const ParamTable& t = model.params();
  for (std::size_t i = 0; i < t.size(); ++i)
    if (t.specs()[i].tied_to.empty()) tensors.emplace_back(t.specs()[i].name, t.value(i).contiguous());
  publish_model_files(dir, [&](const std::string& out) {
    write_safetensors((fs::path(out) / "model.safetensors").string(), tensors);
    write_directory_config(model, model_dtype(model), out);
  });
}

void convert_model_directory(const std::string& src, const std::string& dir, const std::string& class_name,
                             const LoadOptions& opts) {
  detail::LoadPlan plan = detail::plan_pretrained(src, class_name, opts);
  const Model& model = *plan.loaded.model;
  const TensorSource& source = *plan.src;
  const ParamTable& t = model.params();
  std::vector<const detail::PlannedParam*> planned(t.size(), nullptr);
  for (const auto& p : plan.params) planned[p.index] = &p;
  std::vector<LazyTensor> tensors;
  std::optional<DType> dtype;  // model_dtype() of the loaded model: the first floating untied parameter
  for (std::size_t i = 0; i < t.size(); ++i) {
    const ParamSpec& s = t.specs()[i];
    if (!s.tied_to.empty()) continue;
    if (const detail::PlannedParam* p = planned[i]) {
      if (!dtype && is_floating(p->dtype)) dtype = p->dtype;
      const TensorInfo& in = source.info(p->ckpt_name);
      tensors.push_back({s.name, p->dtype, in.shape,
                         [&source, p] {
                           Tensor x = source.get(p->ckpt_name);
                           return x.dtype() == p->dtype ? x : x.to(p->dtype);
                         },
                         [&source, p] { source.release(p->ckpt_name); }});
      if (in.dtype == p->dtype)  // written as the file holds it: straight from the mapped bytes where the source has them
        tensors.back().bytes = [&source, p] { return source.bytes(p->ckpt_name); };
    } else {  // initialised by load_pretrained (missing from the checkpoint)
      Tensor v = t.value(i);
      if (!dtype && is_floating(v.dtype())) dtype = v.dtype();
      tensors.push_back({s.name, v.dtype(), v.shape(), [v] { return v; }});
    }
  }
  // The bar follows HubOptions::progress (on by default, drawn only on a terminal), as the download did.
  detail::WriteProgress progress("Converting " + fs::path(src).filename().string(), opts.hub.progress, detail::tensor_bytes(tensors));
  progress.track(tensors);
  publish_model_files(dir, [&](const std::string& out) {
    write_safetensors((fs::path(out) / "model.safetensors").string(), tensors);
    write_directory_config(model, dtype.value_or(DType::F32), out);
  });
}

}  // namespace hfx
