"""Loading base models and their tokenizers from a hub id or a local folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from mixopt.errors import ConfigError, did_you_mean, first_line

__all__ = [
    "OFFLINE_HINT",
    "hub_unreachable",
    "is_local_reference",
    "load_model",
    "load_tokenizer",
    "resolve_reference",
    "tokenizer_fingerprint",
]


def is_local_reference(ref: str) -> bool:
    """True when ``ref`` names a local path rather than a hub id like ``org/name``."""
    return (
        os.path.exists(os.path.expanduser(ref))
        or ref.startswith(("/", "./", "../", "~", "."))
        or ref.count("/") > 1
        or (os.sep != "/" and os.sep in ref)
    )


def resolve_reference(ref: str) -> str:
    """An existing local folder as an absolute path, or the hub id unchanged.

    ``models/tiny`` is a local path, not the hub's ``org/name``, when ``models`` is a local
    folder: a typo in it is "no such local folder", never a failed download."""
    if not isinstance(ref, str) or not ref.strip():
        raise ConfigError("model reference must be a hub id or a local folder, got an empty value")
    first = ref.replace(os.sep, "/").split("/")[0]
    if is_local_reference(ref) or ("/" in ref.replace(os.sep, "/") and os.path.isdir(first)):
        path = Path(ref).expanduser().resolve()
        if not path.is_dir():
            hint = _nearby(path)
            raise ConfigError(
                f"model {ref!r}: no such local folder {path}{'.' + hint if hint else ''}"
            )
        return str(path)
    return ref


def _nearby(path: Path) -> str:
    """`` Did you mean: x?`` for a folder beside ``path`` with a close name."""
    parent = path.parent
    folders = [p.name for p in parent.iterdir() if p.is_dir()] if parent.is_dir() else []
    return did_you_mean(path.name, folders)


def _not_loaded(ref: str, what: str, exc: BaseException) -> ConfigError:
    """The one line for a model that did not load; a name without ``org/`` that is no local
    folder is most often a mistyped folder, so that comes first."""
    first = first_line(exc, type(exc).__name__)
    if "/" in ref or os.sep in ref:
        return ConfigError(f"model {ref!r}: cannot load {what} ({first})")
    path = Path(ref).resolve()
    return ConfigError(
        f"model {ref!r}: no such local folder {path}, and no hub model of that name could be "
        f"loaded ({first}); a hub id is org/name.{_nearby(path)}"
    )


OFFLINE_HINT = "`mixopt tiny-model DIR` builds a small model offline"


def hub_unreachable(timeout: float = 3.0) -> bool:
    """True when the Hugging Face hub cannot be reached at all (no route, no name lookup),
    found in about a second: its client would retry for over a minute before saying so.
    Never true through a proxy, or with ``HF_HUB_OFFLINE`` set (nothing is asked then)."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or any(
        os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
    ):
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
        socket.create_connection((url.hostname or "", port), timeout=timeout).close()
    except OSError:
        return True
    return False


def load_tokenizer(ref: str) -> Any:
    """The fast tokenizer of a hub id or local model folder, or a one-line :class:`ConfigError`.
    Offline, a hub id is read from the Hugging Face cache only (at once, not after retries)."""
    from transformers import AutoTokenizer

    source = resolve_reference(ref)
    offline = source == ref and not is_local_reference(ref) and hub_unreachable()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
    except (OSError, ValueError) as exc:
        if offline:
            raise ConfigError(
                f"model {ref!r}: not in the Hugging Face cache, and the hub cannot be reached "
                f"(offline): give a local folder ({OFFLINE_HINT})"
            ) from None
        raise _not_loaded(ref, "its tokenizer", exc) from None
    if not getattr(tokenizer, "is_fast", False):
        # offsets (for loss masks) and batched speed need the Rust tokenizer
        raise ConfigError(f"model {ref!r}: mixopt needs a fast (tokenizers-backed) tokenizer")
    return tokenizer


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A digest of everything that changes token ids: vocabulary, merges, template, specials."""
    h = hashlib.sha256()
    h.update(tokenizer.backend_tokenizer.to_str().encode())
    h.update(repr(getattr(tokenizer, "chat_template", None)).encode())
    h.update(repr((tokenizer.bos_token_id, tokenizer.eos_token_id)).encode())
    return h.hexdigest()


def load_model(ref: str, device: Any = "cpu", dtype: Any = None, allow_pickle: bool = False) -> Any:
    """A causal LM from a hub id or local folder, on ``device``.

    Weights load from safetensors only unless ``allow_pickle`` is set: unpickling a
    checkpoint can run arbitrary code, so a ``.bin``-only model must be asked for explicitly.
    """
    import torch
    from transformers import AutoModelForCausalLM

    source = resolve_reference(ref)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=dtype or torch.float32, use_safetensors=None if allow_pickle else True
        )
    except (OSError, ValueError) as exc:
        first = first_line(exc, type(exc).__name__)
        hint = (
            ""
            if allow_pickle or "safetensors" not in first
            else "; pickled weights can run code when loaded, so they load only with allow_pickle"
        )
        raise ConfigError(f"model {ref!r}: cannot load it ({first}){hint}") from None
    return model.to(device)
