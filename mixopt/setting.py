"""How a setting is declared: a dataclass field with its CLI metadata, and its docstring as
its help. Shared by the study spec's parts (:mod:`mixopt.study.spec`) and
:class:`~mixopt.training.config.TrainConfig`; imports nothing heavy."""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import itertools
import textwrap
from collections.abc import Callable
from typing import Any

__all__ = ["field_docs", "is_int", "is_number", "parse_options", "setting"]


def setting(default: Any = None, *, factory: Callable[[], Any] | None = None, **meta: Any) -> Any:
    """A settings field. ``meta`` may hold ``name`` (its flat name, default the field's),
    ``flag`` (its option, default ``--flat-name``), ``flags`` (extra option strings), ``metavar``, ``choices``, ``parse`` (text or a file's
    plain value -> value), ``append`` (a repeatable option), ``cli`` (False: no option),
    ``identity`` (False: may differ between a study and its resumption), ``amend`` (True:
    part of what a study is, yet a resumed study may change it, e.g. its trials),
    ``required`` (True: the command refuses to run without it)."""
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (read from its source), on one line."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def is_int(value: Any) -> bool:
    """An integer as a setting's value: ``True`` (a bool) is not one."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or a float as a setting's value (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_options(cls: type, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` by field name of the settings dataclass ``cls``, each parsed by its field's
    ``parse`` (text as the CLI gives it); unknown names and unparsable values are refused
    together, one line each."""
    from mixopt.errors import ConfigError, MixoptError, did_you_mean

    fields = {f.name: f for f in dataclasses.fields(cls)}
    problems = [
        f"unknown setting {k!r}.{did_you_mean(k, fields)}" for k in options if k not in fields
    ]
    out: dict[str, Any] = {}
    for name, value in options.items():
        parse = fields[name].metadata.get("parse") if name in fields else None
        try:
            out[name] = parse(value) if parse is not None and value is not None else value
        except MixoptError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return out
