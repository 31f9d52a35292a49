"""What :func:`mixopt.optimize_mixture` returns: the answer, the baselines, the lift over
each with its interval and verdict, the sentence that says it, and every trial."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixopt.study.store import count_states
from mixopt.study.summary import Candidate, Lift
from mixopt.study.trials import TrialRecord

__all__ = ["SearchResult"]


@dataclass(frozen=True)
class SearchResult:
    best: Candidate
    """The answer: the race's best mean on fresh seeds (a baseline, when one won)."""
    baselines: dict[str, Candidate]
    lifts: dict[str, Lift]
    """The lift over each baseline: its mean paired difference over fresh seeds, 95%
    interval and verdict (``beats``, ``within noise``, ``loses``)."""
    trials: tuple[TrialRecord, ...]
    out_dir: Path
    paths: dict[str, str]
    mlflow_command: str
    objective_lifts: dict[str, dict[str, Lift]] = field(default_factory=dict)
    """With several objectives: per baseline, the best's lift on each objective."""
    front: tuple[int, ...] = ()
    """With several objectives: the Pareto front's trial numbers (``best`` is the one picked)."""
    headline: str = ""
    """The sentence a user acts on (:func:`mixopt.study.answer.headline`)."""
    best_trial: int | None = None
    """The answer's trial number."""
    estimate: str | None = None
    """What the scores and lifts estimate where they are not measured on the user's target
    (without --eval: "estimated on left-out training domains, not on your target"); None:
    the evaluator's own scores."""

    @property
    def objectives(self) -> tuple[str, ...]:
        """The objectives (empty: one score)."""
        return tuple(self.best.search_scores) if len(self.best.search_scores) > 1 else ()

    @property
    def best_mixture(self) -> dict[str, float]:
        return self.best.mixture

    @property
    def best_score(self) -> float | None:
        return self.best.score

    @property
    def lift(self) -> dict[str, float]:
        """The answer's score minus each baseline's (mean paired difference over fresh seeds
        where there are any); see :attr:`lifts` for the interval and verdict."""
        return {n: v.value for n, v in self.lifts.items()}

    @property
    def verdict(self) -> str:
        """What the answer is and how it compares with each baseline: ``Trial 12's mixture
        beats uniform by +0.0120 [95% interval +0.0040, +0.0200], 3 fresh seeds; ...``,
        ``No mixture beat uniform beyond noise: ...``, or ``The answer is the natural
        baseline: ...``."""
        return self.headline

    @property
    def baseline_answer(self) -> str | None:
        """The baseline's name when the answer is a baseline (it won the race), else None."""
        return next(
            (t.baseline for t in self.trials if t.number == self.best_trial and t.baseline),
            None,
        )

    @property
    def verdicts(self) -> dict[str, str | None]:
        """Each baseline's word: ``beats``, ``within noise`` or ``loses``."""
        return {n: v.verdict for n, v in self.lifts.items()}

    def counts(self) -> dict[str, int]:
        """Trials in all and by state (``complete``, ``pruned``, ``fail``)."""
        return count_states(self.trials)

    def trials_dataframe(self) -> Any:
        """Every trial as a pandas DataFrame, one row a trial in trial order (as Optuna's
        ``Study.trials_dataframe()``): ``number``, ``role``, ``state``, ``score``, a
        ``share.<domain>`` column per domain, ``train.<knob>`` per searched training knob,
        ``metric.<name>`` per evaluator metric, ``datetime_start``, ``datetime_complete``,
        ``duration`` (a Timedelta) and ``error`` (why a failed trial failed)."""
        import pandas as pd

        rows = []
        for t in sorted(self.trials, key=lambda t: t.number):
            row: dict[str, Any] = {
                "number": t.number,
                "role": t.role,
                "state": t.state,
                "score": t.score,
            }
            row.update({f"share.{k}": v for k, v in t.mixture.items()})
            row.update({f"train.{k}": v for k, v in t.train.items()})
            row.update({f"metric.{k}": v for k, v in t.metrics.items()})
            row.update(
                datetime_start=t.started,
                datetime_complete=t.ended,
                duration=None if t.seconds is None else pd.Timedelta(seconds=t.seconds),
                error=t.error,
            )
            rows.append(row)
        return pd.DataFrame(rows)
