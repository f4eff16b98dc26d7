#!/usr/bin/env bash
# Usage: links.sh <objects.txt> <deps.txt>
# The layers' calls, from their object files: every hfx symbol a layer uses
# must be defined in that layer or in one listed under it (deps.txt, from
# cmake/layers.cmake). This catches what include roots cannot: a call into a
# higher layer through a public header (include/hfx is visible to every layer).
# objects.txt: "<layer>=<obj>:<obj>..."; deps.txt: "<layer>=<layer> <layer>...".
set -uo pipefail
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
