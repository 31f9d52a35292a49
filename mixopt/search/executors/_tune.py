"""Ray Tune's trainable, searcher and scheduler, handing every decision to the study's
JobSource. Imported only once Ray has started (see
:func:`~mixopt.search.executors.ray_tune.start_ray`); module-level on purpose: Tune pickles
the trainable by reference."""

from __future__ import annotations

import json
import queue
import threading
import traceback
from typing import Any

from ray.tune import Trainable
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from mixopt.errors import error_line
from mixopt.search.executors._base import FINISHED, WORKER_DIED, Job, JobSource, Outcome
from mixopt.search.executors.context import StudyContext, execute

__all__ = ["LoopScheduler", "LoopSearcher", "TrialActor"]

_GO, _HALT = "go", "halt"


class _Halted(BaseException):
    """Ends a job's thread at its report once Tune has stopped the job (a BaseException,
    so that nothing in the trial mistakes it for a failure of its own)."""


class TrialActor(Trainable):
    """A job as a Tune trial: the job runs in a thread of the actor, which hands Tune one
    result a step (each intermediate score, then the final result) and waits at each report
    for Tune's next step before it trains on.

    Why a class and a lock-step thread, not a function trainable: workers are reused
    (``reuse_actors``), and with a function trainable a job that Tune stopped early could
    still be running in the reused actor's runner thread when the next job was handed to
    that actor; the next job then never reported, and the study hung (seen once under load;
    Ray's own threads report hangs of reused function trainables, ray-project/ray#18808,
    #42951). Here a stopped job ends at the report it waits at, and its thread is joined
    before the actor takes another job, so a job never outlives its trial and never trains
    past Tune's decision.
    """

    def setup(self, config: dict[str, Any], context: StudyContext) -> None:  # type: ignore[override]
        self._context = context
        self._thread: threading.Thread | None = None
        self._failed: BaseException | None = None
        self._config = config

    def step(self) -> dict[str, Any]:
        if self._failed is not None:
            # the job's error went to Tune as its last result; raised now, Tune also keeps
            # it with its traceback (the trial's error.txt) and ends the trial as errored
            raise self._failed
        if self._thread is None:
            self._out: queue.Queue[tuple[dict[str, Any], BaseException | None]] = queue.Queue()
            self._resume: queue.Queue[str] = queue.Queue()
            self._thread = threading.Thread(target=self._run, args=(self._config,), daemon=True)
            self._thread.start()
        else:
            self._resume.put(_GO)  # Tune took the last report and lets the job go on
        result, self._failed = self._out.get()
        return result

    def _run(self, config: dict[str, Any]) -> None:
        import ray

        def report(step: int, total: int, score: float) -> None:
            self._out.put(({"intermediate": score, "step": step, "total_steps": total}, None))
            if self._resume.get() == _HALT:
                raise _Halted

        try:
            payload = execute(self._context, config, report)
            runtime = ray.get_runtime_context()
            payload["node"] = runtime.get_node_id()  # where it ran (a cluster has several)
            # what it held ({"CPU": 1.0, "GPU": 1.0}): the report's CPU- and GPU-hours
            payload["resources"] = runtime.get_assigned_resources()  # type: ignore[no-untyped-call]
            final = {"score": payload["score"], "result_json": json.dumps(payload), "done": True}
        except _Halted:
            return
        except (
            BaseException
        ) as exc:  # every way a job ends must reach Tune, or its step waits forever
            # the job's own fault, told apart from a dead worker (which reports nothing): the
            # reason reaches Optuna and MLflow as one line, Tune keeps it and the traceback
            self._out.put(
                ({"error": error_line(exc), "traceback": traceback.format_exc()[-4000:]}, exc)
            )
            return
        self._out.put((final, None))

    def _halt(self) -> None:
        """End the job under way (Tune stopped it, or the actor goes): at the report it
        waits at, or it has already ended; either way its thread is gone afterwards."""
        if self._thread is not None and self._thread.is_alive():
            self._resume.put(_HALT)
            self._thread.join()
        self._thread, self._failed = None, None

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        self._halt()
        self._config = new_config
        return True  # the actor takes the next job

    def cleanup(self) -> None:
        self._halt()

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        return None  # nothing to save: a job that did not finish runs again, it is not restored

    def load_checkpoint(self, checkpoint: Any) -> None:
        return None


class _WithoutStudy:
    """Pickled without the study's source. Tune pickles its searcher and scheduler into
    ``tuner.pkl`` (to restore an experiment, which a study never asks of it); the source
    holds the whole study, its storage and tracking URLs with their passwords included."""

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "source"}


class LoopSearcher(_WithoutStudy, Searcher):
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

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        job = self.live.pop(trial_id, None)
        if job is None:
            return
        last = result or self.last.pop(trial_id, None) or {}
        self.last.pop(trial_id, None)
        if "error" in last:
            outcome = Outcome("fail", error=str(last["error"]))
        elif error:  # a job's own exceptions come back as its result: its worker died
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


class LoopScheduler(_WithoutStudy, FIFOScheduler):
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
