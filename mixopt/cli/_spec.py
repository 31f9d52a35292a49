"""Options generated from settings dataclasses (the study spec's parts, the export and cluster
configs): one option per field, its help from the field's docstring, its default from the
field. A new setting is one field."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

__all__ = ["add_config_options", "add_spec_options", "given_config", "given_settings"]

_GROUPS = {
    "data": "data",
    "model": "model",
    "scoring": "scoring (evaluator and trial plan)",
    "search": "search",
    "train": "training (each trial's LoRA fine-tune)",
    "execution": "execution (may change on --resume)",
    "output": "output",
}


def add_spec_options(
    parser: argparse.ArgumentParser,
    parts: tuple[str, ...] = tuple(_GROUPS),
    leave_out: tuple[str, ...] = (),
) -> None:
    """An option for every setting of :class:`~mixopt.study.spec.StudySpec` (of ``parts``,
    but those named in ``leave_out``). Options not given stay out of the parsed namespace,
    so a config file's values are not overridden."""
    from mixopt.study.spec import part_of

    for part, title in ((p, _GROUPS[p]) for p in parts):
        add_config_options(parser.add_argument_group(title), part_of(part), leave_out)


def add_config_options(parser: Any, kind: type, leave_out: tuple[str, ...] = ()) -> None:
    """An option for every field of the settings dataclass ``kind`` (but those named in
    ``leave_out`` or marked ``cli=False``), on ``parser`` or an argument group."""
    from mixopt.setting import field_docs

    docs = field_docs(kind)
    for f in dataclasses.fields(kind):
        if f.metadata.get("cli", True) and f.name not in leave_out:
            _add(parser, f, docs.get(f.name, ""))


def _add(group: Any, f: dataclasses.Field[Any], doc: str) -> None:
    meta = f.metadata
    flat = meta.get("name", f.name)
    flags = [meta.get("flag", "--" + flat.replace("_", "-")), *meta.get("flags", ())]
    kwargs: dict[str, Any] = {"dest": flat, "default": argparse.SUPPRESS, "help": _help(f, doc)}
    if meta.get("required"):
        kwargs["required"] = True
    kind = str(f.type)
    if kind == "bool":
        kwargs["action"] = "store_true" if f.default is False else argparse.BooleanOptionalAction
    else:
        if meta.get("append"):
            kwargs["action"] = "append"
        if "choices" in meta:
            kwargs["choices"] = meta["choices"]
        elif "parse" not in meta:
            kwargs["type"] = (
                int if kind.startswith("int") else float if kind.startswith("float") else str
            )
        if "choices" not in meta:
            kwargs["metavar"] = meta.get(
                "metavar",
                "N" if kind.startswith("int") else "X" if kind.startswith("float") else "TEXT",
            )
    group.add_argument(*flags, **kwargs)


def _help(f: dataclasses.Field[Any], doc: str) -> str:
    default = f.default if f.default is not dataclasses.MISSING else None
    text = doc.rstrip(".").replace("``", "'")
    if (
        not f.metadata.get("append")
        and "default" not in text
        and not any(default is v for v in (None, False, ()))
    ):
        text += f" (default: {default})"
    return text.replace("%", "%%")


def given_config(args: argparse.Namespace, kind: type) -> dict[str, Any]:
    """The fields of the settings dataclass ``kind`` given on the command line, by name."""
    names = (f.metadata.get("name", f.name) for f in dataclasses.fields(kind))
    return {k: getattr(args, k) for k in names if hasattr(args, k)}


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line, by flat name."""
    from mixopt.study.spec import flat_fields

    return {k: getattr(args, k) for k in flat_fields() if hasattr(args, k)}
