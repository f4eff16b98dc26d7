#!/usr/bin/env bash
# Configures and builds hfx. Usage: scripts/build.sh [release|asan] (default release).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kind="${1:-release}"
case "$kind" in
  release) dir="$root/build" ; flags=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan)    dir="$root/build-asan" ; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DHFX_SANITIZE=ON -DHFX_BUILD_BENCH=OFF -DHFX_BUILD_SHARED=OFF) ;;
  *) echo "usage: $0 [release|asan]" >&2; exit 2 ;;
esac
# ccache (when installed) keeps objects across build trees and worktrees of one
# machine; base_dir makes its keys independent of where the checkout lies.
if command -v ccache >/dev/null 2>&1; then
  flags+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$root")}" CCACHE_NOHASHDIR=1  # as hfx_ccache_env (scripts/lib.sh)
fi
cmake -S "$root" -B "$dir" -G Ninja "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
echo "$dir"
