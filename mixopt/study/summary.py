"""What a study found: the answer, the baselines and the lift over each, computed in one
place for the results, the CLI, MLflow and the report (:mod:`mixopt.study.answer` chooses
the answer and judges each lift)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mixopt.study.trials import TrialRecord
from mixopt.study.verdict import WITHIN, Verdict

__all__ = [
    "CONFIRM_BASE",
    "Candidate",
    "Confirmation",
    "Lift",
    "Summary",
    "best_number",
    "runs_at",
    "summarize",
]


CONFIRM_BASE = 100_000  # run numbers of confirmation runs start here (apart from Optuna's)


@dataclass(frozen=True)
class Confirmation:
    """One confirmation run: a candidate re-run on a fresh seed (a line of confirm.jsonl)."""

    name: str
    """``best``, or the baseline's name."""
    seed: int
    source: int
    """The trial whose mixture was re-run."""
    score: float
    train: dict[str, Any]
    """The training knobs it ran with (the best trial's, for every candidate)."""
    budget: int
    """The tokens it trained on: the study's budget, or another for a transfer check."""
    scores: dict[str, float] = field(default_factory=dict)
    """Each objective's score (a study with several objectives; ``score`` is the first's)."""
    error: str | None = None
    """Why the run failed (its ``score`` is NaN); None: it completed."""
    number: int | None = None
    """Its run number in MLflow (from ``CONFIRM_BASE``); None in a file from before it was
    kept."""

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class Candidate:
    """A mixture scored in the search and (when ``confirm`` > 0) re-run on fresh seeds."""

    name: str
    mixture: dict[str, float]
    search_score: float | None
    confirmed: tuple[float, ...] = ()
    seeds: tuple[int, ...] = ()
    """The fresh seeds of ``confirmed``, in the same order."""
    search_scores: dict[str, float] = field(default_factory=dict)
    """Each objective's search score (a study with several objectives)."""
    confirmed_scores: tuple[dict[str, float], ...] = ()
    """Each objective's score on each of ``seeds``, in the same order."""

    @property
    def scores(self) -> dict[str, float]:
        """Each objective's confirmed mean where it has runs, else its search score."""
        if self.confirmed_scores:
            names = self.confirmed_scores[0]
            return {n: statistics.fmean(run[n] for run in self.confirmed_scores) for n in names}
        return dict(self.search_scores)

    def objective(self, name: str) -> Candidate:
        """This candidate as scored on the objective ``name`` alone."""
        search = self.search_scores.get(name)
        return Candidate(
            self.name,
            self.mixture,
            search,
            tuple(run[name] for run in self.confirmed_scores),
            self.seeds,
        )

    @property
    def score(self) -> float | None:
        """The confirmed mean when there is one (unbiased), else the search score."""
        return statistics.fmean(self.confirmed) if self.confirmed else self.search_score

    @property
    def spread(self) -> float | None:
        """Standard deviation over the confirmation seeds (None with fewer than two)."""
        return statistics.stdev(self.confirmed) if len(self.confirmed) > 1 else None


@dataclass(frozen=True)
class Lift:
    """The answer's score minus a baseline's, with the spread over paired fresh seeds, the
    95% interval and the verdict (:class:`mixopt.study.verdict.Verdict`)."""

    value: float
    spread: float | None
    """Standard deviation of the per-seed differences (None with fewer than two paired seeds)."""
    seeds: int
    """Fresh seeds on which both ran (0: the lift compares single search runs)."""
    low: float | None = None
    """The 95% interval's ends (:class:`mixopt.study.verdict.Verdict`; None: no interval)."""
    high: float | None = None
    verdict: str | None = None
    """``beats``, ``within noise`` or ``loses`` (None: not judged)."""
    family: int = 1
    """The lifts the interval was widened for (the winner's curse)."""

    def sentence(self, baseline: str) -> str:
        """``beats uniform by +0.0120 [95% interval +0.0040, +0.0200], 3 fresh seeds``."""
        from mixopt.study.verdict import Verdict

        if self.seeds == 0:
            return f"vs {baseline} {self.value:+.4f} (the search seed only: not confirmed on fresh seeds)"
        word = self.verdict or "within noise"
        return Verdict(
            baseline, self.value, self.low, self.high, word, self.seeds, self.family
        ).sentence()

    def to_dict(self) -> dict[str, Any]:
        """``lift``, ``low``, ``high``, ``verdict``, ``seeds``, ``family`` and ``spread``."""
        return {
            "lift": self.value,
            "low": self.low,
            "high": self.high,
            "verdict": self.verdict,
            "seeds": self.seeds,
            "family": self.family,
            "spread": self.spread,
        }


