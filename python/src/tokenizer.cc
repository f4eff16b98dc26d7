// hfx._hfx._Tokenizer: hfx::Tokenizer for python/hfx/tokenization.py, which
// gives it transformers' __call__ (padding / truncation / return_tensors).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hfx/error.h"
#include "hfx/tokenizer.h"

namespace py = pybind11;

namespace hfxpy {
namespace {

hfx::Side side(const std::string& s) {
  if (s == "right") return hfx::Side::Right;
  if (s == "left") return hfx::Side::Left;
  throw hfx::Error(hfx::ErrorKind::InvalidArgument, "side must be 'right' or 'left', not '" + s + "'");
}

std::optional<hfx::TruncationParams> truncation(const py::object& o) {
  if (o.is_none()) return std::nullopt;
  const py::dict d = o.cast<py::dict>();
  hfx::TruncationParams t;
  t.max_length = d["max_length"].cast<int64_t>();
  t.stride = d["stride"].cast<int64_t>();
  const auto s = d["strategy"].cast<std::string>();
  if (s == "longest_first") t.strategy = hfx::TruncationStrategy::LongestFirst;
  else if (s == "only_first") t.strategy = hfx::TruncationStrategy::OnlyFirst;
  else if (s == "only_second") t.strategy = hfx::TruncationStrategy::OnlySecond;
  else throw hfx::Error(hfx::ErrorKind::InvalidArgument, "unknown truncation strategy '" + s + "'");
  t.direction = side(d["side"].cast<std::string>());
  return t;
}

std::optional<hfx::PaddingParams> padding(const py::object& o) {
  if (o.is_none()) return std::nullopt;
  const py::dict d = o.cast<py::dict>();
  hfx::PaddingParams p;
  if (!d["length"].is_none()) p.length = d["length"].cast<int64_t>();
  p.direction = side(d["side"].cast<std::string>());
  p.pad_to_multiple_of = d["pad_to_multiple_of"].cast<int64_t>();
  p.pad_id = d["pad_id"].cast<int64_t>();
  p.pad_type_id = d["pad_type_id"].cast<int64_t>();
  p.pad_token = d["pad_token"].cast<std::string>();
  return p;
}

py::dict encoding_dict(const hfx::Encoding& e) {
  py::dict d;
  d["input_ids"] = e.ids;
  d["token_type_ids"] = e.type_ids;
  d["attention_mask"] = e.attention_mask;
  d["special_tokens_mask"] = e.special_tokens_mask;
  d["offset_mapping"] = e.offsets;
  d["tokens"] = e.tokens;
  d["sequence_ids"] = e.sequence_ids;
  return d;
}

// Encodes (with the given truncation and padding, on a copy: the tokenizer's
// own settings are untouched) and returns one dict per row; with
// `flatten_overflow` the overflowing pieces follow their row and the second
// element is overflow_to_sample_mapping.
py::tuple encode_batch(const hfx::Tokenizer& base, const std::vector<std::string>& texts, const py::object& pairs,
                       bool add_special_tokens, const py::object& trunc, const py::object& pad, bool flatten_overflow) {
  hfx::Tokenizer tok = base;
  tok.set_truncation(truncation(trunc));
  tok.set_padding(padding(pad));
  std::vector<hfx::Encoding> encs;
  std::vector<int64_t> sample_of;
  {
    std::vector<std::pair<std::string, std::string>> pv;
    if (!pairs.is_none()) {
      const auto second = pairs.cast<std::vector<std::string>>();
      if (second.size() != texts.size())
        throw hfx::Error(hfx::ErrorKind::InvalidArgument, "text and text_pair have different lengths (" +
                                                              std::to_string(texts.size()) + " vs " + std::to_string(second.size()) + ")");
      for (std::size_t i = 0; i < texts.size(); ++i) pv.emplace_back(texts[i], second[i]);
    }
    py::gil_scoped_release nogil;
    encs = pairs.is_none() ? tok.encode_batch(texts, add_special_tokens) : tok.encode_batch(pv, add_special_tokens);
    if (flatten_overflow) encs = hfx::flatten_overflowing(encs, &sample_of);
  }
  py::list rows;
  for (const auto& e : encs) rows.append(encoding_dict(e));
  return py::make_tuple(rows, flatten_overflow ? py::cast(sample_of) : py::none());
}

}  // namespace

void bind_tokenizer(py::module_& m) {
  py::class_<hfx::Tokenizer>(m, "_Tokenizer")
      .def_static("from_pretrained", [](const std::string& path) {
        py::gil_scoped_release nogil;
        hfx::Tokenizer t = hfx::AutoTokenizer::from_pretrained(path);
        // transformers' tokenizer(text): no truncation or padding unless asked (tokenizer.json may set them).
        t.set_truncation(std::nullopt);
        t.set_padding(std::nullopt);
        return t;
      })
      .def("encode_batch", &encode_batch, py::arg("texts"), py::arg("pairs"), py::arg("add_special_tokens"),
           py::arg("truncation"), py::arg("padding"), py::arg("flatten_overflow"))
      .def("decode", [](const hfx::Tokenizer& t, const std::vector<int64_t>& ids, bool skip) { return t.decode(ids, skip); },
           py::arg("ids"), py::arg("skip_special_tokens"))
      .def("token_to_id", [](const hfx::Tokenizer& t, const std::string& s) { return t.token_to_id(s); })
      .def("id_to_token", [](const hfx::Tokenizer& t, int64_t id) { return t.id_to_token(id); })
      .def("vocab_size", &hfx::Tokenizer::vocab_size)
      .def("num_special_tokens_to_add", &hfx::Tokenizer::num_special_tokens_to_add, py::arg("pair"));
}

}  // namespace hfxpy
