"""hfx's exceptions: one class per hfx::ErrorKind (include/hfx/error.h), all under HfxError.

Each also derives from the builtin a Python caller would catch for that failure
(a missing file is a FileNotFoundError, a bad argument a ValueError, ...).
Every instance carries ``kind`` (the C++ kind's name), ``file`` and ``tensor``
(empty when the error names none).
"""

from __future__ import annotations


class HfxError(Exception):
    """Base class of every error hfx raises."""

    kind: str = ""
    file: str = ""
    tensor: str = ""


class NotFoundError(HfxError, FileNotFoundError):
    """A file, tensor, config key or model type that is not there."""


class FormatError(HfxError, ValueError):
    """Malformed input: a bad header, offsets, sizes, JSON, ..."""


class UnsupportedError(HfxError, NotImplementedError):
    """Valid input that hfx does not implement."""


class MismatchError(HfxError, ValueError):
    """Shapes or dtypes that do not fit the architecture or each other."""


class IoError(HfxError, OSError):
    """The operating system refused (open, mmap, write, rename)."""


class NetworkError(HfxError, ConnectionError):
    """An HTTP or hub failure."""


class SecurityError(HfxError, PermissionError):
    """Refused on purpose (a pickle outside the allow-list, an external link, ...)."""


class InvalidArgumentError(HfxError, ValueError):
    """The caller passed something unusable."""


_BY_KIND = {
    "NotFound": NotFoundError,
    "Format": FormatError,
    "Unsupported": UnsupportedError,
    "Mismatch": MismatchError,
    "Io": IoError,
    "Network": NetworkError,
    "Security": SecurityError,
    "InvalidArgument": InvalidArgumentError,
}


def class_for_kind(kind: str) -> type[HfxError]:
    """The class the extension raises for an hfx::ErrorKind name (HfxError for an unknown one)."""
    return _BY_KIND.get(kind, HfxError)


__all__ = ["HfxError", "class_for_kind"] + [c.__name__ for c in _BY_KIND.values()]
