"""The pool: every record of some files (anything a domain's ``path`` accepts) or of the
domains of a domains file, with the text each is clustered by."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixopt.data.spec import DomainSpec
from mixopt.errors import ConfigError

__all__ = ["Pool", "load_pool"]

_DOMAINS_FILE_MAX_BYTES = 16 << 20  # a domains file is small; a bigger .json is records


@dataclass(frozen=True)
class Pool:
    """Records of one format, with the text each one is embedded and named by."""

    texts: list[str]
    """One text per record: the text, prompt + completion, or the messages' contents."""
    records: list[dict[str, Any]]
    """The records in the format's standard fields (``text``, ``prompt``/``completion``,
    ``messages``), as each cluster's JSONL holds them."""
    format: str
    """``text``, ``prompt_completion`` or ``chat``."""
    source: str
    """Where the records came from, for the summary."""

    def __len__(self) -> int:
        return len(self.texts)


def load_pool(data: str | Sequence[str], cache_dir: str | None = None) -> Pool:
    """Read a pool: files, folders or globs (any format a domain's ``path`` accepts), or one
    domains file whose domains are pooled. One-line errors for an empty pool or records that
    hold no text."""
    items = [data] if isinstance(data, str) else list(data)
    if not items:
        raise ConfigError("the pool is empty: give files, globs or a domains file")
    specs = _domain_specs(items)
    texts: list[str] = []
    records: list[dict[str, Any]] = []
    formats: set[str] = set()
    for spec in specs:
        fmt, spec_texts, spec_records = _read(spec, cache_dir)
        formats.add(fmt)
        texts.extend(spec_texts)
        records.extend(spec_records)
    if len(formats) > 1:
        raise ConfigError(
            f"the pooled records have different formats ({', '.join(sorted(formats))}); "
            "cluster each format on its own"
        )
    if not texts:
        raise ConfigError(f"the pool is empty: no records in {', '.join(items)}")
    return Pool(texts, records, formats.pop(), ", ".join(items))


def _domain_specs(items: list[str]) -> tuple[DomainSpec, ...]:
    if len(items) == 1 and _is_domains_file(items[0]):
        from mixopt.data.spec import load_domains

        return load_domains(items[0])
    paths = tuple(str(Path(p).expanduser().resolve()) for p in items)
    missing = [p for p in paths if not (glob.glob(p) if glob.has_magic(p) else os.path.exists(p))]
    if missing:
        raise ConfigError(f"the pool is empty: no such file: {missing[0]}")
    return (DomainSpec(name="pool", paths=paths),)


def _is_domains_file(path: str) -> bool:
    p = Path(path)
    if p.suffix.lower() != ".json" or not p.is_file():
        return False
    if p.stat().st_size > _DOMAINS_FILE_MAX_BYTES:
        return False
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False  # not a domains file: the records loader reports what is wrong with it
    if isinstance(raw, Mapping) and "domains" in raw:
        return True
    return (
        isinstance(raw, list)
        and bool(raw)
        and all(isinstance(e, Mapping) and "domain" in e for e in raw)
    )


def _read(spec: DomainSpec, cache_dir: str | None) -> tuple[str, list[str], list[dict[str, Any]]]:
    from mixopt.data.formats import resolve_format
    from mixopt.data.sources import load_records

    ds = load_records(spec, cache_dir=cache_dir)
    if len(ds) == 0:
        return "text", [], []
    fmt = resolve_format(spec, ds.column_names)
    texts, records = [], []
    for i, (text, record) in enumerate(_records(spec, fmt, ds)):
        if not text.strip():
            raise ConfigError(f"{_where(spec)}: record {i} has no text to cluster by")
        texts.append(text)
        records.append(record)
    return fmt, texts, records


def _records(spec: DomainSpec, fmt: str, ds: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, row in enumerate(ds):
        if fmt == "text":
            text = _string(spec, row[spec.text_field], i, spec.text_field)
            yield text, {"text": text}
        elif fmt == "prompt_completion":
            p = _string(spec, row[spec.prompt_field], i, spec.prompt_field)
            c = _string(spec, row[spec.completion_field], i, spec.completion_field)
            yield p + c, {"prompt": p, "completion": c}
        else:
            messages = row[spec.messages_field]
            if not isinstance(messages, list) or not all(
                isinstance(m, Mapping) and isinstance(m.get("content"), str) for m in messages
            ):
                raise ConfigError(
                    f"{_where(spec)}: record {i}: {spec.messages_field!r} must be a list of "
                    "messages with string 'content'"
                )
            clean = [{"role": m.get("role"), "content": m["content"]} for m in messages]
            yield "\n".join(m["content"] for m in clean), {"messages": clean}


def _string(spec: DomainSpec, value: Any, index: int, field: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(
            f"{_where(spec)}: record {index}: {field!r} must be text, got {type(value).__name__}"
        )
    return value


def _where(spec: DomainSpec) -> str:
    return "the pool" if spec.name == "pool" else f"domain {spec.name!r}"
