"""Reading a domain's records with ``datasets`` (which caches the parsed files as Arrow)."""

from __future__ import annotations

import contextlib
import glob
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixopt.data.spec import DomainSpec
from mixopt.errors import ConfigError, error_line, first_line
from mixopt.io import jsonl_problem, read_json

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["expand_paths", "load_records"]

# file suffix → the `datasets` packaged builder that reads it
_BUILDERS = {
    ".jsonl": "json",
    ".json": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
    ".csv": "csv",
    ".txt": "text",
    ".text": "text",
    ".md": "text",
}


def expand_paths(spec: DomainSpec) -> list[str]:
    """The files and ``save_to_disk`` folders a domain names, globs expanded, in a stable order."""
    found: list[str] = []
    for pattern in spec.paths:
        matches = (
            sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        )
        if not matches or not all(os.path.exists(m) for m in matches):
            raise ConfigError(f"domain {spec.name!r}: no such file: {pattern}")
        found.extend(matches)
    return found


def load_records(spec: DomainSpec, cache_dir: str | None = None) -> Dataset:
    """The domain's records as a ``datasets.Dataset`` (one row per record)."""
    from datasets import Dataset

    if spec.data is not None:
        # every record gets every field (None where it has none): from_list keeps only the
        # first record's fields, which would hide a record's misnamed field from its error
        fields = list(dict.fromkeys(k for r in spec.data for k in r))
        try:
            return Dataset.from_list([{k: r.get(k) for k in fields} for r in spec.data])
        except Exception as exc:  # pyarrow refuses records whose fields change type
            raise ConfigError(
                f"domain {spec.name!r}: inline records do not share a schema ({_one_line(exc)})"
            ) from None
    paths = expand_paths(spec)
    folders = [p for p in paths if os.path.isdir(p)]
    if folders:
        if len(paths) > 1:
            raise ConfigError(
                f"domain {spec.name!r}: a dataset folder cannot be mixed with other paths"
            )
        return _load_folder(spec, folders[0])
    return _load_files(spec, paths, cache_dir)


def _load_folder(spec: DomainSpec, folder: str) -> Dataset:
    from datasets import Dataset, DatasetDict, load_from_disk

    try:
        loaded = load_from_disk(folder)
    except Exception as exc:
        raise ConfigError(
            f"domain {spec.name!r}: {folder} is not a datasets folder ({_one_line(exc)})"
        ) from None
    if isinstance(loaded, DatasetDict):
        if "train" not in loaded:
            raise ConfigError(
                f"domain {spec.name!r}: {folder} has splits {list(loaded)} but no 'train'"
            )
        loaded = loaded["train"]
    assert isinstance(loaded, Dataset)
    return loaded


def _load_files(spec: DomainSpec, paths: Sequence[str], cache_dir: str | None) -> Dataset:
    from datasets import load_dataset

    suffixes = {Path(p).suffix.lower() for p in paths}
    unknown = sorted(s for s in suffixes if s not in _BUILDERS)
    if unknown:
        raise ConfigError(
            f"domain {spec.name!r}: cannot read {unknown[0] or 'files without a suffix'}; "
            f"use one of {', '.join(sorted(_BUILDERS))} or a datasets folder"
        )
    builders = {_BUILDERS[s] for s in suffixes}
    if len(builders) > 1:
        raise ConfigError(f"domain {spec.name!r}: all files of a domain must have one format")
    builder = builders.pop()
    paths = [p for p in paths if os.path.getsize(p) > 0]  # datasets cannot parse an empty file
    if not paths:
        raise ConfigError(f"domain {spec.name!r}: no records (its files are empty)")
    kwargs: dict[str, Any] = {"sample_by": spec.sample_by} if builder == "text" else {}
    try:
        with _quiet("datasets.packaged_modules.json.json"):  # its log line repeats the error
            ds = load_dataset(
                builder, data_files=list(paths), split="train", cache_dir=cache_dir, **kwargs
            )
    except Exception as exc:  # datasets raises many types for unreadable or malformed files
        # Arrow names a byte offset or a row; a JSONL file's own reading names the line
        for path in paths:
            if problem := _json_problem(path):
                raise ConfigError(f"domain {spec.name!r}: {path}: {problem}") from None
        raise ConfigError(
            f"domain {spec.name!r}: cannot read {', '.join(paths)}: {_one_line(exc)}"
        ) from None
    _require_utf8(spec, ds, paths)
    return ds


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _json_problem(path: str) -> str | None:
    """Where a JSON or JSONL file is malformed, by line and column; None for other files."""
    suffix = Path(path).suffix.lower()
    if suffix == ".jsonl":
        return jsonl_problem(path)
    if suffix == ".json":
        try:
            read_json(path, "domain file")
        except ConfigError as exc:
            return str(exc).removeprefix(f"{path}: ")
    return None


def _require_utf8(spec: DomainSpec, ds: Dataset, paths: Sequence[str]) -> None:
    """Arrow reads bytes into text columns without decoding them; a full validation is one
    linear pass in C++ that finds any invalid UTF-8 before a record is rendered."""
    import pyarrow as pa

    try:
        ds.data.table.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise ConfigError(
            f"domain {spec.name!r}: {', '.join(paths)} is not UTF-8 text ({first_line(exc)})"
        ) from None


def _one_line(exc: BaseException) -> str:
    """The innermost cause's first line: datasets wraps parse errors several levels deep."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        inner = exc.__cause__ or exc.__context__
        assert inner is not None
        exc = inner
    return error_line(exc)
