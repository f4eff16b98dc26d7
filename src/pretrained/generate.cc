// generate(): greedy, sampling and beam search over a KV cache, following
// transformers 4.46 GenerationMixin (_sample, _beam_search with
// BeamSearchScorer / BeamHypotheses) and its logits processors.
#include "core/json.h"
#include "hfx/generate.h"
#include "hfx/generate_stream.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "hfx/io.h"
#include "hfx/log.h"
#include "hfx/seq2seq.h"
#include "pretrained/generate_internal.h"

namespace hfx {

GenerationConfig GenerationConfig::from_model(const Model& model) {
  GenerationConfig g;
  json src = model.config().merged();
  const std::string gc_path = model.config().source().empty()
                                  ? std::string()
                                  : (std::filesystem::path(model.config().source()).parent_path() / "generation_config.json").string();
  std::error_code ec;
  if (!gc_path.empty() && std::filesystem::exists(gc_path, ec)) {
    try {
      json gc = read_json_file(gc_path);
      for (auto it = gc.begin(); it != gc.end(); ++it) src[it.key()] = *it;
    } catch (const json::exception& e) {
      throw_error(ErrorKind::Format, std::string("invalid JSON: ") + e.what(), gc_path);
    }
  }
  auto int_or_first = [](const json& v) -> std::optional<int64_t> {
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<int64_t>();
    return std::nullopt;
  };
  if (src.contains("eos_token_id")) g.eos_token_id = int_or_first(src["eos_token_id"]);
  if (src.contains("pad_token_id")) g.pad_token_id = int_or_first(src["pad_token_id"]);
  if (!g.pad_token_id && g.eos_token_id) g.pad_token_id = g.eos_token_id;  // transformers does this with a warning
  if (src.contains("forced_bos_token_id")) g.forced_bos_token_id = int_or_first(src["forced_bos_token_id"]);
  if (src.contains("forced_eos_token_id")) g.forced_eos_token_id = int_or_first(src["forced_eos_token_id"]);
  if (src.contains("decoder_start_token_id")) g.decoder_start_token_id = int_or_first(src["decoder_start_token_id"]);
  auto num = [&](const char* k, auto& field) {
    if (src.contains(k) && src[k].is_number()) field = src[k].get<std::decay_t<decltype(field)>>();
  };
  num("max_new_tokens", g.max_new_tokens);
  num("min_new_tokens", g.min_new_tokens);
  num("num_beams", g.num_beams);
  num("temperature", g.temperature);
  num("top_k", g.top_k);
  num("top_p", g.top_p);
  num("repetition_penalty", g.repetition_penalty);
  num("length_penalty", g.length_penalty);
  num("num_return_sequences", g.num_return_sequences);
  if (src.contains("do_sample") && src["do_sample"].is_boolean()) g.do_sample = src["do_sample"].get<bool>();
  if (src.contains("early_stopping") && src["early_stopping"].is_boolean()) g.early_stopping = src["early_stopping"].get<bool>();
  if (src.contains("use_cache") && src["use_cache"].is_boolean()) g.use_cache = src["use_cache"].get<bool>();
  return g;
}

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Logits processors (transformers' order: repetition penalty, min new tokens,
// forced BOS at the first generated position, forced EOS at the last one).
// cur_len: tokens in the row so far; max_length: prompt + max_new_tokens.
void process(float* logits, int64_t V, const std::vector<int64_t>& seq, int64_t new_tokens, int64_t cur_len,
             int64_t max_length, const GenerationConfig& g) {
  if (g.repetition_penalty != 1.0f)
    for (int64_t t : seq) {
      float& x = logits[t];
      x = x < 0 ? x * g.repetition_penalty : x / g.repetition_penalty;
    }
  if (g.eos_token_id && new_tokens < g.min_new_tokens && *g.eos_token_id < V) logits[*g.eos_token_id] = kNegInf;
  auto force = [&](int64_t tok) {
    if (tok < 0 || tok >= V) return;
    std::fill(logits, logits + V, kNegInf);
    logits[tok] = 0.0f;
  };
  if (g.forced_bos_token_id && cur_len == 1) force(*g.forced_bos_token_id);
  if (g.forced_eos_token_id && cur_len == max_length - 1) force(*g.forced_eos_token_id);
}

void log_softmax(float* x, int64_t n) {
  float m = *std::max_element(x, x + n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i] - m));
  const float lse = m + static_cast<float>(std::log(s));
  for (int64_t i = 0; i < n; ++i) x[i] -= lse;
}

