"""Greedy tokens from llama.cpp (llama-cpp-python, pinned in requirements.txt) for tests/gguf_test.cc.

  greedy.py MODEL.gguf N ID ID ...   -> prints a JSON list: the N token ids llama.cpp picks greedily (argmax of the
                                        logits after each step) after the prompt ids, on one thread.
"""
import json
import sys

import numpy as np
from llama_cpp import Llama

path, n, prompt = sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3:]]
llm = Llama(model_path=path, n_ctx=len(prompt) + n + 1, n_batch=64, n_threads=1, logits_all=True, verbose=False, seed=0)
llm.eval(prompt)
out = []
for _ in range(n):
    logits = np.asarray(llm.scores[llm.n_tokens - 1])
    tok = int(np.argmax(logits))
    out.append(tok)
    llm.eval([tok])
print(json.dumps(out))
