#!/usr/bin/env bash
# Creates (idempotently) the Python venv bench/run.sh uses for the peers:
# ${XDG_CACHE_HOME:-$HOME/.cache}/hfx/bench-venv-<sha256(bench/requirements.txt + fixture venv)[:12]>.
# It layers bench/requirements.txt (pinned, --no-deps) over the fixture venv
# (tools/fixtures/env.sh: torch, transformers, TF, Flax), which it sees through a
# .pth file, so nothing in tools/fixtures is changed. Last stdout line: its python.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
fixture_py="$(bash "$root/tools/fixtures/env.sh" | tail -n1)"
fixture_site="$("$fixture_py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
req="$here/requirements.txt"
hash="$( (cat "$req"; echo "$fixture_site") | python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:12])')"
venv="${HFX_BENCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hfx/bench-venv-$hash}"
stamp="$venv/.hfx-installed-$hash"
if [ ! -f "$stamp" ]; then
    echo "bench/env.sh: creating $venv" >&2
    mkdir -p "$(dirname "$venv")"
    [ -x "$venv/bin/python" ] || "$(readlink -f "$fixture_py" | xargs dirname)/python3" -m venv "$venv" 2>/dev/null || python3 -m venv "$venv"
    site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$fixture_site" > "$site/hfx_fixture_venv.pth"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$req" >&2
    "$venv/bin/python" -c 'import torch, transformers, ctranslate2, onnxruntime, onnx' >&2
    touch "$stamp"
fi
echo "$venv/bin/python"
