"""Trial runners that stand in for :func:`mixopt.trial.run_trial` where only the machinery
around a trial is being measured (benchmarks/search_overhead.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from mixopt.trial import TrialResult, TrialSpec

__all__ = ["WaitingTrial"]


@dataclass(frozen=True)
class WaitingTrial:
    """A trial that waits ``seconds`` instead of training, and scores the mixture by a fixed
    smooth function (closeness to uniform), so a study around it behaves like a real one."""

    seconds: float = 0.0

    def __call__(self, spec: TrialSpec, report: Any = None) -> TrialResult:
        start = time.perf_counter()
        time.sleep(self.seconds)
        shares = dict(spec.mixture)
        score = -sum((v - 1 / len(shares)) ** 2 for v in shares.values())
        elapsed = time.perf_counter() - start
        return TrialResult(
            score=score, metrics={}, intermediate=(), loss_curve=(),
            domains={n: {"tokens": round(v * spec.budget), "records": 0, "epochs": 0.0} for n, v in shares.items()},
            timings={"data_s": 0.0, "load_s": 0.0, "train_s": elapsed, "eval_s": 0.0, "total_s": elapsed},
            steps=0, total_steps=0, stopped_early=False, tokens_per_second=0.0, mixture=shares, seed=spec.seed,
        )  # fmt: skip
