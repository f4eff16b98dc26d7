#!/usr/bin/env bash
# Create (idempotently) the small venv with the pinned `gguf` package (llama.cpp gguf-py) that tests/gguf_test.cc writes reference files with.
# Location: $HFX_GGUF_VENV, else ${XDG_CACHE_HOME:-$HOME/.cache}/hfx/gguf-venv-<sha256(requirements.txt)[:12]>;
# tools/gguf/.venv is made a symlink to it. The last stdout line is the venv's python.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../../scripts/lib.sh"
req="$here/requirements.txt"
hash="$(hfx_file_hash "$req")"
venv="${HFX_GGUF_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hfx/gguf-venv-$hash}"
setup() {
    hfx_pip "$1" --no-deps -r "$req"
    "$1" -c 'import gguf, numpy' >&2
}
hfx_cached_venv "$venv" "$hash" python3 setup
ln -sfn "$venv" "$here/.venv"
echo "$venv/bin/python"
