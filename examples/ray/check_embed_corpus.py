#!/usr/bin/env python3
"""The Ray example's CI check (scripts/ray_tests.sh runs it in the pinned Ray env, examples/ray/requirements.txt).

Starts a local Ray cluster of two nodes on 127.0.0.1 (`ray start --head` + `ray start --address`, one worker
node each), runs embed_corpus.py against it with two hfx actors over a small corpus, in JSONL and in Parquet, and
checks that every row comes back exactly once, that both actors embedded rows, and that every row's embedding
equals the single-process hfx.SentenceTransformer result (max abs <= 1e-5; batches differ in padding only); then
that malformed corpora (no text column, broken JSON, a non-text column, no rows) are refused with exit 2 and a
one-line error before any actor starts.

    python examples/ray/check_embed_corpus.py MODEL_DIR [--rows N]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def corpus(n: int) -> list[dict]:
    words = ["café", "Ångström", "漢字", "model", "token", "embedding", "the", "a", "of", "river", "bank", "!", "?"]
    rng = np.random.default_rng(7)
    rows = []
    for i in range(n):
        k = int(rng.integers(0, 40))  # 0 words: an empty text; > the fixture's max_seq_length: truncated
        rows.append({"id": f"doc-{i:05d}", "text": " ".join(rng.choice(words, size=k)), "source": i % 3})
    return rows


def run(cmd: list[str], env: dict[str, str], what: str) -> str:
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-6000:] + p.stderr[-6000:])
        raise SystemExit(f"check_embed_corpus: {what} failed (exit {p.returncode})")
    return p.stdout


def run_refused(cmd: list[str], env: dict[str, str], what: str, message: str) -> None:
    """A malformed corpus: embed_corpus.py must exit 2 with `message` on stderr, before any actor starts."""
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 2 and message in p.stderr, (
        f"{what}: expected exit 2 and '{message}', got exit {p.returncode}: {p.stderr[-3000:]}")
    assert "HfxEmbedder" not in p.stderr, f"{what}: actors were started for a corpus that cannot be embedded"


def check(output: Path, rows: list[dict], want: dict[str, np.ndarray], what: str) -> dict:
    table = pq.read_table(output)
    ids = table.column("id").to_pylist()
    assert sorted(ids) == sorted(r["id"] for r in rows), f"{what}: rows lost or repeated ({len(ids)} of {len(rows)})"
    assert "text" not in table.column_names and "source" in table.column_names, f"{what}: columns {table.column_names}"
    emb = table.column("embedding")
    assert pa.types.is_fixed_size_list(emb.type) and emb.type.value_type == pa.float32(), f"{what}: {emb.type}"
    got = np.asarray(emb.combine_chunks().flatten(), dtype=np.float32).reshape(len(ids), -1)
    worst = max(float(np.abs(got[i] - want[doc]).max()) for i, doc in enumerate(ids))
    workers = set(table.column("worker").to_pylist())
    nodes = {w.split(":")[0] for w in workers}
    assert worst <= 1e-5, f"{what}: an embedding differs from the single-process one by {worst:.3g}"
    assert len(workers) == 2 and len(nodes) == 2, f"{what}: expected 2 actors on 2 nodes, got {sorted(workers)}"
    return {"rows": len(ids), "max_abs": worst, "actors": len(workers), "nodes": len(nodes)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rows", type=int, default=300)
    args = ap.parse_args()

    import hfx

    rows = corpus(args.rows)
    st = hfx.SentenceTransformer(args.model)
    # The installed package against sentence-transformers' own embeddings of the model's reference sentences
    # (tests/fixtures/sentence/*/expected.json, tools/fixtures/sentence.py), before any Ray.
    ref_file = Path(args.model) / "expected.json"
    if ref_file.exists():
        ref = json.loads(ref_file.read_text())
        diff = float(np.abs(st.encode(ref["sentences"]) - np.asarray(ref["embeddings"], dtype=np.float32)).max())
        assert diff <= 1e-5, f"hfx.SentenceTransformer differs from sentence-transformers by {diff:.3g}"
        print(f"check_embed_corpus: {hfx.__file__}: equal to sentence-transformers (max abs {diff:.2g})", file=sys.stderr)
    single = st.encode([r["text"] for r in rows])
    want = {r["id"]: single[i] for i, r in enumerate(rows)}

    with tempfile.TemporaryDirectory(prefix="hfx-ray-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        # Parquet as a corpus usually is, several files (a folder): Ray Data reads a file as one block.
        (tmp_path / "corpus.parquet").mkdir()
        for part in range(4):
            pq.write_table(pa.Table.from_pylist(rows[part::4]), tmp_path / "corpus.parquet" / f"part-{part}.parquet")
        port = free_port()
        # Ray 2.60 clusters authenticate with a token: one per run, given to the nodes and the driver.
        env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_DISABLE_DOCKER_CPU_WARNING="1", RAY_AUTH_MODE="token",
                   RAY_AUTH_TOKEN=secrets.token_hex(32))
        ray = str(Path(sys.executable).with_name("ray"))
        # Two nodes, 2 logical CPUs each: one actor per node (1 CPU) leaves a CPU for Ray Data's read/write tasks.
        # Short socket paths: Ray's unix sockets live under --temp-dir (limit 107 bytes).
        ray_tmp = tempfile.mkdtemp(prefix="r", dir="/tmp")
        head = [ray, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
                "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={ray_tmp}"]
        results = {}
        try:
            run(head, env, "ray start --head")
            run([ray, "start", f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
                 "--disable-usage-stats"], env, "ray start (second node)")
            for kind in ("jsonl", "parquet"):
                out = tmp_path / f"out-{kind}"
                stdout = run([sys.executable, str(HERE / "embed_corpus.py"), "--address", f"127.0.0.1:{port}",
                              "--model", args.model, "--input", str(tmp_path / f"corpus.{kind}"), "--output", str(out),
                              "--workers", "2", "--blocks", "8", "--threads-per-worker", "1", "--batch-size", "32",
                              "--worker-column", "worker"], env, f"embed_corpus.py on {kind}")
                summary = json.loads(stdout.strip().splitlines()[-1])
                assert summary["rows"] == len(rows), summary
                results[kind] = check(out, rows, want, kind) | {"rows_per_s": summary["rows_per_s"]}
            # Malformed corpora: a clear one-line error and exit 2, nothing written.
            bad = {"no-text-column": ('{"id": "a", "body": "x"}\n', "has no column 'text'"),
                   "broken-json": ('{"id": "a", "text": "x"}\n{"id": "b", "text":\n', "cannot read the corpus"),
                   "number-text": ('{"id": "a", "text": 5}\n', "column 'text' holds int64, not text"),
                   "empty": ("", "has no rows")}
            for name, (body, message) in bad.items():
                (tmp_path / f"{name}.jsonl").write_text(body)
                run_refused([sys.executable, str(HERE / "embed_corpus.py"), "--address", f"127.0.0.1:{port}",
                             "--model", args.model, "--input", str(tmp_path / f"{name}.jsonl"),
                             "--output", str(tmp_path / f"out-{name}")], env, f"embed_corpus.py on {name}", message)
                assert not (tmp_path / f"out-{name}").exists(), f"{name}: output written for a refused corpus"
            results["refused"] = sorted(bad)
        finally:
            subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
