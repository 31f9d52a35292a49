"""The Ray Tune searcher: an Optuna ask/tell loop on persistent storage.

Why not Tune's ``OptunaSearch``: with a define-by-run space it ignores
``points_to_evaluate`` (our baselines), it fixes Optuna's pruner to none, and restoring a
``Tuner`` has lost its searcher state in some Ray versions. Here Optuna's storage is the
only state: baselines are enqueued trials, pruned trials are told as PRUNED with their last
intermediate score, and a resumed study simply reopens the storage.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ray.tune.search import Searcher

from mixopt.search.space import SearchSpace, Simplex
from mixopt.search.tracking import Tracker
from mixopt.search.trainable import PROTECTED_KEY

__all__ = ["Live", "MixoptSearcher", "StatelessSearcher"]

ROLE, MIXTURE, TRAIN, RESULT, ERROR, RETRIES = (
    "role", "mixture", "train", "result", "fail_reason", "retries",
)  # fmt: skip


@dataclass
class Live:
    """A trial Tune is running."""

    number: int
    role: str
    mixture: dict[str, float]
    train: dict[str, Any]
    optuna_trial: Any = None
    last: Mapping[str, Any] | None = None
    retries: int = 0
    """Re-runs after its worker died."""


class StatelessSearcher(Searcher):
    """A searcher whose state lives elsewhere (Optuna's storage, confirm.jsonl): nothing for
    Tune to save or restore."""

    def save_to_dir(self, *args: Any, **kwargs: Any) -> None:
        return None

    def restore_from_dir(self, *args: Any, **kwargs: Any) -> None:
        return None


class MixoptSearcher(StatelessSearcher):
    """Proposes trials from an Optuna study, tells it their outcomes, and logs them to MLflow.

    ``total`` is how many finished trials the study needs; trials finished before (a resumed
    study) count towards it. A trial whose worker died runs again (same trial, same
    parameters) up to ``max_retries`` times; after ``fail_limit`` failures in a row with no
    trial that worked, ``stopped`` says why and no more trials start. Live only in the
    driver: never pickled to a worker.
    """

    def __init__(
        self, study: Any, space: SearchSpace, simplex: Simplex, tracker: Tracker, total: int, seed: int,
        budget: int, on_event: Callable[[str, Live, Mapping[str, Any] | None], None],
        max_retries: int = 0, fail_limit: int | None = None,
    ) -> None:  # fmt: skip
        super().__init__(metric="intermediate", mode="max")
        self.study, self.space, self.simplex, self.tracker = study, space, simplex, tracker
        self.total, self.seed, self.budget, self.on_event = total, seed, budget, on_event
        self.max_retries, self.fail_limit = max_retries, fail_limit
        self.live: dict[str, Live] = {}
        self.retry: list[Live] = []  # trials whose worker died, to run again
        self.failed_in_a_row = 0
        self.first_failure: str | None = None
        self.stopped: str | None = None

    def finished_count(self) -> int:
        from optuna.trial import TrialState

        done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        return sum(
            1
            for t in self.study.get_trials(deepcopy=False, states=done)
            if not t.user_attrs.get("interrupted")
        )

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.stopped is not None:
            return Searcher.FINISHED if not self.live else None  # type: ignore[return-value]  # Tune's "done" marker is a str
        if self.retry:
            live = self.live[trial_id] = self.retry.pop(0)
            self.on_event("start", live, None)
            return self._config(live)
        if self.finished_count() + len(self.live) >= self.total:
            return Searcher.FINISHED if not self.live else None  # type: ignore[return-value]
        trial = self.study.ask()
        raw = trial.user_attrs.get(MIXTURE)
        # asked even for an enqueued trial (a baseline, a re-queued one): that records its fixed
        # parameters, so the sampler learns from it and optuna-dashboard plots it; the mixture
        # it trains stays the exact one it was queued with
        proposed = self.simplex.suggest(trial)
        mixture = dict(raw) if raw else proposed
        train = self.space.suggest_train(trial)
        role = trial.user_attrs.get(ROLE, "search")
        trial.set_user_attr(ROLE, role)
        trial.set_user_attr(MIXTURE, mixture)
        for name, share in mixture.items():  # sortable columns in optuna-dashboard's trial table
            trial.set_user_attr(f"share.{name}", round(share, 6))
        trial.set_user_attr(TRAIN, train)
        live = Live(trial.number, role, mixture, train, trial)
        self.live[trial_id] = live
        self.tracker.start_trial(
            trial.number, role, trial_params(mixture, train, self.seed, self.budget)
        )
        self.on_event("start", live, None)
        return self._config(live)

    def _config(self, live: Live) -> dict[str, Any]:
        return {"number": live.number, "mixture": live.mixture, "train": live.train, "seed": self.seed,
                "protected": live.role != "search"}  # fmt: skip

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        live = self.live.get(trial_id)
        if live is None:
            return
        live.last = result
        value = result.get("intermediate", result.get(PROTECTED_KEY))
        if value is not None and "score" not in result:
            step = int(result.get("step", result.get("training_iteration", 0)))
            live.optuna_trial.report(float(value), step)
            self.tracker.log_intermediate(live.number, step, float(value))
            total = result.get("total_steps")
            self.on_event(
                "report", live, {"step": step, "total_steps": total, "value": float(value)}
            )

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        from optuna.trial import TrialState

        live = self.live.pop(trial_id, None)
        if live is None:
            return
        last = result or live.last or {}
        if error and "error" not in last:
            # the trial reports its own exceptions before raising: with no report, its
            # worker process died under it (killed, out of host memory, node lost)
            if live.retries < self.max_retries and self.stopped is None:
                live.retries += 1
                live.last = None
                live.optuna_trial.set_user_attr(RETRIES, live.retries)
                self.tracker.note_retry(live.number, live.retries)
                self.retry.append(live)
                self.on_event("retry", live, {"error": WORKER_DIED})
                return
            last = {"error": f"{WORKER_DIED} ({live.retries + 1} attempts)"}
        if error or "error" in last:
            reason = str(last["error"])
            live.optuna_trial.set_user_attr(ERROR, reason)
            self.study.tell(live.optuna_trial, state=TrialState.FAIL)
            self.tracker.finish_trial(live.number, "FAIL", None, reason)
            self.on_event("fail", live, {"error": reason})
            self._count_failure(reason)
        elif last.get("score") is not None:
            payload = json.loads(last["result_json"])
            payload.update(
                role=live.role,
                params=trial_params(live.mixture, live.train, self.seed, self.budget),
            )
            live.optuna_trial.set_user_attr(RESULT, payload)
            self.study.tell(
                live.optuna_trial, float(last["score"])
            )  # Optuna first: the source of truth
            self.tracker.finish_trial(live.number, "COMPLETE", payload)
            self.on_event("complete", live, payload)
            self.fail_limit = None  # a trial worked: the setup is sound, failures are the trials'
        else:  # stopped early by the scheduler
            self.study.tell(live.optuna_trial, state=TrialState.PRUNED)
            self.tracker.finish_trial(
                live.number,
                "PRUNED",
                {
                    "score": None,
                    "metrics": {"intermediate": last.get("intermediate", float("nan"))},
                },
            )
            self.on_event("prune", live, last)
            self.fail_limit = None

    def _count_failure(self, reason: str) -> None:
        self.failed_in_a_row += 1
        self.first_failure = self.first_failure or reason
        if (
            self.fail_limit is not None
            and self.failed_in_a_row >= self.fail_limit
            and self.stopped is None
        ):
            self.retry.clear()
            self.stopped = (
                f"the first {self.failed_in_a_row} trials all failed, so the study stopped "
                f"(first failure: {self.first_failure})"
            )


WORKER_DIED = "WorkerDied: the trial's worker process died"


def trial_params(
    mixture: Mapping[str, float], train: Mapping[str, Any], seed: int, budget: int
) -> dict[str, Any]:
    """A trial's parameters as MLflow shows them."""
    params: dict[str, Any] = {f"share.{k}": round(v, 6) for k, v in mixture.items()}
    params.update({f"train.{k}": v for k, v in train.items()})
    params.update(seed=seed, budget=budget)
    return params
