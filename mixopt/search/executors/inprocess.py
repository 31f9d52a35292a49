"""The in-process executor: one job at a time, in the calling process and thread.

For debugging (a breakpoint in an evaluator works) and for tests of the study's logic that
are not about Ray. A worker cannot die under a job here: a crash ends the study's process,
and ``--resume`` picks it up like any killed study.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from mixopt.errors import error_line
from mixopt.search.executors._base import FINISHED, Job, JobSource, Outcome
from mixopt.search.executors.context import StudyContext, execute

if TYPE_CHECKING:
    from mixopt.study.spec import ExecutionSpec

__all__ = ["InProcessExecutor"]


class InProcessExecutor:
    """One trial at a time in this process and thread: for debugging (a breakpoint in an
    evaluator works); a crash ends the study, which --resume picks up."""

    def __init__(
        self,
        context: StudyContext,
        execution: ExecutionSpec | None = None,
        device: str = "auto",
        folder: Path | None = None,
    ) -> None:
        """Only ``context`` is used: the job runs on this process's device and threads."""
        self.context = context

    def start(self) -> None:
        return None

    def slots(self) -> int:
        return 1

    def run(self, source: JobSource) -> None:
        while True:
            job = source.next_job()
            if job == FINISHED:
                return
            if not isinstance(job, Job):  # nothing runs here that it could wait for
                raise RuntimeError("the study had no job to start and none running")
            source.finished(job, self._run(job, source))

    def _run(self, job: Job, source: JobSource) -> Outcome:
        try:
            payload = execute(
                self.context, job.config(), lambda s, t, v: source.reported(job, s, t, v)
            )
        except Exception as exc:  # the trial's own fault: recorded, and the study goes on
            return Outcome("fail", error=error_line(exc))
        payload["resources"] = {
            "CPU": float(self.context.trial.train.threads or os.cpu_count() or 1)
        }
        return Outcome("complete" if payload.get("score") is not None else "stopped", payload)

    def close(self) -> None:
        return None
