#!/usr/bin/env bash
# Creates (idempotently) the Python venv bench/run.sh uses for the peers:
# ${XDG_CACHE_HOME:-$HOME/.cache}/hfx/bench-venv-<sha256(bench/requirements.txt + fixture venv)[:12]>.
# It layers bench/requirements.txt (pinned, --no-deps) over the fixture venv
# (tools/fixtures/env.sh: torch, transformers, TF, Flax), which it sees through a
# .pth file, so nothing in tools/fixtures is changed. Last stdout line: its python.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
. "$root/scripts/lib.sh"
fixture_py="$(bash "$root/tools/fixtures/env.sh" | tail -n1)"
fixture_site="$("$fixture_py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
req="$here/requirements.txt"
hash="$( (cat "$req"; echo "$fixture_site") | python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:12])')"
venv="${HFX_BENCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hfx/bench-venv-$hash}"
setup() {
    hfx_layer_site "$1" "$fixture_py"
    hfx_pip "$1" --no-deps -r "$req"
    "$1" -c 'import torch, transformers, ctranslate2, onnxruntime, onnx' >&2
}
base_py="$(readlink -f "$fixture_py" | xargs dirname)/python3"  # the fixture env's interpreter, as its site needs
[ -x "$base_py" ] || base_py=python3
hfx_cached_venv "$venv" "$hash" "$base_py" setup
echo "$venv/bin/python"
