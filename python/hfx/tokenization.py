"""hfx.AutoTokenizer: hfx's tokenizers (tokenizer.json or the legacy files) with transformers' call signature."""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

from . import _hfx
from ._options import hub_options

# transformers' model_input_names of the tokenizer classes that do not return token_type_ids
# (PreTrainedTokenizerBase's default, ["input_ids", "token_type_ids", "attention_mask"], is the rest's).
_NO_TOKEN_TYPES = ("GPT2", "Roberta", "DistilBert", "T5", "Llama", "CodeLlama", "Bart", "XLMRoberta", "Camembert",
                   "OpenAIGPT", "Mistral", "GemmaTokenizer", "Longformer", "MPNet")
_VERY_LARGE = int(1e20)
# The special tokens transformers' tokenizer classes declare by default (their __init__ arguments), which it
# registers as special even when tokenizer_config.json does not repeat them.
_BERT_SPECIAL = ("[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]")
_ROBERTA_SPECIAL = ("<s>", "</s>", "<unk>", "<pad>", "<mask>")
_CLASS_SPECIAL = {
    "Bert": _BERT_SPECIAL, "DistilBert": _BERT_SPECIAL, "Electra": _BERT_SPECIAL,
    "Albert": ("[CLS]", "[SEP]", "<unk>", "<pad>", "[MASK]"),
    "T5": ("</s>", "<unk>", "<pad>"),
    "XLNet": ("<s>", "</s>", "<unk>", "<sep>", "<pad>", "<cls>", "<mask>", "<eop>", "<eod>"),
    "GPT2": ("<|endoftext|>",), "OpenAIGPT": ("<unk>",),
    "Roberta": _ROBERTA_SPECIAL, "Bart": _ROBERTA_SPECIAL, "Camembert": _ROBERTA_SPECIAL + ("<s>NOTUSED", "</s>NOTUSED"),
    "XLMRoberta": _ROBERTA_SPECIAL, "Llama": ("<s>", "</s>", "<unk>"),
}  # transformers' VERY_LARGE_INTEGER: "no model_max_length"


