#include "nn/seq2seq.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace hfx::nn {

int64_t relative_position_bucket(int64_t relative_position, bool bidirectional, int64_t num_buckets, int64_t max_distance) {
  int64_t bucket = 0, n = num_buckets, rp = relative_position;
  if (bidirectional) {
    n /= 2;
    if (rp > 0) bucket += n;
    rp = std::llabs(rp);
  } else {
    rp = -std::min<int64_t>(rp, 0);
  }
  const int64_t max_exact = n / 2;
  if (rp < max_exact) return bucket + rp;
  // float32 like torch: log(rp.float() / max_exact) / math.log(max_distance / max_exact) * (n - max_exact)
  float f = static_cast<float>(rp) / static_cast<float>(max_exact);
  f = std::log(f);
  f = f / static_cast<float>(std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)));
  f = f * static_cast<float>(n - max_exact);
  const int64_t large = std::min<int64_t>(max_exact + static_cast<int64_t>(f), n - 1);
  return bucket + large;
}

void add_relative_position_bias(Tensor& bias, const Tensor& table, int64_t past, bool bidirectional, int64_t num_buckets,
                                int64_t max_distance) {
  const int64_t B = bias.size(0), H = bias.size(1), Sq = bias.size(2), Sk = bias.size(3);
  // The table may have more rows than buckets in use (MPNet buckets with 32 whatever its
  // relative_attention_num_buckets); a bucket past its rows is the reference's IndexError.
  if (table.dim() != 2 || table.size(1) != H)
    throw_error(ErrorKind::Mismatch, "relative_attention_bias table " + shape_str(table.shape()) + " does not fit [" +
                                         std::to_string(num_buckets) + ", " + std::to_string(H) + "]");
  const Tensor t = table.to(DType::F32);
  const float* tp = t.data<float>();
  float* o = bias.mutable_data<float>();
  std::vector<int64_t> bucket(static_cast<std::size_t>(Sq * Sk));
  for (int64_t i = 0; i < Sq; ++i)
    for (int64_t j = 0; j < Sk; ++j)
      bucket[static_cast<std::size_t>(i * Sk + j)] = relative_position_bucket(j - (past + i), bidirectional, num_buckets, max_distance);
  for (int64_t bk : bucket)
    if (bk < 0 || bk >= table.size(0))
      throw_error(ErrorKind::InvalidArgument, "relative position bucket " + std::to_string(bk) + " is outside relative_attention_bias's " +
                                                  std::to_string(table.size(0)) + " rows");
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t x = 0; x < Sq * Sk; ++x) o[(b * H + h) * Sq * Sk + x] += tp[bucket[static_cast<std::size_t>(x)] * H + h];
}

Tensor shift_tokens_right(const Tensor& ids0, int64_t pad_token_id, int64_t decoder_start_token_id) {
  Tensor ids = as_ids(ids0, "input_ids");
  if (ids.dim() != 2) throw_error(ErrorKind::Mismatch, "input_ids must be [batch, seq], got " + shape_str(ids.shape()));
  const int64_t B = ids.size(0), S = ids.size(1);
  Tensor out = Tensor::zeros(DType::I64, {B, S});
  const int64_t* in = ids.data<int64_t>();
  int64_t* o = out.mutable_data<int64_t>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s) {
      int64_t v = s == 0 ? decoder_start_token_id : in[b * S + s - 1];
      o[b * S + s] = v == -100 ? pad_token_id : v;
    }
  return out;
}

void emit_seq2seq(Outputs& out, const StackOutputs& decoder, const std::vector<Tensor>& cross, const Tensor& encoder_last,
                  const StackOutputs& encoder) {
  emit_stack(out, decoder, "decoder_");
  for (std::size_t i = 0; i < cross.size(); ++i) out.set("cross_attentions." + std::to_string(i), cross[i]);
  out.set("encoder_last_hidden_state", encoder_last);
  emit_stack(out, encoder, "encoder_");
}

Tensor eos_classify(const Tensor& ids, const Tensor& dec, int64_t eos, const Linear& dense, const Linear& out_proj) {
  const int64_t B = ids.size(0), S = ids.size(1), d = dec.size(2);
  Tensor pooled = Tensor::zeros(DType::F32, {B, d});
  int64_t count0 = -1;
  for (int64_t b = 0; b < B; ++b) {
    int64_t count = 0, last = -1;
    for (int64_t s = 0; s < S; ++s)
      if (ids.data<int64_t>()[b * S + s] == eos) ++count, last = s;
    if (count0 >= 0 && count != count0)
      throw_error(ErrorKind::InvalidArgument, "All examples must have the same number of <eos> tokens.");
    count0 = count;
    if (last < 0) throw_error(ErrorKind::InvalidArgument, "input_ids hold no <eos> token (" + std::to_string(eos) + ") to pool");
    std::copy_n(dec.data<float>() + (b * S + last) * d, d, pooled.mutable_data<float>() + b * d);
  }
  Tensor x = dense(pooled);
  activate(x, Activation::Tanh);
  return out_proj(x);
}

}  // namespace hfx::nn
