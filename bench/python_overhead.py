#!/usr/bin/env python3
"""The Python layer's cost per forward: hfx.AutoModel(...)(input_ids=..., attention_mask=...) from Python against
the same model's forward called in a C++ loop (hfx._hfx._Model.bench_forward: no Python between calls).

  python bench/python_overhead.py [--rounds 7] [--iters 5] [--seq 128] [--batch 1] [--json OUT]

Model: BERT-base shape (BertConfig's defaults: 12 layers, hidden 768, 12 heads, vocab 30522), weights from
transformers' init rule (no checkpoint needed: every parameter is "missing" and initialised). Inputs [batch, seq]
int64, C-contiguous (used in place). Rounds interleave the two loops; the figure is the median per-call time.
Because the machine may be shared, it also reports the overhead measured where it is not lost in noise: the
wall time of a Python call minus the C++ forward inside it, on a tiny model (BertModel, hidden 32), as a share of
the BERT-base forward.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import hfx

ROOT = Path(__file__).resolve().parents[1]
BERT_BASE = {"model_type": "bert", "architectures": ["BertModel"], "hidden_size": 768, "num_hidden_layers": 12,
             "num_attention_heads": 12, "intermediate_size": 3072, "vocab_size": 30522,
             "max_position_embeddings": 512, "type_vocab_size": 2}


def per_call(model: hfx.PreTrainedModel, inputs: dict[str, np.ndarray], rounds: int, iters: int) -> tuple[float, float]:
    py_times, cpp_times = [], []
    for _ in range(rounds):
        cpp_times += model._handle.bench_forward(inputs, iters)
        for _ in range(iters):
            t0 = time.perf_counter()
            out = model(**inputs)
            py_times.append(time.perf_counter() - t0)
            del out
    return statistics.median(py_times), statistics.median(cpp_times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args()

    hfx.set_verbosity("error")  # every parameter is "newly initialized": no warning listing them
    rng = np.random.default_rng(0)
    base = hfx.load_pretrained("", "BertModel", config=BERT_BASE, state_dict={})
    ids = np.ascontiguousarray(rng.integers(1000, 30000, size=(a.batch, a.seq), dtype=np.int64))
    inputs = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    per_call(base, inputs, 1, 2)  # warm-up (oneDNN primitives, page faults)
    py, cpp = per_call(base, inputs, a.rounds, a.iters)

    tiny = hfx.AutoModel.from_pretrained(ROOT / "tests/fixtures/bert/tiny/BertModel")
    tiny_ids = np.ascontiguousarray(ids[:, :7] % 90)
    tiny_inputs = {"input_ids": tiny_ids, "attention_mask": np.ones_like(tiny_ids)}
    per_call(tiny, tiny_inputs, 1, 20)
    tiny_py, tiny_cpp = per_call(tiny, tiny_inputs, 21, 50)
    overhead = max(tiny_py - tiny_cpp, 0.0)

    result = {
        "model": "BERT-base shape (random init)", "batch": a.batch, "seq": a.seq,
        "python_forward_ms": py * 1e3, "cpp_forward_ms": cpp * 1e3,
        "overhead_vs_cpp_percent": (py - cpp) / cpp * 100.0,
        "python_layer_us_per_call": overhead * 1e6,
        "python_layer_percent_of_forward": overhead / cpp * 100.0,
    }
    print(f"BERT-base b{a.batch} s{a.seq}: Python call {py * 1e3:.2f} ms, C++ loop {cpp * 1e3:.2f} ms "
          f"(median; difference {result['overhead_vs_cpp_percent']:+.2f} %)")
    print(f"Python layer per call (tiny model, median of {21 * 50}): {overhead * 1e6:.1f} us = "
          f"{result['python_layer_percent_of_forward']:.3f} % of the BERT-base forward")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