class BatchEncoding(OrderedDict):
    """transformers' BatchEncoding: a mapping with attribute access (``enc.input_ids``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _token_text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _clean_up_tokenization(text: str) -> str:
    # transformers' PreTrainedTokenizerBase.clean_up_tokenization (4.46).
    return (text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'")
            .replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s").replace(" 've", "'ve")
            .replace(" 're", "'re"))


class PreTrainedTokenizer:
    """A tokenizer from a model folder (or a tokenizer.json, or a hub repo id)."""

    def __init__(self, impl: Any, folder: str = "", name_or_path: str = "") -> None:
        self._impl = impl
        self.name_or_path = name_or_path
        config = _read_json(os.path.join(folder, "tokenizer_config.json")) if folder else {}
        special = _read_json(os.path.join(folder, "special_tokens_map.json")) if folder else {}
        self.init_kwargs = config
        cls_name = str(config.get("tokenizer_class") or "")
        # XLNetTokenizer's class default padding_side is "left"; the others' "right".
        self.padding_side: str = config.get("padding_side", "left" if cls_name.startswith("XLNet") else "right")
        self.truncation_side: str = config.get("truncation_side", "right")
        # XLNetTokenizer.pad_token_type_id = 3; PreTrainedTokenizerBase's is 0.
        self.pad_token_type_id: int = 3 if cls_name.startswith("XLNet") else 0
        mml = config.get("model_max_length")
        self.model_max_length: int = int(mml) if isinstance(mml, (int, float)) and mml < _VERY_LARGE else _VERY_LARGE
        self.clean_up_tokenization_spaces: bool = bool(config.get("clean_up_tokenization_spaces", False))
        names = config.get("model_input_names")
        if not isinstance(names, list):
            names = ["input_ids", "attention_mask"] if cls_name.startswith(_NO_TOKEN_TYPES) else \
                ["input_ids", "token_type_ids", "attention_mask"]
        self.model_input_names: list[str] = names
        self.pad_token: str | None = _token_text(special.get("pad_token")) or _token_text(config.get("pad_token"))
        if self.pad_token is None:
            # The tokenizer classes' default pad_token (BertTokenizer "[PAD]"; RoBERTa, T5, ALBERT, XLNet "<pad>");
            # GPT-2's and Llama's classes have none, and their vocabularies neither.
            for t in ("[PAD]", "<pad>"):
                if impl.token_to_id(t) is not None:
                    self.pad_token = t
                    break
        # transformers registers the tokens tokenizer_config.json / special_tokens_map.json name as special, so
        # decode(skip_special_tokens=True) drops them even where tokenizer.json does not mark them special.
        special_texts: set[str] = set()
        for prefix, tokens in _CLASS_SPECIAL.items():
            if cls_name.startswith(prefix):
                special_texts.update(tokens)
        for source in (config, special):
            for key in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
                text = _token_text(source.get(key))
                if text:
                    special_texts.add(text)
            for extra in source.get("additional_special_tokens") or []:
                text = _token_text(extra)
                if text:
                    special_texts.add(text)
        if self.pad_token:
            special_texts.add(self.pad_token)
        ids = (impl.token_to_id(t) for t in special_texts)
        self._special_ids: frozenset[int] = frozenset(i for i in ids if i is not None)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str], **kwargs: Any) -> "PreTrainedTokenizer":
        path = os.fspath(pretrained_model_name_or_path)
        hub_options(kwargs)  # the C++ AutoTokenizer resolves repo ids with the environment's hub settings
        impl = _hfx._Tokenizer.from_pretrained(path)
        folder = path if os.path.isdir(path) else (os.path.dirname(path) if os.path.isfile(path) else "")
        tok = cls(impl, folder, path)
        for key in ("padding_side", "truncation_side", "model_max_length", "pad_token", "clean_up_tokenization_spaces"):
            if key in kwargs:
                setattr(tok, key, kwargs.pop(key))
        return tok

    # ---- vocabulary -------------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return int(self._impl.vocab_size())

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def pad_token_id(self) -> int | None:
        return None if self.pad_token is None else self._impl.token_to_id(self.pad_token)

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> Any:
        if isinstance(tokens, str):
            return self._impl.token_to_id(tokens)
        return [self._impl.token_to_id(t) for t in tokens]

    def convert_ids_to_tokens(self, ids: int | Sequence[int]) -> Any:
        if isinstance(ids, (int, np.integer)):
            return self._impl.id_to_token(int(ids))
        return [self._impl.id_to_token(int(i)) for i in ids]

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return int(self._impl.num_special_tokens_to_add(pair))

    # ---- encoding ------------------------------------------------------------------------------------
    def __call__(self, text: str | Sequence[str], text_pair: str | Sequence[str] | None = None, *,
                 add_special_tokens: bool = True, padding: bool | str = False, truncation: bool | str | None = None,
                 max_length: int | None = None, stride: int = 0, pad_to_multiple_of: int | None = None,
                 return_tensors: str | None = None, return_token_type_ids: bool | None = None,
                 return_attention_mask: bool | None = None, return_overflowing_tokens: bool = False,
                 return_special_tokens_mask: bool = False, return_offsets_mapping: bool = False,
                 return_length: bool = False, padding_side: str | None = None) -> BatchEncoding:
        """transformers' tokenizer(...): ids, masks (and offsets, ...) as lists, or NumPy with return_tensors="np"."""
        batched = not isinstance(text, str)
        texts = [text] if not batched else list(text)
        pairs = None
        if text_pair is not None:
            pairs = [text_pair] if isinstance(text_pair, str) else list(text_pair)
        if not all(isinstance(t, str) for t in texts):
            raise ValueError("text must be a string or a list of strings (pre-tokenized input is not supported)")

        # transformers' _get_padding_truncation_strategies.
        pad_mode = {False: None, "do_not_pad": None, True: "longest", "longest": "longest", "max_length": "max_length"}.get(padding, "?")  # type: ignore[call-overload]
        if pad_mode == "?":
            raise ValueError(f"padding must be True, False, 'longest', 'max_length' or 'do_not_pad', not {padding!r}")
        if truncation is None:
            truncation = max_length is not None
        trunc_mode = {False: None, "do_not_truncate": None, True: "longest_first", "longest_first": "longest_first",
                      "only_first": "only_first", "only_second": "only_second"}.get(truncation, "?")  # type: ignore[call-overload]
        if trunc_mode == "?":
            raise ValueError(f"unknown truncation strategy {truncation!r}")
        if max_length is None and (trunc_mode is not None or pad_mode == "max_length"):
            max_length = self.model_max_length if self.model_max_length < _VERY_LARGE else None
            if max_length is None:
                trunc_mode = None
                if pad_mode == "max_length":
                    pad_mode = "longest"
        if pad_mode is not None and not batched and pad_mode == "longest" and not pad_to_multiple_of:
            pad_mode = None  # one sequence is already as long as the longest
        trunc = None
        if trunc_mode is not None and max_length is not None:
            trunc = {"max_length": int(max_length), "stride": int(stride), "strategy": trunc_mode,
                     "side": self.truncation_side}
        pad = None
        if pad_mode is not None:
            pad_id = self.pad_token_id
            if pad_id is None:
                raise ValueError("Asking to pad but the tokenizer does not have a padding token.")
            pad = {"length": int(max_length) if pad_mode == "max_length" else None,
                   "side": padding_side or self.padding_side, "pad_to_multiple_of": int(pad_to_multiple_of or 0),
                   "pad_id": int(pad_id), "pad_type_id": self.pad_token_type_id, "pad_token": self.pad_token}
        rows, sample_of = self._impl.encode_batch(texts, pairs, add_special_tokens, trunc, pad,
                                                  bool(return_overflowing_tokens))

        keys = ["input_ids"]
        if return_token_type_ids or (return_token_type_ids is None and "token_type_ids" in self.model_input_names):
            keys.append("token_type_ids")
        if return_attention_mask or (return_attention_mask is None and "attention_mask" in self.model_input_names):
            keys.append("attention_mask")
        if return_special_tokens_mask:
            keys.append("special_tokens_mask")
        if return_offsets_mapping:
            keys.append("offset_mapping")
        out = BatchEncoding()
        for key in keys:
            out[key] = [r[key] for r in rows]
        if return_length:
            out["length"] = [len(r["input_ids"]) for r in rows]
        if sample_of is not None:
            out["overflow_to_sample_mapping"] = list(sample_of)
        if not batched and not return_overflowing_tokens:
            for key in list(out):
                out[key] = out[key][0]
        if return_tensors is not None:
            out = self._as_tensors(out, return_tensors, batched or bool(return_overflowing_tokens))
        return out

    encode_plus = __call__
    batch_encode_plus = __call__

    @staticmethod
    def _as_tensors(enc: BatchEncoding, kind: str, batched: bool) -> BatchEncoding:
        if kind not in ("np", "pt"):
            raise ValueError(f"return_tensors must be 'np' or 'pt', not {kind!r}")
        out = BatchEncoding()
        for key, value in enc.items():
            if not batched:
                value = [value]
            lengths = {len(v) for v in value} if value and isinstance(value[0], list) else set()
            if len(lengths) > 1:
                raise ValueError("Unable to create tensor: the sequences have different lengths; use padding=True")
            arr = np.asarray(value, dtype=np.int64)
            if kind == "pt":
                import torch
                arr = torch.from_numpy(arr)
            out[key] = arr
        return out

    def encode(self, text: str, text_pair: str | None = None, add_special_tokens: bool = True, **kwargs: Any) -> list[int]:
        return list(self(text, text_pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"])

    def tokenize(self, text: str, add_special_tokens: bool = False) -> list[str]:
        rows, _ = self._impl.encode_batch([text], None, add_special_tokens, None, None, False)
        return list(rows[0]["tokens"])

    # ---- decoding -----------------------------------------------------------------------------------
    def decode(self, token_ids: Any, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool | None = None) -> str:
        ids = np.asarray(token_ids, dtype=np.int64).reshape(-1).tolist()
        if skip_special_tokens:
            ids = [i for i in ids if i not in self._special_ids]
        text = self._impl.decode(ids, skip_special_tokens)
        clean = self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces
        return _clean_up_tokenization(text) if clean else text

    def batch_decode(self, sequences: Any, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: bool | None = None) -> list[str]:
        return [self.decode(s, skip_special_tokens, clean_up_tokenization_spaces) for s in sequences]


class AutoTokenizer:
    """transformers' AutoTokenizer: ``AutoTokenizer.from_pretrained(path_or_repo_id)``."""

    def __init__(self) -> None:
        raise EnvironmentError("AutoTokenizer is instantiated with AutoTokenizer.from_pretrained(path)")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str], **kwargs: Any) -> PreTrainedTokenizer:
        return PreTrainedTokenizer.from_pretrained(pretrained_model_name_or_path, **kwargs)
