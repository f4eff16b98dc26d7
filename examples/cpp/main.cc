// hfx from an application: load a model folder (config.json + weights), run
// it on the inputs saved beside it (inputs.safetensors, as the fixtures hold
// them) and compare with transformers' outputs (outputs.safetensors).
//   hfx_example <model dir>   -> exit 0 when every output is within 1e-5
#include <cstdio>
#include <exception>
#include <string>

#include <hfx/auto.h>
#include <hfx/error.h>
#include <hfx/io.h>
#include <hfx/model.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <model dir with inputs.safetensors and outputs.safetensors>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  try {
    auto model = hfx::AutoModel::from_pretrained(dir);
    auto inputs = hfx::open_safetensors(dir + "/inputs.safetensors");
    hfx::ModelInputs in;
    in.input_ids = inputs->get("input_ids");
    if (inputs->contains("attention_mask")) in.attention_mask = inputs->get("attention_mask");
    if (inputs->contains("token_type_ids")) in.token_type_ids = inputs->get("token_type_ids");
    const hfx::Outputs out = model->forward(in);

    auto want = hfx::open_safetensors(dir + "/outputs.safetensors");
    const hfx::Tensor& got = out.get("last_hidden_state");
    const double diff = hfx::max_abs_diff(got, want->get("last_hidden_state"));
    std::printf("%s: last_hidden_state [%lld, %lld, %lld], max |hfx - transformers| = %.3g\n",
                model->class_name().c_str(), static_cast<long long>(got.size(0)),
                static_cast<long long>(got.size(1)), static_cast<long long>(got.size(2)), diff);
    return diff <= 1e-5 ? 0 : 1;
  } catch (const hfx::Error& e) {
    std::fprintf(stderr, "hfx error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
