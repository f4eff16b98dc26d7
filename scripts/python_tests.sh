#!/usr/bin/env bash
# The Python package's CI stage: builds the wheel (`pip install .`, scikit-build-core
# driving the CMake build in ./build-python with ccache) into a venv layered on the
# fixture env (transformers 4.46.3 & co. visible through a .pth file, so that env is
# neither copied nor changed), then runs pytest on python/tests.
# Usage: scripts/python_tests.sh [pytest args...]. Prints the venv's python last.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
fixture_python="$(tools/fixtures/env.sh | tail -n 1)"
req="$root/python/requirements-dev.txt"
hash="$(cat "$req" <(echo "$fixture_python") | sha256sum | cut -c1-12)"
venv="${HFX_PYTHON_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hfx/python-venv-$hash}"
stamp="$venv/.hfx-installed-$hash"
if [ ! -f "$stamp" ]; then
  echo "python_tests.sh: creating $venv" >&2
  [ -x "$venv/bin/python" ] || "$fixture_python" -m venv "$venv"
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  "$fixture_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' > "$site/hfx_fixture_env.pth"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
  touch "$stamp"
fi
py="$venv/bin/python"
# Same ccache keys as scripts/build.sh: paths relative to the folder above the checkout, and the compiler
# CMake picks there (cc / c++; a Python build may otherwise name g++, which ccache keys apart).
export CC="${CC:-cc}" CXX="${CXX:-c++}"
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$root")}" CCACHE_NOHASHDIR=1
fi
start=$SECONDS
# --no-build-isolation: the pinned scikit-build-core / pybind11 of the venv (no download per run).
"$py" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps "$root" >&2
echo "python_tests.sh: wheel built and installed in $((SECONDS - start)) s" >&2
HFX_FIXTURE_PYTHON="$fixture_python" "$py" -m pytest -q -p no:cacheprovider "$root/python/tests" "$@" >&2
echo "$py"
