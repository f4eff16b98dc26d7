"""hfx.AutoConfig and PretrainedConfig: config.json with transformers' attribute access."""

from __future__ import annotations

import json
import os
from typing import Any

from . import _hfx
from ._options import hub_options


class PretrainedConfig:
    """A model's config.json. Attributes read the file's fields, then the config class defaults
    (what transformers' config object shows); ``to_dict()`` is that merged view, ``fields`` what the file said."""

    def __init__(self, fields: dict[str, Any], merged: dict[str, Any] | None = None, source: str = "") -> None:
        object.__setattr__(self, "_fields", dict(fields))
        object.__setattr__(self, "_merged", dict(merged if merged is not None else fields))
        object.__setattr__(self, "_source", source)

    @classmethod
    def _from_json(cls, fields: str, merged: str, source: str = "") -> "PretrainedConfig":
        return cls(json.loads(fields), json.loads(merged), source)

    @property
    def fields(self) -> dict[str, Any]:
        return dict(self._fields)

    @property
    def model_type(self) -> str:
        return str(self._merged.get("model_type", ""))

    def __getattr__(self, name: str) -> Any:
        merged = object.__getattribute__(self, "_merged")
        if name in merged:
            return merged[name]
        raise AttributeError(f"{type(self).__name__} has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        self._fields[name] = value
        self._merged[name] = value

    def to_dict(self) -> dict[str, Any]:
        return dict(self._merged)

    def to_json_string(self) -> str:
        return json.dumps(self._fields, indent=2, sort_keys=True) + "\n"

    def __repr__(self) -> str:
        return f"{type(self).__name__} {json.dumps(self._fields, indent=2, sort_keys=True)}"


class AutoConfig:
    """transformers' AutoConfig: ``AutoConfig.from_pretrained(path_or_repo_id, **overrides)``."""

    def __init__(self) -> None:
        raise EnvironmentError("AutoConfig is instantiated with AutoConfig.from_pretrained(path)")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str], **kwargs: Any) -> PretrainedConfig:
        hub = hub_options(kwargs)
        fields, merged, source = _hfx.auto_config(os.fspath(pretrained_model_name_or_path), json.dumps(kwargs), hub)
        return PretrainedConfig._from_json(fields, merged, source)
