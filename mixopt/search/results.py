"""What a study found: the best mixture, the baselines, the lift over each, every trial."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Candidate", "SearchResult", "TrialRecord", "summarize"]


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the study recorded it."""

    number: int
    role: str
    """``search``, or ``baseline:uniform`` / ``baseline:natural`` / ``baseline:NAME``."""
    state: str
    """COMPLETE, PRUNED, FAIL (or RUNNING/WAITING in an unfinished study)."""
    mixture: dict[str, float]
    train: dict[str, Any]
    score: float | None
    """Final score (COMPLETE), last intermediate score (PRUNED), or None."""
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A mixture scored in the search and (when ``confirm`` > 0) re-run on fresh seeds."""

    name: str
    mixture: dict[str, float]
    search_score: float | None
    confirmed: tuple[float, ...] = ()

    @property
    def score(self) -> float | None:
        """The confirmed mean when there is one (unbiased), else the search score."""
        return statistics.fmean(self.confirmed) if self.confirmed else self.search_score

    @property
    def spread(self) -> float:
        """Standard deviation over the confirmation seeds (0 with fewer than two)."""
        return statistics.stdev(self.confirmed) if len(self.confirmed) > 1 else 0.0


@dataclass(frozen=True)
class SearchResult:
    """The outcome of :func:`mixopt.optimize_mixture`."""

    best: Candidate
    baselines: dict[str, Candidate]
    trials: tuple[TrialRecord, ...]
    out_dir: Path
    paths: dict[str, str]
    mlflow_command: str

    @property
    def best_mixture(self) -> dict[str, float]:
        return self.best.mixture

    @property
    def best_score(self) -> float | None:
        return self.best.score

    @property
    def lift(self) -> dict[str, float]:
        """Best score minus each baseline's (confirmed means where available)."""
        b = self.best.score
        return {
            n: b - c.score
            for n, c in self.baselines.items()
            if b is not None and c.score is not None
        }

    def counts(self) -> dict[str, int]:
        return self.count(self.trials)

    @staticmethod
    def count(trials: Sequence[TrialRecord]) -> dict[str, int]:
        """Trials in all and by state (``complete``, ``pruned``, ``fail``)."""
        out = {"trials": len(trials)}
        for t in trials:
            out[t.state.lower()] = out.get(t.state.lower(), 0) + 1
        return out


def summarize(
    trials: Sequence[TrialRecord], confirmed: Mapping[str, list[float]], best_number: int | None
) -> tuple[Candidate, dict[str, Candidate]]:
    """The best candidate and the baselines, with their confirmation scores."""
    by_number = {t.number: t for t in trials}
    baselines = {
        t.role.split(":", 1)[1]: Candidate(
            t.role.split(":", 1)[1],
            t.mixture,
            t.score if t.state == "COMPLETE" else None,
            tuple(confirmed.get(t.role.split(":", 1)[1], [])),
        )
        for t in trials
        if t.role.startswith("baseline:")
    }
    if best_number is None:
        raise ValueError("no trial completed")
    best = by_number[best_number]
    return Candidate("best", best.mixture, best.score, tuple(confirmed.get("best", []))), baselines
