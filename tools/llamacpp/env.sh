#!/usr/bin/env bash
# Create (idempotently) the small venv with llama-cpp-python (llama.cpp built from source; slow the first time) that tests/gguf_test.cc runs hfx-written GGUF files with.
# Location: $HFX_LLAMACPP_VENV, else ${XDG_CACHE_HOME:-$HOME/.cache}/hfx/llamacpp-venv-<sha256(requirements.txt)[:12]>;
# tools/llamacpp/.venv is made a symlink to it. The last stdout line is the venv's python.
set -euo pipefail
# llama.cpp for any x86-64 (no -march=native), the library only, no OpenMP; a 2-core build by default.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DGGML_OPENMP=OFF}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../../scripts/lib.sh"
req="$here/requirements.txt"
hash="$(hfx_file_hash "$req")"
venv="${HFX_LLAMACPP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hfx/llamacpp-venv-$hash}"
setup() {
    # The build is bounded (HFX_LLAMACPP_BUILD_TIMEOUT seconds, default 1500): on a fresh 2-core machine it takes
    # ~20-30 minutes, and CI must stay inside its 90; when it does not finish, the GgufLlamaCpp tests skip and the
    # next run tries again (no stamp).
    timeout "${HFX_LLAMACPP_BUILD_TIMEOUT:-1500}" "$1" -m pip install -q --disable-pip-version-check --no-deps -r "$req" >&2
    "$1" -c 'import llama_cpp' >&2
}
hfx_cached_venv "$venv" "$hash" python3 setup
ln -sfn "$venv" "$here/.venv"
echo "$venv/bin/python"
