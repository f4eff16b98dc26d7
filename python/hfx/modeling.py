"""Models: the AutoModel classes, PreTrainedModel (forward, generate, save_pretrained) and ModelOutput."""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from typing import Any, Iterator, Mapping

import numpy as np

from . import _hfx
from ._options import hub_options
from .configuration import PretrainedConfig

_TUPLE_ITEM = re.compile(r"^(.*)\.(\d+)$")

# The arrays forward() takes (hfx::ModelInputs, include/hfx/model.h).
_INPUT_NAMES = (
    "input_ids", "attention_mask", "token_type_ids", "position_ids", "head_mask", "decoder_input_ids",
    "decoder_attention_mask", "mc_token_ids", "langs", "perm_mask", "target_mapping",
    # training targets: the outputs gain "loss" (and "mc_loss" / "losses" where transformers returns them)
    "labels", "start_positions", "end_positions", "next_sentence_label", "sentence_order_label", "mc_labels",
)


class ModelOutput(OrderedDict):
    """transformers' ModelOutput: a mapping in field order with attribute access; an int or slice indexes
    ``to_tuple()``. Tuple fields (``hidden_states``, ``attentions``, ``mems``, ...) are tuples of arrays."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field '{name}' (fields: {list(self.keys())})") from None

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, slice)):
            return self.to_tuple()[key]
        return super().__getitem__(key)

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(self.values())


def _group_outputs(items: list[tuple[str, Any]]) -> ModelOutput:
    """[("hidden_states.0", a), ("hidden_states.1", b)] -> {"hidden_states": (a, b)}, in first-seen order."""
    groups: dict[str, dict[int, Any]] = {}
    order: list[tuple[str, bool]] = []
    plain: dict[str, Any] = {}
    for name, arr in items:
        m = _TUPLE_ITEM.match(name)
        if m:
            base, index = m.group(1), int(m.group(2))
            if base not in groups:
                groups[base] = {}
                order.append((base, True))
            groups[base][index] = arr
        else:
            plain[name] = arr
            order.append((name, False))
    out = ModelOutput()
    for name, grouped in order:
        if grouped:
            g = groups[name]
            out[name] = tuple(g[i] for i in sorted(g))
        else:
            out[name] = plain[name]
    return out


def _as_array(value: Any) -> Any:
    """An argument as an array hfx can view without a copy where it already is one (C-contiguous int64 ids stay
    as they are); torch tensors go through .numpy() (no copy on CPU), lists become int64/float32 arrays."""
    if value is None or isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch.Tensor
        return value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    return arr


def _dtype_name(value: Any) -> str | None:
    """torch_dtype as transformers accepts it (a string, torch.float16, np.float16) -> hfx's spelling."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[len("torch."):] if value.startswith("torch.") else value
    text = str(value)
    if text.startswith("torch."):
        return text[len("torch."):]
    return np.dtype(value).name


