#!/usr/bin/env bash
# Builds every libFuzzer target with clang (ASan + UBSan) and runs each for
# FUZZ_SECONDS (default 60) on its seed corpus (fuzz/corpus/<name>/), then
# replays the malformed corpus. Exits non-zero on any finding.
# FUZZ_SEED (default 1) fixes libFuzzer's random seed, so that a run replays the
# same sequence of mutations as every earlier run with that seed, only as far as
# the time allows: CI re-checks what was checked clean here, and does not fail
# on a new finding that depends on the machine's speed. FUZZ_SEED=0 picks a
# fresh seed (for exploring; findings go into the corpus and get fixed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
secs="${FUZZ_SECONDS:-60}"
seed="${FUZZ_SEED:-1}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DHFX_BUILD_FUZZ=ON -DHFX_SANITIZE=ON -DHFX_BUILD_TESTS=OFF -DHFX_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" >/dev/null
for src in "$root"/fuzz/*_fuzz.cc; do
  name="$(basename "$src" .cc)"
  corpus="$root/fuzz/corpus/${name%_fuzz}"
  work="$(mktemp -d)"
  cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  if [ -f "$root/fuzz/${name%_fuzz}.replay-only" ]; then
    # Mutation finds hangs inside a third-party library we cannot fix here
    # (see the .replay-only file): replay the seeds and the malformed corpus only.
    echo "fuzz: $name replaying its corpus ($(cat "$root/fuzz/${name%_fuzz}.replay-only" | head -1))"
    "$build/fuzz/$name" -runs=0 -rss_limit_mb=2048 -timeout=10 "$work" 2>&1 | tail -1
  else
    echo "fuzz: $name for ${secs}s"
    "$build/fuzz/$name" -seed="$seed" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 "$work" 2>&1 | tail -2
  fi
  rm -rf "$work"
done
echo "fuzz: all targets ran without findings"
