"""Per-record scores, computed once and cached beside the tokens.

The key is the domain's token-cache key (its content, how it is read, the tokenizer), the
scorer's name and settings, and for model scorers the model's fingerprint; an entry is one
``.npy`` file written under a temporary name and renamed, so a killed run leaves none half
written and a second study (or trial) computes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixopt.errors import ConfigError, MixoptError
from mixopt.scorers import make_scorer, needs_instruction, uses_model
from mixopt.scorers._base import ScoreInput

if TYPE_CHECKING:
    from mixopt.data.tokenize import TokenizedDomain
    from mixopt.events import EventLog

__all__ = ["ScoreTable", "model_fingerprint", "score_domain", "score_domains"]

ScoreTable = dict[str, dict[str, str]]
"""Domain name -> scorer name -> the cached ``.npy`` of its per-record scores."""


def score_domains(
    domains: Sequence[TokenizedDomain],
    scorers: Mapping[str, Mapping[str, Any]],
    model: str | None = None,
    cache_dir: str | Path | None = None,
    events: EventLog | None = None,
    only: Mapping[str, Sequence[str]] | None = None,
    tokenizer: Any = None,
) -> ScoreTable:
    """Score every domain with every scorer (``scorers``: name -> settings), from the cache
    where it can; ``only``: per domain, the scorers it needs (default: all). Every problem
    (an unknown scorer, IFD on text records) is reported at once."""
    out: ScoreTable = {}
    problems: list[str] = []
    for d in domains:
        out[d.name] = {}
        for name, settings in scorers.items():
            if only is not None and name not in only.get(d.name, ()):
                continue
            try:
                out[d.name][name] = str(
                    score_domain(d, name, settings, model, cache_dir, events, tokenizer)
                )
            except MixoptError as exc:
                problems.extend(exc.problems)
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    return out


def score_domain(
    domain: TokenizedDomain,
    name: str,
    settings: Mapping[str, Any] | None = None,
    model: str | None = None,
    cache_dir: str | Path | None = None,
    events: EventLog | None = None,
    tokenizer: Any = None,
) -> Path:
    """The cached scores of ``domain`` by the scorer ``name`` (computed on a miss)."""
    import numpy as np

    from mixopt.data.tokenize import default_cache_dir

    scorer = make_scorer(name, dict(settings or {}))
    if needs_instruction(scorer) and domain.format == "text":
        raise ConfigError(
            f"scorer {name!r} on domain {domain.name!r}: it holds text records, which have no "
            "prompt to condition on; filter it on prompt/completion or chat domains only (per_domain)"
        )
    key = _key(domain, name, scorer, model if uses_model(scorer) else None)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = root / "scores" / key[:2] / f"{key}.npy"
    if path.exists():
        if events is not None:
            events.emit(
                "score_done", None, domain=domain.name, scorer=name, cached=True, seconds=0.0
            )
        return path
    started = time.monotonic()
    if events is not None:
        events.emit(
            "score_started", f"scoring {domain.name} by {name}...", domain=domain.name, scorer=name
        )
    values = np.asarray(scorer.score(ScoreInput(domain, model, tokenizer)), dtype=np.float64)
    if values.shape != (domain.num_records,) or not np.isfinite(values).all():
        raise ConfigError(
            f"scorer {name!r} on domain {domain.name!r}: expected {domain.num_records} finite "
            f"scores, got shape {values.shape}{'' if np.isfinite(values).all() else ' with non-finite values'}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, values)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if events is not None:
        seconds = round(time.monotonic() - started, 3)
        events.emit(
            "score_done",
            f"{domain.name}: {len(values):,} records scored by {name} in {seconds:.1f}s",
            domain=domain.name,
            scorer=name,
            cached=False,
            seconds=seconds,
        )
    return path


def _key(domain: TokenizedDomain, name: str, scorer: Any, model: str | None) -> str:
    h = hashlib.sha256()
    # the token entry's folder is named by the digest of the content, its reading and the tokenizer
    h.update(Path(domain.path).parent.name.encode())
    h.update(
        json.dumps(
            {"scorer": name, "settings": scorer.settings()}, sort_keys=True, default=str
        ).encode()
    )
    if model is not None:
        h.update(model_fingerprint(model).encode())
    return h.hexdigest()


def model_fingerprint(ref: str) -> str:
    """A digest of a local model folder's config and weight files (name, size, first and last
    MiB), or the hub id itself: enough to tell two models apart without reading all weights."""
    from mixopt.models import resolve_reference

    source = resolve_reference(ref)
    if not os.path.isdir(source):
        return f"hub:{source}"
    h = hashlib.sha256()
    for f in sorted(Path(source).iterdir()):
        if f.is_file() and (f.suffix in (".json", ".safetensors", ".bin")):
            size = f.stat().st_size
            h.update(f"{f.name}:{size}".encode())
            with open(f, "rb") as fh:
                h.update(fh.read(1 << 20))
                if size > 2 << 20:
                    fh.seek(-(1 << 20), os.SEEK_END)
                    h.update(fh.read())
    return h.hexdigest()
