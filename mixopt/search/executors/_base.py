"""What an executor runs and what it hands back: jobs in, reports and outcomes out.

The study loop (:mod:`mixopt.search.orchestration.loop`) is a :class:`JobSource`: it hands out jobs,
decides at each report whether a job goes on (early stopping), and records each outcome.
An :class:`Executor` only runs jobs; it knows nothing of Optuna, MLflow or the study.
The registry of executors by name (``--executor``) is
:data:`mixopt.search.executors.EXECUTORS`; an :class:`ExecutorFactory` builds one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from mixopt.search.executors.context import StudyContext
    from mixopt.study.spec import ExecutionSpec

__all__ = [
    "FINISHED",
    "WORKER_DIED",
    "Executor",
    "ExecutorFactory",
    "Job",
    "JobSource",
    "Outcome",
]


@dataclass
class Job:
    """One fine-tune to run: a searched trial, a baseline, or a confirmation run."""

    number: int
    """The Optuna trial number (confirmation runs: numbers of their own, from CONFIRM_BASE)."""
    role: str
    """``search``, ``baseline:NAME``, or ``confirm:NAME``."""
    mixture: dict[str, float]
    train: dict[str, Any]
    """Training knobs that override the study's for this job."""
    seed: int
    protected: bool = False
    """Never stopped early (baselines, confirmation runs)."""
    source: int | None = None
    """For a confirmation run: the trial whose mixture it re-runs."""
    retries: int = 0
    """Re-runs after its worker died."""
    filters: dict[str, float] = field(default_factory=dict)
    """Thresholds on per-record scores (:mod:`mixopt.data.filtering`)."""
    budget: int | None = None
    """Another budget than the study's (a race at ``--confirm-budget``), on the whole pools;
    None: the study's."""

    def config(self) -> dict[str, Any]:
        """What the worker receives."""
        out = {
            "number": self.number,
            "mixture": self.mixture,
            "train": self.train,
            "seed": self.seed,
            "filters": self.filters,
        }
        return out if self.budget is None else {**out, "budget": self.budget}


@dataclass(frozen=True)
class Outcome:
    """How a job ended.

    ``complete``: it scored (``payload`` holds its result); ``stopped``: stopped early at
    the source's request; ``fail``: it raised or scored NaN (``error``: one line);
    ``died``: its worker process died under it (it may run again).
    """

    state: Literal["complete", "stopped", "fail", "died"]
    payload: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


WORKER_DIED = "WorkerDied: the trial's worker process died"

FINISHED = "FINISHED"
"""What :meth:`JobSource.next_job` returns when no job is left to hand out."""


class JobSource(Protocol):
    def next_job(self) -> Job | str | None:
        """A job to start, None when none can start now (wait for running ones), or FINISHED."""

    def reported(self, job: Job, step: int, total: int, value: float) -> bool:
        """An intermediate score; False stops the job (early stopping)."""

    def finished(self, job: Job, outcome: Outcome) -> None:
        """The job ended."""


class Executor(Protocol):
    """Runs the jobs of a source until it says FINISHED.

    :meth:`start` once, then :meth:`run` one or more sources, then :meth:`close` (also after
    a failure). ``run`` asks the source for jobs (``next_job``) while fewer than
    :meth:`slots` run, runs each with :func:`~mixopt.search.executors.context.execute` on the
    study's context (forwarding its intermediate scores to ``reported``, and stopping the job
    when that returns False), and hands every job's :class:`Outcome` to ``finished``,
    ``died`` where the worker process died under it. It calls the source from one thread.
    """

    def start(self) -> None:
        """Acquire what the jobs run on (start or join Ray)."""

    def slots(self) -> int:
        """How many jobs run at once (known once started)."""

    def run(self, source: JobSource) -> None: ...

    def close(self) -> None:
        """Release what the executor started (a local Ray)."""


class ExecutorFactory(Protocol):
    """What the executor registry holds: an executor class (or factory), called as
    ``factory(context, execution, device, folder)``: the study's context (what each job
    runs on), its execution settings, the training device (``auto``, ``cpu``, ``cuda``...)
    and a folder of its own inside the study folder. It only stores them (Ray must start in
    :meth:`Executor.start`, before anything imports it for the study).

    Two capabilities it may declare as static methods, read before the executor is built
    (where left out: no problems, and local): ``problems(execution) -> list[str]`` (what
    would keep it from starting, checked with the study's other inputs before anything is
    written: a cluster that does not answer) and ``remote(execution) -> bool`` (its jobs run
    on other machines, whose devices this one cannot check).
    """

    def __call__(
        self, context: StudyContext, execution: ExecutionSpec, device: str, folder: Path
    ) -> Executor: ...
