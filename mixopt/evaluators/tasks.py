"""Task files (``downstream/*.yaml``) and turning an evaluator reference into an evaluator.

A task file is data, never code: it names a built-in kind (or, explicitly, ``module:attr``
user code) and that kind's options::

    tasks:
      - name: sql_new_db
        kind: sql_execution
        data: sql_new_db.jsonl       # paths are relative to this file
        database: new_db.sqlite
      - name: heldout
        kind: loss
        data: heldout.jsonl
        weight: 0.5
    intermediate: heldout           # scored at checkpoints, for early stopping

A file with a single task may give ``kind`` and its options at the top level.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mixopt.errors import ConfigError, did_you_mean
from mixopt.evaluators._base import Evaluator
from mixopt.evaluators.exact_match import ExactMatchTask
from mixopt.evaluators.lm_eval import LmEvalTask
from mixopt.evaluators.loss import LossTask
from mixopt.evaluators.multiple_choice import MultipleChoiceTask
from mixopt.evaluators.sql_execution import SqlExecutionTask
from mixopt.evaluators.suite import EvalSuite, NamedTask
from mixopt.io import is_url, read_yaml
from mixopt.registry import Registry

__all__ = ["EVALUATORS", "load_suite", "make_evaluator", "parse_suite"]

EVALUATORS: Registry[Evaluator] = Registry(
    "evaluator",
    "mixopt.evaluators",
    {
        "loss": LossTask,
        "multiple_choice": MultipleChoiceTask,
        "exact_match": ExactMatchTask,
        "sql_execution": SqlExecutionTask,
        "lm_eval": LmEvalTask,
    },
)
_PATH_OPTIONS = ("data", "database", "include_path")  # resolved against the task file's folder
_TASK_KEYS = ("name", "kind", "weight")
_SUITE_KEYS = ("tasks", "intermediate")


def load_suite(path: str | Path) -> EvalSuite:
    """Read and build a task file (nothing is evaluated, and no data is read yet)."""
    p = Path(path)
    raw = read_yaml(p, "task file")
    return parse_suite(raw, p.parent.resolve(), default_name=p.stem, origin=str(p))


def parse_suite(
    raw: Any, base_dir: Path, default_name: str = "task", origin: str = "tasks"
) -> EvalSuite:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: expected a mapping with 'tasks' (or a single task's 'kind')")
    if "kind" in raw:  # a file holding one task
        raw = {"tasks": [{"name": default_name, **raw}]}
    unknown = [k for k in raw if k not in _SUITE_KEYS]
    if unknown:
        raise ConfigError(
            f"{origin}: unknown key {unknown[0]!r}.{did_you_mean(unknown[0], _SUITE_KEYS)}"
        )
    entries = raw["tasks"]
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{origin}: 'tasks' must be a non-empty list")
    problems: list[str] = []
    tasks = []
    for i, entry in enumerate(entries):
        try:
            tasks.append(_parse_task(entry, base_dir, f"{origin}: task #{i + 1}"))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    try:
        return EvalSuite(tuple(tasks), raw.get("intermediate"))
    except ConfigError as exc:
        raise ConfigError([f"{origin}: {p}" for p in exc.problems]) from None


def _parse_task(entry: Any, base_dir: Path, where: str) -> NamedTask:
    if not isinstance(entry, Mapping) or "kind" not in entry:
        raise ConfigError(f"{where}: expected a mapping with a 'kind'")
    name = str(entry.get("name") or entry["kind"])
    where = f"{where} ({name})"
    factory = EVALUATORS.get(str(entry["kind"]))
    options = {k: v for k, v in entry.items() if k not in _TASK_KEYS}
    for key in _PATH_OPTIONS:
        if isinstance(options.get(key), str):
            if is_url(options[key]):
                raise ConfigError(
                    f"{where}: {key} must be a local path, got the URL {options[key]!r}"
                )
            options[key] = str((base_dir / options[key]).resolve())
    if dataclasses.is_dataclass(factory):
        fields = [f.name for f in dataclasses.fields(factory)]
        unknown = [k for k in options if k not in fields]
        if unknown:
            raise ConfigError(
                f"{where}: unknown option {unknown[0]!r}.{did_you_mean(unknown[0], fields)}"
            )
        options = {
            k: tuple(v) if isinstance(v, list) and k == "stop" else v for k, v in options.items()
        }
    try:
        evaluator = factory(**options)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if not isinstance(evaluator, Evaluator):
        raise ConfigError(
            f"{where}: {entry['kind']!r} did not give an object with evaluate(model, tokenizer)"
        )
    weight = entry.get("weight")  # None: not given (see EvalSuite on mixed scales)
    return NamedTask(name, evaluator, weight)


def make_evaluator(ref: Any) -> EvalSuite:
    """An :class:`EvalSuite` from a task file path, a ``module:attr`` reference (an evaluator,
    or a zero-argument factory of one), an evaluator object, or a suite."""
    if isinstance(ref, EvalSuite):
        return ref
    if isinstance(ref, Evaluator) and not isinstance(ref, type):
        return EvalSuite((NamedTask(_name_of(ref), ref),))
    if isinstance(ref, Path) or (isinstance(ref, str) and ref.endswith((".yaml", ".yml"))):
        return load_suite(ref)
    if isinstance(ref, str) and ":" in ref:
        obj = EVALUATORS.get(ref)
        is_instance = isinstance(obj, Evaluator) and not isinstance(obj, type)
        evaluator = obj if is_instance or not callable(obj) else obj()
        if not isinstance(evaluator, Evaluator):
            raise ConfigError(f"evaluator {ref!r}: not an object with evaluate(model, tokenizer)")
        return EvalSuite((NamedTask(ref.rpartition(":")[2], evaluator),))
    if isinstance(ref, str) and ref in EVALUATORS.names():
        raise ConfigError(
            f"evaluator kind {ref!r} needs data: name it in a task file (see downstream/)"
        )
    raise ConfigError(
        f"evaluator {ref!r}: give a task file (.yaml), 'module:attr', or an object with evaluate(model, tokenizer)"
    )


def _name_of(obj: Any) -> str:
    return str(getattr(obj, "name", None) or type(obj).__name__)
