"""The Python surface beyond forward parity: zero-copy arrays, threads, errors, generate, saving, export,
AutoConfig and loading info."""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import hfx
from hfx import _hfx
from conftest import CASES, FIXTURES, ROOT, assert_matches_reference, case_inputs, flat_outputs

MLM = FIXTURES / "bert/tiny/BertForMaskedLM"


# ---- zero-copy ------------------------------------------------------------------------------------------
def test_outputs_view_hfx_buffers_without_a_copy() -> None:
    model = hfx.AutoModelForMaskedLM.from_pretrained(MLM)
    out = model(**case_inputs(MLM), output_hidden_states=True)
    for name, arr in flat_outputs(out).items():
        # The array does not own its memory: its base is the capsule holding hfx's Tensor (no NumPy copy).
        assert not arr.flags.owndata, name
        assert _hfx.is_tensor_capsule(arr.base), (name, type(arr.base))
    logits = out.logits
    ptr = logits.__array_interface__["data"][0]
    # The capsule keeps hfx's buffer alive after the model and the mapping are gone.
    want = logits.copy()
    del model, out
    gc.collect()
    assert logits.__array_interface__["data"][0] == ptr
    np.testing.assert_array_equal(logits, want)


def test_parameters_are_views_of_the_mapped_checkpoint() -> None:
    model = hfx.AutoModelForMaskedLM.from_pretrained(MLM)
    a, b = model.state_dict(), model.state_dict()
    name = "bert.embeddings.word_embeddings.weight"
    # Two calls give two arrays over one buffer (the safetensors file's mapping): shared, read-only, not copies.
    assert a[name] is not b[name] and np.shares_memory(a[name], b[name])
    assert not a[name].flags.writeable and _hfx.is_tensor_capsule(a[name].base)


def test_contiguous_int64_inputs_are_not_copied() -> None:
    ids = np.arange(12, dtype=np.int64).reshape(2, 6)
    back = _hfx.from_numpy_roundtrip(ids)
    assert back.__array_interface__["data"][0] == ids.__array_interface__["data"][0]
    strided = np.arange(24, dtype=np.int64).reshape(2, 12)[:, ::2]  # not contiguous: one copy, same values
    back = _hfx.from_numpy_roundtrip(strided)
    assert not np.shares_memory(back, strided)
    np.testing.assert_array_equal(back, strided)


