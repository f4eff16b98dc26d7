"""SentenceTransformer: sentence-transformers' encode() on hfx (the C++ hfx::SentenceTransformer, equal to
sentence-transformers 3.3.1 on the fixtures). Transformer + the modules modules.json lists (Pooling, Dense,
Normalize), prompts from config_sentence_transformers.json.

    model = hfx.SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
    emb = model.encode(["A man is eating food.", "A man is eating bread."])   # float32 [2, 384]
    model.similarity(emb, emb)
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from . import _hfx
from ._options import hub_options


class SentenceTransformer:
    """sentence_transformers.SentenceTransformer(model_name_or_path, ...) for inference: a folder or a hub repo id."""

    def __init__(self, model_name_or_path: str | os.PathLike[str], **kwargs: Any) -> None:
        opts = hub_options(kwargs)
        for key in ("device", "prompts", "default_prompt_name", "similarity_fn_name", "truncate_dim", "model_kwargs",
                    "tokenizer_kwargs", "config_kwargs", "backend"):
            if kwargs.get(key) not in (None, "cpu"):
                raise TypeError(f"SentenceTransformer: '{key}' is not supported by hfx")
            kwargs.pop(key, None)
        if kwargs:
            raise TypeError(f"SentenceTransformer got unexpected keyword arguments {sorted(kwargs)}")
        self._st = _hfx._SentenceTransformer.from_pretrained(str(model_name_or_path), opts)
        self._dimension: int | None = None

    @property
    def prompts(self) -> dict[str, str]:
        return dict(self._st.prompts)

    @property
    def default_prompt_name(self) -> str | None:
        return self._st.default_prompt_name or None

    @property
    def similarity_fn_name(self) -> str:
        return str(self._st.similarity_fn_name)

    @property
    def max_seq_length(self) -> int | None:
        n = int(self._st.max_seq_length)
        return n or None

    def encode(self, sentences: str | Sequence[str], prompt_name: str | None = None, prompt: str | None = None,
               batch_size: int = 32, show_progress_bar: bool | None = None, output_value: str = "sentence_embedding",
               convert_to_numpy: bool = True, convert_to_tensor: bool = False, normalize_embeddings: bool = False,
               precision: str = "float32", device: str | None = None, pooling: Sequence[str] | None = None,
               max_seq_length: int | None = None) -> np.ndarray:
        """float32 embeddings [len(sentences), dim]; a single string gives [dim], as sentence-transformers does.
        Runs without the GIL (other Python threads go on). ``pooling`` (hfx's) replaces the Pooling modes."""
        if output_value != "sentence_embedding":
            raise ValueError("hfx's encode gives sentence embeddings only (output_value='sentence_embedding')")
        if precision != "float32":
            raise ValueError("hfx's encode gives float32 embeddings only")
        if device not in (None, "cpu"):
            raise ValueError(f"hfx runs on the CPU (device={device!r})")
        single = isinstance(sentences, str)
        texts = [sentences] if single else [str(s) for s in sentences]
        emb = self._st.encode(texts, prompt_name, prompt, None if pooling is None else list(pooling),
                              bool(normalize_embeddings), int(max_seq_length or 0), int(batch_size),
                              bool(show_progress_bar))
        if convert_to_tensor:
            import torch  # only when asked, as sentence-transformers returns a torch.Tensor then

            emb = torch.from_numpy(np.ascontiguousarray(emb))
        return emb[0] if single else emb

    def similarity(self, a: Any, b: Any) -> np.ndarray:
        """[rows(a), rows(b)] by similarity_fn_name (cosine, dot, euclidean, manhattan), as sentence-transformers'."""
        a2 = np.ascontiguousarray(np.atleast_2d(np.asarray(a, dtype=np.float32)))
        b2 = np.ascontiguousarray(np.atleast_2d(np.asarray(b, dtype=np.float32)))
        return np.asarray(self._st.similarity(a2, b2), dtype=np.float32)

    def get_sentence_embedding_dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self._st.encode(["a"], None, None, None, False, 0, 1, False).shape[1])
        return self._dimension

    def __repr__(self) -> str:
        mods = ", ".join(m["kind"] for m in self._st.modules)
        return f"SentenceTransformer({self._st.path!r}, modules=[Transformer, {mods}])"