class PreTrainedModel:
    """A loaded model (one transformers class, e.g. BertForMaskedLM), run by hfx's C++ library on the CPU.

    Thread-safe: calls from several threads run at once (the GIL is released during forward and generate)."""

    def __init__(self, handle: Any, name_or_path: str = "") -> None:
        self._handle = handle
        self.name_or_path = name_or_path
        self.config = PretrainedConfig._from_json(handle.config_json(), handle.config_merged_json())

    # ---- identity ---------------------------------------------------------------------------------
    @property
    def class_name(self) -> str:
        return str(self._handle.class_name)

    @property
    def base_model_prefix(self) -> str:
        return str(self._handle.base_model_prefix)

    @property
    def dtype(self) -> np.dtype[Any] | str:
        name = self._handle.dtype()
        return np.dtype(name) if name != "bfloat16" else name

    @property
    def training(self) -> bool:
        return bool(self._handle.training)

    def __repr__(self) -> str:
        return f"<hfx {self.class_name} from {self.name_or_path!r}>"

    def eval(self) -> "PreTrainedModel":
        self._handle.set_training(False, 0)
        return self

    def train(self, mode: bool = True, seed: int = 0) -> "PreTrainedModel":
        self._handle.set_training(mode, seed)
        return self

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        return int(self._handle.num_parameters(only_trainable, exclude_embeddings))

    def state_dict(self) -> dict[str, np.ndarray]:
        """Canonical parameter name -> array: views of hfx's parameters (read-only where they are memory-mapped)."""
        return dict(self._handle.state_dict())

    @property
    def generation_config(self) -> dict[str, Any]:
        """The generation defaults (generation_config.json / config.json, transformers' rules)."""
        return dict(self._handle.generation_defaults())

    # ---- forward ---------------------------------------------------------------------------------------
    def __call__(self, input_ids: Any = None, attention_mask: Any = None, token_type_ids: Any = None,
                 position_ids: Any = None, head_mask: Any = None, *, decoder_input_ids: Any = None,
                 decoder_attention_mask: Any = None, mc_token_ids: Any = None, langs: Any = None,
                 perm_mask: Any = None, target_mapping: Any = None, mems: Any = None,
                 output_hidden_states: bool | None = None, output_attentions: bool | None = None,
                 return_dict: bool | None = None, labels: Any = None, start_positions: Any = None,
                 end_positions: Any = None, next_sentence_label: Any = None, sentence_order_label: Any = None,
                 mc_labels: Any = None, **kwargs: Any) -> Any:
        """transformers' forward: the outputs as a ModelOutput of NumPy arrays that view hfx's buffers (no copy).
        Inputs may be NumPy arrays (C-contiguous int64 ids are used in place), lists or CPU torch tensors.
        Training targets (``labels``, ``start_positions``/``end_positions``, ``next_sentence_label``,
        ``sentence_order_label``, ``mc_labels``) add ``loss`` as transformers computes it (no gradients)."""
        for unsupported in ("inputs_embeds", "decoder_inputs_embeds", "past_key_values", "encoder_outputs"):
            if kwargs.get(unsupported) is not None:
                from .errors import UnsupportedError
                raise UnsupportedError(f"forward(): hfx does not take {unsupported}")
            kwargs.pop(unsupported, None)
        kwargs.pop("use_cache", None)
        if kwargs:
            raise TypeError(f"forward() got unexpected keyword arguments {sorted(kwargs)}")
        values = (input_ids, attention_mask, token_type_ids, position_ids, head_mask, decoder_input_ids,
                  decoder_attention_mask, mc_token_ids, langs, perm_mask, target_mapping, labels, start_positions,
                  end_positions, next_sentence_label, sentence_order_label, mc_labels)
        arrays = {n: _as_array(v) for n, v in zip(_INPUT_NAMES, values) if v is not None}
        if output_hidden_states is None:
            output_hidden_states = bool(self.config.to_dict().get("output_hidden_states", False))
        if output_attentions is None:
            output_attentions = bool(self.config.to_dict().get("output_attentions", False))
        mem_list = None if mems is None else [_as_array(m) for m in mems]
        out = _group_outputs(self._handle.forward(arrays, mem_list, bool(output_hidden_states), bool(output_attentions)))
        if return_dict is False:
            return out.to_tuple()
        return out

    forward = __call__

    def generate(self, input_ids: Any, attention_mask: Any = None, generation_config: Mapping[str, Any] | None = None,
                 **kwargs: Any) -> np.ndarray:
        """transformers' generate(): greedy, sampling (``do_sample``, ``temperature``, ``top_k``, ``top_p``, ``seed``)
        and beam search (``num_beams``, ...). Returns [batch * num_return_sequences, prompt + new] int64 ids."""
        options = dict(generation_config or {})
        options.update(kwargs)
        ids = _as_array(input_ids)
        if ids is not None and ids.ndim == 1:
            ids = ids[None, :]
        return self._handle.generate(ids, _as_array(attention_mask), options)

    # ---- saving -------------------------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | os.PathLike[str], *, safe_serialization: bool = True,
                        max_shard_size: str | int | None = None, framework: str = "pt") -> None:
        """transformers' save_pretrained (atomic). ``framework``: "pt" (safetensors, or .bin with
        safe_serialization=False), "tf" (tf_model.h5) or "flax" (flax_model.msgpack)."""
        shard = "" if max_shard_size is None else str(max_shard_size)
        if isinstance(max_shard_size, int):
            shard = f"{max_shard_size}B"
        self._handle.save_pretrained(os.fspath(save_directory), framework, safe_serialization, shard)