# ---- threads -----------------------------------------------------------------------------------------------
def test_two_threads_share_one_model() -> None:
    """Two Python threads call one model at once (the GIL is released in forward): every result equals the
    single-threaded one."""
    model = hfx.AutoModel.from_pretrained(FIXTURES / "bert/awkward/BertModel")
    inputs = case_inputs(FIXTURES / "bert/awkward/BertModel")
    other = {k: np.ascontiguousarray(v[::-1]) for k, v in inputs.items()}
    want = [model(**inputs).last_hidden_state.copy(), model(**other).last_hidden_state.copy()]
    errors: list[str] = []
    barrier = threading.Barrier(2)

    def work(k: int) -> None:
        barrier.wait()
        for _ in range(40):
            got = model(**(inputs if k == 0 else other)).last_hidden_state
            if not np.array_equal(got, want[k]):
                errors.append(f"thread {k}: max diff {np.abs(got - want[k]).max()}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


def test_forward_releases_the_gil() -> None:
    """While a thread is inside one long forward, the main thread keeps running Python: the longest pause
    between its loop iterations is far shorter than the forward (with the GIL held it would span all of it)."""
    import time
    case = FIXTURES / "bert/awkward/BertModel"
    model = hfx.AutoModel.from_pretrained(case)
    ids = np.ascontiguousarray(np.tile(case_inputs(case)["input_ids"], (256, 1)))
    took: list[float] = []
    started = threading.Event()

    def work() -> None:
        started.set()
        t0 = time.perf_counter()
        model(input_ids=ids)
        took.append(time.perf_counter() - t0)

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    last, gap = time.perf_counter(), 0.0
    while t.is_alive():
        now = time.perf_counter()
        gap, last = max(gap, now - last), now
    t.join()
    assert took[0] > 0.02, f"forward too short to tell ({took[0]:.4f} s)"
    assert gap < 0.5 * took[0], f"main thread paused {gap:.3f} s of a {took[0]:.3f} s forward"


# ---- errors ---------------------------------------------------------------------------------------------------
def test_errors_are_typed(tmp_path: Path) -> None:
    with pytest.raises(hfx.NotFoundError) as e:
        hfx.AutoModel.from_pretrained(tmp_path / "missing")
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, hfx.HfxError) and e.value.kind == "NotFound"
    bad = tmp_path / "bad"
    shutil.copytree(MLM, bad, ignore=shutil.ignore_patterns("sharded*", "legacy", "fp16", "bf16", "*.h5", "*.msgpack", "*.bin"))
    (bad / "model.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(hfx.FormatError) as e:
        hfx.AutoModelForMaskedLM.from_pretrained(bad)
    assert isinstance(e.value, ValueError) and "model.safetensors" in str(e.value)
    model = hfx.AutoModelForMaskedLM.from_pretrained(MLM)
    with pytest.raises(hfx.HfxError):
        model(input_ids=np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(hfx.InvalidArgumentError):
        model.generate(np.array([[1, 2]]), bogus=1)


# ---- generate ------------------------------------------------------------------------------------------------
GENERATE = sorted(cid for cid, c in CASES.items() if "generate" in c)


@pytest.mark.parametrize("cid", GENERATE)
def test_generate_equals_transformers(cid: str) -> None:
    case = CASES[cid]
    d = FIXTURES / case["dir"]
    ref = json.loads((d / case["generate"]).read_text())
    model = hfx.load_pretrained(d, case["class"])
    prompt = np.asarray(ref["prompt_ids"], dtype=np.int64)
    for mode in ("greedy", "beam3"):
        kwargs = dict(ref["kwargs"][mode])
        got = model.generate(prompt, **kwargs)
        np.testing.assert_array_equal(got, np.asarray(ref[mode]), err_msg=f"{cid} {mode}")


# ---- saving and export ----------------------------------------------------------------------------------------------
def test_save_pretrained_and_export_load_in_transformers(tmp_path: Path, fixture_python: str) -> None:
    """Folders written by save_pretrained (safetensors, .bin, TF h5, Flax, sharded) and export() load in the real
    frameworks and reproduce the reference outputs (tools/fixtures/check_written.py, one process for all)."""
    model = hfx.AutoModelForMaskedLM.from_pretrained(MLM)
    jobs = []
    for name, kwargs, framework in [
        ("st", {}, "safetensors"),
        ("bin", {"safe_serialization": False}, "pt"),
        ("tf", {"framework": "tf"}, "tf"),
        ("flax", {"framework": "flax"}, "flax"),
        ("st_sharded", {"max_shard_size": "40KB"}, "safetensors"),
    ]:
        out = tmp_path / name
        model.save_pretrained(out, **kwargs)
        jobs.append(f"{out} {MLM} {framework}")
    if "sharded" in jobs[-1]:
        assert (tmp_path / "st_sharded" / "model.safetensors.index.json").exists()
    res = hfx.export(MLM, "tf", tmp_path / "export_tf")
    assert res["max_error"] <= 5e-5 and res["class"] == "BertForMaskedLM"
    jobs.append(f"{tmp_path / 'export_tf'} {MLM} tf")
    # The saved folder also reloads in hfx with the reference outputs.
    back = hfx.AutoModelForMaskedLM.from_pretrained(tmp_path / "flax", from_flax=True)
    assert_matches_reference(back(**case_inputs(MLM), output_hidden_states=True, output_attentions=True), MLM, "flax reload")
    batch = tmp_path / "batch.txt"
    batch.write_text("\n".join(jobs) + "\n")
    proc = subprocess.run([fixture_python, str(ROOT / "tools/fixtures/check_written.py"), "--batch", str(batch)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_export_refuses_a_bad_budget(tmp_path: Path) -> None:
    with pytest.raises(hfx.MismatchError):
        hfx.export(MLM, "flax", tmp_path / "out", max_error=-1.0)
    assert not (tmp_path / "out").exists()


# ---- config and loading info ---------------------------------------------------------------------------------------------
def test_auto_config() -> None:
    cfg = hfx.AutoConfig.from_pretrained(MLM)
    raw = json.loads((MLM / "config.json").read_text())
    assert cfg.model_type == "bert" and cfg.hidden_size == raw["hidden_size"]
    assert hfx.AutoConfig.from_pretrained(MLM, num_labels=5).to_dict()["num_labels"] == 5
    over = hfx.AutoConfig.from_pretrained(MLM, hidden_act="relu")
    assert over.hidden_act == "relu"
    with pytest.raises(AttributeError):
        _ = cfg.no_such_field


def test_loading_info_and_options() -> None:
    model, info = hfx.AutoModelForSequenceClassification.from_pretrained(MLM, output_loading_info=True, num_labels=3)
    assert model.class_name == "BertForSequenceClassification"
    assert "classifier.weight" in info["missing_keys"] and "classifier.bias" in info["missing_keys"]
    assert any(k.startswith("cls.") for k in info["unexpected_keys"])
    ids = case_inputs(MLM)["input_ids"]
    assert model(input_ids=ids).logits.shape == (ids.shape[0], 3)
    half = hfx.AutoModelForMaskedLM.from_pretrained(MLM, torch_dtype="float16")
    assert half.dtype == np.float16
    # state_dict= with config=: the weights given as arrays instead of a file.
    base = hfx.AutoModelForMaskedLM.from_pretrained(MLM)
    again = hfx.AutoModelForMaskedLM.from_pretrained(MLM, state_dict=base.state_dict())
    np.testing.assert_array_equal(again(input_ids=ids).logits, base(input_ids=ids).logits)


def test_verbosity() -> None:
    before = hfx.get_verbosity()
    try:
        hfx.set_verbosity("error")
        assert hfx.get_verbosity() == "error"
        with pytest.raises(hfx.InvalidArgumentError):
            hfx.set_verbosity("loud")
    finally:
        hfx.set_verbosity(before)
