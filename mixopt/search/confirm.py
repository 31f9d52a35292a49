"""Confirmation runs: the best mixture and the baselines again, on fresh seeds.

The best of many noisy trials is biased upward (it won partly by luck); re-running it and
the baselines on seeds no trial used gives scores that can be compared fairly. Every
candidate runs with the best trial's training knobs and filter thresholds: when the space searches knobs (a
learning rate, a LoRA rank) beside the mixture, a baseline's own sampled knobs would mix
their effect into the lift, which is meant to measure the mixture's. Each run is appended
to ``confirm.jsonl`` as it finishes, so a resumed study redoes only what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from mixopt.search.executors._base import Job
from mixopt.study.summary import Confirmation
from mixopt.study.trials import TrialRecord

__all__ = ["CONFIRM_BASE", "confirmation_jobs"]

CONFIRM_BASE = 100_000  # MLflow numbers of confirmation runs start here (apart from Optuna's)


def confirmation_jobs(
    trials: Sequence[TrialRecord], best: int, done: Sequence[Confirmation], seeds: int, seed: int
) -> list[Job]:
    """The runs still missing: each completed baseline and the best trial on ``seeds``
    fresh seeds after ``seed``. A baseline that won is run once, under its own name."""
    by_number = {t.number: t for t in trials}
    candidates = {t.baseline: t for t in trials if t.baseline is not None and t.state == "COMPLETE"}
    if best not in {t.number for t in candidates.values()}:
        candidates["best"] = by_number[best]
    knobs = dict(by_number[best].train)
    # a run at other knobs (an earlier best's, before the study grew) runs again at these
    have = {(c.name, c.seed, c.source) for c in done if c.train in ({}, knobs)}
    jobs: list[Job] = []
    for name, t in candidates.items():
        for k in range(seeds):
            fresh = seed + 1 + k  # fresh seeds: new data samples and LoRA initializations
            if (name, fresh, t.number) not in have:
                number = CONFIRM_BASE + len(done) + len(jobs)
                jobs.append(Job(number, f"confirm:{name}", dict(t.mixture), knobs, fresh, True, t.number,
                                filters=dict(by_number[best].filters)))
    return jobs
