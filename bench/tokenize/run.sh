#!/usr/bin/env bash
# hfx vs Hugging Face tokenizers (Rust): tokens/s on tests/fixtures/tokenizers/corpus.json for each fixture
# tokenizer, single and batch, with the ratio hfx / HF. Builds hfx_tokenize_bench in build/ (bench on) and uses
# the pinned fixtures venv (tools/fixtures/env.sh). Usage: bench/tokenize/run.sh [--repeats N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DHFX_BUILD_BENCH=ON >/dev/null
cmake --build build --target hfx_tokenize_bench >/dev/null
py="$(tools/fixtures/env.sh | tail -1)"
fx=tests/fixtures/tokenizers
dirs=()
for k in bert-uncased bert-cased gpt2 roberta llama t5 albert xlnet; do dirs+=("$fx/$k"); done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
build/bench/tokenize/hfx_tokenize_bench "$fx/corpus.json" "${dirs[@]}" "$@" >"$tmp/hfx.jsonl"
"$py" bench/tokenize/hf_tokenize.py "$fx/corpus.json" "${dirs[@]}" "$@" >"$tmp/hf.jsonl"
python3 - "$tmp/hfx.jsonl" "$tmp/hf.jsonl" <<'PY'
import json, sys
hfx = [json.loads(l) for l in open(sys.argv[1])]
hf = [json.loads(l) for l in open(sys.argv[2])]
print(f"{'tokenizer':<14} {'tokens':>7} {'hfx single':>12} {'HF single':>12} {'ratio':>6} {'hfx batch':>12} {'HF batch':>12} {'ratio':>6}")
for a, b in zip(hfx, hf):
    name = a["tokenizer"].rstrip("/").split("/")[-1]
    assert a["tokens"] == b["tokens"], (name, a["tokens"], b["tokens"])
    print(f"{name:<14} {a['tokens']:>7} {a['single_tok_per_s']:>12,.0f} {b['single_tok_per_s']:>12,.0f} "
          f"{a['single_tok_per_s'] / b['single_tok_per_s']:>6.2f} {a['batch_tok_per_s']:>12,.0f} "
          f"{b['batch_tok_per_s']:>12,.0f} {a['batch_tok_per_s'] / b['batch_tok_per_s']:>6.2f}")
print("tokens/s (best of the repeats); ratio = hfx / HF; HF batch runs on all cores, hfx on one")
PY
