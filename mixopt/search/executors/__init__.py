"""Executors: what runs a study's jobs, by name (``--executor``): ``ray`` (Ray Tune, the
default) and ``inprocess``, an installed package's through the ``mixopt.executors``
entry-point group, or your own as ``module:attr`` (an :class:`ExecutorFactory`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mixopt.errors import ConfigError
from mixopt.registry import Registry
from mixopt.search.executors._base import (
    FINISHED,
    Executor,
    ExecutorFactory,
    Job,
    JobSource,
    Outcome,
)
from mixopt.search.executors.inprocess import InProcessExecutor
from mixopt.search.executors.ray_tune import RayTuneExecutor

if TYPE_CHECKING:
    from mixopt.study.spec import ExecutionSpec

__all__ = [
    "EXECUTORS",
    "FINISHED",
    "Executor",
    "ExecutorFactory",
    "Job",
    "JobSource",
    "Outcome",
    "executor_problems",
    "runs_remotely",
]

EXECUTORS: Registry[Executor] = Registry(
    "executor",
    "mixopt.executors",
    {"ray": RayTuneExecutor, "inprocess": InProcessExecutor},
)


def executor_problems(execution: ExecutionSpec) -> list[str]:
    """Why the executor ``execution`` names cannot start (an unknown name, a cluster that does
    not answer), one line each: checked with the study's other inputs."""
    try:
        factory = EXECUTORS.get(execution.executor)
    except ConfigError as exc:
        return list(exc.problems)
    declared = getattr(factory, "problems", None)
    problems: Sequence[str] = declared(execution) if callable(declared) else ()
    return list(problems)


def runs_remotely(execution: ExecutionSpec) -> bool:
    """Whether the executor's jobs run on other machines (a Ray cluster joined), whose
    devices this machine cannot check (False for an executor that does not say)."""
    try:
        declared = getattr(EXECUTORS.get(execution.executor), "remote", None)
    except ConfigError:
        return False
    return bool(declared(execution)) if callable(declared) else False
