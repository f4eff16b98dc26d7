#!/usr/bin/env bash
# Usage: exports.sh <libhfx.so>
# libhfx.so is built with hidden visibility and exports only what include/hfx/
# marks HFX_API (hfx/export.h): no function of a private layer's namespace
# (hfx::cpu, hfx::nn, hfx::models, hfx::tok, ...) may be a dynamic symbol, and
# the public API must be (a few names every user calls).
set -uo pipefail
lib="$1"
syms="$(nm -D --defined-only "$lib" | c++filt)" || { echo "exports: cannot read $lib"; exit 2; }
failed=0
leaked="$(grep -E '^[0-9a-f]+ [A-Za-z] (hfx::(cpu|nn|models|tok|naming|io|h5|hub|pretrained|cli)::)' <<<"$syms")"
if [ -n "$leaked" ]; then
  echo "exports: FAIL: private symbols exported by $lib:"; head -n 20 <<<"$leaked"; failed=1
fi
for want in 'hfx::AutoModel::from_pretrained' 'hfx::open_safetensors' 'hfx::Tensor::' 'typeinfo for hfx::Error' 'hfx::max_abs_diff'; do
  grep -qF "$want" <<<"$syms" || { echo "exports: FAIL: $lib does not export $want"; failed=1; }
done
echo "exports: $(wc -l <<<"$syms") dynamic symbols, $(grep -c ' hfx::' <<<"$syms") of them hfx's"
exit "$failed"
