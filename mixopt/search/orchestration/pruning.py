"""Early stopping: asynchronous successive halving (ASHA), decided by the study loop, so
it works the same whatever runs the trials and survives a resume (its rungs are rebuilt
from the intermediate scores in Optuna's storage).

A searched trial reaching a rung (checkpoint ``grace * rate**k``) goes on only if its
intermediate score is at least the ``1 - 1/rate`` quantile of the scores that earlier
trials had there. Baselines and confirmation runs are never stopped: the study reports
the lift over them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["Asha"]


class Asha:
    def __init__(self, checkpoints: int, rate: int = 2) -> None:
        # the first cut comes halfway through training: earlier, intermediate scores differ
        # by less than the trial noise and the cut would throw good mixtures away
        # (docs/design.md, "Early stopping")
        grace = max(1, (checkpoints + 1) // 2)
        # never at the last checkpoint: the trial has trained fully by then
        self.rungs = [grace * rate**k for k in range(checkpoints) if grace * rate**k < checkpoints]
        self.rate = rate
        self.seen: dict[int, list[float]] = {r: [] for r in self.rungs}

    def add_history(self, curves: Iterable[Sequence[float]]) -> None:
        """Intermediate scores (in checkpoint order) of searched trials that ran before."""
        for curve in curves:
            for rung in self.rungs:
                if len(curve) >= rung:
                    self.seen[rung].append(curve[rung - 1])

    def keep(self, checkpoint: int, value: float) -> bool:
        """Whether a trial at its ``checkpoint``-th score (1-based) goes on; records the score."""
        if checkpoint not in self.seen:
            return True
        earlier = sorted(self.seen[checkpoint])
        self.seen[checkpoint].append(value)
        if not earlier:
            return True
        return value >= _quantile(earlier, 1 - 1 / self.rate)


def _quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of sorted ``values`` (numpy's default, as Tune's ASHA)."""
    pos = q * (len(values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)
