"""What :func:`mixopt.optimize_mixture` returns: the best mixture, the baselines, the lift
over each, and every trial."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixopt.study.store import count_states
from mixopt.study.summary import Candidate, Lift, verdict
from mixopt.study.trials import TrialRecord

__all__ = ["SearchResult"]


@dataclass(frozen=True)
class SearchResult:
    best: Candidate
    baselines: dict[str, Candidate]
    lifts: dict[str, Lift]
    """The lift over each baseline, with its spread over paired fresh seeds."""
    trials: tuple[TrialRecord, ...]
    out_dir: Path
    paths: dict[str, str]
    mlflow_command: str
    objective_lifts: dict[str, dict[str, Lift]] = field(default_factory=dict)
    """With several objectives: per baseline, the best's lift on each objective."""
    front: tuple[int, ...] = ()
    """With several objectives: the Pareto front's trial numbers (``best`` is the one picked)."""

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
        """Best score minus each baseline's (confirmed means where available)."""
        return {n: v.value for n, v in self.lifts.items()}

    @property
    def verdict(self) -> str | None:
        """``No mixture beat uniform (...)`` with the scores when the best does not beat the
        uniform mixture on the confirmed mean; None when it does."""
        return verdict(self.best, self.baselines, self.lifts, self.objective_lifts)

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
