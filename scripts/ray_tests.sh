#!/usr/bin/env bash
# The Ray example's CI stage (examples/ray): a venv with the pinned Ray (examples/ray/requirements.txt),
# made once under ~/.cache/hfx keyed by that file's hash; hfx is installed into it with a plain `pip install .`
# (build isolation, as from a fresh clone); check_embed_corpus.py then checks that install against
# sentence-transformers' reference embeddings and runs embed_corpus.py on a local two-node Ray cluster, every row
# checked against the single-process result.
# Usage: scripts/ray_tests.sh [check_embed_corpus.py args]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
. scripts/lib.sh
req="$root/examples/ray/requirements.txt"
base_python="$(command -v python3)"
hash="$(cat "$req" <("$base_python" --version) | sha256sum | cut -c1-12)"
venv="${HFX_RAY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hfx/ray-venv-$hash}"
hfx_cached_venv "$venv" "$hash" "$base_python" hfx_pip -r "$req"
# hfx goes in as a user installs it: `pip install .` with build isolation (scikit-build-core and pybind11 fetched
# into pip's isolated build env, pinned by PIP_CONSTRAINT to the versions python/requirements-dev.txt names), in
# its own build folder beside ./build (ccache keys match, so only what differs is compiled).
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
grep -E '^(scikit_build_core|pybind11)==' python/requirements-dev.txt | sed 's/^scikit_build_core/scikit-build-core/' > "$constraints"
hfx_ccache_env "$root"
start=$SECONDS
PIP_CONSTRAINT="$constraints" "$venv/bin/python" -m pip install -q --disable-pip-version-check \
  -C build-dir=build-pyray "$root" >&2
echo "ray_tests.sh: pip install . (build isolation) in $((SECONDS - start)) s" >&2
start=$SECONDS
"$venv/bin/python" examples/ray/check_embed_corpus.py "$root/tests/fixtures/sentence/bert-mean-norm" "$@"
echo "ray_tests.sh: two-node Ray check passed in $((SECONDS - start)) s" >&2
