// hfx._hfx._SentenceTransformer: hfx::SentenceTransformer (include/hfx/sentence.h) for
// python/hfx/sentence.py, which gives it sentence-transformers' encode() keywords.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arrays.h"
#include "hfx/error.h"
#include "hfx/hub.h"
#include "hfx/sentence.h"

namespace py = pybind11;

namespace hfxpy {

hfx::HubOptions hub_options(const py::dict& d);  // module.cc

namespace {

// One loaded SentenceTransformer, shared by every Python reference to it (encode is const and
// runs without the GIL, so threads and Ray actors' threads may call it at once).
struct SentenceHandle {
  std::shared_ptr<const hfx::SentenceTransformer> st;
};

hfx::EncodeOptions encode_options(const py::object& prompt_name, const py::object& prompt, const py::object& pooling,
                                  bool normalize_embeddings, int64_t max_seq_length, int64_t batch_size,
                                  bool show_progress_bar) {
  hfx::EncodeOptions o;
  if (!prompt_name.is_none()) o.prompt_name = prompt_name.cast<std::string>();
  if (!prompt.is_none()) o.prompt = prompt.cast<std::string>();
  if (!pooling.is_none()) o.pooling = pooling.cast<std::vector<std::string>>();
  // sentence-transformers: normalize_embeddings=True normalizes on top of the modules; False leaves
  // a Normalize module in place (it does not turn it off).
  if (normalize_embeddings) o.normalize = true;
  o.max_seq_length = max_seq_length;
  o.batch_size = batch_size;
  o.show_progress_bar = show_progress_bar;
  return o;
}

}  // namespace

void bind_sentence(py::module_& m) {
  py::class_<SentenceHandle>(m, "_SentenceTransformer")
      .def_static("from_pretrained", [](const std::string& path, const py::dict& options) {
        const hfx::HubOptions hub = hub_options(options);
        py::gil_scoped_release nogil;
        return SentenceHandle{std::make_shared<const hfx::SentenceTransformer>(hfx::SentenceTransformer::from_pretrained(path, hub))};
      }, py::arg("path"), py::arg("options"))
      .def("encode", [](const SentenceHandle& h, const std::vector<std::string>& texts, const py::object& prompt_name,
                        const py::object& prompt, const py::object& pooling, bool normalize_embeddings,
                        int64_t max_seq_length, int64_t batch_size, bool show_progress_bar) {
        const hfx::EncodeOptions o = encode_options(prompt_name, prompt, pooling, normalize_embeddings, max_seq_length,
                                                    batch_size, show_progress_bar);
        hfx::Tensor e;
        {
          py::gil_scoped_release nogil;
          e = h.st->encode(texts, o);
        }
        return to_numpy(e);
      }, py::arg("texts"), py::arg("prompt_name"), py::arg("prompt"), py::arg("pooling"), py::arg("normalize_embeddings"),
         py::arg("max_seq_length"), py::arg("batch_size"), py::arg("show_progress_bar"))
      .def("similarity", [](const SentenceHandle& h, const py::handle& a, const py::handle& b) {
        return hfx::sentence_similarity(from_numpy(a, "a"), from_numpy(b, "b"), h.st->similarity_fn_name());
      }, py::arg("a"), py::arg("b"))
      .def_property_readonly("similarity_fn_name", [](const SentenceHandle& h) { return h.st->similarity_fn_name(); })
      .def_property_readonly("max_seq_length", [](const SentenceHandle& h) { return h.st->max_seq_length(); })
      .def_property_readonly("prompts", [](const SentenceHandle& h) { return h.st->prompts(); })
      .def_property_readonly("default_prompt_name", [](const SentenceHandle& h) { return h.st->default_prompt_name(); })
      .def_property_readonly("path", [](const SentenceHandle& h) { return h.st->path(); })
      .def_property_readonly("modules", [](const SentenceHandle& h) {
        py::list l;
        for (const auto& mod : h.st->modules()) {
          py::dict d;
          d["kind"] = mod.kind == hfx::SentenceModule::Kind::Pooling ? "Pooling"
                      : mod.kind == hfx::SentenceModule::Kind::Dense ? "Dense" : "Normalize";
          d["path"] = mod.path;
          d["modes"] = mod.modes;
          if (mod.kind == hfx::SentenceModule::Kind::Dense) d["out_features"] = mod.weight.size(0);
          l.append(d);
        }
        return l;
      });
}

}  // namespace hfxpy
