#!/usr/bin/env bash
# The C++ package as a user gets it: installs the release build (scripts/build.sh
# release) into a temporary prefix, then builds examples/cpp against it three
# ways (find_package(hfx) with the shared library, with the static one, and
# pkg-config) and runs each on a fixture model (outputs within 1e-5 of
# transformers'). Usage: scripts/examples.sh [build dir] (default ./build).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
model="$root/tests/fixtures/bert/tiny/BertModel"
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

echo "== examples/cpp: find_package(hfx), shared"
cmake -S "$root/examples/cpp" -B "$work/shared" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" "${launcher[@]}" >/dev/null
cmake --build "$work/shared" >/dev/null
"$work/shared/hfx_example" "$model"
# The executable must use the installed libhfx.so (SONAME libhfx.so.<major>.<minor>).
ldd "$work/shared/hfx_example" | grep -q "$prefix/lib/libhfx.so" || { echo "examples: not linked to $prefix's libhfx.so"; exit 1; }

echo "== examples/cpp: find_package(hfx COMPONENTS static)"
cmake -S "$root/examples/cpp" -B "$work/static" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DHFX_EXAMPLE_STATIC=ON \
  "${launcher[@]}" >/dev/null
cmake --build "$work/static" >/dev/null
"$work/static/hfx_example" "$model"
if ldd "$work/static/hfx_example" | grep -q libhfx; then echo "examples: the static example links libhfx.so"; exit 1; fi

echo "== examples/cpp: pkg-config"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# shellcheck disable=SC2046
c++ -std=c++20 -O1 "$root/examples/cpp/main.cc" -o "$work/pc_example" $(pkg-config --cflags --libs hfx) \
  -Wl,-rpath,"$(pkg-config --variable=libdir hfx)"
"$work/pc_example" "$model"

echo "== installed CLI"
"$prefix/bin/hfx" --help >/dev/null
echo "examples: ok"
