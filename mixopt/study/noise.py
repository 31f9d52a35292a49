"""The seed noise, measured before the search, and what it means for the study's answer.

Two baselines on two seeds each: their search trials (the study's seed) and one run of each
on the race's first fresh seed. Those two runs cost nothing in the end, since the race runs
every baseline on that seed in its first round and reuses them (:func:`noise_runs`). Each
baseline's two scores give one degree of freedom; the pooled sd over both (two degrees of
freedom) is a rough figure, good for planning, not for a verdict: the verdicts take their
noise from the race's own runs (:mod:`mixopt.study.verdict`). It is also the sd of one
run's score over seeds, which includes what a seed does to every mixture alike and the
paired race cancels, so it errs on the large side.

Two figures come from it (:func:`noise_sentence`):

- the noise floor: the 95% half-width of one run against another (``1.96 * sd * sqrt(2)``),
  the smallest lift the search's single-seed scores can tell from noise;
- what the race resolves: the half-width the verdict's interval will have with the seed
  budget, the entrants and the winner's-curse widening of :mod:`mixopt.study.verdict`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mixopt.study.summary import Confirmation
from mixopt.study.trials import BUILTIN_BASELINES, TrialRecord
from mixopt.study.verdict import family_size, quantile

__all__ = [
    "SeedNoise",
    "baseline_noise",
    "noise_floor",
    "noise_runs",
    "noise_sentence",
    "noise_summary",
    "resolvable",
    "seed_noise",
]

Z95 = 1.959964  # two-sided 95% normal quantile: the floor is a rough "about", not a verdict


@dataclass(frozen=True)
class SeedNoise:
    """The sd of one run's score over seeds, pooled over the mixtures measured."""

    sd: float
    dof: int
    """Degrees of freedom (2: two baselines on two seeds each)."""
    mixtures: int
    seeds: int
    """The most seeds any mixture ran."""


def noise_runs(baselines: Mapping[str, int], first_seed: int) -> list[tuple[int, int]]:
    """(trial number, seed): the runs the estimate needs beyond the baselines' search trials:
    each baseline on the race's first fresh seed (the race reuses them)."""
    return [(number, first_seed) for number in baselines.values()]


def seed_noise(runs: Mapping[str, Sequence[float]]) -> SeedNoise | None:
    """The pooled sd from each mixture's scores on different seeds (``{name: [score, ...]}``);
    None without a mixture on two seeds."""
    groups = [list(v) for v in runs.values() if len(v) > 1]
    dof = sum(len(g) - 1 for g in groups)
    if not dof:
        return None
    ss = sum((v - statistics.fmean(g)) ** 2 for g in groups for v in g)
    return SeedNoise(math.sqrt(ss / dof), dof, len(groups), max(len(g) for g in groups))


def baseline_noise(
    trials: Sequence[TrialRecord], runs: Sequence[Confirmation], fresh_seed: int
) -> SeedNoise | None:
    """The estimate from the uniform and natural baselines: each one's search score and its
    run on ``fresh_seed`` (pass the runs at the study's budget); None until both have both."""
    scores = {}
    for t in trials:
        if t.baseline in BUILTIN_BASELINES and t.score is not None and t.state == "COMPLETE":
            mine = [
                c.score
                for c in runs
                if c.source == t.number and c.seed == fresh_seed and not c.failed
            ]
            if mine:
                scores[t.baseline] = [t.score, mine[-1]]
    return seed_noise(scores) if len(scores) == len(BUILTIN_BASELINES) else None


def noise_floor(noise: SeedNoise) -> float:
    """The smallest lift one run against another can tell from noise (95%, about)."""
    return Z95 * noise.sd * math.sqrt(2)


def resolvable(noise: SeedNoise, seeds: int, entrants: int, baselines: int) -> float | None:
    """The half-width of a verdict's interval after a race of ``entrants`` (baselines
    included) on ``seeds`` fresh seeds, if the runs are as noisy as ``noise`` says: the
    smallest lift it declares ``beats``. None with fewer than two seeds (no spread)."""
    if seeds < 2 or entrants < 2:
        return None
    dof = (entrants - 1) * (seeds - 1)
    return quantile(dof, family_size(entrants, baselines)) * noise.sd * math.sqrt(2 / seeds)


def noise_sentence(noise: SeedNoise, seeds: int, entrants: int, baselines: int) -> str:
    """``seed noise sd 0.0060 (2 mixtures on 2 seeds): a lift smaller than about 0.017 is
    noise at this budget; 3 fresh seeds resolve a lift of about 0.019``."""
    head = (
        f"seed noise sd {noise.sd:.4f} ({noise.mixtures} mixtures on {noise.seeds} seeds): "
        f"a lift smaller than about {noise_floor(noise):.4f} is noise at this budget"
    )
    y = resolvable(noise, seeds, entrants, baselines)
    if y is None:
        few = "one fresh seed gives" if seeds == 1 else "no fresh seeds give"
        return f"{head}; {few} no spread, so no lift is resolved"
    return f"{head}; {seeds} fresh seeds resolve a lift of about {y:.4f}"


def noise_summary(noise: SeedNoise, seeds: int, trials: int, baselines: int) -> dict[str, Any]:
    """What a study says of its noise (the ``seed_noise`` event and ``best_mixture.json``
    entry): ``sd``, ``dof``, ``floor``, ``resolves`` and the ``sentence``, for a race on
    ``seeds`` fresh seeds of the baselines and the top searched trials (``trials`` searched)."""
    from mixopt.study.race import K

    entrants = baselines + min(K, trials)
    return {
        "sd": noise.sd,
        "dof": noise.dof,
        "floor": noise_floor(noise),
        "resolves": resolvable(noise, seeds, entrants, baselines),
        "sentence": noise_sentence(noise, seeds, entrants, baselines),
    }
