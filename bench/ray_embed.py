#!/usr/bin/env python3
"""Rows/s of examples/ray/embed_corpus.py with 1 and 2 local Ray workers (actors), beside the same model's
single-process hfx.SentenceTransformer.encode, in one run.

  <ray env python> bench/ray_embed.py --model DIR [--rows 4000] [--rounds 3] [--json OUT]

Run it with the Ray env of scripts/ray_tests.sh (it has hfx linked in). Model: the demo's all-MiniLM-L6-v2
(.cache/models/all-MiniLM-L6-v2, made by scripts/demo.sh). Corpus: --rows synthetic sentences of 5-60 words, JSONL.
Each worker count runs embed_corpus.py end to end (local Ray started per run, read, embed, write Parquet): the
figure includes actor start and model load, as a user's job does; the best of --rounds is reported, and the
machine's core count and load with it (the workers share this machine's cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "ray" / "embed_corpus.py"


def corpus(n: int) -> list[dict]:
    rng = np.random.default_rng(3)
    vocab = ("the a of and river bank model token search index query answer city music light water paper green "
             "quickly under over between about question system network memory").split()
    return [{"id": i, "text": " ".join(rng.choice(vocab, size=int(rng.integers(5, 61))))} for i in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(HERE.parent / ".cache" / "models" / "all-MiniLM-L6-v2"))
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()

    import hfx

    rows = corpus(a.rows)
    texts = [r["text"] for r in rows]
    result: dict = {"rows": a.rows, "cores": os.cpu_count(), "model": a.model, "runs": {}}
    st = hfx.SentenceTransformer(a.model)
    st.encode(texts[:64])  # warm-up
    best = None
    for _ in range(a.rounds):
        t0 = time.perf_counter()
        st.encode(texts)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    result["runs"]["single_process"] = {"rows_per_s": round(a.rows / best, 1), "threads": hfx.get_num_threads()}
    with tempfile.TemporaryDirectory(prefix="hfx-ray-bench-") as tmp:
        src = Path(tmp) / "corpus.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in rows))
        for workers in (1, 2):
            per = []
            for r in range(a.rounds):
                out = Path(tmp) / f"out-{workers}-{r}"
                env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
                env.pop("RAY_ADDRESS", None)
                p = subprocess.run([sys.executable, str(EXAMPLE), "--model", a.model, "--input", str(src), "--output",
                                    str(out), "--workers", str(workers), "--blocks", str(8 * workers),
                                    "--batch-size", "256", "--threads-per-worker", str(max(1, (os.cpu_count() or 2) // workers))],
                                   env=env, capture_output=True, text=True, timeout=900)
                if p.returncode != 0:
                    sys.stderr.write(p.stderr[-4000:])
                    raise SystemExit(f"embed_corpus.py failed with {workers} worker(s)")
                per.append(json.loads(p.stdout.strip().splitlines()[-1])["rows_per_s"])
            result["runs"][f"ray_{workers}_workers"] = {"rows_per_s": max(per), "all_rounds": per}
    result["load_avg"] = os.getloadavg()
    print(json.dumps(result, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
