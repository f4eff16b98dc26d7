"""labels= (and the other training targets) through the Python model call: the loss equals transformers' own, computed
here by the pinned transformers 4.46.3 on the same fixture weights and inputs."""
from __future__ import annotations

import numpy as np
import pytest

import hfx
from conftest import CASES, FIXTURES, case_inputs

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from safetensors.torch import load_file  # noqa: E402


def reference(cid: str, inputs: dict[str, np.ndarray], targets: dict[str, np.ndarray]) -> object:
    case = CASES[cid]
    d = FIXTURES / case["dir"]
    model = getattr(transformers, case["class"]).from_pretrained(d)
    model.load_state_dict(load_file(str(d / case["formats"]["safetensors"])), strict=False)
    model.eval()
    kw = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in {**inputs, **targets}.items()}
    with torch.no_grad():
        return model(**kw)


def run(cid: str, targets: dict[str, np.ndarray], drop: tuple[str, ...] = ()) -> None:
    case = CASES[cid]
    d = FIXTURES / case["dir"]
    inputs = {k: v for k, v in case_inputs(d).items() if k not in drop}
    want = reference(cid, inputs, targets)
    got = hfx.load_pretrained(d, case["class"])(**inputs, **targets)
    assert list(got.keys())[0] == "loss"  # transformers' field order: loss first
    assert got.loss.shape == ()
    np.testing.assert_allclose(float(got.loss), float(want.loss), rtol=1e-6, atol=1e-5, err_msg=cid)
    if getattr(want, "mc_loss", None) is not None:
        np.testing.assert_allclose(float(got.mc_loss), float(want.mc_loss), rtol=1e-6, atol=1e-5)


def test_sequence_classification_single_and_multi_label() -> None:
    cid = "bert/tiny/BertForSequenceClassification"
    run(cid, {"labels": np.array([2, 0], dtype=np.int64)})
    run(cid, {"labels": np.array([[1, 0, 1], [0, 0, 1]], dtype=np.float32)})


def test_causal_lm_shifts_and_ignores_minus_100() -> None:
    cid = "gpt2/tiny/GPT2LMHeadModel"
    ids = case_inputs(FIXTURES / CASES[cid]["dir"])["input_ids"]
    labels = ids.copy()
    labels[:, ::3] = -100
    run(cid, {"labels": labels})


def test_seq2seq_derives_decoder_inputs_from_labels() -> None:
    cid = "t5/tiny/T5ForConditionalGeneration"
    labels = np.array([[7, 9, 11, 4, 1], [8, 5, 1, -100, -100]], dtype=np.int64)
    run(cid, {"labels": labels}, drop=("decoder_input_ids", "decoder_attention_mask"))


def test_question_answering_clamps_positions() -> None:
    run("bert/tiny/BertForQuestionAnswering",
        {"start_positions": np.array([1, 99], dtype=np.int64), "end_positions": np.array([-3, 2], dtype=np.int64)})


def test_bad_labels_are_typed_errors() -> None:
    case = CASES["bert/tiny/BertForSequenceClassification"]
    d = FIXTURES / case["dir"]
    model = hfx.load_pretrained(d, case["class"])
    inputs = case_inputs(d)
    with pytest.raises(hfx.InvalidArgumentError, match="labels: "):
        model(**inputs, labels=np.array([0, 7], dtype=np.int64))
    with pytest.raises(hfx.InvalidArgumentError, match="mc_labels: "):
        model(**inputs, mc_labels=np.array([0, 1], dtype=np.int64))
