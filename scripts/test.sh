#!/usr/bin/env bash
# The test command (README; .ci/run calls exactly this): installs what is
# missing, then builds and runs every test in the release build and in the
# ASan+UBSan build, and runs each fuzz target briefly.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
# The pinned Python env (transformers 4.46, torch, TF, Flax) that checks files
# hfx writes load in the real frameworks; cached between runs on one machine.
tools/fixtures/env.sh >/dev/null
export HFX_FIXTURE_PYTHON="$root/tools/fixtures/.venv/bin/python"
# The pinned OpenAI Python client that drives `hfx serve` (a small venv, seconds to create).
tools/serve/env.sh >/dev/null
# The pinned `gguf` package (llama.cpp gguf-py) that writes reference GGUF files (tests/gguf_test.cc).
tools/gguf/env.sh >/dev/null
# llama-cpp-python, built from source by pip the first time (minutes; cached by its pin): the GgufLlamaCpp tests
# skip when it could not be built, the rest of the run does not depend on it.
tools/llamacpp/env.sh >/dev/null || echo "test.sh: llama-cpp-python could not be built; Fixtures/GgufLlamaCpp.* will skip" >&2
# Every test runs in both builds. Tests carry CTest labels (unit, parity,
# python, hub, slow: tests/labels.cmake, tests/README.md): the count per label
# is printed first, and each ctest run ends with its "Label Time Summary" and
# the list of skipped tests, so the Python and slow tests stay visible.
label_counts() {
  local l out=""
  for l in unit parity python hub slow; do
    out+="$l $(ctest --test-dir "$1" -N -L "^$l\$" | sed -n 's/^Total Tests: //p')  "
  done
  echo "CTest tests per label (unit: one per gtest suite): $out"
}
echo "== release build + tests"
scripts/build.sh release
label_counts build
ctest --test-dir build --output-on-failure -j 2
echo "== C++ package: install, examples/cpp via find_package(hfx) and pkg-config"
scripts/examples.sh build
echo "== Python package: pip install . (wheel, ccache), pytest python/tests against transformers"
scripts/python_tests.sh >/dev/null
echo "== pip install . (build isolation) into the pinned Ray env; examples/ray on a local two-node Ray cluster"
scripts/ray_tests.sh
echo "== ASan + UBSan build + tests"
scripts/build.sh asan
label_counts build-asan
# allocator_may_return_null: a size libhdf5 reads from a hostile file and asks
# malloc for (e.g. 0x5555555555555555 bytes) gets NULL, as it does without ASan,
# and libhdf5's error reaches hfx as a typed error; libhdf5's own leak on that
# path is suppressed (tests/lsan_suppressions.txt).
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 LSAN_OPTIONS="suppressions=$root/tests/lsan_suppressions.txt" \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --test-dir build-asan --output-on-failure -j 2
echo "== fuzz targets (fixed seed, the run counts of fuzz/runs.txt: about 60 s each on CI's machine)"
scripts/fuzz.sh
