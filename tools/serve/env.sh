#!/usr/bin/env bash
# Create (idempotently) the small venv with the pinned `openai` client and schemathesis that tests/serve_test.cc
# drives hfx serve with.
# Location: $HFX_SERVE_VENV, else ${XDG_CACHE_HOME:-$HOME/.cache}/hfx/serve-venv-<sha256(requirements.txt)[:12]>;
# tools/serve/.venv is made a symlink to it. The last stdout line is the venv's python.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../../scripts/lib.sh"
req="$here/requirements.txt"
hash="$(hfx_file_hash "$req")"
venv="${HFX_SERVE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hfx/serve-venv-$hash}"
setup() {
    hfx_pip "$1" --no-deps -r "$req"
    "$1" -c 'import openai, schemathesis, selenium' >&2
}
hfx_cached_venv "$venv" "$hash" python3 setup
ln -sfn "$venv" "$here/.venv"
echo "$venv/bin/python"
