"""One schema for an export's records, whatever fields its domains have.

Every tool reads each domain's file on its own and then joins them, so a field that has one
type in one domain and another elsewhere (an integer ``id`` beside a string ``id``) breaks
the join (``datasets``: "features can't be aligned"), and ``Dataset.from_list`` keeps only
the first record's fields. The rule, applied to every file of the export:

- the fields each domain is trained on (its text, prompt and completion, or messages) are
  kept as they are; chat messages whose types differ between chat domains are cut to the
  ``role`` and ``content`` that mixopt and the tool configs train on;
- a field that another domain trains on is dropped from the domains that do not train on it
  when its types differ (it is not trained on there);
- any other field whose type differs between domains is written as a string in every record
  (strings as they are, other values JSON-encoded); a field of one type is kept as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mixopt.errors import ConfigError

__all__ = ["FieldPlan", "plan_fields", "trained_fields", "write_dataset"]


@dataclass(frozen=True)
class FieldPlan:
    """How each record's fields are written so that all domains share one schema."""

    as_strings: dict[str, dict[str, str]]
    """Fields written as strings: field -> each domain's type of it."""
    dropped: dict[str, tuple[str, ...]]
    """Fields dropped from some domains (another domain trains on them): field -> those domains."""
    cut_messages: tuple[str, ...] = ()
    """Chat message fields cut to ``role`` and ``content`` (their types differed)."""

    def apply(self, row: dict[str, Any], domain: str) -> dict[str, Any]:
        """``row`` of ``domain`` as the export writes it."""
        out = {}
        for key, value in row.items():
            if domain in self.dropped.get(key, ()):
                continue
            if key in self.cut_messages and isinstance(value, list):
                value = [{"role": m.get("role"), "content": m.get("content")} for m in value]
            elif key in self.as_strings and value is not None and not isinstance(value, str):
                value = json.dumps(value, ensure_ascii=False)
            out[key] = value
        return out

    def notes(self) -> list[str]:
        """One line per changed field, for the manifest and the printed summary."""
        lines = [
            f"field {k!r} has different types across domains "
            f"({', '.join(f'{t} in {d}' for d, t in types.items())}): written as strings "
            "(non-string values JSON-encoded)"
            for k, types in self.as_strings.items()
        ]
        lines += [
            f"field {k!r} dropped from {', '.join(ds)}: another domain trains on it, with "
            "another type"
            for k, ds in self.dropped.items()
        ]
        lines += [
            f"field {k!r}: chat messages cut to role and content (their types differed "
            "between chat domains)"
            for k in self.cut_messages
        ]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": "trained fields kept; an untrained field whose type differs between "
            "domains is written as strings (non-strings JSON-encoded), or dropped where "
            "another domain trains on it",
            "as_strings": self.as_strings,
            "dropped": {k: list(v) for k, v in self.dropped.items()},
            "cut_messages": list(self.cut_messages),
            "notes": self.notes(),
        }


def trained_fields(fmt: str, spec: Any) -> tuple[str, ...]:
    """The fields a domain of record format ``fmt`` is trained on (``spec``: its DomainSpec)."""
    if fmt == "chat":
        return (spec.messages_field,)
    if fmt == "prompt_completion":
        return (spec.prompt_field, spec.completion_field)
    return (spec.text_field,)


def plan_fields(
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    trained: Mapping[str, tuple[str, ...]],
    chat: Sequence[str] = (),
) -> FieldPlan:
    """The plan for records ``rows`` (domain -> its records); ``trained``: domain -> the fields
    it trains on; ``chat``: the chat domains."""
    types = {d: _types(r) for d, r in rows.items()}
    fields = dict.fromkeys(k for t in types.values() for k in t)
    as_strings: dict[str, dict[str, str]] = {}
    dropped: dict[str, tuple[str, ...]] = {}
    cut: list[str] = []
    for key in fields:
        has = {d: t[key] for d, t in types.items() if key in t}
        if len(set(has.values())) < 2 and "mixed" not in has.values():
            continue
        training = [d for d in has if key in trained[d]]
        if not training:
            as_strings[key] = has
            continue
        if len({has[d] for d in training}) > 1:
            if not all(d in chat for d in training):
                raise ConfigError(
                    f"domains {', '.join(training)} train on field {key!r} with different types "
                    f"({', '.join(has[d] for d in training)}): rename it in one of them"
                )
            cut.append(key)
        others = tuple(d for d in has if d not in training)
        if others:
            dropped[key] = others
    return FieldPlan(as_strings, dropped, tuple(cut))


def _types(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Each field's Arrow type over ``rows`` (fields that are always null left out)."""
    import pyarrow as pa

    out = {}
    for key in dict.fromkeys(k for r in rows for k in r):
        try:
            kind = pa.array([r.get(key) for r in rows]).type
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            out[key] = "mixed"  # no one type even within the domain: written as strings
            continue
        if not pa.types.is_null(kind):
            out[key] = _canonical(kind)
    return out


def _canonical(kind: Any) -> str:
    """A type's name with struct fields sorted: key order does not make two types differ."""
    import pyarrow as pa

    if pa.types.is_struct(kind):
        inner = sorted(f"{f.name}: {_canonical(f.type)}" for f in kind)
        return f"struct<{', '.join(inner)}>"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return f"list<{_canonical(kind.value_type)}>"
    return str(kind)


def write_dataset(rows: Sequence[Mapping[str, Any]], path: str) -> None:
    """Save ``rows`` as a ``datasets`` folder with every field of every record (a field a
    record lacks is null there); ``Dataset.from_list`` would keep the first record's only."""
    from datasets import Dataset

    names = dict.fromkeys(k for r in rows for k in r)
    Dataset.from_dict({k: [r.get(k) for r in rows] for k in names}).save_to_disk(path)
