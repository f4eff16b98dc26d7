#!/usr/bin/env bash
# Builds every libFuzzer target with clang (ASan + UBSan) and runs each on its
# seed corpus (fuzz/corpus/<name>/), then replays the malformed corpus. Exits
# non-zero on any finding.
# By default each target runs the fixed number of inputs fuzz/runs.txt gives it,
# with libFuzzer's seed fixed (FUZZ_SEED, default 1): the same code and corpus
# then replay the same mutations on any machine, so CI re-checks exactly what was
# checked clean here, however fast its machine is (a time limit let CI's faster
# machine run inputs no local check had, stop 18). FUZZ_SECONDS=N runs each
# target N seconds instead (exploring, with FUZZ_SEED=0 for a fresh seed;
# findings go into the corpus and get fixed). FUZZ_RUNS_SCALE multiplies the
# counts (a longer deterministic run; CI uses 1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
secs="${FUZZ_SECONDS:-}"
scale="${FUZZ_RUNS_SCALE:-1}"
seed="${FUZZ_SEED:-1}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DHFX_BUILD_FUZZ=ON -DHFX_SANITIZE=ON -DHFX_BUILD_TESTS=OFF -DHFX_BUILD_BENCH=OFF -DHFX_BUILD_SHARED=OFF >/dev/null
cmake --build "$build" >/dev/null
# Targets run FUZZ_JOBS at a time (default: one per CPU), each on its own
# copy of its corpus; each one's output is printed when it ends.
jobs_max="${FUZZ_JOBS:-$(nproc)}"
run_one() {
  local src="$1" name corpus work log rc=0
  name="$(basename "$src" .cc)"
  corpus="$root/fuzz/corpus/${name%_fuzz}"
  work="$(mktemp -d)"
  log="$work.log"
  cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  if [ -f "$root/fuzz/${name%_fuzz}.replay-only" ]; then
    # Mutation finds hangs inside a third-party library we cannot fix here
    # (see the .replay-only file): replay the seeds and the malformed corpus only.
    echo "fuzz: $name replaying its corpus ($(head -1 "$root/fuzz/${name%_fuzz}.replay-only"))" >"$log"
    "$build/fuzz/$name" -runs=0 -rss_limit_mb=2048 -timeout=10 "$work" >>"$log" 2>&1 || rc=$?
  else
    local limit
    if [ -n "$secs" ]; then
      limit=(-max_total_time="$secs")
      echo "fuzz: $name for ${secs}s (seed $seed)" >"$log"
    else
      local runs
      runs="$(awk -v n="${name%_fuzz}" '$1 == n { print $2 }' "$root/fuzz/runs.txt")"
      if [ -z "$runs" ]; then
        echo "fuzz: $name has no line in fuzz/runs.txt"
        return 1
      fi
      runs=$((runs * scale))
      # The time cap only guards against a target that has become very slow; a count is the contract.
      limit=(-runs="$runs" -max_total_time=1800)
      echo "fuzz: $name for $runs runs (seed $seed)" >"$log"
    fi
    "$build/fuzz/$name" -seed="$seed" "${limit[@]}" -rss_limit_mb=2048 -timeout=10 "$work" >>"$log" 2>&1 || rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log"
    echo "fuzz: FINDING in $name (exit $rc)"
  else
    head -n 1 "$log"
    grep -E '^Done [0-9]+ runs' "$log" || tail -n 1 "$log"
  fi
  rm -rf "$work" "$log"
  return "$rc"
}
pids=()
for src in "$root"/fuzz/*_fuzz.cc; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  run_one "$src" &
  pids+=("$!")
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: findings (see above)"
  exit 1
fi
echo "fuzz: all targets ran without findings"
