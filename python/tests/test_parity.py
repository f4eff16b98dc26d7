"""hfx.AutoModel*.from_pretrained on every fixture case and weight format: outputs equal transformers'
(outputs.safetensors, made by transformers 4.46.3) within the C++ tests' parity budget (1e-5)."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file

import hfx
from conftest import CASES, FIXTURES, MANIFEST, assert_matches_reference, case_inputs

FORMAT_CASES = [(cid, fmt) for cid, c in CASES.items() for fmt in c["formats"] if fmt != "safetensors"]


def _auto_for(cls: str) -> type:
    """The Auto class that picks `cls` (every class with other formats is a base model, MaskedLM, causal or seq2seq LM)."""
    if cls.endswith("ForMaskedLM"):
        return hfx.AutoModelForMaskedLM
    if "LMHead" in cls or cls.endswith("ForCausalLM"):
        return hfx.AutoModelForCausalLM
    if cls.endswith(("ForConditionalGeneration", "MTModel")):  # MarianMTModel is AutoModelForSeq2SeqLM's
        return hfx.AutoModelForSeq2SeqLM
    return hfx.AutoModel


def _run(model: hfx.PreTrainedModel, cid: str) -> hfx.ModelOutput:
    return model(**case_inputs(FIXTURES / CASES[cid]["dir"]), output_hidden_states=True, output_attentions=True)


@pytest.mark.parametrize("cid", sorted(CASES))
def test_every_case_safetensors(cid: str) -> None:
    case = CASES[cid]
    d = FIXTURES / case["dir"]
    model = hfx.load_pretrained(d, case["class"])
    assert model.class_name == case["class"]
    assert_matches_reference(_run(model, cid), d, cid)


@pytest.mark.parametrize("cid,fmt", FORMAT_CASES)
def test_every_format(cid: str, fmt: str) -> None:
    """pt_zip, pt_legacy, tf_h5, flax and the four sharded layouts, through the Auto class path (a weight file or
    an index beside its config.json)."""
    case = CASES[cid]
    d = FIXTURES / case["dir"]
    weights = d / case["formats"][fmt]
    model, info = _auto_for(case["class"]).from_pretrained(weights, output_loading_info=True)
    assert model.class_name == case["class"]
    assert info["missing_keys"] == [] and info["mismatched_keys"] == [], info
    assert_matches_reference(_run(model, cid), d, f"{cid} [{fmt}]")


def test_auto_classes_pick_the_head() -> None:
    d = FIXTURES / "bert/tiny/BertForMaskedLM"
    assert hfx.AutoModelForMaskedLM.from_pretrained(d).class_name == "BertForMaskedLM"
    base = hfx.AutoModel.from_pretrained(d)
    assert base.class_name == "BertModel"
    out = base(**case_inputs(FIXTURES / "bert/tiny/BertModel"))
    assert list(out.keys())[:2] == ["last_hidden_state", "pooler_output"]
    assert out[0] is out.last_hidden_state and out.to_tuple()[1] is out["pooler_output"]


def test_tf1_convert_equals_the_reference_converter(tmp_path) -> None:
    """hfx.convert (transformers-cli convert) on the TF1 fixtures: the same tensors as transformers' converter."""
    for entry in MANIFEST["tf1"]:
        if entry["model_type"] != "bert":
            continue
        d = FIXTURES / entry["dir"]
        out = tmp_path / "bert" / "pytorch_model.bin"
        out.parent.mkdir()
        res = hfx.convert("bert", d / entry["tf_checkpoint"], out, config=d / entry["config"], safetensors=True)
        assert res["class_name"] == "BertForPreTraining" and res["tensors"] > 0
        assert len(res["files"]) == 1 and res["files"][0].endswith(".safetensors"), res
        got = load_file(res["files"][0])
        want = load_file(str(d / entry["expected"] / "model.safetensors"))
        assert set(got) == set(want)
        for k in want:
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
        return
    pytest.skip("no bert TF1 fixture")
