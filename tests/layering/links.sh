#!/usr/bin/env bash
# Usage: links.sh <objects.txt> <deps.txt>
# The layers' calls, from their object files: every hfx symbol a layer uses
# must be defined in that layer or in one listed under it (deps.txt, from
# cmake/layers.cmake). This catches what include roots cannot: a call into a
# higher layer through a public header (include/hfx is visible to every layer).
# objects.txt: "<layer>=<obj>:<obj>..."; deps.txt: "<layer>=<layer> <layer>...".
# links.sh --self-test <c++>: shows the check catches a call upwards (a "lo"
# layer calling a function of "hi") and passes the same objects with "hi" allowed.
set -uo pipefail
if [ "${1:-}" = --self-test ]; then
  t="$(mktemp -d)"
  trap 'rm -rf "$t"' EXIT
  printf 'namespace hfx { int hi_fn() { return 1; } }\n' >"$t/hi.cc"
  printf 'namespace hfx { int hi_fn(); int lo_fn() { return hi_fn(); } }\n' >"$t/lo.cc"
  "$2" -c "$t/hi.cc" -o "$t/hi.o" && "$2" -c "$t/lo.cc" -o "$t/lo.o" || exit 2
  printf 'hi=%s\nlo=%s\n' "$t/hi.o" "$t/lo.o" >"$t/objects.txt"
  printf 'hi=\nlo=\n' >"$t/wrong.txt"
  printf 'hi=\nlo=hi\n' >"$t/right.txt"
  if "$0" "$t/objects.txt" "$t/wrong.txt" >"$t/log" 2>&1 || ! grep -q 'lo calls into hi' "$t/log"; then
    echo "layering: FAIL: links.sh did not catch lo -> hi:"; cat "$t/log"; exit 1
  fi
  "$0" "$t/objects.txt" "$t/right.txt" || { echo "layering: FAIL: links.sh refused an allowed call"; exit 1; }
  echo "layering: links.sh catches a call upwards (lo -> hi) and allows it when hi is under lo"
  exit 0
fi
objects="$1" deps="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
while IFS='=' read -r layer objs; do
  [ -n "$layer" ] || continue
  IFS=: read -r -a files <<<"$objs"
  # Strong definitions (text, data, bss, read-only); weak ones (inline functions,
  # templates) are emitted wherever they are used.
  nm -g --defined-only "${files[@]}" 2>/dev/null | awk 'NF==3 && $2 ~ /^[TDBR]$/ {print $3}' | sort -u >"$work/$layer.def"
  nm -g --undefined-only "${files[@]}" 2>/dev/null | awk '$1=="U" {print $2}' | sort -u >"$work/$layer.und"
done <"$objects"
failed=0
while IFS='=' read -r layer allowed; do
  [ -n "$layer" ] || continue
  # Symbols other layers define that this one uses.
  for other in "$work"/*.def; do
    o="$(basename "$other" .def)"
    [ "$o" = "$layer" ] && continue
    case " $allowed " in *" $o "*) continue ;; esac
    comm -12 "$work/$layer.und" "$other" >"$work/bad"
    if [ -s "$work/bad" ]; then
      echo "layering: FAIL: $layer calls into $o (not under it):"
      c++filt <"$work/bad" | head -n 10 | sed 's/^/  /'
      failed=1
    fi
  done
done <"$deps"
[ "$failed" -eq 0 ] && echo "layering: every layer calls only itself and the layers under it"
exit "$failed"
