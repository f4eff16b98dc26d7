"""Shared helpers for the hfx Python tests: the fixture manifest and the parity rule of the C++ tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pytest
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
CASES = {c["id"]: c for c in MANIFEST["cases"]}


def parity_budget(want: np.ndarray) -> float:
    # tests/test_util.h parity_budget: 1e-5, or 2e-6 x magnitude for outputs larger than 5.
    return max(1e-5, 2e-6 * float(np.abs(want).max(initial=0.0)))


def flat_outputs(out: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """hfx's ModelOutput with tuple fields as "name.i" (the fixtures' outputs.safetensors names)."""
    flat: dict[str, np.ndarray] = {}
    for k, v in out.items():
        if isinstance(v, tuple):
            for i, a in enumerate(v):
                flat[f"{k}.{i}"] = a
        else:
            flat[k] = v
    return flat


def assert_matches_reference(out: Mapping[str, Any], case_dir: Path, what: str) -> None:
    want = load_file(str(case_dir / "outputs.safetensors"))
    got = flat_outputs(out)
    assert want, f"{what}: the reference has no outputs"
    for name, ref in want.items():
        assert name in got, f"{what}: hfx has no output {name} (has {sorted(got)})"
        arr = np.asarray(got[name])
        assert arr.shape == ref.shape, f"{what} {name}: shape {arr.shape} vs {ref.shape}"
        if np.issubdtype(ref.dtype, np.integer):
            np.testing.assert_array_equal(arr, ref, err_msg=f"{what} {name}")
        else:
            err = float(np.abs(arr.astype(np.float64) - ref.astype(np.float64)).max(initial=0.0))
            assert err <= parity_budget(ref), f"{what} {name}: max abs diff {err:.3g} > {parity_budget(ref):.3g}"


def case_inputs(case_dir: Path) -> dict[str, np.ndarray]:
    return load_file(str(case_dir / "inputs.safetensors"))


@pytest.fixture(scope="session")
def fixture_python() -> str:
    """The fixture env's python (transformers, torch, TF, Flax) for check_written.py; skip when absent."""
    py = os.environ.get("HFX_FIXTURE_PYTHON") or str(ROOT / "tools" / "fixtures" / ".venv" / "bin" / "python")
    if not Path(py).exists():
        pytest.skip("no fixture env (tools/fixtures/env.sh)")
    return py
