"""The lift over each baseline, declared with its uncertainty: a mean paired difference over
fresh seeds, a 95% interval, and one word (``beats``, ``within noise``, ``loses``).

**Paired, over fresh seeds only.** The answer and every baseline ran on the same fresh seeds
(the same data samples and LoRA initializations), so the per-seed difference cancels what a
seed does to every mixture alike. The search seed never enters: the answer was among the
best of many scores on it, which are biased upward.

**The noise.** The runs of the race form a block design: every entrant still in at the end
on every one of the answer's seeds. The noise of one run is the pooled residual of that
table once each entrant's mean and each seed's mean are taken out (two-way ANOVA without
interaction, ``(entrants - 1) * (seeds - 1)`` degrees of freedom); a difference of two means
over ``n`` seeds has sd ``noise * sqrt(2 / n)``, and the interval is Student t on those
degrees of freedom. With two entrants this is exactly the paired t test over seeds; with
more, the other entrants' runs lend their degrees of freedom to the estimate (5 entrants on
2 seeds: 4 instead of 1), which is what makes 2 or 3 seeds say anything at all. The price
is an assumption: every mixture is about as noisy as the others. A mixture noisier than the
rest makes its own intervals too narrow.

**The winner's curse.** The answer is the best mean of ``m`` entrants on these very seeds,
so its lift is the largest of several, and a 95% interval for one pre-chosen pair would say
``beats`` on a null problem far more often than 5% of the time. Every lift the race could
have declared (each entrant against each baseline, a pair counted once) is one of a family
of ``F = b (m - 1) - b (b - 1) / 2`` comparisons (:func:`family_size`), and each interval
is widened to Sidak's error rate ``1 - 0.95 ** (1 / F)`` per comparison: on a null problem, the chance that
any lift of the study is declared ``beats`` or ``loses`` is at most 5% (Sidak's inequality
holds for two-sided intervals sharing one noise estimate). The alternatives: a held-out
seed that re-measures the answer alone (one more round of runs, and one seed is a weak
check), or Dunnett's exact many-to-one quantile (a little narrower, but a multivariate t
integral). The cost is power: with 3 searched entrants and 2 baselines (``F = 7``) on 2
seeds, the quantile on 4 degrees of freedom is 5.04 instead of 2.78, so a lift must be 1.8
times larger to be declared ``beats`` on the same seeds (on 5 seeds, 16 degrees of
freedom: 3.07 instead of 2.12, 1.45 times).
``benchmarks/search_quality.py`` measures both sides: how often a null problem is declared
``beats`` and how often a real lift is.

**One seed** has no spread: no interval, and the word is ``within noise`` (nothing shows
the difference exceeds the noise; a user or a script that looks for ``beats`` finds none),
rendered as ``vs uniform +0.004 (one seed: no spread)``.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BEATS",
    "LEVEL",
    "LOSES",
    "WITHIN",
    "Verdict",
    "block_noise",
    "family_size",
    "judge",
    "quantile",
]

BEATS, WITHIN, LOSES = "beats", "within noise", "loses"
LEVEL = 0.95  # the interval's (family-wise) coverage
ONE_SEED = "one seed: no spread"

Scores = Mapping[int, Mapping[int, float | None]]
"""Each entrant's score on each fresh seed: ``{trial number: {seed: score}}`` (None or
NaN: the run failed, and counts nowhere)."""


@dataclass(frozen=True)
class Verdict:
    """The answer against one baseline, over the fresh seeds both ran."""

    baseline: str
    lift: float | None
    """Mean paired difference, answer minus baseline (higher is better); None without
    fresh seeds."""
    low: float | None
    """The interval's ends (None with fewer than two seeds: no spread)."""
    high: float | None
    word: str
    """``beats`` (the interval above 0), ``within noise`` (it holds 0, or there is no
    interval), ``loses`` (below 0)."""
    seeds: int
    """Fresh seeds the difference is averaged over."""
    family: int = 1
    """Comparisons the interval is widened for (the winner's curse; see the module)."""
    itself: bool = False
    """The answer is this baseline (its lift is 0 by definition)."""

    def sentence(self) -> str:
        """``beats uniform by +0.012 [95% interval +0.004, +0.020], 3 fresh seeds``."""
        if self.itself:
            return f"the answer is {self.baseline} itself"
        if self.lift is None:
            return f"vs {self.baseline}: no fresh seeds"
        if self.low is None or self.high is None:
            return f"vs {self.baseline} {self.lift:+.4f} ({ONE_SEED})"
        span = f"[95% interval {self.low:+.4f}, {self.high:+.4f}], {self.seeds} fresh seeds"
        if self.word == BEATS:
            return f"beats {self.baseline} by {self.lift:+.4f} {span}"
        if self.word == LOSES:
            return f"loses to {self.baseline} by {self.lift:+.4f} {span}"
        return f"within noise of {self.baseline}: {self.lift:+.4f} {span}"

    def to_dict(self) -> dict[str, Any]:
        """The fields, for ``best_mixture.json`` and ``results.json``."""
        return {
            "lift": self.lift,
            "low": self.low,
            "high": self.high,
            "verdict": self.word,
            "seeds": self.seeds,
            "family": self.family,
        }