// Sampling warpers: temperature, top-k, top-p (min_tokens_to_keep = 1), then a draw.
int64_t sample(std::vector<float> logits, const GenerationConfig& g, std::mt19937_64& rng) {
  const int64_t V = static_cast<int64_t>(logits.size());
  if (g.temperature != 1.0f)
    for (float& x : logits) x /= g.temperature;
  if (g.top_k > 0 && g.top_k < V) {
    std::vector<float> sorted = logits;
    std::nth_element(sorted.begin(), sorted.begin() + (g.top_k - 1), sorted.end(), std::greater<float>());
    const float kth = sorted[static_cast<std::size_t>(g.top_k - 1)];
    for (float& x : logits)
      if (x < kth) x = kNegInf;
  }
  if (g.top_p < 1.0f) {
    std::vector<int64_t> idx(static_cast<std::size_t>(V));
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return logits[a] < logits[b]; });  // ascending
    std::vector<float> p(logits);
    float m = *std::max_element(p.begin(), p.end());
    double s = 0;
    for (float& x : p) s += (x = std::exp(x - m));
    double cum = 0;
    for (std::size_t r = 0; r + 1 < idx.size(); ++r) {  // the largest token is always kept
      cum += p[static_cast<std::size_t>(idx[r])] / s;
      if (cum <= 1.0 - g.top_p) logits[static_cast<std::size_t>(idx[r])] = kNegInf;
    }
  }
  float m = *std::max_element(logits.begin(), logits.end());
  std::vector<double> w(logits.size());
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::exp(static_cast<double>(logits[i] - m));
  std::discrete_distribution<int64_t> d(w.begin(), w.end());
  return d(rng);
}

struct Hyp {
  double score;
  std::vector<int64_t> tokens;
};

// transformers' BeamHypotheses.
struct BeamHyps {
  int64_t num_beams;
  float length_penalty;
  bool early_stopping;
  std::vector<Hyp> hyps;
  double worst = 1e9;
  void add(std::vector<int64_t> tokens, double sum_logprobs, int64_t generated_len) {
    const double score = sum_logprobs / std::pow(static_cast<double>(generated_len), length_penalty);
    if (static_cast<int64_t>(hyps.size()) < num_beams || score > worst) {
      hyps.push_back({score, std::move(tokens)});
      if (static_cast<int64_t>(hyps.size()) > num_beams) {
        auto it = std::min_element(hyps.begin(), hyps.end(), [](const Hyp& a, const Hyp& b) { return a.score < b.score; });
        hyps.erase(it);
        worst = std::min_element(hyps.begin(), hyps.end(), [](const Hyp& a, const Hyp& b) { return a.score < b.score; })->score;
      } else {
        worst = std::min(score, worst);
      }
    }
  }
  bool is_done(double best_sum_logprobs, int64_t generated_len) const {
    if (static_cast<int64_t>(hyps.size()) < num_beams) return false;
    if (early_stopping) return true;
    return worst >= best_sum_logprobs / std::pow(static_cast<double>(generated_len), length_penalty);
  }
};

