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

``objectives: [sql_new_db, heldout]`` instead keeps two or more scored tasks apart, each
maximized on its own (a multi-objective study; no ``weight`` on them).

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
from mixopt.io import is_url, not_found, read_yaml
from mixopt.registry import Registry

__all__ = [
    "EVALUATORS",
    "check_evaluator",
    "is_loss_data",
    "load_suite",
    "loss_data_line",
    "make_evaluator",
    "parse_suite",
    "read_suite",
]

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
# options that name files, resolved against the task file's folder (and what each names)
_PATH_OPTIONS = {
    "data": "evaluation data",
    "database": "database",
    "include_path": "include_path folder",
}
_TASK_KEYS = ("name", "kind", "weight")
_SUITE_KEYS = ("tasks", "intermediate", "objectives")
_KIND_ALIASES = {"type": "kind", "task": "kind", "evaluator": "kind", "metric": "kind"}


def load_suite(path: str | Path) -> EvalSuite:
    """Read and build a task file (nothing is evaluated, and no data is read yet)."""
    suite, problems = read_suite(path)
    if problems:
        raise ConfigError(problems)
    assert suite is not None
    return suite


def is_loss_data(path: Any) -> bool:
    """``--eval held_out.jsonl``: a JSONL file of records is a ``kind: loss`` task on their
    text, named by the file (no task file needed)."""
    return isinstance(path, str | Path) and Path(path).suffix.lower() == ".jsonl"


def loss_data_line(evaluator: Any) -> str | None:
    """What a study says first when its evaluator is a JSONL file (None when it is not)."""
    if not is_loss_data(evaluator):
        return None
    return (
        f"evaluator: {Path(evaluator).name} is scored as a held-out loss task (minus the mean "
        "loss of its records' text); for accuracy, a task file names the kind (see downstream/)"
    )


def read_suite(path: str | Path, check_files: bool = False) -> tuple[EvalSuite | None, list[str]]:
    """Every problem of a task file, and a suite of the tasks that can still be checked
    further (their data read), or None. ``check_files``: report a path option that names
    nothing, with where a relative one was looked for."""
    p = Path(path)
    if is_loss_data(p):  # a data file, the first thing tried: its records' held-out loss
        raw: Any = {"kind": "loss", "data": p.name}
        if not p.is_file():  # refused as a missing task file is
            raise ConfigError(not_found(p, "evaluation data"))
    else:
        raw = read_yaml(p, "task file")
    relative_to = f"{p.resolve()}, the file that names them" if check_files else None
    return _read_suite(raw, p.parent.resolve(), p.stem, str(p), relative_to)


def parse_suite(
    raw: Any, base_dir: Path, default_name: str = "task", origin: str = "tasks"
) -> EvalSuite:
    suite, problems = _read_suite(raw, base_dir, default_name, origin, None)
    if problems:
        raise ConfigError(problems)
    assert suite is not None
    return suite


def _read_suite(
    raw: Any, base_dir: Path, default_name: str, origin: str, relative_to: str | None
) -> tuple[EvalSuite | None, list[str]]:
    if not isinstance(raw, Mapping):
        return None, [f"{origin}: expected a mapping with 'tasks' (or a single task's 'kind')"]
    if "kind" in raw or not any(k in _SUITE_KEYS or did_you_mean(str(k), _SUITE_KEYS) for k in raw):
        raw = {"tasks": [{"name": default_name, **raw}]}  # a file holding one task
    problems = [
        f"{origin}: unknown key {k!r}.{did_you_mean(str(k), _SUITE_KEYS)}"
        for k in raw
        if k not in _SUITE_KEYS
    ]
    entries = raw.get("tasks")
    if not isinstance(entries, list) or not entries:
        return None, [*problems, f"{origin}: 'tasks' must be a non-empty list"]
    tasks = []
    for i, entry in enumerate(entries):
        task, found = _parse_task(entry, base_dir, f"{origin}: task #{i + 1}", relative_to)
        problems.extend(found)
        tasks.extend([task] if task is not None else [])
    if not tasks:
        return None, problems
    intermediate = raw.get("intermediate")
    if intermediate not in [t.name for t in tasks] and intermediate in map(_task_name, entries):
        intermediate = None  # it names a task that did not parse: that task's line says why
    objectives = raw.get("objectives") or ()
    if isinstance(objectives, str) or not all(isinstance(o, str) for o in objectives):
        problems.append(f"{origin}: 'objectives' must be a list of task names")
        objectives = ()
    if any(o not in [t.name for t in tasks] and o in map(_task_name, entries) for o in objectives):
        objectives = ()  # one names a task that did not parse: that task's line says why
    try:
        return EvalSuite(tuple(tasks), intermediate, tuple(objectives)), problems
    except ConfigError as exc:  # the tasks' data is still checked, without the intermediate task
        problems.extend(f"{origin}: {p}" for p in exc.problems)
    try:
        return EvalSuite(tuple(tasks)), problems
    except ConfigError:
        return None, problems


