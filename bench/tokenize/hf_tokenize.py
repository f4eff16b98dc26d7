#!/usr/bin/env python3
"""Tokens per second of Hugging Face tokenizers (Rust, 0.20.3 from the pinned venv) on the same corpus and
tokenizer.json files as hfx_tokenize_bench: encode() per string ("single") and encode_batch ("batch", which
the crate runs in parallel over the machine's cores unless TOKENIZERS_PARALLELISM=false).
Usage: hf_tokenize.py CORPUS.json TOKENIZER_DIR... [--repeats N]"""
import json
import os
import sys
import time

from tokenizers import Tokenizer

args = sys.argv[1:]
repeats = 3
if "--repeats" in args:
    i = args.index("--repeats")
    repeats = max(1, int(args[i + 1]))
    del args[i:i + 2]
corpus = json.load(open(args[0], encoding="utf-8"))
for d in args[1:]:
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    single = batch = 1e30
    tokens = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        tokens = sum(len(tok.encode(s).ids) for s in corpus)
        single = min(single, time.perf_counter() - t0)
        t0 = time.perf_counter()
        tok.encode_batch(corpus)
        batch = min(batch, time.perf_counter() - t0)
    print(json.dumps({"impl": "hf", "tokenizer": d, "strings": len(corpus), "tokens": tokens, "single_s": single,
                      "batch_s": batch, "single_tok_per_s": tokens / single, "batch_tok_per_s": tokens / batch}))