// Position ids from the attention mask, as decoder models' prepare_inputs_for_generation does.
Tensor positions_from_mask(const std::vector<std::vector<int64_t>>& mask, int64_t last_n) {
  const int64_t B = static_cast<int64_t>(mask.size());
  const int64_t T = static_cast<int64_t>(mask[0].size());
  Tensor pos = Tensor::zeros(DType::I64, {B, last_n});
  for (int64_t b = 0; b < B; ++b) {
    int64_t cum = 0;
    for (int64_t t = 0; t < T; ++t) {
      cum += mask[static_cast<std::size_t>(b)][static_cast<std::size_t>(t)];
      if (t >= T - last_n)
        pos.mutable_data<int64_t>()[b * last_n + (t - (T - last_n))] = mask[static_cast<std::size_t>(b)][static_cast<std::size_t>(t)] ? cum - 1 : 1;
    }
  }
  return pos;
}

Tensor mask_tensor(const std::vector<std::vector<int64_t>>& mask) {
  const int64_t B = static_cast<int64_t>(mask.size()), T = static_cast<int64_t>(mask[0].size());
  Tensor m = Tensor::zeros(DType::I64, {B, T});
  for (int64_t b = 0; b < B; ++b) std::copy_n(mask[static_cast<std::size_t>(b)].data(), T, m.mutable_data<int64_t>() + b * T);
  return m;
}

Tensor ids_tensor(const std::vector<std::vector<int64_t>>& rows, int64_t from) {
  const int64_t B = static_cast<int64_t>(rows.size());
  const int64_t n = static_cast<int64_t>(rows[0].size()) - from;
  Tensor t = Tensor::zeros(DType::I64, {B, n});
  for (int64_t b = 0; b < B; ++b) std::copy_n(rows[static_cast<std::size_t>(b)].data() + from, n, t.mutable_data<int64_t>() + b * n);
  return t;
}

}  // namespace

namespace {

Tensor generate_impl(const Model& model, const Tensor& input_ids, const Tensor& attention_mask, const GenerationConfig& g,
                     const std::function<bool(int64_t)>& on_token) {
  if (dynamic_cast<const Seq2SeqLM*>(&model)) {
    if (on_token) throw_error(ErrorKind::InvalidArgument, "streaming generation is implemented for decoder-only models; " + model.class_name() + " is an encoder-decoder");
    return generate_seq2seq(model, input_ids, attention_mask, g);
  }
  detail::IncrementalDecoder d;
  d.on_token = on_token;
  if (const auto* s = dynamic_cast<const SessionLM*>(&model)) {
    std::unique_ptr<GenerationSession> session = s->start_generation(g.use_cache);
    d.vocab = s->vocab_size();
    d.step = [&](const detail::TokenRows& seqs, const detail::TokenRows&, int64_t new_n) {
      Tensor l = session->next_logits(seqs, new_n);
      return l.reshape({l.size(0), 1, l.size(1)});
    };
    d.reorder = [&](const std::vector<int64_t>& index) { session->reorder(index); };
    return detail::run_generation(d, input_ids, attention_mask, g);
  }
  const auto* lm = dynamic_cast<const CausalLM*>(&model);
  if (!lm) throw_error(ErrorKind::Unsupported, model.class_name() + " does not support incremental generation");
  KVCache cache;
  d.vocab = lm->vocab_size();
  d.step = [&](const detail::TokenRows& seqs, const detail::TokenRows& mask, int64_t new_n) {
    if (!g.use_cache) {  // the whole sequence again, from an empty cache
      cache = KVCache{};
      new_n = static_cast<int64_t>(seqs[0].size());
    }
    return lm->step(ids_tensor(seqs, static_cast<int64_t>(seqs[0].size()) - new_n), positions_from_mask(mask, new_n),
                    mask_tensor(mask), cache);
  };
  d.reorder = [&](const std::vector<int64_t>& index) { cache.reorder(index); };
  return detail::run_generation(d, input_ids, attention_mask, g);
}

}  // namespace

Tensor generate(const Model& model, const Tensor& input_ids, const Tensor& attention_mask, const GenerationConfig& g) {
  return generate_impl(model, input_ids, attention_mask, g, {});
}

Tensor generate_streaming(const Model& model, const Tensor& input_ids, const Tensor& attention_mask, const GenerationConfig& g,
                          const std::function<bool(int64_t)>& on_token) {
  if (!on_token) throw_error(ErrorKind::InvalidArgument, "generate_streaming needs a callback");
  return generate_impl(model, input_ids, attention_mask, g, on_token);
}