@dataclass(frozen=True)
class Summary:
    best_number: int | None
    """The answer's trial: the race's choice on fresh seeds (:mod:`mixopt.study.answer`),
    else the highest search score's, or with several objectives the one ``--pick`` chose
    from the Pareto front."""
    best: Candidate | None
    baselines: dict[str, Candidate]
    baseline_numbers: dict[str, int]
    lift: dict[str, Lift]
    objective_lift: dict[str, dict[str, Lift]] = field(default_factory=dict)
    """With several objectives: per baseline, the best's lift on each objective."""


def runs_at(confirmations: Sequence[Confirmation], budget: int) -> list[Confirmation]:
    """The runs that trained on ``budget`` tokens."""
    return [c for c in confirmations if c.budget == budget]


def best_number(trials: Sequence[TrialRecord], pick: str = "balanced") -> int | None:
    """The completed trial with the highest score (the earliest among equals); with several
    objectives, the Pareto front's trial that ``pick`` chooses (:func:`mixopt.study.pareto.pick`)."""
    from mixopt.study.pareto import objectives_of
    from mixopt.study.pareto import pick as pick_from_front

    if len(objectives_of(trials)) > 1:
        return pick_from_front(trials, pick)
    done = [t for t in trials if t.state == "COMPLETE" and t.score is not None]
    return max(done, key=lambda t: (t.score, -t.number)).number if done else None


def summarize(
    trials: Sequence[TrialRecord],
    confirmations: Sequence[Confirmation],
    pick: str = "balanced",
    answer: int | None = None,
    verdicts: Mapping[str, Verdict] | None = None,
    objective_verdicts: Mapping[str, Mapping[str, Verdict]] | None = None,
) -> Summary:
    """The answer, the baselines and the lifts, from the trials and the runs that confirmed
    them (a trial's runs by its number; failed runs count nowhere). ``answer``: the trial
    the race chose (default: the search's best, :func:`best_number`); ``verdicts``: each
    baseline's verdict, and ``objective_verdicts`` each objective's, by baseline
    (:func:`mixopt.study.answer.decide` makes them)."""
    number = best_number(trials, pick) if answer is None else answer
    by_number = {t.number: t for t in trials}
    numbers = {t.baseline: t.number for t in trials if t.baseline is not None}
    runs: dict[int, dict[int, Confirmation]] = {}
    for run in confirmations:
        if not run.failed:
            runs.setdefault(run.source, {})[run.seed] = run
    baselines = {n: _candidate(n, by_number[k], runs.get(k, {})) for n, k in numbers.items()}
    best = None if number is None else _candidate("best", by_number[number], runs.get(number, {}))
    verdicts = verdicts or {}
    lift = {n: _lift(best, c, verdicts.get(n)) for n, c in baselines.items()}
    per_objective: dict[str, dict[str, Lift]] = {}
    if best is not None and len(best.search_scores) > 1:
        for n, base in baselines.items():
            judged = (objective_verdicts or {}).get(n, {})
            each = {
                o: _lift(best.objective(o), base.objective(o), judged.get(o))
                for o in best.search_scores
            }
            per_objective[n] = {o: v for o, v in each.items() if v}
    return Summary(
        number, best, baselines, numbers, {n: v for n, v in lift.items() if v}, per_objective
    )


def _candidate(name: str, t: TrialRecord, seeds: Mapping[int, Confirmation]) -> Candidate:
    order = tuple(sorted(seeds))
    search = t.score if t.state == "COMPLETE" else None
    # per-objective runs: a study with several objectives records them, one with one objective none
    by_objective = (
        tuple(seeds[s].scores for s in order) if all(seeds[s].scores for s in order) else ()
    )
    return Candidate(
        name,
        t.mixture,
        search,
        tuple(seeds[s].score for s in order),
        order,
        dict(t.scores) if t.state == "COMPLETE" else {},
        by_objective,
    )


def _lift(best: Candidate | None, base: Candidate, judged: Verdict | None) -> Lift | None:
    if best is None or best.score is None or base.score is None:
        return None
    # both ran on the same fresh seeds: the per-seed differences share the data sample
    mine = dict(zip(best.seeds, best.confirmed, strict=True))
    theirs = dict(zip(base.seeds, base.confirmed, strict=True))
    paired = [mine[s] - theirs[s] for s in sorted(set(mine) & set(theirs))]
    spread = statistics.stdev(paired) if len(paired) > 1 else None
    if judged is None or judged.lift is None:  # no fresh seeds both ran: the search scores
        return Lift(best.score - base.score, spread, len(paired), verdict=WITHIN)
    return Lift(
        judged.lift, spread, judged.seeds, judged.low, judged.high, judged.word, judged.family
    )
