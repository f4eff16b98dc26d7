#!/usr/bin/env bash
# The Python package's CI stage: builds the wheel (`pip install .`, scikit-build-core
# driving the CMake build in ./build-python with ccache) into a venv layered on the
# fixture env (transformers 4.46.3 & co. visible through a .pth file, so that env is
# neither copied nor changed), then runs pytest on python/tests.
# Usage: scripts/python_tests.sh [pytest args...]. Prints the venv's python last.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
. scripts/lib.sh
fixture_python="$(tools/fixtures/env.sh | tail -n 1)"
req="$root/python/requirements-dev.txt"
hash="$(cat "$req" <(echo "$fixture_python") | sha256sum | cut -c1-12)"
venv="${HFX_PYTHON_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hfx/python-venv-$hash}"
setup() {
  hfx_layer_site "$1" "$fixture_python"
  hfx_pip "$1" -r "$req"
}
hfx_cached_venv "$venv" "$hash" "$fixture_python" setup
py="$venv/bin/python"
hfx_ccache_env "$root"  # the same ccache keys as scripts/build.sh
start=$SECONDS
# --no-build-isolation: the pinned scikit-build-core / pybind11 of the venv (no download per run).
"$py" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps "$root" >&2
echo "python_tests.sh: wheel built and installed in $((SECONDS - start)) s" >&2
HFX_FIXTURE_PYTHON="$fixture_python" "$py" -m pytest -q -p no:cacheprovider "$root/python/tests" "$@" >&2
echo "$py"