def _load_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    opts = hub_options(kwargs)
    for key in ("use_safetensors", "from_tf", "from_flax", "ignore_mismatched_sizes"):
        if key in kwargs:
            opts[key] = kwargs.pop(key)
    if "torch_dtype" in kwargs:
        opts["torch_dtype"] = _dtype_name(kwargs.pop("torch_dtype"))
    config = kwargs.pop("config", None)
    if isinstance(config, PretrainedConfig):
        opts["config_json"] = json.dumps(config.fields)
    elif isinstance(config, Mapping):
        opts["config_json"] = json.dumps(dict(config))
    elif config is not None:
        opts["config_path"] = os.fspath(config)
    state_dict = kwargs.pop("state_dict", None)
    if state_dict is not None:
        opts["state_dict"] = {k: np.ascontiguousarray(_as_array(v)) for k, v in state_dict.items()}
    # transformers hands the remaining keyword arguments to the config (config.update(kwargs)).
    if kwargs:
        opts["config_overrides"] = json.dumps(kwargs)
    return opts


def load_pretrained(pretrained_model_name_or_path: str | os.PathLike[str], class_name: str = "", *,
                    output_loading_info: bool = False, **kwargs: Any) -> Any:
    """Loads a given transformers class ("BertForMaskedLM"; "" = the config's architectures[0])."""
    return _load(pretrained_model_name_or_path, "", class_name, output_loading_info, kwargs)


def _load(path: str | os.PathLike[str], auto_name: str, class_name: str, output_loading_info: bool,
          kwargs: dict[str, Any]) -> Any:
    kwargs = dict(kwargs)
    strict = kwargs.pop("strict", None)
    opts = _load_options(kwargs)
    if strict is not None:
        opts["strict"] = bool(strict)
    handle, info = _hfx.load(os.fspath(path), auto_name, class_name, opts)
    model = PreTrainedModel(handle, os.fspath(path))
    if output_loading_info:
        return model, info
    return model


class _AutoModelBase:
    _auto_name = "AutoModel"

    def __init__(self) -> None:
        raise EnvironmentError(f"{type(self).__name__} is instantiated with {type(self).__name__}.from_pretrained(path)")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str], *model_args: Any,
                        output_loading_info: bool = False, **kwargs: Any) -> Any:
        """transformers' from_pretrained: a folder, a weight file beside its config.json, or a hub repo id.
        Options: torch_dtype, use_safetensors, from_tf, from_flax, ignore_mismatched_sizes, config, state_dict,
        revision, cache_dir, token, local_files_only, force_download; other keywords override config fields.
        With output_loading_info=True returns (model, {"missing_keys", "unexpected_keys", "mismatched_keys",
        "error_msgs", ...})."""
        if model_args:
            raise TypeError("hfx's from_pretrained takes no positional model arguments")
        return _load(pretrained_model_name_or_path, cls._auto_name, "", output_loading_info, kwargs)


def _make_auto(name: str) -> type:
    return type(name, (_AutoModelBase,), {"_auto_name": name, "__doc__": f"transformers' {name}."})


AutoModel = _make_auto("AutoModel")
AutoModelForMaskedLM = _make_auto("AutoModelForMaskedLM")
AutoModelForSequenceClassification = _make_auto("AutoModelForSequenceClassification")
AutoModelForTokenClassification = _make_auto("AutoModelForTokenClassification")
AutoModelForQuestionAnswering = _make_auto("AutoModelForQuestionAnswering")
AutoModelForPreTraining = _make_auto("AutoModelForPreTraining")
AutoModelForCausalLM = _make_auto("AutoModelForCausalLM")
AutoModelForMultipleChoice = _make_auto("AutoModelForMultipleChoice")
AutoModelForSeq2SeqLM = _make_auto("AutoModelForSeq2SeqLM")

AUTO_CLASSES = (AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoModelForTokenClassification,
                AutoModelForQuestionAnswering, AutoModelForPreTraining, AutoModelForCausalLM,
                AutoModelForMultipleChoice, AutoModelForSeq2SeqLM)


def _iter_outputs(out: Mapping[str, Any]) -> Iterator[tuple[str, np.ndarray]]:
    """(name, array) with tuple fields flattened as "name.i" (the fixtures' naming)."""
    for k, v in out.items():
        if isinstance(v, tuple):
            for i, a in enumerate(v):
                yield f"{k}.{i}", a
        else:
            yield k, v
