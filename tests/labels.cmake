# CTest labels and timeouts of the GoogleTest cases in hfx_tests
# (tests/README.md "Labels" says how to run each label and how to label a new test).
#
# hfx_test_label(LABELS <label>... TIMEOUT <s> PATTERNS <gtest pattern>...)
#   A pattern is a --gtest_filter wildcard on the *gtest* name: "Suite.Test",
#   "Suite.*", and for a parameterized suite "Prefix/Suite.*" (e.g. "Fixtures/Parity.*").
#   A test takes the labels of the FIRST call below whose pattern matches it;
#   a test that no pattern matches is `unit` (one CTest test per suite, timeout 120 s). So a new
#   tests/*_test.cc is `unit` until it is listed here: list it when it starts
#   Python, a server or a subprocess that runs for seconds, or compares with
#   the transformers fixtures.
#
# Labels: unit      fast, no Python, no network server (ctest -L unit: the inner loop)
#         parity    outputs compared with what the real transformers / tokenizers produced
#         python    starts the pinned Python env (tools/fixtures/.venv): check_written.py, torch.load, huggingface_hub
#         hub       against tests/hub_server.py (a local HTTP server in Python)
#         slow      seconds each: SIGKILL loops, large tensors / peak-RSS checks, the framework checks

hfx_test_label(LABELS hub python TIMEOUT 300 PATTERNS
  "Hub.*")

hfx_test_label(LABELS python slow TIMEOUT 600 PATTERNS
  "Export.RoundTripsAndTheRealFrameworksLoadTheResult"  # TF + Flax + torch load what hfx export wrote
  "FlaxWriter.CheckedByFlax"
  "H5Written.*"
  "Save.SingleFileRoundTripAndConfig"
  "Save.ShardedRoundTripThenSingleAgain")

# GGUF (tests/gguf_test.cc): files written by the pinned `gguf` package (tools/gguf/env.sh), loaded by hfx.
hfx_test_label(LABELS python parity TIMEOUT 300 PATTERNS
  "Fixtures/GgufPython.*" "GgufPython.*")
hfx_test_label(LABELS parity TIMEOUT 300 PATTERNS
  "Fixtures/GgufRoundTrip.*")
hfx_test_label(LABELS python slow TIMEOUT 600 PATTERNS
  "Fixtures/GgufLlamaCpp.*")   # llama-cpp-python (tools/llamacpp/env.sh) runs hfx-written GGUF files

hfx_test_label(LABELS python TIMEOUT 300 PATTERNS
  "TorchZip.TorchLoadsWriterOutput"
  "TorchZip.Zip64RecordsRoundTrip")

hfx_test_label(LABELS slow TIMEOUT 600 PATTERNS
  "KillSave.*"                                            # SIGKILLs 1,200+ saves
  "QuantizeInt8.*" "QuantizeBf16.*"                       # every fixture case, 200 random inputs each in int8
  "ConvertStream.SameBytesAsLoadThenWriteForEveryFixtureFormat"  # every fixture format, streamed
  "Loading.ZeroCopyPeakRss")                              # peak RSS of a large checkpoint

hfx_test_label(LABELS parity TIMEOUT 300 PATTERNS
  "Fixtures/Parity.*" "Parity.*" "Fixtures/ParityDtype.*"
  "Fixtures/ZooExtra.*" "ZooExtra.*" "ZooGenerate.*" "ZooApi.*"
  "Fixtures/Generate.*"
  "Fixtures/H5Parity.*" "H5Parity.*" "Fixtures/H5ParitySharded.*"
  "Fixtures/FlaxParity.*" "Fixtures/FlaxParitySharded.*" "FlaxFixtures.*"
  "Fixtures/TorchParity.*"
  "Fixtures/Api.*" "Fixtures/ApiPrune.*"
  "LoadingInfoParity.*"
  "Kinds/TokenizerJson.*" "Kinds/TokenizerLegacy.*"
  "Disentangled.RelativePositionsMatchTransformers")   # DeBERTa-v2 buckets vs build_relative_position

# Chat templates (tests/chat_template_test.cc) against transformers 4.46.3's renders (tools/fixtures/chat_templates.py).
hfx_test_label(LABELS parity TIMEOUT 300 PATTERNS
  "ChatTemplate.RealTemplatesRenderAsTransformers" "ChatTemplate.SnippetsRenderAsJinja2")

# hfx serve (tests/serve_test.cc): a real HTTP server on 127.0.0.1 (in-process, and the CLI as a subprocess
# for SIGTERM), driven by libcurl; a few seconds in all (batch windows, the drain).
hfx_test_label(LABELS python TIMEOUT 300 PATTERNS
  "Serve.OpenAIPythonClient")   # the pinned openai client (tools/serve/env.sh)
hfx_test_label(LABELS python slow TIMEOUT 600 PATTERNS
  "Serve.SchemathesisFindsNoFault"   # pinned schemathesis (tools/serve/env.sh) on four servers, ~2 min
  "Serve.PageWorksInChromium")       # GET / in Debian's headless chromium, pinned Selenium, ~20 s
hfx_test_label(LABELS parity TIMEOUT 300 PATTERNS
  "Serve.EmbedMatchesSentenceTransformersReference")   # /embed against sentence-transformers' expected.json
hfx_test_label(LABELS parity TIMEOUT 300 PATTERNS   # against the fixtures' outputs
  "Decoders.Gemma2WindowAndSoftcapsAreApplied" "Decoders.RouterLogitsFollowTheConfig"
  "Decoders.FalconAlibiTakesTheReferencePath")
hfx_test_label(LABELS parity TIMEOUT 300 PATTERNS   # labels -> loss against tools/fixtures/losses.py's references
  "Losses.*")
hfx_test_label(LABELS slow TIMEOUT 300 PATTERNS
  "Serve.*")
