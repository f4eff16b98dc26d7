"""hfx.AutoTokenizer against transformers' AutoTokenizer (4.46.3, run in the fixture env in a subprocess so that
its libraries never share this process with hfx): ids, type ids, masks with padding and truncation as NumPy,
offsets, decode and batch_decode."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

import hfx
from conftest import FIXTURES

FOLDERS = ["bert-uncased", "bert-cased", "gpt2", "roberta", "albert", "t5", "xlnet", "llama"]
TEXTS = ["Hello world!", "The quick brown fox jumps over the lazy dog, doesn't it?", "naïve café — 東京 😀", "a"]
PAIRS = ["Second sentence.", "x", "How are you?", "Short"]

REFERENCE = r"""
import json, os, sys, warnings
warnings.filterwarnings("ignore")
os.environ["TRANSFORMERS_VERBOSITY"] = "error"
from transformers import AutoTokenizer
root, folders, texts, pairs = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
out = {}
for f in folders:
    tok = AutoTokenizer.from_pretrained(os.path.join(root, f))
    r = {"plain": tok(texts)["input_ids"],
         "single": dict(tok(texts[1])),
         "pairs": {k: v for k, v in tok(texts, pairs).items()}}
    if tok.pad_token is not None:
        r["padded"] = {k: v.tolist() for k, v in tok(texts, pairs, padding=True, truncation=True, max_length=12,
                                                     return_tensors="np").items()}
        r["max_length"] = {k: v.tolist() for k, v in tok(texts, padding="max_length", max_length=20, truncation=True,
                                                         return_tensors="np").items()}
    r["offsets"] = tok(texts, return_offsets_mapping=True)["offset_mapping"]
    ids = r["plain"]
    r["decode"] = [tok.decode(i) for i in ids]
    r["decode_skip"] = tok.batch_decode(ids, skip_special_tokens=True)
    out[f] = r
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def reference(fixture_python: str) -> dict:
    names = [f if isinstance(f, str) else f.values[0] for f in FOLDERS]
    proc = subprocess.run([fixture_python, "-c", REFERENCE, str(FIXTURES / "tokenizers"), json.dumps(names),
                           json.dumps(TEXTS), json.dumps(PAIRS)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("folder", FOLDERS)
def test_tokenizer_equals_transformers(folder: str, reference: dict) -> None:
    ref = reference[folder]
    tok = hfx.AutoTokenizer.from_pretrained(FIXTURES / "tokenizers" / folder)
    assert tok(TEXTS)["input_ids"] == ref["plain"]
    assert dict(tok(TEXTS[1])) == ref["single"]
    assert dict(tok(TEXTS, PAIRS)) == ref["pairs"]
    if "padded" in ref:
        got = tok(TEXTS, PAIRS, padding=True, truncation=True, max_length=12, return_tensors="np")
        assert sorted(got) == sorted(ref["padded"])
        for k, v in ref["padded"].items():
            assert isinstance(got[k], np.ndarray) and got[k].dtype == np.int64
            np.testing.assert_array_equal(got[k], np.asarray(v), err_msg=k)
        got = tok(TEXTS, padding="max_length", max_length=20, truncation=True, return_tensors="np")
        for k, v in ref["max_length"].items():
            np.testing.assert_array_equal(got[k], np.asarray(v), err_msg=k)
    else:
        with pytest.raises(ValueError):
            tok(TEXTS, padding=True)
    assert [list(map(tuple, o)) for o in tok(TEXTS, return_offsets_mapping=True)["offset_mapping"]] == \
        [list(map(tuple, o)) for o in ref["offsets"]]
    assert [tok.decode(i) for i in ref["plain"]] == ref["decode"]
    assert tok.batch_decode(ref["plain"], skip_special_tokens=True) == ref["decode_skip"]


def test_tokenizer_feeds_the_model() -> None:
    """The README's example: tokenizer output straight into a model (cli-embed holds both)."""
    d = FIXTURES / "tokenizers" / "cli-embed"
    tok = hfx.AutoTokenizer.from_pretrained(d)
    model = hfx.AutoModel.from_pretrained(d)
    batch = tok(TEXTS, padding=True, return_tensors="np")
    out = model(**batch)
    assert out.last_hidden_state.shape[:2] == batch["input_ids"].shape
