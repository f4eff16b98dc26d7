#!/usr/bin/env bash
# The Ray example's CI stage (examples/ray): a venv with the pinned Ray (examples/ray/requirements.txt),
# made once under ~/.cache/hfx keyed by that file's hash, sees the hfx package that scripts/python_tests.sh
# installed (a link to it, so nothing is built twice); then check_embed_corpus.py runs embed_corpus.py on a
# local two-node Ray cluster and checks every row against the single-process result.
# Usage: scripts/ray_tests.sh [PYTHON_WITH_HFX]   (default: the venv scripts/python_tests.sh prints)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ $# -ge 1 ]; then
  hfx_python="$1"; shift
else  # builds / installs the package if needed (pytest only collects)
  hfx_python="$(scripts/python_tests.sh --collect-only -q 2>/dev/null | tail -n 1)"
fi
req="$root/examples/ray/requirements.txt"
base_python="$(command -v python3)"
hash="$(cat "$req" <("$base_python" --version) | sha256sum | cut -c1-12)"
venv="${HFX_RAY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hfx/ray-venv-$hash}"
stamp="$venv/.hfx-installed-$hash"
if [ ! -f "$stamp" ]; then
  echo "ray_tests.sh: creating $venv" >&2
  [ -x "$venv/bin/python" ] || "$base_python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
  touch "$stamp"
fi
# The built hfx package, linked into a folder of its own on the Ray venv's path (not the whole site-packages of
# the test venv, whose numpy / pyarrow differ from Ray's pins).
pkg="$("$hfx_python" -c 'import hfx, os; print(os.path.dirname(hfx.__file__))')"
link="$venv/hfx-link"
mkdir -p "$link"
ln -sfn "$pkg" "$link/hfx"
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$link" > "$site/hfx_link.pth"
start=$SECONDS
"$venv/bin/python" examples/ray/check_embed_corpus.py "$root/tests/fixtures/sentence/bert-mean-norm" "$@"
echo "ray_tests.sh: two-node Ray check passed in $((SECONDS - start)) s" >&2
