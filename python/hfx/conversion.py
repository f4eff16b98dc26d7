"""hfx.convert (transformers-cli convert) and hfx.export (hfx export): checkpoints between frameworks."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from typing import Any

from . import _hfx
from .errors import InvalidArgumentError, MismatchError
from .modeling import load_pretrained


def convert(model_type: str, tf_checkpoint: str | os.PathLike[str], pytorch_dump_output: str | os.PathLike[str],
            config: str | os.PathLike[str] | None = None, finetuning_task: str | None = None,
            safetensors: bool = False) -> dict[str, Any]:
    """``transformers-cli convert`` natively (include/hfx/convert.h): an original TF1 / OpenAI / XLM checkpoint to
    what transformers 4.46's converter writes. Returns {"files", "skipped", "tensors", "class_name"}."""
    return dict(_hfx.convert({
        "model_type": model_type, "tf_checkpoint": os.fspath(tf_checkpoint), "output": os.fspath(pytorch_dump_output),
        "config": "" if config is None else os.fspath(config), "finetuning_task": finetuning_task or "",
        "safetensors": bool(safetensors),
    }))


def _default_out(path: str, to: str) -> str:
    # As `hfx export` (src/cli/convert.cc, export_out_dir): beside a local checkpoint, else ./<name>-<to>.
    if os.path.isdir(path):
        return path
    if os.path.exists(path):
        return os.path.dirname(path) or "."
    return os.path.join(os.getcwd(), path.rstrip("/").rsplit("/", 1)[-1] + "-" + to)


def export(pretrained_model_name_or_path: str | os.PathLike[str], to: str, out: str | os.PathLike[str] | None = None, *,
           max_error: float = 5e-5, max_shard_size: str | None = None, class_name: str = "", streaming: bool = False,
           **load_kwargs: Any) -> dict[str, Any]:
    """``hfx export``: writes the model's weights for another framework (``to``: "tf", "flax", "pt" (.bin) or
    "safetensors"), after checking in a private staging folder that the written model, loaded back, gives the
    source's outputs and hidden states within ``max_error`` (else MismatchError, nothing written).
    ``streaming=True`` (safetensors only) converts one tensor at a time without loading the model.
    Returns {"class", "out", "to", "max_error", "runs"}."""
    path = os.fspath(pretrained_model_name_or_path)
    if to not in ("tf", "flax", "pt", "safetensors"):
        raise InvalidArgumentError(f"to must be tf, flax, pt or safetensors, not {to!r}")
    dest = os.fspath(out) if out is not None else _default_out(path, to)
    if streaming:
        if to != "safetensors" or max_shard_size:
            raise InvalidArgumentError("streaming export writes unsharded safetensors only")
        _hfx.convert_directory(path, dest, class_name, {})
        return {"class": class_name, "out": dest, "to": to, "streaming": True}
    src = load_pretrained(path, class_name, **load_kwargs)
    framework = "pt" if to == "safetensors" else to
    save = {"framework": framework, "safe_serialization": to != "pt", "max_shard_size": max_shard_size}
    staging = tempfile.mkdtemp(prefix="hfx-export-")
    try:
        src.save_pretrained(staging, **save)
        back = load_pretrained(staging, src.class_name, from_tf=to == "tf", from_flax=to == "flax", strict=True)
        report = _hfx.compare(src._handle, back._handle)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    runs = report["runs"]

    def err(d: dict[str, Any]) -> float:
        return math.inf if tuple(d["shape_a"]) != tuple(d["shape_b"]) else float(d["max_abs"])

    worst = max(runs, key=err, default=None)
    max_err = err(worst) if worst else 0.0
    if not max_err <= max_error or report["weights_only_a"] or report["weights_only_b"]:
        detail = f"; worst tensor: {worst['name']}" if worst else ""
        if report["weights_only_a"]:
            detail += f"; weight lost: {report['weights_only_a'][0]}"
        raise MismatchError(f"export to {to} refused: max error {max_err:.3g} > budget {max_error:.1e}{detail}; "
                            f"nothing was written to {dest}")
    src.save_pretrained(dest, **save)
    return {"class": src.class_name, "out": dest, "to": to, "max_error": max_err, "runs": runs}
