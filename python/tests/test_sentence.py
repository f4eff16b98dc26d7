"""hfx.SentenceTransformer against what sentence-transformers 3.3.1 produced (tests/fixtures/sentence,
tools/fixtures/sentence.py): default encode, prompts, pooling modes, single strings, batching, threads."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

import hfx
from conftest import FIXTURES

SENTENCE = FIXTURES / "sentence"
KINDS = sorted(p.name for p in SENTENCE.iterdir() if (p / "expected.json").exists())


def expected(kind: str) -> dict:
    return json.loads((SENTENCE / kind / "expected.json").read_text())


def test_every_fixture_kind_is_found() -> None:
    assert {"bert-mean-norm", "bert-cls-dense", "gpt2-lasttoken-norm"} <= set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_encode_equals_sentence_transformers(kind: str) -> None:
    ref = expected(kind)
    st = hfx.SentenceTransformer(SENTENCE / kind)
    got = st.encode(ref["sentences"])
    want = np.asarray(ref["embeddings"], dtype=np.float32)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5
    for name, rows in ref["by_prompt"].items():
        assert np.abs(st.encode(ref["sentences"], prompt_name=name) - np.asarray(rows)).max() <= 1e-5, name
    for mode, rows in ref["by_pooling"].items():
        assert np.abs(st.encode(ref["sentences"], pooling=[mode]) - np.asarray(rows)).max() <= 1e-5, mode
    assert st.get_sentence_embedding_dimension() == want.shape[1]


def test_single_string_batches_and_normalize() -> None:
    ref = expected("bert-cls-dense")  # CLS + Dense, no Normalize module
    st = hfx.SentenceTransformer(SENTENCE / "bert-cls-dense")
    one = st.encode(ref["sentences"][0])
    assert one.shape == (len(ref["embeddings"][0]),)
    assert np.abs(one - np.asarray(ref["embeddings"][0])).max() <= 1e-5
    # Batches of 2 (longest first, rows back in input order) equal one batch of everything.
    by2 = st.encode(ref["sentences"], batch_size=2)
    assert np.abs(by2 - np.asarray(ref["embeddings"])).max() <= 1e-5
    normed = st.encode(ref["sentences"], normalize_embeddings=True)
    assert np.allclose(np.linalg.norm(normed, axis=1), 1.0, atol=1e-6)
    raw = np.asarray(ref["embeddings"], dtype=np.float32)
    assert np.abs(normed - raw / np.linalg.norm(raw, axis=1, keepdims=True)).max() <= 1e-5


def test_similarity_is_cosine_by_default() -> None:
    st = hfx.SentenceTransformer(SENTENCE / "bert-mean-norm")
    e = st.encode(["A man is eating food.", "The girl is carrying a baby."])
    sim = st.similarity(e, e)
    want = (e @ e.T) / np.outer(np.linalg.norm(e, axis=1), np.linalg.norm(e, axis=1))
    assert st.similarity_fn_name == "cosine"
    assert np.abs(sim - want).max() <= 1e-5


def test_two_threads_share_one_model() -> None:
    ref = expected("bert-mean-norm")
    st = hfx.SentenceTransformer(SENTENCE / "bert-mean-norm")
    want = np.asarray(ref["embeddings"], dtype=np.float32)
    errors: list[float] = []

    def run() -> None:
        for _ in range(20):
            errors.append(float(np.abs(st.encode(ref["sentences"]) - want).max()))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 40 and max(errors) <= 1e-5


def test_errors_are_typed() -> None:
    with pytest.raises(hfx.NotFoundError):
        hfx.SentenceTransformer(SENTENCE / "no-such-model")
    st = hfx.SentenceTransformer(SENTENCE / "bert-mean-norm")
    with pytest.raises(hfx.HfxError):
        st.encode(["x"], prompt_name="no-such-prompt")
    with pytest.raises(ValueError):
        st.encode(["x"], output_value="token_embeddings")
