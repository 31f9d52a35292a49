"""What a study found: the best mixture, the baselines and the lift over each, computed in
one place for the results, the CLI, MLflow and the report."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mixopt.study.trials import TrialRecord

__all__ = [
    "Candidate",
    "Confirmation",
    "Lift",
    "Summary",
    "Transfer",
    "best_number",
    "runs_at",
    "summarize",
    "transfers",
    "verdict",
]


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
    """The best mixture's score minus a baseline's, with the spread over paired seeds."""

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


@dataclass(frozen=True)
class Summary:
    best_number: int | None
    """The best trial: the highest score's, or with several objectives the one ``--pick``
    chose from the Pareto front."""
    best: Candidate | None
    baselines: dict[str, Candidate]
    baseline_numbers: dict[str, int]
    lift: dict[str, Lift]
    objective_lift: dict[str, dict[str, Lift]] = field(default_factory=dict)
    """With several objectives: per baseline, the best's lift on each objective."""


@dataclass(frozen=True)
class Transfer:
    """The best mixture and the baselines re-run at another budget (a transfer check): how
    much of the lift found at the study's budget holds there."""

    budget: int
    best: Candidate
    baselines: dict[str, Candidate]
    """Those with runs at this budget."""
    lift: dict[str, Lift]
    """Over each baseline, on the runs at this budget."""
    retained: dict[str, float | None]
    """This lift over the study's own (confirmed) lift, per baseline; None where the study's
    lift was not positive (nothing to retain)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``transfer`` entry of ``best_mixture.json``."""
        return {
            "budget": self.budget,
            "score": self.best.score,
            "score_std": self.best.spread,
            "seeds": list(self.best.seeds),
            "baselines": {
                n: {"score": c.score, "score_std": c.spread} for n, c in self.baselines.items()
            },
            "lift": {n: v.value for n, v in self.lift.items()},
            "lift_std": {n: v.spread for n, v in self.lift.items()},
            "retained": dict(self.retained),
        }


def runs_at(confirmations: Sequence[Confirmation], budget: int) -> list[Confirmation]:
    """The runs that trained on ``budget`` tokens."""
    return [c for c in confirmations if c.budget == budget]


def transfers(
    trials: Sequence[TrialRecord],
    confirmations: Sequence[Confirmation],
    own: int,
    pick: str = "balanced",
) -> dict[int, Transfer]:
    """A :class:`Transfer` for every budget other than the study's ``own`` at which the best
    mixture has runs, by budget."""
    at_own = summarize(trials, runs_at(confirmations, own), pick).lift
    out: dict[int, Transfer] = {}
    for budget in sorted({c.budget for c in confirmations if c.budget != own}):
        there = summarize(trials, runs_at(confirmations, budget), pick)
        if there.best is None or not there.best.confirmed:
            continue
        bases = {n: c for n, c in there.baselines.items() if c.confirmed}
        lift = {n: v for n, v in there.lift.items() if n in bases}
        retained = {
            n: (v.value / at_own[n].value if n in at_own and at_own[n].value > 0 else None)
            for n, v in lift.items()
        }
        out[budget] = Transfer(budget, there.best, bases, lift, retained)
    return out


def verdict(
    best: Candidate | None,
    baselines: Mapping[str, Candidate],
    lift: Mapping[str, Lift],
    objective_lift: Mapping[str, Mapping[str, Lift]] | None = None,
) -> str | None:
    """``No mixture beat uniform (best X vs uniform Y, ...; lift -Z)`` when the best mixture does
    not beat the uniform one on the confirmed mean (the search score without confirmation
    runs), for the CLI, ``best_mixture.json`` and the report; None when it does (or there is
    no uniform score to compare). A uniform baseline that won the search is the best with a
    lift of 0: no mixture beat it. ``objective_lift`` (several objectives): the picked mixture
    beat uniform when it did on one objective at least."""
    if objective_lift:
        each = objective_lift.get("uniform") or {}
        if not each or any(v.value > 0 for v in each.values()):
            return None
        lifts = ", ".join(f"{o} {v.value:+.4f}" for o, v in each.items())
        return f"No mixture beat uniform on any objective (lift of the picked mixture: {lifts})"
    uniform, over = baselines.get("uniform"), lift.get("uniform")
    if best is None or uniform is None or over is None or over.value > 0:
        return None
    seeds = len(best.confirmed)
    what = f"mean of {seeds} fresh seed{'s' * (seeds > 1)}" if seeds else "search scores"
    return (
        f"No mixture beat uniform (best {best.score:.4f} vs uniform {uniform.score:.4f}, {what}; "
        f"lift {over.value:+.4f})"
    )


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
    trials: Sequence[TrialRecord], confirmations: Sequence[Confirmation], pick: str = "balanced"
) -> Summary:
    """The best candidate, the baselines and the lifts, from the trials and the runs that
    confirmed them (runs of a trial that is no longer the best are left out). ``pick``: the
    rule that chooses the best from the Pareto front of a study with several objectives."""
    number = best_number(trials, pick)
    by_number = {t.number: t for t in trials}
    numbers = {t.baseline: t.number for t in trials if t.baseline is not None}
    runs: dict[tuple[str, int], dict[int, Confirmation]] = {}
    for run in confirmations:
        runs.setdefault((run.name, run.source), {})[run.seed] = run
    baselines = {n: _candidate(n, by_number[k], runs.get((n, k), {})) for n, k in numbers.items()}
    best = None
    if number is not None:
        won = next((n for n, k in numbers.items() if k == number), None)  # a baseline that won
        best = _candidate("best", by_number[number], runs.get((won or "best", number), {}))
    lift = {n: _lift(best, c) for n, c in baselines.items()}
    per_objective: dict[str, dict[str, Lift]] = {}
    if best is not None and len(best.search_scores) > 1:
        for n, base in baselines.items():
            each = {o: _lift(best.objective(o), base.objective(o)) for o in best.search_scores}
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


def _lift(best: Candidate | None, base: Candidate) -> Lift | None:
    if best is None or best.score is None or base.score is None:
        return None
    # both ran on the same fresh seeds: the per-seed differences share the data sample
    mine = dict(zip(best.seeds, best.confirmed, strict=True))
    theirs = dict(zip(base.seeds, base.confirmed, strict=True))
    paired = [mine[s] - theirs[s] for s in sorted(set(mine) & set(theirs))]
    spread = statistics.stdev(paired) if len(paired) > 1 else None
    return Lift(best.score - base.score, spread, len(paired))
