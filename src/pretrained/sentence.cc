// SentenceTransformer (hfx/sentence.h): sentence-transformers 3.3.1's SentenceTransformer._load_sbert_model,
// encode, models.Transformer.tokenize, models.Pooling.forward, models.Dense and models.Normalize.
#include "hfx/sentence.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/json.h"
#include "core/progress.h"
#include "hfx/error.h"
#include "hfx/io.h"

namespace hfx {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::optional<json> read_json(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  return read_json_file(p.string());  // bounded depth and size, refuses a FIFO (core/json.h)
}

// A special token of tokenizer_config.json / special_tokens_map.json: a string or {"content": ...}.
std::optional<std::string> special_token(const fs::path& dir, const std::string& key) {
  for (const char* f : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const auto j = read_json(dir / f);
    if (!j || !j->is_object() || !j->contains(key)) continue;
    const json& v = (*j)[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  }
  return std::nullopt;
}

// Python's str.strip() for the ASCII and Unicode whitespace a sentence is likely to carry.
std::string strip(const std::string& s) {
  auto ws = [](unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  std::size_t a = 0, b = s.size();
  while (a < b && ws(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && ws(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

SentenceModule read_pooling(const fs::path& dir, const std::string& rel) {
  const fs::path p = dir / rel / "config.json";
  const auto j = read_json(p);
  if (!j || !j->is_object()) throw_error(ErrorKind::NotFound, "the Pooling module has no config.json", p.string());
  SentenceModule m;
  m.kind = SentenceModule::Kind::Pooling;
  m.path = rel;
  // Pooling.forward's order; config keys as Pooling.config_keys.
  const std::vector<std::pair<std::string, std::string>> keys = {
      {"pooling_mode_cls_token", "cls"},
      {"pooling_mode_max_tokens", "max"},
      {"pooling_mode_mean_tokens", "mean"},
      {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"},
      {"pooling_mode_weightedmean_tokens", "weightedmean"},
      {"pooling_mode_lasttoken", "lasttoken"}};
  for (const auto& [k, mode] : keys)
    if (j->contains(k) && (*j)[k].is_boolean() && (*j)[k].get<bool>())
      m.modes.push_back(mode);
  if (j->contains("pooling_mode") && (*j)["pooling_mode"].is_string()) {  // Pooling(pooling_mode="...") saved as given
    std::string mode = (*j)["pooling_mode"].get<std::string>();
    std::transform(mode.begin(), mode.end(), mode.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (std::find(pooling_modes().begin(), pooling_modes().end(), mode) == pooling_modes().end())
      throw_error(ErrorKind::Unsupported, "pooling_mode '" + mode + "' is not one of sentence-transformers' modes", p.string());
    m.modes = {mode};
  }
  if (m.modes.empty()) throw_error(ErrorKind::Format, "the Pooling module sets no pooling mode", p.string());
  m.include_prompt = j->value("include_prompt", true);
  return m;
}

SentenceModule read_dense(const fs::path& dir, const std::string& rel) {
  const fs::path p = dir / rel / "config.json";
  const auto j = read_json(p);
  if (!j || !j->is_object()) throw_error(ErrorKind::NotFound, "the Dense module has no config.json", p.string());
  SentenceModule m;
  m.kind = SentenceModule::Kind::Dense;
  m.path = rel;
  const std::string act = j->value("activation_function", std::string("torch.nn.modules.activation.Tanh"));
  const std::string leaf = act.substr(act.rfind('.') == std::string::npos ? 0 : act.rfind('.') + 1);
  static const std::map<std::string, std::string> acts = {
      {"Tanh", "tanh"}, {"Identity", "identity"}, {"ReLU", "relu"}, {"GELU", "gelu"}, {"Sigmoid", "sigmoid"}};
  const auto it = acts.find(leaf);
  if (it == acts.end()) throw_error(ErrorKind::Unsupported, "Dense activation_function " + act + " (hfx knows Tanh, Identity, ReLU, GELU, Sigmoid)", p.string());
  m.activation = it->second;
  std::error_code ec;
  fs::path weights = dir / rel / "model.safetensors";
  if (!fs::exists(weights, ec)) weights = dir / rel / "pytorch_model.bin";
  if (!fs::exists(weights, ec)) throw_error(ErrorKind::NotFound, "the Dense module has no model.safetensors or pytorch_model.bin", (dir / rel).string());
  const auto src = open_checkpoint(weights.string());
  m.weight = src->get("linear.weight").to(DType::F32).contiguous();
  if (src->contains("linear.bias")) m.bias = src->get("linear.bias").to(DType::F32).contiguous();
  const int64_t in = j->value("in_features", int64_t{-1}), out = j->value("out_features", int64_t{-1});
  if (m.weight.shape().size() != 2 || m.weight.shape()[0] != out || m.weight.shape()[1] != in)
    throw_error(ErrorKind::Mismatch, "linear.weight is " + shape_str(m.weight.shape()) + ", config.json says [" + std::to_string(out) +
                                         ", " + std::to_string(in) + "]", weights.string());
  if (j->value("bias", true) != m.bias.has_value()) throw_error(ErrorKind::Mismatch, "config.json's bias and linear.bias disagree", weights.string());
  if (m.bias && (m.bias->shape().size() != 1 || m.bias->shape()[0] != out))
    throw_error(ErrorKind::Mismatch, "linear.bias is " + shape_str(m.bias->shape()), weights.string());
  return m;
}

double activate(const std::string& a, double x) {
  if (a == "tanh") return std::tanh(x);
  if (a == "relu") return x > 0 ? x : 0;
  if (a == "gelu") return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  if (a == "sigmoid") return 1 / (1 + std::exp(-x));
  return x;
}

// Token type ids are passed to models with a token-type embedding (config type_vocab_size > 0,
// as BertConfig-style configs declare it); for one sentence they are the tokenizer's (zeros for
// the BERT family, which is what such a model assumes without them).
bool uses_token_types(const Model& m) { return m.config().get<int64_t>("type_vocab_size", 0) > 0; }

}  // namespace

SentenceTransformer SentenceTransformer::from_pretrained(const std::string& path_or_repo, const HubOptions& hub) {
  LoadOptions lo;
  lo.hub = hub;
  return from_pretrained(path_or_repo, lo);
}

SentenceTransformer SentenceTransformer::from_pretrained(const std::string& path_or_repo, const LoadOptions& load) {
  const HubOptions& hub = load.hub;
  RepoFiles want;
  want.tokenizer = true;
  want.sentence_transformers = true;
  SentenceTransformer st;
  HubOptions checked = hub;  // an unknown model_type fails before the weights are fetched (issue 18)
  if (!checked.check_config) checked.check_config = [](const std::string& config_path) { (void)Config::from_file(config_path); };
  st.path_ = resolve_pretrained(path_or_repo, checked, want);
  fs::path dir(st.path_);
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) dir = dir.parent_path();  // a weight file
  st.model_ = AutoModel::from_pretrained(st.path_, load);
  st.tokenizer_ = std::make_shared<Tokenizer>(AutoTokenizer::from_pretrained(dir.string()));
  st.tokenizer_->set_truncation(std::nullopt);

  PaddingParams pad;
  std::optional<int64_t> pad_id;
  if (auto t = special_token(dir, "pad_token")) {
    pad_id = st.tokenizer_->token_to_id(*t);
    pad.pad_token = *t;
  }
  for (const char* t : {"[PAD]", "<pad>", "<|endoftext|>", "</s>"})
    if (!pad_id && (pad_id = st.tokenizer_->token_to_id(t))) pad.pad_token = t;
  pad.pad_id = pad_id.value_or(0);
  if (const auto tc = read_json(dir / "tokenizer_config.json"); tc && tc->is_object() && tc->value("padding_side", "right") == "left")
    pad.direction = Side::Left;
  st.tokenizer_->set_padding(pad);

  // modules.json; without it, SentenceTransformer's fallback for a plain model: Transformer + Pooling(mean).
  if (const auto mj = read_json(dir / "modules.json")) {
    if (!mj->is_array()) throw_error(ErrorKind::Format, "modules.json is not a list of modules", (dir / "modules.json").string());
    for (const auto& m : *mj) {
      const std::string type = m.value("type", ""), rel = m.value("path", "");
      const std::string leaf = type.substr(type.rfind('.') == std::string::npos ? 0 : type.rfind('.') + 1);
      if (leaf == "Transformer") continue;  // the folder's model, loaded above
      if (leaf == "Pooling") st.modules_.push_back(read_pooling(dir, rel));
      else if (leaf == "Dense") st.modules_.push_back(read_dense(dir, rel));
      else if (leaf == "Normalize") st.modules_.push_back({SentenceModule::Kind::Normalize, rel, {}, true, {}, std::nullopt, {}});
      else throw_error(ErrorKind::Unsupported, "sentence-transformers module " + type + " (hfx has Transformer, Pooling, Dense, Normalize)",
                       (dir / "modules.json").string());
    }
  } else {
    SentenceModule m;
    m.modes = {"mean"};
    st.modules_.push_back(m);
  }
  if (const auto sb = read_json(dir / "sentence_bert_config.json"); sb && sb->is_object()) {
    if (sb->contains("max_seq_length") && (*sb)["max_seq_length"].is_number_integer()) st.max_seq_length_ = (*sb)["max_seq_length"].get<int64_t>();
    st.do_lower_case_ = sb->value("do_lower_case", false);
  }
  if (st.max_seq_length_ <= 0) {  // models.Transformer: min(max_position_embeddings, tokenizer.model_max_length)
    const json* mpe = st.model_->config().find("max_position_embeddings");
    if (!mpe) mpe = st.model_->config().find("n_positions");
    const auto tc = read_json(dir / "tokenizer_config.json");
    if (mpe && mpe->is_number_integer() && tc && tc->is_object() && tc->contains("model_max_length") && (*tc)["model_max_length"].is_number()) {
      // Tokenizers without a limit save model_max_length as 1e30 (VERY_LARGE_INTEGER): a double that no int64 holds,
      // so it is compared as a double, never cast (the cast was undefined and gave INT64_MIN on x86).
      const double limit = (*tc)["model_max_length"].get<double>();
      const int64_t positions = mpe->get<int64_t>();
      if (limit >= 1) st.max_seq_length_ = limit < static_cast<double>(positions) ? static_cast<int64_t>(limit) : positions;
    }
  }
  if (const auto cs = read_json(dir / "config_sentence_transformers.json"); cs && cs->is_object()) {
    if (cs->contains("prompts") && (*cs)["prompts"].is_object())
      for (const auto& [k, v] : (*cs)["prompts"].items())
        if (v.is_string()) st.prompts_[k] = v.get<std::string>();
    if (cs->contains("default_prompt_name") && (*cs)["default_prompt_name"].is_string())
      st.default_prompt_name_ = (*cs)["default_prompt_name"].get<std::string>();
    if (cs->contains("similarity_fn_name") && (*cs)["similarity_fn_name"].is_string())
      st.similarity_fn_name_ = (*cs)["similarity_fn_name"].get<std::string>();
  }
  return st;
}

namespace {

struct Prepared {
  std::vector<Encoding> encs;
  int64_t prompt_length = 0;  // tokens of the prompt, for include_prompt=false
};

}  // namespace

static Prepared prepare(const SentenceTransformer& st, const std::vector<std::string>& texts, const EncodeOptions& o,
                        bool lower) {
  if (texts.empty()) throw_error(ErrorKind::InvalidArgument, "no text given");
  std::string prompt;
  if (o.prompt) {
    prompt = *o.prompt;
  } else {
    const std::string name = o.prompt_name.empty() ? st.default_prompt_name() : o.prompt_name;
    if (!name.empty()) {
      const auto it = st.prompts().find(name);
      if (it == st.prompts().end()) {
        std::string known;
        for (const auto& [k, v] : st.prompts()) known += (known.empty() ? "" : ", ") + k;
        throw_error(ErrorKind::InvalidArgument, "prompt name '" + name + "' is not in config_sentence_transformers.json's prompts (" +
                                                    (known.empty() ? "none" : known) + ")", st.path());
      }
      prompt = it->second;
    }
  }
  Tokenizer tok = st.tokenizer();
  const int64_t max_len = o.max_seq_length > 0 ? o.max_seq_length : st.max_seq_length();
  if (max_len > 0) {
    TruncationParams tp;
    tp.max_length = max_len;
    tok.set_truncation(tp);
  }
  auto norm = [&](std::string s) {
    s = strip(s);
    if (lower) std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  };
  std::vector<std::string> in;
  for (const auto& t : texts) in.push_back(norm(prompt + t));
  Prepared p;
  p.encs = tok.encode_batch(in);
  if (p.encs[0].ids.empty()) throw_error(ErrorKind::InvalidArgument, "the text gives no tokens");
  if (!prompt.empty()) {  // encode(): prompt_length = len(tokenize([prompt])["input_ids"][0]) - 1
    Tokenizer single = st.tokenizer();
    single.set_padding(std::nullopt);
    if (max_len > 0) single.set_truncation(tok.truncation());
    p.prompt_length = static_cast<int64_t>(single.encode(norm(prompt)).ids.size()) - 1;
  }
  return p;
}

std::vector<int64_t> SentenceTransformer::token_counts(const std::vector<std::string>& texts, const EncodeOptions& opts) const {
  const Prepared p = prepare(*this, texts, opts, do_lower_case_);
  std::vector<int64_t> out;
  for (const auto& e : p.encs) out.push_back(static_cast<int64_t>(std::count(e.attention_mask.begin(), e.attention_mask.end(), 1)));
  return out;
}

// SentenceTransformer.encode: the texts sorted longest first (by characters, as _text_length), run in batches
// of batch_size, each padded to its own longest, and the rows put back in input order; a "Batches" bar.
Tensor SentenceTransformer::encode(const std::vector<std::string>& texts, const EncodeOptions& opts) const {
  const std::size_t n = texts.size();
  const std::size_t bs = opts.batch_size > 0 ? static_cast<std::size_t>(opts.batch_size) : std::max<std::size_t>(n, 1);
  if (n <= bs) {
    detail::ProgressBar bar("Batches", opts.show_progress_bar, detail::ProgressBar::Unit::Items);
    Tensor t = encode_batch(texts, opts);
    bar.update(1, 1);
    return t;
  }
  auto chars = [](const std::string& s) {  // code points, as len(str)
    return std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
  };
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return chars(texts[a]) > chars(texts[b]); });
  const std::size_t batches = (n + bs - 1) / bs;
  detail::ProgressBar bar("Batches", opts.show_progress_bar, detail::ProgressBar::Unit::Items);
  bar.update(0, batches);
  std::vector<float> out;
  int64_t D = 0;
  for (std::size_t k = 0; k < batches; ++k) {
    std::vector<std::string> part;
    for (std::size_t i = k * bs; i < std::min(n, (k + 1) * bs); ++i) part.push_back(texts[order[i]]);
    const Tensor e = encode_batch(part, opts);
    D = e.shape()[1];
    if (out.empty()) out.resize(n * static_cast<std::size_t>(D));
    const float* src = e.data<float>();
    for (std::size_t j = 0; j < part.size(); ++j)
      std::copy(src + j * static_cast<std::size_t>(D), src + (j + 1) * static_cast<std::size_t>(D),
                out.begin() + static_cast<std::ptrdiff_t>(order[k * bs + j] * static_cast<std::size_t>(D)));
    bar.update(k + 1, batches);
  }
  return Tensor::from_vector(DType::F32, {static_cast<int64_t>(n), D}, out);
}

// One forward of prepared encodings (padded to one length), then the modules after the transformer.
static Tensor forward_modules(const SentenceTransformer& st, const Prepared& p, const EncodeOptions& opts) {
  const auto& encs = p.encs;
  const int64_t B = static_cast<int64_t>(encs.size()), S = static_cast<int64_t>(encs[0].ids.size());
  auto matrix = [&](std::vector<int64_t> Encoding::*field) {
    std::vector<int64_t> flat;
    for (const auto& e : encs) flat.insert(flat.end(), (e.*field).begin(), (e.*field).end());
    return Tensor::from_vector(DType::I64, {B, S}, flat);
  };
  ModelInputs in;
  in.input_ids = matrix(&Encoding::ids);
  in.attention_mask = matrix(&Encoding::attention_mask);
  if (uses_token_types(st.model())) in.token_type_ids = matrix(&Encoding::type_ids);
  const Outputs out = st.model().forward(in);
  const Tensor h = out.get("last_hidden_state").to(DType::F32).contiguous();
  if (h.shape().size() != 3 || h.shape()[0] != B || h.shape()[1] != S)
    throw_error(ErrorKind::Mismatch, "last_hidden_state is " + shape_str(h.shape()) + ", not [batch, seq, hidden]", st.path());
  const int64_t H = h.shape()[2];
  const float* hd = h.data<float>();

  // Rows of float, as sentence-transformers computes in the model's dtype (float32).
  std::vector<std::vector<float>> rows(static_cast<std::size_t>(B));
  bool pooled = false;
  for (const auto& m : st.modules()) {
    if (m.kind == SentenceModule::Kind::Pooling) {
      const std::vector<std::string>& modes = opts.pooling.empty() ? m.modes : opts.pooling;
      for (const auto& mode : modes)
        if (std::find(pooling_modes().begin(), pooling_modes().end(), mode) == pooling_modes().end())
          throw_error(ErrorKind::InvalidArgument, "pooling mode '" + mode + "' is not one of cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken");
      for (int64_t b = 0; b < B; ++b) {
        std::vector<float> mask(static_cast<std::size_t>(S));
        for (int64_t s = 0; s < S; ++s) mask[static_cast<std::size_t>(s)] = static_cast<float>(encs[static_cast<std::size_t>(b)].attention_mask[static_cast<std::size_t>(s)]);
        if (!m.include_prompt)
          for (int64_t s = 0; s < std::min(S, p.prompt_length); ++s) mask[static_cast<std::size_t>(s)] = 0;
        auto at = [&](int64_t s, int64_t k) { return hd[(b * S + s) * H + k]; };
        auto& row = rows[static_cast<std::size_t>(b)];
        row.clear();
        for (const auto& mode : modes) {
          std::vector<float> v(static_cast<std::size_t>(H));
          if (mode == "cls") {
            for (int64_t k = 0; k < H; ++k) v[static_cast<std::size_t>(k)] = at(0, k);
          } else if (mode == "max") {  // padding set to -1e9 first
            for (int64_t k = 0; k < H; ++k) {
              float best = -INFINITY;
              for (int64_t s = 0; s < S; ++s) best = std::max(best, mask[static_cast<std::size_t>(s)] == 0 ? -1e9f : at(s, k));
              v[static_cast<std::size_t>(k)] = best;
            }
          } else if (mode == "mean" || mode == "mean_sqrt_len_tokens" || mode == "weightedmean") {
            const bool weighted = mode == "weightedmean";
            float count = 0;
            for (int64_t s = 0; s < S; ++s) count += mask[static_cast<std::size_t>(s)] * (weighted ? static_cast<float>(s + 1) : 1.0f);
            count = std::max(count, 1e-9f);
            for (int64_t k = 0; k < H; ++k) {
              double sum = 0;
              for (int64_t s = 0; s < S; ++s) sum += static_cast<double>(at(s, k)) * mask[static_cast<std::size_t>(s)] * (weighted ? static_cast<double>(s + 1) : 1.0);
              v[static_cast<std::size_t>(k)] = static_cast<float>(sum / (mode == "mean_sqrt_len_tokens" ? std::sqrt(static_cast<double>(count)) : count));
            }
          } else {  // lasttoken: the last position whose mask is 1 (S-1 when none), times its mask
            int64_t last = S - 1;
            for (int64_t s = S - 1; s >= 0; --s)
              if (mask[static_cast<std::size_t>(s)] != 0) {
                last = s;
                break;
              }
            for (int64_t k = 0; k < H; ++k) v[static_cast<std::size_t>(k)] = at(last, k) * mask[static_cast<std::size_t>(last)];
          }
          row.insert(row.end(), v.begin(), v.end());
        }
      }
      pooled = true;
    } else if (!pooled) {
      throw_error(ErrorKind::Unsupported, "a " + std::string(m.kind == SentenceModule::Kind::Dense ? "Dense" : "Normalize") +
                                              " module before the Pooling module (token-level modules are not implemented)", st.path());
    } else if (m.kind == SentenceModule::Kind::Dense) {
      const int64_t out_f = m.weight.shape()[0], in_f = m.weight.shape()[1];
      const float* w = m.weight.data<float>();
      const float* bias = m.bias ? m.bias->data<float>() : nullptr;
      for (auto& row : rows) {
        if (static_cast<int64_t>(row.size()) != in_f)
          throw_error(ErrorKind::Mismatch, "the Dense module " + m.path + " takes " + std::to_string(in_f) + " features, the pooling gives " +
                                               std::to_string(row.size()), st.path());
        std::vector<float> y(static_cast<std::size_t>(out_f));
        for (int64_t o = 0; o < out_f; ++o) {
          double acc = bias ? bias[o] : 0.0;
          for (int64_t i = 0; i < in_f; ++i) acc += static_cast<double>(w[o * in_f + i]) * row[static_cast<std::size_t>(i)];
          y[static_cast<std::size_t>(o)] = static_cast<float>(activate(m.activation, acc));
        }
        row = std::move(y);
      }
    } else if (!opts.normalize.has_value()) {
      for (auto& row : rows) {
        double n = 0;
        for (float x : row) n += static_cast<double>(x) * x;
        const double d = std::max(std::sqrt(n), 1e-12);
        for (float& x : row) x = static_cast<float>(x / d);
      }
    }
  }
  if (opts.normalize.value_or(false)) {
    for (auto& row : rows) {
      double n = 0;
      for (float x : row) n += static_cast<double>(x) * x;
      const double d = std::max(std::sqrt(n), 1e-12);
      for (float& x : row) x = static_cast<float>(x / d);
    }
  }
  const int64_t D = static_cast<int64_t>(rows[0].size());
  std::vector<float> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return Tensor::from_vector(DType::F32, {B, D}, flat);
}

Tensor SentenceTransformer::encode_batch(const std::vector<std::string>& texts, const EncodeOptions& opts) const {
  return forward_modules(*this, prepare(*this, texts, opts, do_lower_case_), opts);
}

// Token ids as given: no tokenizer, no prompt, no special tokens added (TEI's and OpenAI's token-array inputs);
// padded on the right with the tokenizer's pad id, masked out.
Tensor SentenceTransformer::encode_ids(const std::vector<std::vector<int64_t>>& ids, const EncodeOptions& opts) const {
  if (ids.empty()) throw_error(ErrorKind::InvalidArgument, "no input given");
  const int64_t vocab = model_->config().get<int64_t>("vocab_size", 0);
  std::size_t S = 0;
  for (const auto& row : ids) {
    if (row.empty()) throw_error(ErrorKind::InvalidArgument, "an input has no token ids");
    for (int64_t id : row)
      if (id < 0 || (vocab > 0 && id >= vocab))
        throw_error(ErrorKind::InvalidArgument, "token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(vocab) + ")", path_);
    S = std::max(S, row.size());
  }
  const int64_t pad = tokenizer_->padding() ? tokenizer_->padding()->pad_id : 0;
  Prepared p;
  for (const auto& row : ids) {
    Encoding e;
    e.ids = row;
    e.ids.resize(S, pad);
    e.attention_mask.assign(row.size(), 1);
    e.attention_mask.resize(S, 0);
    e.type_ids.assign(S, 0);
    p.encs.push_back(std::move(e));
  }
  return forward_modules(*this, p, opts);
}

std::vector<std::vector<double>> sentence_similarity(const Tensor& a, const Tensor& b, const std::string& fn) {
  if (a.shape().size() != 2 || b.shape().size() != 2 || a.shape()[1] != b.shape()[1])
    throw_error(ErrorKind::InvalidArgument, "similarity needs two [n, dim] matrices of one width");
  const int64_t D = a.shape()[1];
  auto row = [D](const Tensor& t, int64_t r) {
    std::vector<double> v(static_cast<std::size_t>(D));
    for (int64_t k = 0; k < D; ++k) v[static_cast<std::size_t>(k)] = t.item(r * D + k);
    return v;
  };
  std::vector<std::vector<double>> out;
  for (int64_t i = 0; i < a.shape()[0]; ++i) {
    const auto x = row(a, i);
    out.emplace_back();
    for (int64_t j = 0; j < b.shape()[0]; ++j) {
      const auto y = row(b, j);
      double dot = 0, nx = 0, ny = 0, l2 = 0, l1 = 0;
      for (int64_t k = 0; k < D; ++k) {
        const double p = x[static_cast<std::size_t>(k)], q = y[static_cast<std::size_t>(k)];
        dot += p * q, nx += p * p, ny += q * q, l2 += (p - q) * (p - q), l1 += std::abs(p - q);
      }
      if (fn == "cosine") out.back().push_back(dot / (std::max(std::sqrt(nx), 1e-8) * std::max(std::sqrt(ny), 1e-8)));
      else if (fn == "dot") out.back().push_back(dot);
      else if (fn == "euclidean") out.back().push_back(-std::sqrt(l2));
      else if (fn == "manhattan") out.back().push_back(-l1);
      else throw_error(ErrorKind::InvalidArgument, "similarity function '" + fn + "' (cosine, dot, euclidean, manhattan)");
    }
  }
  return out;
}

}  // namespace hfx
