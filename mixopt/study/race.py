"""The race that chooses the answer: the search's best few distinct mixtures and the
baselines, re-run on fresh seeds that every one of them shares.

The best single score of a search is partly luck (the winner's curse): on a target whose
lift is below the seed noise it is mostly luck. So the answer is chosen again, on seeds no
trial used, among the top ``k`` searched trials whose mixtures differ (:func:`distinct_top`)
and the baselines. Every entrant runs the same fresh seeds (common random numbers: the same
data samples and LoRA initializations per seed), so differences between entrants are paired.

The race (:class:`Race`) runs in rounds of one seed, the first round two seeds: after each
round, a searched entrant whose paired difference to the current leader is clearly negative
(its one-sided 95% upper bound below 0, with the noise of :func:`mixopt.study.verdict.block_noise`)
is dropped and runs no more seeds. Baselines are never dropped (every lift needs them on the
answer's seeds), but a baseline can lead and be the answer. The race is over when every
entrant still in has run every seed of the budget; it does not stop earlier when one
searched entrant is left, so the answer and every baseline always have the whole budget
(the number of seeds the verdict averages is fixed before the race: no optional stopping,
and the user gets the seeds asked for). Dropping saves the runs of the dropped entrants
only. The answer is the entrant with the best mean over the seeds; a searched entrant
dropped or not, the search seed never counts.

:meth:`Race.step` is a pure function of the scores present, so a resumed or grown study
reuses every run already made (by trial number and seed) and never runs one again.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mixopt.study.pareto import objectives_of
from mixopt.study.summary import Confirmation, best_number
from mixopt.study.trials import TrialRecord
from mixopt.study.verdict import Verdict, block_noise, family_size, judge, quantile

__all__ = [
    "MIN_DISTANCE",
    "Dropped",
    "K",
    "Race",
    "RaceState",
    "distinct_top",
    "race_scores",
]

K = 3  # searched entrants: the default; more cost a seed's run each per round
# L1 distance between two entrants' mixtures: 0.2 is a tenth of the simplex's L1 diameter
# (2), 10% of the tokens moved between domains. Mixtures that near score alike: on the
# code suite's surrogates (benchmarks/search_quality.py) their values differ by a median
# 0.40 (rust) and 0.19 (javascript) seed-noise sd, far less than a race of a few seeds
# resolves, so racing both spends runs on one basin twice.
MIN_DISTANCE = 0.2
ELIMINATION = 0.95  # one-sided level of the bound that drops a searched entrant

RunScores = Mapping[int, Mapping[int, float | None]]
"""``{trial number: {seed: score}}``; None (or NaN): the run failed."""


def _l1(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    return sum(abs(a.get(n, 0.0) - b.get(n, 0.0)) for n in set(a) | set(b))


def distinct_top(
    trials: Sequence[TrialRecord],
    k: int = K,
    min_distance: float = MIN_DISTANCE,
    pick: str = "balanced",
) -> list[TrialRecord]:
    """The race's entrants: the ``k`` completed searched trials of highest score whose
    mixtures are at least ``min_distance`` (L1) from each other's and from every baseline's
    (a searched trial next to uniform is uniform raced twice), then the completed baselines.
    With several objectives, the searched entrant is the one ``pick`` chooses from the Pareto
    front alone (a race on one score would override that choice)."""
    done = [t for t in trials if t.state == "COMPLETE" and t.score is not None]
    baselines = sorted((t for t in done if t.baseline is not None), key=lambda t: t.number)
    searched = sorted(
        (t for t in done if t.baseline is None), key=lambda t: (-(t.score or 0.0), t.number)
    )
    if len(objectives_of(trials)) > 1:
        number = best_number(trials, pick)
        return [t for t in searched if t.number == number] + baselines
    chosen: list[TrialRecord] = []
    for t in searched:
        if len(chosen) == k:
            break
        if all(_l1(t.mixture, o.mixture) >= min_distance for o in (*chosen, *baselines)):
            chosen.append(t)
    return chosen + baselines


@dataclass(frozen=True)
class Dropped:
    """A searched entrant out of the race, and why."""

    number: int
    seeds: int
    """The shared seeds it had run when it was dropped."""
    reason: str


@dataclass(frozen=True)
class RaceState:
    """Where the race stands, given the scores present."""

    seeds: tuple[int, ...]
    """The seeds every entrant still in has run (the answer's seeds once it is over)."""
    still_in: tuple[int, ...]
    """Trial numbers of the entrants still racing (the baselines among them)."""
    dropped: tuple[Dropped, ...]
    needed: tuple[tuple[int, int], ...]
    """(trial number, seed): the runs to make next (all of them can run at once)."""
    over: bool
    means: dict[int, float] = field(default_factory=dict)
    """Each entrant still in: its mean over ``seeds``."""

    @property
    def leader(self) -> int | None:
        """The entrant still in with the best mean over ``seeds`` (None without seeds)."""
        if not self.means:
            return None
        order = {n: i for i, n in enumerate(self.still_in)}
        return max(self.means, key=lambda n: (self.means[n], -order[n]))

    @property
    def answer(self) -> int | None:
        """The leader, once the race is over (None before, or with no seeds at all: then the
        search's best stands)."""
        return self.leader if self.over else None


@dataclass(frozen=True)
class Race:
    """A race of ``entrants`` (searched trials, best search score first) and ``baselines``
    on the fresh seeds ``first_seed``, ``first_seed + 1``, ... (``seed_budget`` of them)."""

    entrants: tuple[int, ...]
    """Trial numbers of the searched entrants, best search score first (ties go to the
    earlier)."""
    baselines: tuple[tuple[str, int], ...]
    """(name, trial number) of each baseline."""
    seed_budget: int
    """The most fresh seeds an entrant runs (``--confirm``)."""
    first_seed: int
    """The first fresh seed: the study's seed + 1, as confirmation runs have always used."""
    eliminate: bool = True
    """False: no entrant is dropped and every seed runs in one round (an answer chosen
    before these runs: a transfer check's, or the Pareto pick of several objectives)."""

    @classmethod
    def of(
        cls,
        trials: Sequence[TrialRecord],
        seed_budget: int,
        first_seed: int,
        k: int = K,
        min_distance: float = MIN_DISTANCE,
        pick: str = "balanced",
    ) -> Race:
        """The race of :func:`distinct_top`'s entrants (with several objectives, the Pareto
        pick and the baselines, none dropped: the pick is the answer)."""
        top = distinct_top(trials, k, min_distance, pick)
        return cls(
            tuple(t.number for t in top if t.baseline is None),
            tuple((t.baseline, t.number) for t in top if t.baseline is not None),
            seed_budget,
            first_seed,
            eliminate=len(objectives_of(trials)) < 2,
        )

    @property
    def order(self) -> tuple[int, ...]:
        """Every entrant: the searched ones first, then the baselines."""
        return (*self.entrants, *(n for _, n in self.baselines))

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(self.first_seed + i for i in range(self.seed_budget))

    def name(self, number: int) -> str:
        """The baseline's name, or ``trial N``."""
        return dict((n, name) for name, n in self.baselines).get(number, f"trial {number}")

    def most_runs(self) -> int:
        """The most runs the race can take, counting those already made."""
        return self.seed_budget * len(self.order)

    def runs_made(self, scores: RunScores) -> int:
        """The race's runs already made (reused, never run again)."""
        return sum(s in scores.get(n, {}) for n in self.order for s in self.seeds)

    def verdicts(
        self, state: RaceState, scores: RunScores, answer: int | None = None
    ) -> dict[str, Verdict]:
        """The answer's verdict against each baseline, on the answer's seeds, the interval
        widened for every lift the race could have declared (empty before the race is over).
        ``answer``: another answer than the race's (the Pareto pick of a study with several
        objectives; pass that objective's ``scores``)."""
        answer = state.answer if answer is None else answer
        if answer is None or not state.over:
            return {}
        family = self.family()
        return {
            name: judge(answer, number, name, scores, state.still_in, family, state.seeds)
            for name, number in self.baselines
        }

    def family(self) -> int:
        """The lifts the interval is widened for: every one the race could have declared
        (:func:`~mixopt.study.verdict.family_size`); without elimination the answer was
        chosen before these runs, and the family is its lift over each baseline."""
        if not self.eliminate:
            return max(1, len(self.baselines))
        return family_size(len(self.order), len(self.baselines))

    def step(self, scores: RunScores) -> RaceState:
        """The state the scores present put the race in (see the module)."""
        clean, dropped = self._clean(scores)
        seeds = self.seeds
        n = min(2, len(seeds)) if self.eliminate else len(seeds)
        while True:
            live = tuple(e for e in self.order if e not in dropped)
            need = tuple((e, s) for s in seeds[:n] for e in live if s not in clean[e])
            if need or n == len(seeds):
                return self._state(clean, live, dropped, need, not need)
            for d in self._eliminate(clean, live, seeds[:n]):
                dropped[d.number] = d
            n += 1

    def _clean(self, scores: RunScores) -> tuple[dict[int, dict[int, float]], dict[int, Dropped]]:
        """Each entrant's scores on the race's seeds, and the entrants a failed run put out."""
        clean: dict[int, dict[int, float]] = {}
        failed: dict[int, Dropped] = {}
        for e in self.order:
            mine = scores.get(e, {})
            clean[e] = {}
            for s in self.seeds:
                if s not in mine:
                    continue
                v = mine[s]
                if v is None or math.isnan(v):
                    failed.setdefault(e, Dropped(e, 0, f"its run on seed {s} failed"))
                else:
                    clean[e][s] = float(v)
        return clean, failed

    def _eliminate(
        self, clean: Mapping[int, Mapping[int, float]], live: Sequence[int], seeds: Sequence[int]
    ) -> list[Dropped]:
        noise = block_noise(clean, live, seeds)
        if noise is None:
            return []
        sd, dof = noise
        means = {e: statistics.fmean(clean[e][s] for s in seeds) for e in live}
        leader = max(live, key=lambda e: (means[e], -live.index(e)))
        # one-sided at 95%: the two-sided quantile of level 90%
        bound = quantile(dof, 1, 2 * ELIMINATION - 1) * sd * math.sqrt(2 / len(seeds))
        out = []
        for e in live:
            diff = means[e] - means[leader]
            if e in self.entrants and e != leader and diff + bound < 0:
                why = (
                    f"clearly behind the leader ({self.name(leader)}): paired difference "
                    f"{diff:+.4f}, 95% upper bound {diff + bound:+.4f} < 0 over {len(seeds)} seeds"
                )
                out.append(Dropped(e, len(seeds), why))
        return out

    def _state(
        self,
        clean: Mapping[int, Mapping[int, float]],
        live: tuple[int, ...],
        dropped: Mapping[int, Dropped],
        need: tuple[tuple[int, int], ...],
        over: bool,
    ) -> RaceState:
        shared: list[int] = []
        for s in self.seeds:
            if not all(s in clean[e] for e in live):
                break
            shared.append(s)
        means = {e: statistics.fmean(clean[e][s] for s in shared) for e in live} if shared else {}
        return RaceState(tuple(shared), live, tuple(dropped.values()), need, over, means)


def race_scores(
    runs: Sequence[Confirmation], objective: str | None = None
) -> dict[int, dict[int, float | None]]:
    """``{trial number: {seed: score}}`` from confirmation runs (pass the runs at one budget,
    :func:`mixopt.study.summary.runs_at`, made at the knobs the race runs at); a failed run
    is None. ``objective``: that objective's score instead of the first's."""
    out: dict[int, dict[int, float | None]] = {}
    for run in runs:
        value = run.score if objective is None or run.failed else run.scores.get(objective)
        out.setdefault(run.source, {})[run.seed] = None if run.failed else value
    return out
