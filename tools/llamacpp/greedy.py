"""Greedy tokens from llama.cpp (llama-cpp-python, pinned in requirements.txt) for tests/gguf_test.cc.

  greedy.py MODEL.gguf N ID ID ...   -> prints JSON {"tokens": the N token ids llama.cpp picks greedily (argmax of the
                                        logits after each step) after the prompt ids, on one thread; "logits": the
                                        logits at the prompt's last position}.
"""
import json
import sys

import numpy as np
from llama_cpp import Llama

path, n, prompt = sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3:]]
llm = Llama(model_path=path, n_ctx=len(prompt) + n + 1, n_batch=64, n_threads=1, logits_all=True, verbose=False, seed=0,
            type_k=0, type_v=0)  # an F32 KV cache (GGML_TYPE_F32): its default F16 cache rounds K and V
llm.eval(prompt)
out = []
first = [float(x) for x in np.asarray(llm.scores[llm.n_tokens - 1])]
for _ in range(n):
    logits = np.asarray(llm.scores[llm.n_tokens - 1])
    tok = int(np.argmax(logits))
    out.append(tok)
    llm.eval([tok])
print(json.dumps({"tokens": out, "logits": first}))
