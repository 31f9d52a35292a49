"""The answer of a study with several objectives: its Pareto front, and the one mixture a
rule picks from it (``--pick``), which everything downstream treats as the best.

The front is taken over the completed trials, baselines included (a baseline no searched
mixture dominates is on it, marked as such). Every objective is maximized.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from mixopt.study.trials import TrialRecord

__all__ = ["BALANCED", "front", "objectives_of", "pareto_payload", "pick", "scaled"]

BALANCED = "balanced"


def objectives_of(trials: Sequence[TrialRecord]) -> tuple[str, ...]:
    """The objectives the completed trials were scored on, in order (empty: one score)."""
    return next((tuple(t.scores) for t in trials if t.state == "COMPLETE" and t.scores), ())


def _done(trials: Sequence[TrialRecord], names: Sequence[str]) -> list[TrialRecord]:
    return [t for t in trials if t.state == "COMPLETE" and all(n in t.scores for n in names)]


def _dominates(a: TrialRecord, b: TrialRecord, names: Sequence[str]) -> bool:
    """``a`` is at least as good as ``b`` on every objective and better on one."""
    return all(a.scores[n] >= b.scores[n] for n in names) and any(
        a.scores[n] > b.scores[n] for n in names
    )


def front(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The completed trials no other completed trial dominates, by number."""
    names = objectives_of(trials)
    done = _done(trials, names)
    return sorted(
        (t for t in done if not any(_dominates(o, t, names) for o in done)), key=lambda t: t.number
    )


def scaled(trials: Sequence[TrialRecord]) -> dict[int, dict[str, float]]:
    """Each completed trial's scores scaled to [0, 1] per objective by the lowest and highest
    score over the completed trials (an objective on which all tie scales to 1)."""
    names = objectives_of(trials)
    done = _done(trials, names)
    low = {n: min(t.scores[n] for t in done) for n in names}
    high = {n: max(t.scores[n] for t in done) for n in names}
    return {
        t.number: {
            n: (t.scores[n] - low[n]) / (high[n] - low[n]) if high[n] > low[n] else 1.0
            for n in names
        }
        for t in done
    }


def pick(trials: Sequence[TrialRecord], rule: str = BALANCED) -> int | None:
    """The number of the front trial ``rule`` picks: an objective's name, the front's best on
    it; ``balanced``, the one whose lowest scaled score (see :func:`scaled`) is highest, ties
    broken by the larger mean scaled score, then the earlier trial. None: no trial completed."""
    points = front(trials)
    if not points:
        return None
    unit = scaled(trials)
    if rule != BALANCED:
        return max(
            points,
            key=lambda t: (t.scores[rule], statistics.fmean(unit[t.number].values()), -t.number),
        ).number
    return max(
        points,
        key=lambda t: (
            min(unit[t.number].values()),
            statistics.fmean(unit[t.number].values()),
            -t.number,
        ),
    ).number


def pareto_payload(trials: Sequence[TrialRecord], rule: str, picked: int | None) -> dict[str, Any]:
    """``pareto.json``: the objectives, the rule, the picked trial and every front trial."""
    return {
        "objectives": list(objectives_of(trials)),
        "pick": rule,
        "picked": picked,
        "front": [
            {
                "number": t.number,
                "role": t.role,
                "baseline": t.baseline,
                "mixture": t.mixture,
                "filters": t.filters,
                "train": t.train,
                "scores": t.scores,
            }
            for t in front(trials)
        ],
    }
