"""The race that chooses a study's answer, run on a benchmark problem (not a script):
mixopt's own :class:`mixopt.study.race.Race` and verdicts, fed with the problem's noisy
scores on fresh seeds, so a benchmark measures the code a study runs.

A search's trials become trial records (the first two are the uniform and natural
baselines, as in every search of `_methods.py`); each fresh run of trial ``i`` on seed ``s``
draws its own standard normal from ``(key, i, s)``: the same draw for that run whatever the
seed budget or the rule, and independent between entrants (the benchmark's noise has no
part shared by every mixture on a seed; mixopt's pairing would cancel one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from _methods import Problem, observe, project

from mixopt.study.race import MIN_DISTANCE, K, Race
from mixopt.study.trials import TrialRecord, baseline_role
from mixopt.study.verdict import BEATS, judge

BASELINES = ("uniform", "natural")  # the first two trials of every benchmark search


@dataclass(frozen=True)
class Outcome:
    """One race: its answer, the runs it made, and the verdict over each baseline."""

    answer: np.ndarray
    number: int
    """The answer's trial number (0: uniform, 1: natural)."""
    runs: int
    most: int
    words: dict[str, str]
    """Each baseline's verdict, widened for the race's choice (as mixopt declares it)."""
    plain: dict[str, str]
    """The same with a plain 95% interval (no winner's-curse widening), for comparison."""


def records(xs: Sequence[np.ndarray], ys: Sequence[float]) -> list[TrialRecord]:
    """The search's trials as a study records them."""
    names = [f"d{i}" for i in range(len(xs[0]))]
    roles = [baseline_role(b) for b in BASELINES]
    return [
        TrialRecord(
            i,
            roles[i] if i < len(roles) else "search",
            "COMPLETE",
            dict(zip(names, (float(v) for v in x), strict=True)),
            {},
            float(y),
        )
        for i, (x, y) in enumerate(zip(xs, ys, strict=True))
    ]


def race(
    problem: Problem,
    xs: Sequence[np.ndarray],
    ys: Sequence[float],
    seeds: int,
    key: Sequence[int],
    k: int = K,
    min_distance: float = MIN_DISTANCE,
) -> Outcome:
    """The race of the search's top ``k`` distinct trials and the baselines on ``seeds``
    fresh seeds, run to its end as a study runs it."""
    contest = Race.of(records(xs, ys), seeds, 1, k, min_distance)
    scores: dict[int, dict[int, float]] = {}
    state = contest.step(scores)
    runs = 0
    while not state.over:
        for number, seed in state.needed:
            z = float(np.random.default_rng([*key, number, seed]).standard_normal())
            scores.setdefault(number, {})[seed] = observe(problem, xs[number], z)
            runs += 1
        state = contest.step(scores)
    assert state.answer is not None
    verdicts = contest.verdicts(state, scores)
    plain = {
        name: judge(state.answer, n, name, scores, state.still_in, 1, state.seeds).word
        for name, n in contest.baselines
    }
    return Outcome(
        xs[state.answer],
        state.answer,
        runs,
        contest.most_runs(),
        {n: v.word for n, v in verdicts.items()},
        plain,
    )


class NullProblem:
    """Every mixture as good as uniform: the noise is all there is (a calibration problem)."""

    def __init__(self, k: int, sd: float, natural: np.ndarray) -> None:
        self.name, self.k, self.sd = "null", k, sd
        self.upper = np.ones(k)
        self.natural = project(natural, self.upper)

    def value(self, r: np.ndarray) -> float:
        return 0.0

    def noise_sd(self, r: np.ndarray) -> float:
        return self.sd


def calibration(
    problem: NullProblem, searches: int, trials: int, seeds: Sequence[int]
) -> dict[int, dict[str, float]]:
    """Over ``searches`` random searches of the null problem, per seed budget: the share
    that declares ``beats`` over uniform, over any baseline, and over any baseline with a
    plain interval. Random proposals: on a null problem every mixture is as good as any
    other, so which proposer found the entrants cannot change their fresh runs' noise."""
    from _methods import Method, run

    out: dict[int, dict[str, float]] = {s: {"uniform": 0, "any": 0, "plain": 0} for s in seeds}
    for search in range(searches):
        z = np.random.default_rng([search, 29]).standard_normal(trials)
        found = run(Method("random"), problem, trials, search, z, (trials,))
        for s in seeds:
            o = race(problem, found.xs, found.ys, s, (search, 31))
            out[s]["uniform"] += o.words["uniform"] == BEATS
            out[s]["any"] += BEATS in o.words.values()
            out[s]["plain"] += BEATS in o.plain.values()
    return {s: {what: n / searches for what, n in row.items()} for s, row in out.items()}