void validate_generation_config(const GenerationConfig& g) {
  auto num = [](double v) {  // Python's float repr for the usual values
    std::string t = fmt::format("{}", v);
    return t.find_first_of(".en") == std::string::npos ? t + ".0" : t;
  };
  if (g.do_sample) {  // generation/utils.py _get_logits_processor and logits_process.py's warpers
    if (g.temperature != 1.0f && !(g.temperature > 0))
      throw_error(ErrorKind::InvalidArgument, "`temperature` (=" + num(g.temperature) + ") has to be a strictly positive float, otherwise your next token "
                                              "scores will be invalid." + std::string(g.temperature == 0.0f ? " If you're looking for greedy decoding strategies, set `do_sample=False`." : ""));
    if (g.top_k != 0 && g.top_k < 0) throw_error(ErrorKind::InvalidArgument, "`top_k` has to be a strictly positive integer, but is " + std::to_string(g.top_k));
    if (g.top_p < 1.0f && g.top_p < 0) throw_error(ErrorKind::InvalidArgument, "`top_p` has to be a float > 0 and < 1, but is " + num(g.top_p));
  } else {
    const std::string msg = "`do_sample` is set to `False`. However, `{}` is set to `{}` -- this flag is only used in sample-based generation modes. "
                            "You should set `do_sample=True` or unset `{}`.";
    if (g.temperature != 1.0f) log_warning(fmt::format(fmt::runtime(msg), "temperature", num(g.temperature), "temperature"));
    if (g.top_p != 1.0f) log_warning(fmt::format(fmt::runtime(msg), "top_p", num(g.top_p), "top_p"));
  }
  if (g.repetition_penalty != 1.0f && !(g.repetition_penalty > 0))
    throw_error(ErrorKind::InvalidArgument, "`penalty` has to be a strictly positive float, but is " + num(g.repetition_penalty));
}

