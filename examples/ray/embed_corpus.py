#!/usr/bin/env python3
"""Sentence embeddings of a corpus on a Ray cluster, with hfx (examples/ray/README.md).

Ray Data reads a JSONL or Parquet corpus, `map_batches` runs it through one hfx.SentenceTransformer per actor
(loaded once per actor, its weights memory-mapped), and the embeddings are written as Parquet: the corpus's
columns minus the text (kept with --keep-text) plus `embedding` (fixed-size list of float32).

    # one machine (a local Ray started for the run):
    python embed_corpus.py --model sentence-transformers/all-MiniLM-L6-v2 --input corpus.jsonl --output emb/
    # a cluster (see README.md: ray start, ray job submit):
    python embed_corpus.py --address auto --workers 8 --model /shared/models/minilm --input s3://... --output ...

The last line printed is a JSON summary: rows, seconds, rows_per_s, workers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sys
import time
from typing import Any

import numpy as np
import pyarrow as pa
import ray


class HfxEmbedder:
    """One per Ray actor: the model is loaded in __init__ (once per actor) and every batch reuses it."""

    def __init__(self, model: str, text_column: str, encode_batch_size: int, normalize: bool, threads: int,
                 keep_text: bool, worker_column: str | None) -> None:
        import hfx  # imported in the actor's process

        if threads > 0:
            hfx.set_num_threads(threads)
        self.model = hfx.SentenceTransformer(model)
        self.text_column = text_column
        self.encode_batch_size = encode_batch_size
        self.normalize = normalize
        self.keep_text = keep_text
        self.worker_column = worker_column
        self.worker = f"{ray.get_runtime_context().get_node_id()}:{os.getpid()}"

    def __call__(self, batch: pa.Table) -> pa.Table:
        if self.text_column not in batch.column_names:
            raise KeyError(f"the corpus has no column '{self.text_column}' (columns: {batch.column_names})")
        texts = [("" if t is None else str(t)) for t in batch.column(self.text_column).to_pylist()]
        emb = np.ascontiguousarray(self.model.encode(texts, batch_size=self.encode_batch_size,
                                                     normalize_embeddings=self.normalize), dtype=np.float32)
        # pa.array over a float32 NumPy buffer is a view; the list column wraps it without another copy.
        column = pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1)), emb.shape[1])
        out = batch if self.keep_text else batch.drop_columns([self.text_column])
        out = out.append_column("embedding", column)
        if self.worker_column:
            out = out.append_column(self.worker_column, pa.array([self.worker] * len(texts)))
        return out


def read_corpus(paths: list[str], fmt: str) -> ray.data.Dataset:
    if fmt == "auto":
        first = paths[0].rstrip("/")
        fmt = "parquet" if first.endswith(".parquet") or (os.path.isdir(first) and any(
            f.endswith(".parquet") for f in os.listdir(first))) else "jsonl"
    if fmt == "parquet":
        return ray.data.read_parquet(paths)
    return ray.data.read_json(paths, lines=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a sentence-transformers folder (on every node) or a hub repo id")
    ap.add_argument("--input", required=True, nargs="+", help="JSONL or Parquet files or folders")
    ap.add_argument("--input-format", choices=("auto", "jsonl", "parquet"), default="auto")
    ap.add_argument("--output", required=True, help="a folder for the Parquet files")
    ap.add_argument("--blocks", type=int, default=None,
                    help="split the corpus into this many blocks before embedding (Ray Data reads a small corpus as "
                    "one block, which one actor then embeds alone: give >= 2 x --workers for a small corpus)")
    ap.add_argument("--text-column", default="text")
    ap.add_argument("--keep-text", action="store_true", help="keep the text column in the output")
    ap.add_argument("--workers", type=int, default=2, help="hfx actors (one model each)")
    ap.add_argument("--cpus-per-worker", type=float, default=1.0, help="Ray CPUs each actor reserves")
    ap.add_argument("--threads-per-worker", type=int, default=0,
                    help="hfx threads per actor (0: OMP_NUM_THREADS, which Ray sets to the actor's CPUs)")
    ap.add_argument("--batch-size", type=int, default=256, help="rows per Ray batch")
    ap.add_argument("--encode-batch-size", type=int, default=32, help="rows per forward (encode's batch_size)")
    ap.add_argument("--normalize", action="store_true", help="L2-normalize (on top of the model's own modules)")
    ap.add_argument("--worker-column", default=None, help="also write which actor embedded each row (tests)")
    ap.add_argument("--address", default=None, help="Ray cluster address ('auto', host:port); default: RAY_ADDRESS "
                    "or a local Ray started for this run")
    args = ap.parse_args(argv)
    if args.workers < 1:
        ap.error("--workers must be >= 1")

    address = args.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, logging_level="WARNING")
    else:
        # A local Ray counts one CPU per core; the actors' reservations must leave at least one for Ray Data's
        # read and write tasks, or the job waits for ever (2 actors x 1 CPU on a 2-core machine did).
        cpus = max(os.cpu_count() or 1, math.ceil(args.workers * args.cpus_per_worker) + 1)
        ray.init(num_cpus=cpus, include_dashboard=False, logging_level="WARNING")
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = sys.stderr.isatty()
    start = time.perf_counter()
    ds = read_corpus(args.input, args.input_format)
    # The corpus is checked before any actor loads a model: ds.schema() reads what it needs of the first block, so
    # a file that is not JSONL / Parquet, an empty corpus, a missing or non-text column end here with one line.
    try:
        schema = ds.schema()
    except Exception as e:  # a RayTaskError: the reader's own error (the JSON / Parquet parser's) is its .cause
        cause = getattr(e, "cause", None) or e
        print(f"embed_corpus: cannot read the corpus {', '.join(args.input)}: {type(cause).__name__}: "
              f"{str(cause).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    if schema is None or not schema.names:
        print(f"embed_corpus: the corpus {', '.join(args.input)} has no rows", file=sys.stderr)
        return 2
    if args.text_column not in schema.names:
        print(f"embed_corpus: the corpus has no column '{args.text_column}' (columns: {', '.join(schema.names)}); "
              "see --text-column", file=sys.stderr)
        return 2
    text_type = schema.types[schema.names.index(args.text_column)]  # pyarrow's type (Ray's for a pandas block)
    if isinstance(text_type, pa.DataType) and not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)
                                                   or pa.types.is_null(text_type)):
        print(f"embed_corpus: column '{args.text_column}' holds {text_type}, not text", file=sys.stderr)
        return 2
    if args.blocks:
        ds = ds.repartition(args.blocks)
    ds = ds.map_batches(
        HfxEmbedder,
        fn_constructor_kwargs=dict(model=args.model, text_column=args.text_column,
                                   encode_batch_size=args.encode_batch_size, normalize=args.normalize,
                                   threads=args.threads_per_worker, keep_text=args.keep_text,
                                   worker_column=args.worker_column),
        compute=ray.data.ActorPoolStrategy(size=args.workers), num_cpus=args.cpus_per_worker, batch_size=args.batch_size, batch_format="pyarrow")
    ds.write_parquet(args.output)
    seconds = time.perf_counter() - start
    rows = ray.data.read_parquet(args.output).count()
    summary: dict[str, Any] = {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 2),
                               "workers": args.workers, "host": socket.gethostname()}
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
