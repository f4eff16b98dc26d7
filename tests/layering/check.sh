#!/usr/bin/env bash
# Usage: check.sh <c++ compiler> <include_dirs.txt> <source dir>
# include_dirs.txt: one "<target>=<dir>:<dir>..." line per layer (and cli), the
# include path the build gives that target (tests/layering/CMakeLists.txt).
set -uo pipefail
cxx="$1" dirs_file="$2" src="$3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0

flags_of() {  # the -I flags of one target
  local line
  line="$(grep "^$1=" "$dirs_file")" || { echo "layering: no include path for $1" >&2; exit 2; }
  local IFS=:
  for d in ${line#*=}; do [ "$d" = /usr/include ] || printf -- '-I%s\n' "$d"; done
}

# probe <target> <header> <ok|fail>: compile `#include "<header>"` as a file of <target>.
probe() {
  local target="$1" header="$2" want="$3" rc=0
  local -a flags
  mapfile -t flags < <(flags_of "$target")
  printf '#include "%s"\n' "$header" >"$work/probe.cc"
  "$cxx" -std=c++20 -fsyntax-only "${flags[@]}" "$work/probe.cc" >"$work/log" 2>&1 || rc=$?
  if [ "$want" = ok ] && [ "$rc" -ne 0 ]; then
    echo "layering: FAIL: $target including $header should compile:"; head -n 20 "$work/log"; failed=1
  elif [ "$want" = fail ] && [ "$rc" -eq 0 ]; then
    echo "layering: FAIL: $target including $header compiled; the layer must not see it"; failed=1
  elif [ "$want" = fail ] && ! grep -qiE 'no such file|file not found' "$work/log"; then
    echo "layering: FAIL: $target including $header failed for another reason:"; head -n 20 "$work/log"; failed=1
  else
    echo "layering: ok: $target including $header: $([ "$want" = ok ] && echo compiles || echo refused)"
  fi
}

# Right includes (the probe works): a layer and the layers under it.
probe models nn/layers.h ok
probe naming io/zip.h ok
probe pretrained hub/protocol.h ok
probe cli hfx/auto.h ok
probe cli cli/text.h ok
# Wrong includes: each must fail to compile.
probe models io/zip.h fail             # models -> io
probe models kernels/cpu/ops.h fail    # models -> kernels (nn/ is the door)
probe models nn/backend.h fail         # nn's kernel mapping is for nn/ alone
probe io models/bert.h fail            # io -> models
probe pretrained cli/text.h fail       # library -> cli
probe hub pretrained/load_internal.h fail  # hub -> pretrained (push_to_hub(Model) lives in pretrained/)
probe core nn/layers.h fail            # core -> nn
probe kernels nn/layers.h fail         # kernels -> nn
probe tokenize io/zip.h fail           # tokenize -> io
probe cli naming/naming.h fail         # cli -> private headers
probe cli hub/protocol.h fail

# Quote includes also search the including file's own folder, so "../io/zip.h"
# would walk around the include roots: refused outright.
if grep -rnE '#[[:space:]]*include[[:space:]]*"\.\./' "$src/src" "$src/include"; then
  echo "layering: FAIL: relative includes above (include private headers as \"<layer>/<file>.h\")"; failed=1
fi
exit "$failed"