def _parse_task(
    entry: Any, base_dir: Path, where: str, relative_to: str | None
) -> tuple[NamedTask | None, list[str]]:
    """The task (None if it has a problem) and its problems."""
    if not isinstance(entry, Mapping) or "kind" not in entry:
        return None, [_no_kind(entry, where)]
    name = str(_task_name(entry))
    where = f"{where} ({name})"
    try:
        factory = EVALUATORS.get(str(entry["kind"]))
    except ConfigError as exc:
        return None, [f"{where}: {p}" for p in exc.problems]
    options = {k: v for k, v in entry.items() if k not in _TASK_KEYS}
    problems = []
    for key, what in _PATH_OPTIONS.items():
        if not isinstance(options.get(key), str):
            continue
        if is_url(options[key]):
            problems.append(f"{where}: {key} must be a local path, got the URL {options[key]!r}")
            continue
        given, options[key] = options[key], str((base_dir / options[key]).resolve())
        if relative_to is not None and not Path(options[key]).exists():
            note = "" if Path(given).is_absolute() else f" (paths are relative to {relative_to})"
            problems.append(f"{where}: {what} not found: {options[key]}{note}")
    if dataclasses.is_dataclass(factory):
        fields = [f.name for f in dataclasses.fields(factory)]
        problems.extend(
            f"{where}: unknown option {k!r}.{did_you_mean(k, fields)}"
            for k in options
            if k not in fields
        )
        options = {
            k: tuple(v) if isinstance(v, list) and k == "stop" else v
            for k, v in options.items()
            if k in fields
        }
    if problems:
        return None, problems
    try:
        evaluator = factory(**options)
    except TypeError as exc:
        return None, [f"{where}: {exc}"]
    if not isinstance(evaluator, Evaluator):
        return None, [
            f"{where}: {entry['kind']!r} did not give an object with evaluate(model, tokenizer)"
        ]
    weight = entry.get("weight")  # None: not given (see EvalSuite on mixed scales)
    return NamedTask(name, evaluator, weight), []


def _task_name(entry: Any) -> str | None:
    """A task's name: its ``name``, else its ``kind``."""
    return str(entry.get("name") or entry.get("kind")) if isinstance(entry, Mapping) else None


def _no_kind(entry: Any, where: str) -> str:
    """A task without ``kind``: the kinds there are, and the key that was probably meant."""
    kinds = EVALUATORS.names()
    line = f"{where}: expected a mapping with a 'kind' (the evaluator: one of {', '.join(kinds)}, or module:attr)"
    if not isinstance(entry, Mapping):
        return line
    meant = [
        k
        for k, v in entry.items()
        if k not in _TASK_KEYS
        and (did_you_mean(str(k), ["kind"], _KIND_ALIASES) or (isinstance(v, str) and v in kinds))
    ]
    return f"{line}; unknown key {meant[0]!r}. Did you mean: kind?" if meant else line


def check_evaluator(ref: Any) -> tuple[EvalSuite | None, list[str]]:
    """:func:`make_evaluator` for the checks before a study: every problem, and a suite of
    the tasks whose data can still be checked (a task file's missing files included)."""
    if _is_task_file(ref):
        return read_suite(ref, check_files=True)
    try:
        return make_evaluator(ref), []
    except ConfigError as exc:
        return None, list(exc.problems)


def _is_task_file(ref: Any) -> bool:
    """A task file, or a JSONL file of held-out records (read as one loss task)."""
    if isinstance(ref, Path) or is_loss_data(ref):
        return True
    return isinstance(ref, str) and ref.endswith((".yaml", ".yml"))


def make_evaluator(ref: Any) -> EvalSuite:
    """An :class:`EvalSuite` from a task file path, a ``module:attr`` reference (an evaluator,
    or a zero-argument factory of one), an evaluator object, or a suite."""
    if isinstance(ref, EvalSuite):
        return ref
    if isinstance(ref, Evaluator) and not isinstance(ref, type):
        return EvalSuite((NamedTask(_name_of(ref), ref),))
    if _is_task_file(ref):
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
        f"evaluator {ref!r}: give a task file (.yaml), a JSONL file of held-out records (a loss "
        "task), 'module:attr', or an object with evaluate(model, tokenizer)"
    )


def _name_of(obj: Any) -> str:
    return str(getattr(obj, "name", None) or type(obj).__name__)
