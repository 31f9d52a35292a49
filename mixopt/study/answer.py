"""The study's answer: chosen by the race on fresh seeds (:mod:`mixopt.study.race`), its lift
over each baseline declared with an interval and a verdict (:mod:`mixopt.study.verdict`),
and the sentence a user acts on.

Every reader of a study asks :func:`decide` (the loop that runs the race, ``best_mixture.json``,
MLflow, the report, the API), so all of them name the same answer from the same runs. It is
a pure function of the trials and ``confirm.jsonl``: a resumed study, a grown one, or a
report made while the race still runs all replay it.

The race runs every entrant at one set of training knobs, the search's best trial's: when
the space searches knobs (a learning rate, a LoRA rank) beside the mixture, a baseline's own
sampled knobs would mix their effect into the lift, which is meant to measure the mixture's.
Each entrant keeps its own filter thresholds (a mixture is only defined on the pool they
leave). Runs at other knobs (an earlier best's, before the study grew) are not the race's.

A transfer check (``mixopt transfer OUT --budget B``, :func:`transfer_at`) runs the study's
answer and the uniform and natural baselines at another budget; its verdicts come from those
runs alone, widened for its two lifts (the answer was chosen before them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mixopt.study.pareto import objectives_of
from mixopt.study.race import K, Race, RaceState, race_scores
from mixopt.study.summary import Candidate, Confirmation, Lift, Summary, best_number, summarize
from mixopt.study.trials import BUILTIN_BASELINES, TrialRecord
from mixopt.study.verdict import BEATS, LOSES, Verdict, judge

__all__ = [
    "Decision",
    "Transfer",
    "decide",
    "headline",
    "transfer_at",
    "transfer_race",
    "transfers",
]


@dataclass(frozen=True)
class Decision:
    """The race, where it stands, and the summary that follows from it."""

    race: Race | None
    """None: no trial completed (there is nothing to race)."""
    state: RaceState | None
    summary: Summary
    knobs: dict[str, Any]
    """The training knobs every run of the race uses (the search's best trial's)."""

    @property
    def over(self) -> bool:
        """The race has run every seed it takes (True without fresh seeds to run)."""
        return self.state is not None and self.state.over

    @property
    def answer_is_baseline(self) -> str | None:
        """The baseline's name when the answer is a baseline, else None."""
        s = self.summary
        return next((n for n, k in s.baseline_numbers.items() if k == s.best_number), None)


def _knobs(trials: Sequence[TrialRecord], searched: int) -> dict[str, Any]:
    """The training knobs the race runs at: the search's best trial's (``searched``)."""
    return dict(next(t for t in trials if t.number == searched).train)


def decide(
    trials: Sequence[TrialRecord],
    runs: Sequence[Confirmation],
    seeds: int,
    first_seed: int,
    pick: str = "balanced",
    k: int = K,
) -> Decision:
    """The race of the top ``k`` distinct trials and the baselines on ``seeds`` fresh seeds
    from ``first_seed``, replayed from ``runs`` (the confirmation runs at the study's budget),
    and the summary of its answer: the best mean on fresh seeds once the race is over, the
    search's best before (or with several objectives, the Pareto pick)."""
    searched = best_number(trials, pick)
    if searched is None:
        return Decision(None, None, summarize(trials, [], pick), {})
    knobs = _knobs(trials, searched)
    race = Race.of(trials, seeds, first_seed, k, pick=pick)
    used = [c for c in runs if c.train in ({}, knobs) and c.seed in race.seeds]
    scores = race_scores(used)
    state = race.step(scores)
    answer = state.answer if race.eliminate and state.answer is not None else None
    number = searched if answer is None else answer
    verdicts = _judge(race, state, scores, number)
    per_objective: dict[str, dict[str, Verdict]] = {}
    objectives = objectives_of(trials)
    if len(objectives) > 1:  # each objective's lifts: the family grows by the objectives
        for o in objectives:
            for name, v in _judge(
                race, state, race_scores(used, o), number, len(objectives)
            ).items():
                per_objective.setdefault(name, {})[o] = v
    summary = summarize(trials, used, pick, number, verdicts, per_objective)
    return Decision(race, state, summary, knobs)


def _judge(
    race: Race,
    state: RaceState,
    scores: Mapping[int, Mapping[int, float | None]],
    answer: int,
    objectives: int = 1,
) -> dict[str, Verdict]:
    """The answer against each baseline on the seeds every entrant still in has run (before
    the race is over: on every seed the two share, a provisional verdict)."""
    family = race.family() * objectives
    seeds = state.seeds if state.over else None
    return {
        name: judge(answer, number, name, scores, state.still_in, family, seeds)
        for name, number in race.baselines
    }


def headline(summary: Summary, estimate: str | None = None) -> str:
    """The sentence a user acts on: what the answer is and how it compares with each
    baseline, with the interval and the verdict; led by ``estimate`` where the score is not
    measured on the user's target (the plan's :func:`mixopt.plans.estimate_of`): the
    verdict is then about that estimate only.

    ``Trial 12's mixture beats uniform by +0.0120 [95% interval +0.0040, +0.0200], 3 fresh
    seeds; within noise of natural: ...``; ``No mixture beat uniform beyond noise: trial
    12's mixture ...``; ``The answer is the natural baseline: no searched mixture beat it on
    3 fresh seeds; ...``."""
    said = _sentence(summary)
    return said if summary.best is None else _led_by(estimate, said)


def _led_by(estimate: str | None, sentence: str) -> str:
    """``sentence`` led by ``estimate`` (``Estimated on ...: trial 12's mixture ...``), or as
    it is where there is none."""
    if estimate is None:
        return sentence
    return f"{estimate[0].upper()}{estimate[1:]}: {sentence[0].lower()}{sentence[1:]}"