Tensor detail::run_generation(const IncrementalDecoder& d, const Tensor& input_ids, const Tensor& attention_mask,
                              const GenerationConfig& g) {
  Tensor ids = input_ids.to(DType::I64);
  if (ids.dim() != 2 || ids.size(1) == 0) throw_error(ErrorKind::InvalidArgument, "input_ids must be [batch, seq] with seq > 0");
  if (g.num_beams < 1 || g.num_return_sequences < 1 || g.max_new_tokens < 0)
    throw_error(ErrorKind::InvalidArgument, "num_beams, num_return_sequences must be >= 1 and max_new_tokens >= 0");
  if (!g.do_sample && g.num_return_sequences > g.num_beams)
    throw_error(ErrorKind::InvalidArgument, "num_return_sequences has to be smaller or equal to num_beams");
  validate_generation_config(g);
  if (d.on_token && (g.num_beams > 1 || ids.size(0) != 1 || (g.do_sample && g.num_return_sequences > 1)))
    throw_error(ErrorKind::InvalidArgument, "a streamer works with a batch of one and without beam search (as transformers' streamers)");
  const int64_t B0 = ids.size(0), P = ids.size(1), V = d.vocab;
  const int64_t pad = g.pad_token_id.value_or(g.eos_token_id.value_or(0));
  const bool beam = g.num_beams > 1;
  const int64_t expand = beam ? g.num_beams : (g.do_sample ? g.num_return_sequences : 1);
  const int64_t B = B0 * expand;

  std::vector<std::vector<int64_t>> seqs, mask;
  Tensor m0 = attention_mask.defined() ? attention_mask.to(DType::I64) : Tensor();
  if (m0.defined() && m0.shape() != ids.shape()) throw_error(ErrorKind::Mismatch, "attention_mask must match input_ids");
  for (int64_t b = 0; b < B0; ++b)
    for (int64_t e = 0; e < expand; ++e) {
      seqs.emplace_back(ids.data<int64_t>() + b * P, ids.data<int64_t>() + (b + 1) * P);
      mask.emplace_back(m0.defined() ? std::vector<int64_t>(m0.data<int64_t>() + b * P, m0.data<int64_t>() + (b + 1) * P)
                                     : std::vector<int64_t>(static_cast<std::size_t>(P), 1));
    }
  if (expand > 1) {  // like _expand_inputs_for_generation: each row repeated in place
    std::vector<int64_t> rows;
    for (int64_t b = 0; b < B0; ++b)
      for (int64_t e = 0; e < expand; ++e) rows.push_back(b);
    d.reorder(rows);
  }
  std::mt19937_64 rng(g.seed);
  std::vector<bool> finished(static_cast<std::size_t>(B), false);
  std::vector<double> beam_scores(static_cast<std::size_t>(B), 0.0);
  if (beam)
    for (int64_t b = 0; b < B0; ++b)
      for (int64_t k = 1; k < g.num_beams; ++k) beam_scores[static_cast<std::size_t>(b * g.num_beams + k)] = -1e9;
  std::vector<BeamHyps> hyps(static_cast<std::size_t>(B0), BeamHyps{g.num_beams, g.length_penalty, g.early_stopping, {}, 1e9});
  std::vector<bool> batch_done(static_cast<std::size_t>(B0), false);

  for (int64_t step = 0; step < g.max_new_tokens; ++step) {
    Tensor logits = d.step(seqs, mask, step == 0 ? P : 1);
    const int64_t rows = logits.size(1);  // the last row of each batch entry predicts the next token
    const int64_t cur_len = static_cast<int64_t>(seqs[0].size());
    std::vector<std::vector<float>> scores(static_cast<std::size_t>(B));
    for (int64_t b = 0; b < B; ++b) {
      const float* row = logits.data<float>() + (b * rows + rows - 1) * V;
      scores[static_cast<std::size_t>(b)].assign(row, row + V);
      if (beam) log_softmax(scores[static_cast<std::size_t>(b)].data(), V);
      process(scores[static_cast<std::size_t>(b)].data(), V, seqs[static_cast<std::size_t>(b)], step, cur_len, P + g.max_new_tokens, g);
    }
    if (!beam) {
      bool all_done = true;
      for (int64_t b = 0; b < B; ++b) {
        auto& sc = scores[static_cast<std::size_t>(b)];
        int64_t tok = g.do_sample ? sample(sc, g, rng) : std::max_element(sc.begin(), sc.end()) - sc.begin();
        if (finished[static_cast<std::size_t>(b)]) tok = pad;
        seqs[static_cast<std::size_t>(b)].push_back(tok);
        mask[static_cast<std::size_t>(b)].push_back(1);
        if (g.eos_token_id && tok == *g.eos_token_id) finished[static_cast<std::size_t>(b)] = true;
        if (d.on_token && !d.on_token(tok)) finished[static_cast<std::size_t>(b)] = true;  // batch of one (checked above)
        all_done = all_done && finished[static_cast<std::size_t>(b)];
      }
      if (all_done) break;
      continue;
    }
    // Beam search step (BeamSearchScorer.process).
    const int64_t K = g.num_beams;
    std::vector<std::vector<int64_t>> next_seqs, next_mask;
    std::vector<double> next_scores;
    std::vector<int64_t> reorder;
    for (int64_t b = 0; b < B0; ++b) {
      if (batch_done[static_cast<std::size_t>(b)]) {
        for (int64_t k = 0; k < K; ++k) {
          auto s = seqs[static_cast<std::size_t>(b * K + k)];
          s.push_back(pad);
          next_seqs.push_back(std::move(s));
          auto mm = mask[static_cast<std::size_t>(b * K + k)];
          mm.push_back(1);
          next_mask.push_back(std::move(mm));
          next_scores.push_back(0.0);
          reorder.push_back(b * K + k);
        }
        continue;
      }
      struct Cand { double score; int64_t beam, token; };
      std::vector<Cand> cands;
      cands.reserve(static_cast<std::size_t>(K * V));
      for (int64_t k = 0; k < K; ++k)
        for (int64_t t = 0; t < V; ++t)
          cands.push_back({scores[static_cast<std::size_t>(b * K + k)][static_cast<std::size_t>(t)] + beam_scores[static_cast<std::size_t>(b * K + k)], k, t});
      const int64_t keep = std::min<int64_t>(2 * K, K * V);
      std::partial_sort(cands.begin(), cands.begin() + keep, cands.end(), [](const Cand& x, const Cand& y) {
        return x.score != y.score ? x.score > y.score : (x.beam * 1000003 + x.token) < (y.beam * 1000003 + y.token);
      });
      int64_t filled = 0;
      for (int64_t rank = 0; rank < keep && filled < K; ++rank) {
        const Cand& c = cands[static_cast<std::size_t>(rank)];
        const int64_t src = b * K + c.beam;
        if (g.eos_token_id && c.token == *g.eos_token_id) {
          if (rank >= K) continue;
          hyps[static_cast<std::size_t>(b)].add(seqs[static_cast<std::size_t>(src)], c.score, cur_len + 1 - P);
          continue;
        }
        auto s = seqs[static_cast<std::size_t>(src)];
        s.push_back(c.token);
        next_seqs.push_back(std::move(s));
        auto mm = mask[static_cast<std::size_t>(src)];
        mm.push_back(1);
        next_mask.push_back(std::move(mm));
        next_scores.push_back(c.score);
        reorder.push_back(src);
        ++filled;
      }
      double best = cands[0].score;
      for (int64_t r = 1; r < keep; ++r) best = std::max(best, cands[static_cast<std::size_t>(r)].score);
      batch_done[static_cast<std::size_t>(b)] = hyps[static_cast<std::size_t>(b)].is_done(best, cur_len + 1 - P);
    }
    seqs = std::move(next_seqs);
    mask = std::move(next_mask);
    beam_scores = std::move(next_scores);
    d.reorder(reorder);
    if (std::all_of(batch_done.begin(), batch_done.end(), [](bool done) { return done; })) break;
  }

  std::vector<std::vector<int64_t>> out;
  if (!beam) {
    out = seqs;
  } else {  // BeamSearchScorer.finalize
    for (int64_t b = 0; b < B0; ++b) {
      auto& h = hyps[static_cast<std::size_t>(b)];
      if (!batch_done[static_cast<std::size_t>(b)])
        for (int64_t k = 0; k < g.num_beams; ++k) {
          const auto& s = seqs[static_cast<std::size_t>(b * g.num_beams + k)];
          h.add(s, beam_scores[static_cast<std::size_t>(b * g.num_beams + k)], static_cast<int64_t>(s.size()) - P);
        }
      std::stable_sort(h.hyps.begin(), h.hyps.end(), [](const Hyp& x, const Hyp& y) { return x.score > y.score; });
      for (int64_t r = 0; r < g.num_return_sequences; ++r) out.push_back(h.hyps[static_cast<std::size_t>(r)].tokens);
    }
    const int64_t max_len = P + g.max_new_tokens;
    std::size_t longest = 0;
    for (const auto& s : out) longest = std::max(longest, s.size());
    const std::size_t width = std::min<std::size_t>(longest + 1, static_cast<std::size_t>(max_len));
    for (auto& s : out) {
      if (s.size() < width && g.eos_token_id) s.push_back(*g.eos_token_id);
      s.resize(width, pad);
    }
  }
  std::size_t width = 0;
  for (const auto& s : out) width = std::max(width, s.size());
  Tensor result = Tensor::zeros(DType::I64, {static_cast<int64_t>(out.size()), static_cast<int64_t>(width)});
  for (std::size_t r = 0; r < out.size(); ++r) {
    auto s = out[r];
    s.resize(width, pad);
    std::copy(s.begin(), s.end(), result.mutable_data<int64_t>() + static_cast<int64_t>(r * width));
  }
  return result;
}

}  // namespace hfx
