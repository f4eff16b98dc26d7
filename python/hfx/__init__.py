"""hfx: Hugging Face Transformers checkpoints (safetensors, .bin, TF h5, TF1, Flax) run natively on the CPU with
PyTorch parity, from Python. See python/README.md.

    import hfx
    tok = hfx.AutoTokenizer.from_pretrained("path/or/org-name")
    model = hfx.AutoModel.from_pretrained("path/or/org-name")
    out = model(**tok(["Hello world"], return_tensors="np"))
    out.last_hidden_state  # numpy.ndarray viewing hfx's buffer
"""

from __future__ import annotations

from . import _hfx
from .configuration import AutoConfig, PretrainedConfig
from .conversion import convert, export
from .errors import (FormatError, HfxError, InvalidArgumentError, IoError, MismatchError, NetworkError, NotFoundError,
                     SecurityError, UnsupportedError)
from .modeling import (AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForMultipleChoice,
                       AutoModelForPreTraining, AutoModelForQuestionAnswering, AutoModelForSeq2SeqLM,
                       AutoModelForSequenceClassification, AutoModelForTokenClassification, ModelOutput,
                       PreTrainedModel, load_pretrained)
from .sentence import SentenceTransformer
from .tokenization import AutoTokenizer, BatchEncoding, PreTrainedTokenizer

__version__: str = _hfx.__version__
transformers_reference: str = _hfx.transformers_reference


def set_verbosity(level: str) -> None:
    """hfx's log level ("debug", "info", "warning" (default), "error", "critical"), as transformers.logging's."""
    _hfx.set_verbosity(level)


def get_verbosity() -> str:
    return str(_hfx.verbosity())


def set_num_threads(n: int) -> None:
    """The CPU threads hfx's kernels use from now on (torch.set_num_threads'); the default is OMP_NUM_THREADS, else
    one per core. Ray sets OMP_NUM_THREADS to an actor's num_cpus."""
    _hfx.set_num_threads(int(n))


def get_num_threads() -> int:
    return int(_hfx.get_num_threads())


def supported_model_types() -> list[str]:
    """The model_type values hfx builds (config.json's "model_type")."""
    return list(_hfx.supported_model_types())


__all__ = [
    "AutoConfig", "PretrainedConfig", "AutoModel", "AutoModelForCausalLM", "AutoModelForMaskedLM",
    "AutoModelForMultipleChoice", "AutoModelForPreTraining", "AutoModelForQuestionAnswering", "AutoModelForSeq2SeqLM",
    "AutoModelForSequenceClassification", "AutoModelForTokenClassification", "ModelOutput", "PreTrainedModel",
    "load_pretrained", "SentenceTransformer", "AutoTokenizer", "BatchEncoding", "PreTrainedTokenizer", "convert", "export",
    "supported_model_types", "set_num_threads", "get_num_threads", "set_verbosity", "get_verbosity", "HfxError", "NotFoundError", "FormatError", "UnsupportedError", "MismatchError",
    "IoError", "NetworkError", "SecurityError", "InvalidArgumentError", "__version__",
]