def family_size(entrants: int, baselines: int) -> int:
    """The lifts a race of ``entrants`` (baselines included) could declare: each entrant
    against each baseline, a pair of baselines counted once (at least 1)."""
    others = baselines * (entrants - 1) - baselines * (baselines - 1) // 2
    return max(1, others)


@functools.lru_cache(maxsize=1024)  # a race asks the same few quantiles again and again
def quantile(dof: int, family: int = 1, level: float = LEVEL) -> float:
    """The two-sided Student t quantile of ``level``, Sidak-widened for ``family`` intervals."""
    from scipy.special import stdtrit  # Student t's inverse CDF, without scipy.stats' import

    alpha = 1 - level ** (1 / family)
    return float(stdtrit(dof, 1 - alpha / 2))


def block_noise(
    scores: Mapping[int, Mapping[int, float]], entrants: Sequence[int], seeds: Sequence[int]
) -> tuple[float, int] | None:
    """(sd of one run, degrees of freedom): the pooled residual of the ``entrants`` x ``seeds``
    table once each entrant's and each seed's mean are removed; None without a residual
    (fewer than two entrants or two seeds). Every entrant must have every seed."""
    m, n = len(entrants), len(seeds)
    if m < 2 or n < 2:
        return None
    table = [[scores[e][s] for s in seeds] for e in entrants]
    rows = [statistics.fmean(r) for r in table]
    cols = [statistics.fmean(table[i][j] for i in range(m)) for j in range(n)]
    grand = statistics.fmean(rows)
    ss = sum((table[i][j] - rows[i] - cols[j] + grand) ** 2 for i in range(m) for j in range(n))
    dof = (m - 1) * (n - 1)
    return math.sqrt(ss / dof), dof


def judge(
    answer: int,
    baseline: int,
    name: str,
    scores: Scores,
    block: Sequence[int],
    family: int = 1,
    seeds: Sequence[int] | None = None,
) -> Verdict:
    """The verdict of ``answer`` against the baseline ``baseline`` (named ``name``) on the
    ``seeds`` both ran (default: every seed the answer has), with the noise of ``block`` (the
    entrants that ran every one of those seeds, these two among them; see the module) and the
    interval widened for ``family`` comparisons (:func:`family_size`)."""
    clean = {e: _valid(scores.get(e, {})) for e in dict.fromkeys((answer, baseline, *block))}
    mine, theirs = clean[answer], clean[baseline]
    shared = sorted(set(mine if seeds is None else seeds) & set(mine) & set(theirs))
    if answer == baseline:
        return Verdict(name, 0.0, None, None, WITHIN, len(shared), family, itself=True)
    if not shared:
        return Verdict(name, None, None, None, WITHIN, 0, family)
    lift = statistics.fmean(mine[s] - theirs[s] for s in shared)
    full = [e for e, runs in clean.items() if set(shared) <= set(runs)]
    noise = block_noise(clean, full, shared)
    if noise is None:
        return Verdict(name, lift, None, None, WITHIN, len(shared), family)
    sd, dof = noise
    half = quantile(dof, family) * sd * math.sqrt(2 / len(shared))
    low, high = lift - half, lift + half
    word = BEATS if low > 0 else LOSES if high < 0 else WITHIN
    return Verdict(name, lift, low, high, word, len(shared), family)


def _valid(runs: Mapping[int, float | None]) -> dict[int, float]:
    """The runs that have a score (a failed run has none)."""
    return {s: float(v) for s, v in runs.items() if v is not None and not math.isnan(v)}
