"""Keyword arguments shared by the from_pretrained functions (transformers' names)."""

from __future__ import annotations

from typing import Any

# huggingface_hub options transformers' from_pretrained accepts (HubOptions in include/hfx/hub.h).
HUB_KEYS = ("revision", "cache_dir", "token", "local_files_only", "force_download")
# Accepted for compatibility, without effect in hfx (CPU only, no remote code, no proxies).
IGNORED_KEYS = ("trust_remote_code", "low_cpu_mem_usage", "device_map", "proxies", "resume_download", "subfolder_unused")


def hub_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pops the hub options out of `kwargs` (``use_auth_token`` is the old spelling of ``token``)."""
    out: dict[str, Any] = {}
    if "use_auth_token" in kwargs:
        kwargs.setdefault("token", kwargs.pop("use_auth_token"))
    for key in HUB_KEYS:
        if key in kwargs:
            value = kwargs.pop(key)
            if key == "token" and value is True:
                value = None  # True: the stored token, which hfx reads anyway
            if key == "cache_dir" and value is not None:
                value = str(value)
            out[key] = value
    for key in IGNORED_KEYS:
        kwargs.pop(key, None)
    return out
