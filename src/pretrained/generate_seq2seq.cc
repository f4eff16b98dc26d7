// generate() for encoder-decoder models (transformers 4.46 GenerationMixin with
// is_encoder_decoder): the encoder runs once on the prompt, its output and the
// cross-attention keys/values are expanded to num_beams / num_return_sequences
// rows, and the decoder runs step by step from decoder_start_token_id over the
// shared loop (logits processors, sampling, beam scorer) of generate.cc.
#include <cstring>

#include "hfx/seq2seq.h"
#include "pretrained/generate_internal.h"

namespace hfx {

namespace {
// Rows `index` of t (any dtype, first dim = batch), in that order.
Tensor take_rows(const Tensor& t0, const std::vector<int64_t>& index) {
  if (!t0.defined()) return t0;
  Tensor t = t0.contiguous();
  Shape s = t.shape();
  const std::size_t row = t.nbytes() / static_cast<std::size_t>(s[0]);
  s[0] = static_cast<int64_t>(index.size());
  Tensor out = Tensor::zeros(t.dtype(), s);
  auto* o = static_cast<uint8_t*>(out.mutable_raw());
  const auto* in = static_cast<const uint8_t*>(t.raw());
  for (std::size_t i = 0; i < index.size(); ++i) {
    if (index[i] < 0 || index[i] >= t.size(0))
      throw_error(ErrorKind::InvalidArgument, "row " + std::to_string(index[i]) + " out of range for batch " + std::to_string(t.size(0)));
    std::memcpy(o + i * row, in + static_cast<std::size_t>(index[i]) * row, row);
  }
  return out;
}
}  // namespace

void Seq2SeqCache::reorder(const std::vector<int64_t>& index) {
  encoder_hidden = take_rows(encoder_hidden, index);
  encoder_mask = take_rows(encoder_mask, index);
  self_attn.reorder(index);
  cross_attn.reorder(index);
}

Tensor generate_seq2seq(const Model& model, const Tensor& input_ids, const Tensor& attention_mask, const GenerationConfig& g) {
  const auto* s2s = dynamic_cast<const Seq2SeqLM*>(&model);
  if (!s2s) throw_error(ErrorKind::Unsupported, model.class_name() + " is not an encoder-decoder model that can generate");
  if (!input_ids.defined() || input_ids.dim() != 2 || input_ids.size(1) == 0)
    throw_error(ErrorKind::InvalidArgument, "input_ids must be [batch, seq] with seq > 0");
  Seq2SeqCache cache = s2s->encode(input_ids, attention_mask);
  const int64_t B = input_ids.size(0);
  const int64_t start = g.decoder_start_token_id.value_or(s2s->decoder_start_token_id());
  Tensor prompt = Tensor::from_vector(DType::I64, {B, 1}, std::vector<int64_t>(static_cast<std::size_t>(B), start));
  detail::IncrementalDecoder d;
  d.vocab = s2s->vocab_size();
  d.step = [&](const detail::TokenRows& seqs, const detail::TokenRows& /*mask: the decoder attends to all its tokens*/,
               int64_t new_n) {
    const int64_t rows = static_cast<int64_t>(seqs.size());
    std::vector<int64_t> flat;
    for (const auto& s : seqs) flat.insert(flat.end(), s.end() - new_n, s.end());
    return s2s->decode_step(Tensor::from_vector(DType::I64, {rows, new_n}, flat), cache);
  };
  d.reorder = [&](const std::vector<int64_t>& index) { cache.reorder(index); };
  return detail::run_generation(d, prompt, Tensor(), g);
}

}  // namespace hfx
