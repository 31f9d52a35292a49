"""Record formats: how a record becomes training text, and which characters carry loss.

- ``text``: the whole text is trained on.
- ``prompt_completion``: ``prompt + completion`` (concatenated as given: put any separator
  in the data); loss on the completion only.
- ``chat``: ``messages`` rendered with the tokenizer's chat template; loss on the
  assistant turns only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mixopt.data.spec import DomainSpec
from mixopt.errors import ConfigError

__all__ = ["CHAT_ROLES", "Rendered", "render_batch", "resolve_format"]

CHAT_ROLES = frozenset({"system", "user", "assistant", "tool"})

# (text, character spans that carry loss; None means the whole text does)
Rendered = tuple[list[str], list[list[tuple[int, int]]] | None]


def _needs(spec: DomainSpec) -> dict[str, list[str]]:
    """The fields each record format reads, in the order ``auto`` tries them."""
    return {
        "chat": [spec.messages_field],
        "prompt_completion": [spec.prompt_field, spec.completion_field],
        "text": [spec.text_field],
    }


def resolve_format(spec: DomainSpec, columns: Sequence[str]) -> str:
    """The domain's record format, detected from its fields when the spec says ``auto``."""
    needs = _needs(spec)
    fmt = spec.format
    if fmt == "auto":
        fmt = next((f for f, fields in needs.items() if all(c in columns for c in fields)), "")
        if not fmt:
            raise ConfigError(
                f"domain {spec.name!r}: cannot tell the record format from fields "
                f"{sorted(columns)}; set 'format' and the field names (e.g. \"text_field\")"
            )
    missing = [c for c in needs[fmt] if c not in columns]
    if missing:
        raise ConfigError(
            f"domain {spec.name!r}: {fmt} records need field {missing[0]!r}; "
            f"the data has {sorted(columns)}"
        )
    return fmt


def render_batch(
    spec: DomainSpec, fmt: str, batch: Mapping[str, list[Any]], first: int, tokenizer: Any
) -> Rendered:
    """Render a batch of records (``first`` is the index of its first record, for errors)."""
    for field in _needs(spec)[fmt]:
        _require(spec, field, batch, first)
    if fmt == "text":
        return [
            _text(spec, spec.text_field, t, first + i) for i, t in enumerate(batch[spec.text_field])
        ], None
    if fmt == "prompt_completion":
        texts, spans = [], []
        for i, (p, c) in enumerate(
            zip(batch[spec.prompt_field], batch[spec.completion_field], strict=True)
        ):
            p = _text(spec, spec.prompt_field, p, first + i, allow_empty=True)
            c = _text(spec, spec.completion_field, c, first + i)
            texts.append(p + c)
            spans.append([(len(p), len(p) + len(c))])
        return texts, spans
    rendered = [
        _chat(spec, m, first + i, tokenizer) for i, m in enumerate(batch[spec.messages_field])
    ]
    return [r[0] for r in rendered], [r[1] for r in rendered]


# the domains-file option that names each field of a record format
_OPTIONS = ("text_field", "prompt_field", "completion_field", "messages_field")


def _require(spec: DomainSpec, field: str, batch: Mapping[str, list[Any]], first: int) -> None:
    """A record without ``field`` (a column other records have; Arrow fills it with None):
    which record, the fields it has, and the option that names the field."""
    column = batch[field]
    if None not in column:
        return
    i = column.index(None)
    has = sorted(k for k, values in batch.items() if values[i] is not None)
    option = next(o for o in _OPTIONS if getattr(spec, o) == field)
    raise ConfigError(
        f"domain {spec.name!r}: record {first + i}: field {field!r} is missing or null (the record "
        f"has: {', '.join(has) or 'nothing'}); fix the record, or set {option!r} if the field is named otherwise"
    )


def _text(spec: DomainSpec, field: str, value: Any, index: int, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or not (value or allow_empty):
        got = "empty" if value == "" else f"{type(value).__name__}"
        raise ConfigError(
            f"domain {spec.name!r}: record {index}: {field!r} must be a non-empty string, got {got}"
        )
    return value


def _chat(
    spec: DomainSpec, messages: Any, index: int, tokenizer: Any
) -> tuple[str, list[tuple[int, int]]]:
    where = f"domain {spec.name!r}: record {index}"
    if not isinstance(messages, list) or not messages:
        raise ConfigError(f"{where}: {spec.messages_field!r} must be a non-empty list of messages")
    clean = []
    for m in messages:
        if not isinstance(m, Mapping) or not isinstance(m.get("content"), str):
            raise ConfigError(f"{where}: each message needs a 'role' and a string 'content'")
        if m.get("role") not in CHAT_ROLES:
            raise ConfigError(
                f"{where}: unknown chat role {m.get('role')!r}; "
                f"roles: {', '.join(sorted(CHAT_ROLES))}"
            )
        clean.append({"role": m["role"], "content": m["content"]})
    if not any(m["role"] == "assistant" for m in clean):
        raise ConfigError(f"{where}: a chat record needs at least one assistant message")
    if getattr(tokenizer, "chat_template", None) is None:
        raise ConfigError(
            f"domain {spec.name!r}: chat records need a tokenizer with a chat template"
        )
    full = _apply(tokenizer, clean, False)
    spans = []
    for turn, m in enumerate(clean):
        if m["role"] != "assistant":
            continue
        # Render the conversation up to this turn with and without the reply: the difference
        # is exactly the reply as the template writes it (end-of-turn marker included).
        upto = _apply(tokenizer, clean[: turn + 1], False)
        if not full.startswith(upto):
            raise ConfigError(
                f"{where}: the chat template does not render conversations prefix by prefix"
            )
        spans.append((len(_apply(tokenizer, clean[:turn], True)), len(upto)))
    return full, spans


def _apply(tokenizer: Any, messages: list[dict[str, str]], prompt: bool) -> str:
    if not messages:
        return ""
    out = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=prompt)
    assert isinstance(out, str)
    return out