def _sentence(summary: Summary) -> str:
    if summary.best is None or summary.best_number is None:
        return "No trial completed: there is no answer"
    first = [n for n in BUILTIN_BASELINES if n in summary.lift]
    order = [*first, *sorted(set(summary.lift) - set(first))]
    numbers = summary.baseline_numbers
    itself = next((n for n, k in numbers.items() if k == summary.best_number), None)
    compared = "; ".join(summary.lift[n].sentence(n) for n in order if n != itself)
    if itself is not None:
        seeds = len(summary.best.confirmed)
        on = f"on {seeds} fresh seed{'s' * (seeds != 1)}" if seeds else "in the search"
        head = f"The answer is the {itself} baseline: no searched mixture beat it {on}"
        return f"{head}; {compared}" if compared else head
    head = f"Trial {summary.best_number}'s mixture {compared}"
    uniform = summary.lift.get("uniform")
    if uniform is not None and uniform.verdict != BEATS:
        return f"No mixture beat uniform beyond noise: {head[0].lower()}{head[1:]}"
    return head


@dataclass(frozen=True)
class Transfer:
    """The study's answer and the baselines re-run at another budget (a transfer check): its
    verdicts there, and how much of the study's lift holds."""

    budget: int
    best: Candidate
    baselines: dict[str, Candidate]
    """Those with runs at this budget."""
    lift: dict[str, Lift]
    """Over each baseline, on the runs at this budget, with its interval and verdict."""
    retained: dict[str, float | None]
    """This lift over the study's own (confirmed) lift, per baseline; None where the study's
    lift was not positive (nothing to retain)."""
    estimate: str | None = None
    """What the scores estimate where they are not the user's target (the study's plan's):
    it leads the sentence, as the study's own."""

    def headline(self) -> str:
        """``At 100k: loses to natural by -0.0040 [...]; within noise of uniform: ...``."""
        from mixopt.budget import format_budget

        at = f"At budget {format_budget(self.budget)} the study's answer"
        parts = [self.lift[n].sentence(n) for n in sorted(self.lift)]
        if not parts:  # every baseline's runs failed there: nothing to compare with
            seeds = len(self.best.confirmed)
            score = "no score" if self.best.score is None else f"{self.best.score:.4f}"
            return _led_by(
                self.estimate,
                f"{at} scored {score} ({seeds} fresh seed{'s' * (seeds != 1)}) and is compared "
                "with no baseline: every baseline's run at this budget failed",
            )
        return _led_by(self.estimate, f"{at} " + "; ".join(parts))

    @property
    def held(self) -> bool:
        """No lift lost at this budget (every verdict beats or within noise)."""
        return all(v.verdict != LOSES for v in self.lift.values())

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
            "verdicts": {n: v.to_dict() for n, v in self.lift.items()},
            "verdict": self.headline(),
            "retained": dict(self.retained),
        }


def transfer_race(trials: Sequence[TrialRecord], answer: int, seeds: int, first_seed: int) -> Race:
    """The runs of a transfer check: the study's ``answer`` and the uniform and natural
    baselines on ``seeds`` fresh seeds from ``first_seed``, none dropped."""
    bases = tuple(
        (str(t.baseline), t.number)
        for t in sorted(trials, key=lambda t: t.number)
        if t.baseline in BUILTIN_BASELINES and t.state == "COMPLETE"
    )
    entrants = () if answer in {n for _, n in bases} else (answer,)
    return Race(entrants, bases, seeds, first_seed, eliminate=False)


def transfer_at(
    trials: Sequence[TrialRecord],
    runs: Sequence[Confirmation],
    answer: int,
    knobs: Mapping[str, Any],
    own: Mapping[str, Lift],
    estimate: str | None = None,
) -> Transfer | None:
    """The transfer check the ``runs`` at one other budget make (None when the answer has
    none there): verdicts on the seeds the answer ran, widened for its lifts over the
    baselines, and the share of the study's ``own`` lifts each keeps."""
    used = [c for c in runs if c.train in ({}, dict(knobs))]
    mine = sorted({c.seed for c in used if c.source == answer and not c.failed})
    if not mine:
        return None
    used = [c for c in used if c.seed in mine]
    race = transfer_race(trials, answer, len(mine), mine[0])
    scores = race_scores(used)
    verdicts = {
        name: judge(answer, number, name, scores, race.order, race.family(), mine)
        for name, number in race.baselines
    }
    there = summarize(trials, used, answer=answer, verdicts=verdicts)
    assert there.best is not None
    bases = {n: c for n, c in there.baselines.items() if c.confirmed and n in BUILTIN_BASELINES}
    lift = {n: v for n, v in there.lift.items() if n in bases}
    retained = {
        n: (v.value / own[n].value if n in own and own[n].value > 0 else None)
        for n, v in lift.items()
    }
    return Transfer(used[0].budget, there.best, bases, lift, retained, estimate)


def transfers(
    trials: Sequence[TrialRecord],
    confirmations: Sequence[Confirmation],
    own_budget: int,
    decision: Decision,
    estimate: str | None = None,
) -> dict[int, Transfer]:
    """A :class:`Transfer` for every budget other than the study's at which its answer has
    runs, by budget; ``estimate``: what their scores estimate (the study plan's)."""
    answer = decision.summary.best_number
    if answer is None:
        return {}
    out: dict[int, Transfer] = {}
    for budget in sorted({c.budget for c in confirmations if c.budget != own_budget}):
        here = [c for c in confirmations if c.budget == budget]
        t = transfer_at(trials, here, answer, decision.knobs, decision.summary.lift, estimate)
        if t is not None:
            out[budget] = t
    return out
