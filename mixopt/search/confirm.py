"""Confirmation runs: the best mixture and the baselines again, on fresh seeds.

The best of many noisy trials is biased upward (it won partly by luck); re-running it and
the baselines on seeds no trial used gives scores that can be compared fairly. Each run is
appended to ``confirm.jsonl`` as it finishes, so a resumed study redoes only what is missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune.search import Searcher

from mixopt.search.searcher import WORKER_DIED, StatelessSearcher, trial_params
from mixopt.search.storage import read_confirmations
from mixopt.search.tracking import Tracker

if TYPE_CHECKING:
    from mixopt.events import EventLog
    from mixopt.search.study import Study

__all__ = ["CONFIRM_BASE", "ConfirmSearcher", "run_confirmation"]

CONFIRM_BASE = 100_000  # MLflow numbers of confirmation runs start here (apart from Optuna's)


class ConfirmSearcher(StatelessSearcher):
    """Hands Tune a fixed list of runs; records each result as it arrives."""

    def __init__(
        self,
        jobs: list[dict[str, Any]],
        path: Path,
        tracker: Tracker,
        first_number: int,
        budget: int,
        events: EventLog,
    ) -> None:
        super().__init__(metric="score", mode="max")
        self.jobs, self.path, self.tracker, self.budget, self.events = (
            list(jobs),
            path,
            tracker,
            budget,
            events,
        )
        self.next_number = first_number
        self.live: dict[str, tuple[int, dict[str, Any]]] = {}
        self.last: dict[str, dict[str, Any]] = {}

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if not self.jobs:
            return Searcher.FINISHED if not self.live else None  # type: ignore[return-value]  # Tune's "done" marker is a str
        job = self.jobs.pop(0)
        number, self.next_number = self.next_number, self.next_number + 1
        self.live[trial_id] = (number, job)
        self.tracker.start_trial(
            number,
            f"confirm:{job['name']}",
            {
                **trial_params(job["mixture"], job["train"], job["seed"], self.budget),
                "source_trial": job["source"],
            },
        )
        return {
            "number": number,
            "mixture": job["mixture"],
            "train": job["train"],
            "seed": job["seed"],
        }

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        self.last[trial_id] = result

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        number, job = self.live.pop(trial_id)
        last = result or self.last.pop(trial_id, {})
        if error or last.get("score") is None:
            reason = str(last.get("error") or WORKER_DIED)
            self.tracker.finish_trial(number, "FAIL", None, reason)
            self.events.emit("confirm_finished", f"confirmation run of {job['name']} (seed {job['seed']}) FAILED: {reason}",
                             name=job["name"], seed=job["seed"], source=job["source"], state="FAIL", score=None,
                             error=reason)  # fmt: skip
            return
        payload = json.loads(last["result_json"])
        with open(self.path, "a", encoding="utf-8") as fh:  # one line per run, flushed to disk
            fh.write(
                json.dumps(
                    {
                        "name": job["name"],
                        "seed": job["seed"],
                        "source": job["source"],
                        "score": payload["score"],
                    }
                )
                + "\n"
            )
            fh.flush()
            os.fsync(fh.fileno())
        self.tracker.finish_trial(number, "COMPLETE", payload)
        self.events.emit("confirm_finished", f"confirmed {job['name']} (seed {job['seed']}): score {payload['score']:.4f}",
                         name=job["name"], seed=job["seed"], source=job["source"], state="COMPLETE",
                         score=payload["score"])  # fmt: skip


def run_confirmation(
    study: Study, ostudy: Any, tracker: Tracker, best: int
) -> dict[str, list[float]]:
    """Re-run the best mixture and each baseline on ``confirm`` fresh seeds (kept in
    ``confirm.jsonl``, so a resumed study re-runs only what is missing)."""
    from ray import tune

    from mixopt.search.execution import fit, trial_resources
    from mixopt.search.trainable import trainable

    config = study.config
    trials = {t.number: t for t in ostudy.get_trials(deepcopy=False)}
    candidates = {}
    for t in trials.values():
        role = t.user_attrs.get("role", "")
        if (
            role.startswith("baseline:")
            and not t.user_attrs.get("interrupted")
            and t.state.name == "COMPLETE"
        ):
            candidates[role.split(":", 1)[1]] = t
    # a baseline that won is confirmed once, under its own name, and those runs count for "best"
    best_alias = next((n for n, t in candidates.items() if t.number == best), "best")
    candidates.setdefault(best_alias, trials[best])
    path = study.out / "confirm.jsonl"
    done = read_confirmations(path)
    jobs = []
    for name, t in candidates.items():
        for k in range(config.confirm):
            seed = config.seed + 1 + k  # fresh seeds: new data samples and LoRA initializations
            if (name, seed, t.number) not in done:
                jobs.append(
                    {
                        "name": name,
                        "source": t.number,
                        "mixture": t.user_attrs["mixture"],
                        "train": t.user_attrs.get("train", {}),
                        "seed": seed,
                    }
                )
    if jobs:
        resources, concurrency = trial_resources(config)
        study.events.emit("confirm_started", f"confirming: the best mixture and the baselines on {config.confirm} fresh seeds ({len(jobs)} runs)",
                          runs=len(jobs), seeds=config.confirm, candidates=sorted(candidates))  # fmt: skip
        searcher = ConfirmSearcher(
            jobs, path, tracker, CONFIRM_BASE + len(done), config.budget, study.events
        )
        fit(tune.with_resources(tune.with_parameters(trainable, context=study.context), resources), searcher, None,
             concurrency, study.out, "confirm")  # fmt: skip
    scores: dict[str, list[float]] = {}
    for (name, _seed, source), score in read_confirmations(path).items():
        if name in candidates and candidates[name].number == source:
            scores.setdefault(name, []).append(score)
    if best_alias != "best" and best_alias in scores:
        scores["best"] = scores[best_alias]
    return scores
