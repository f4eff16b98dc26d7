#!/usr/bin/env bash
# Configures and builds hfx. Usage: scripts/build.sh [release|asan] (default release).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kind="${1:-release}"
case "$kind" in
  release) dir="$root/build" ; flags=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan)    dir="$root/build-asan" ; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DHFX_SANITIZE=ON -DHFX_BUILD_BENCH=OFF) ;;
  *) echo "usage: $0 [release|asan]" >&2; exit 2 ;;
esac
cmake -S "$root" -B "$dir" -G Ninja "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
echo "$dir"
