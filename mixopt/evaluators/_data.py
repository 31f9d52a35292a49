"""Evaluation data: JSONL (or JSON list) files of records, read with clear errors."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mixopt.errors import ConfigError
from mixopt.io import read_json, read_jsonl

__all__ = ["fill_template", "named_fields", "read_records", "require_fields", "template_fields"]


def read_records(path: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Records of a ``.jsonl`` file (one JSON object a line) or a ``.json`` list."""
    p = Path(path)
    if p.suffix == ".json":
        records = read_json(p, "evaluation data")
    else:
        records = read_jsonl(p, "evaluation data")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ConfigError(f"{p}: expected JSON objects, one per line")
    if not records:
        raise ConfigError(f"{p}: no evaluation records")
    return records[:limit] if limit else records


def require_fields(
    records: Sequence[Mapping[str, Any]], fields: Mapping[str, str], where: str
) -> None:
    """Every record has each field; ``fields`` maps each to the task option that names it,
    which the error names as the fix."""
    for i, r in enumerate(records):
        missing = [f for f in fields if f not in r]
        if missing:
            raise ConfigError(
                f"{where}: record {i} has no field {missing[0]!r} (its fields: {', '.join(r) or 'none'}); "
                f"set the task's {fields[missing[0]]} to the field that holds it"
            )


def named_fields(template: str | None, prompt_field: str) -> dict[str, str]:
    """The fields a prompt reads (the template's, or ``prompt_field``), each with its option."""
    if template is None:
        return {prompt_field: "prompt_field (or a template)"}
    return {name: "template" for name in template_fields(template, prompt_field)}


def fill_template(template: str | None, record: Mapping[str, Any], default_field: str) -> str:
    """``template.format(**record)``, or the record's ``default_field`` when there is no template."""
    if template is None:
        return str(record[default_field])
    return template.format(**record)


def template_fields(template: str | None, default_field: str) -> list[str]:
    """The record fields a template (or the default field) reads."""
    if template is None:
        return [default_field]
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]
