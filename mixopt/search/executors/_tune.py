"""Ray Tune's searcher and scheduler, handing every decision to the study's JobSource.
Imported only once Ray has started (see :func:`~mixopt.search.executors.ray_tune.start_ray`)."""

from __future__ import annotations

import json
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from mixopt.search.executors._base import FINISHED, WORKER_DIED, Job, JobSource, Outcome

__all__ = ["LoopScheduler", "LoopSearcher"]


class LoopSearcher(Searcher):
    """Hands Tune the source's jobs and the source each outcome. Its state lives in the
    study (Optuna's storage, confirm.jsonl): nothing for Tune to save or restore."""

    def __init__(self, source: JobSource) -> None:
        super().__init__(metric="score", mode="max")
        self.source = source
        self.live: dict[str, Job] = {}
        self.last: dict[str, dict[str, Any]] = {}

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        job = self.source.next_job()
        if job == FINISHED:
            return Searcher.FINISHED if not self.live else None  # type: ignore[return-value]  # Tune's "done" marker is a str
        if not isinstance(job, Job):
            return None
        self.live[trial_id] = job
        return job.config()

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        self.last[trial_id] = result

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:  # fmt: skip
        job = self.live.pop(trial_id, None)
        if job is None:
            return
        last = result or self.last.pop(trial_id, None) or {}
        self.last.pop(trial_id, None)
        if "error" in last:
            outcome = Outcome("fail", error=str(last["error"]))
        elif error:  # the trial reports its own exceptions before raising: its worker died
            outcome = Outcome("died", error=WORKER_DIED)
        elif last.get("score") is not None:
            outcome = Outcome("complete", json.loads(last["result_json"]))
        else:
            outcome = Outcome("stopped", {"intermediate": last.get("intermediate")})
        self.source.finished(job, outcome)

    def save_to_dir(self, *args: Any, **kwargs: Any) -> None:
        return None

    def restore_from_dir(self, *args: Any, **kwargs: Any) -> None:
        return None


class LoopScheduler(FIFOScheduler):
    """Asks the source, at each intermediate score, whether the trial goes on."""

    def __init__(self, source: JobSource, searcher: LoopSearcher) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.source, self.searcher = source, searcher

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        job = self.searcher.live.get(trial.trial_id)
        if job is None or "intermediate" not in result or "score" in result or "error" in result:
            return str(TrialScheduler.CONTINUE)
        step, total = int(result.get("step", 0)), int(result.get("total_steps", 0))
        if self.source.reported(job, step, total, float(result["intermediate"])):
            return str(TrialScheduler.CONTINUE)
        return str(TrialScheduler.STOP)
