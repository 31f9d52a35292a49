"""The race that chooses the answer: distinct entrants, shared fresh seeds, elimination of the
clearly behind, baselines kept to the end, and a state computed from the runs present (a
resumed or grown study never runs one again)."""

from __future__ import annotations

import random
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from mixopt.study.race import Race, RaceState, distinct_top, race_scores
from mixopt.study.summary import Confirmation
from mixopt.study.trials import TrialRecord, baseline_role
from mixopt.study.verdict import BEATS, WITHIN

UNIFORM = {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}
NATURAL = {"a": 0.6, "b": 0.3, "c": 0.1}


def trial(number: int, mixture: dict[str, float], score: float | None, **kw: str) -> TrialRecord:
    return TrialRecord(
        number, kw.get("role", "search"), kw.get("state", "COMPLETE"), mixture, {}, score
    )


def baselines() -> list[TrialRecord]:
    return [
        trial(0, UNIFORM, 1.0, role=baseline_role("uniform")),
        trial(1, NATURAL, 1.1, role=baseline_role("natural")),
    ]


def corner(i: int, share: float) -> dict[str, float]:
    rest = (1 - share) / 2
    return {n: share if j == i else rest for j, n in enumerate("abc")}


Scorer = Callable[[int, int], float]


def run_race(
    race: Race, score: Scorer, scores: dict[int, dict[int, float]] | None = None
) -> tuple[RaceState, dict[int, dict[int, float]], int]:
    """The race to its end, each needed run scored by ``score(number, seed)``; the runs made."""
    scores = {} if scores is None else scores
    made = 0
    state = race.step(scores)
    while not state.over:
        assert state.needed
        for number, seed in state.needed:
            assert seed not in scores.get(number, {})  # never a run already made
            scores.setdefault(number, {})[seed] = score(number, seed)
            made += 1
        state = race.step(scores)
    return state, scores, made


# -- the entrants ----------------------------------------------------------------------


def test_distinct_top_skips_a_basin_already_entered_and_appends_the_baselines() -> None:
    trials = [
        *baselines(),
        trial(2, corner(0, 0.90), 3.0),
        trial(3, corner(0, 0.88), 2.9),  # L1 0.04 from trial 2: the same basin
        trial(4, corner(1, 0.80), 2.5),
        trial(5, {"a": 0.34, "b": 0.33, "c": 0.33}, 2.4),  # uniform, raced twice
        trial(6, corner(2, 0.70), 2.0),
        trial(7, corner(2, 0.10), 9.0, state="PRUNED"),
        trial(8, corner(1, 0.10), 2.2, state="FAIL"),
        trial(9, corner(2, 0.95), 1.0),
    ]
    top = distinct_top(trials)
    assert [t.number for t in top] == [2, 4, 6, 0, 1]
    assert [t.number for t in distinct_top(trials, k=1)] == [2, 0, 1]
    assert [t.number for t in distinct_top(trials, min_distance=0)][:3] == [2, 3, 4]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.floats(0.01, 1), min_size=3, max_size=3), st.floats(-5, 5)),
        min_size=0,
        max_size=25,
    ),
    st.integers(1, 5),
    st.floats(0, 1),
)
def test_distinct_top_is_the_greedy_best_of_the_distinct(
    rows: list[tuple[list[float], float]], k: int, distance: float
) -> None:
    trials = baselines() + [
        trial(i + 2, {n: w / sum(ws) for n, w in zip("abc", ws, strict=True)}, y)
        for i, (ws, y) in enumerate(rows)
    ]
    top = distinct_top(trials, k, distance)
    picked = [t for t in top if t.baseline is None]
    assert [t.number for t in top[len(picked) :]] == [0, 1]
    assert len(picked) <= k

    def l1(a: TrialRecord, b: TrialRecord) -> float:
        return sum(abs(a.mixture[n] - b.mixture[n]) for n in "abc")

    kept = [*picked, *top[len(picked) :]]  # the baselines may lie near each other
    assert all(l1(a, b) >= distance for i, a in enumerate(picked) for b in kept[i + 1 :])
    # every better trial left out lies near one picked before it, or near a baseline
    worst = min((t.score or 0.0 for t in picked), default=float("inf"))
    for t in trials[2:]:
        if t not in picked and (t.score or 0.0) > worst:
            assert any(l1(t, o) < distance for o in kept)


def test_several_objectives_race_the_picked_trial_alone() -> None:
    def mo(
        number: int, mixture: dict[str, float], a: float, b: float, role: str = "search"
    ) -> TrialRecord:
        return TrialRecord(number, role, "COMPLETE", mixture, {}, a, scores={"x": a, "y": b})

    trials = [
        mo(0, UNIFORM, 0.0, 0.0, baseline_role("uniform")),
        mo(1, corner(0, 0.9), 3.0, 0.0),
        mo(2, corner(1, 0.9), 0.0, 3.0),
        mo(3, corner(2, 0.9), 2.0, 2.0),
    ]
    assert [t.number for t in distinct_top(trials)] == [3, 0]


# -- the race --------------------------------------------------------------------------


def race_of(budget: int = 4) -> Race:
    trials = [*baselines(), trial(2, corner(0, 0.9), 3.0), trial(3, corner(1, 0.9), 2.0)]
    return Race.of(trials, budget, first_seed=11)


def test_every_entrant_runs_the_first_two_seeds_together() -> None:
    race = race_of()
    assert race.entrants == (2, 3) and race.baselines == (("uniform", 0), ("natural", 1))
    assert race.seeds == (11, 12, 13, 14) and race.most_runs() == 16
    state = race.step({})
    assert not state.over and state.answer is None and state.seeds == ()
    assert set(state.needed) == {(e, s) for e in (2, 3, 0, 1) for s in (11, 12)}


def test_a_clearly_behind_entrant_is_dropped_and_the_rest_run_the_budget() -> None:
    truth = {2: 1.0, 3: 0.0, 0: 0.5, 1: 0.55}
    rng = random.Random(0)
    race = race_of()
    state, scores, made = run_race(race, lambda e, s: truth[e] + rng.gauss(0, 0.01))
    assert state.over and state.answer == 2 and state.seeds == (11, 12, 13, 14)
    (out,) = state.dropped
    assert out.number == 3 and out.seeds == 2
    assert out.reason.startswith("clearly behind the leader (trial 2): paired difference -1.0")
    assert "95% upper bound" in out.reason and "< 0 over 2 seeds" in out.reason
    assert set(state.still_in) == {2, 0, 1}  # baselines stay, far behind or not
    assert made == 8 + 3 * 2 and race.runs_made(scores) == made
    verdicts = race.verdicts(state, scores)
    assert {n: v.word for n, v in verdicts.items()} == {"uniform": BEATS, "natural": BEATS}
    assert all(v.seeds == 4 and v.family == 5 for v in verdicts.values())


def test_entrants_within_noise_all_run_to_the_end() -> None:
    rng = random.Random(1)
    state, _, made = run_race(race_of(), lambda e, s: rng.gauss(0, 1))
    assert state.over and not state.dropped and made == 16


def test_a_baseline_can_lead_and_be_the_answer() -> None:
    truth = {2: 0.0, 3: 0.1, 0: 0.2, 1: 1.0}
    rng = random.Random(2)
    race = race_of(3)
    state, scores, _ = run_race(race, lambda e, s: truth[e] + rng.gauss(0, 0.01))
    assert state.answer == 1 and {d.number for d in state.dropped} == {2, 3}
    verdicts = race.verdicts(state, scores)
    assert verdicts["natural"].itself and verdicts["uniform"].word == BEATS
    assert verdicts["natural"].sentence() == "the answer is natural itself"


def test_runs_present_are_reused_and_the_state_is_the_same() -> None:
    """Stopped anywhere and resumed, the race asks only for what is missing and ends where
    the uninterrupted race ends."""
    truth = {2: 1.0, 3: 0.0, 0: 0.5, 1: 0.55}

    def score(e: int, s: int) -> float:
        return truth[e] + 0.01 * ((e * 7 + s * 3) % 5)

    whole, scores, made = run_race(race_of(), score)
    for cut in range(made):
        runs = [(e, s) for e, seeds in scores.items() for s in seeds]
        part: dict[int, dict[int, float]] = {}
        for e, s in runs[:cut]:
            part.setdefault(e, {})[s] = scores[e][s]
        resumed, _, _ = run_race(race_of(), score, part)
        assert resumed == whole


def test_a_grown_study_races_its_new_top_and_reuses_the_old_runs() -> None:
    truth = {2: 1.0, 3: 0.0, 4: 1.2, 0: 0.5, 1: 0.55}

    def score(e: int, s: int) -> float:
        return truth[e] + 0.01 * ((e * 7 + s * 3) % 5)

    _, scores, _ = run_race(race_of(), score)
    grown = [*baselines(), trial(2, corner(0, 0.9), 3.0), trial(3, corner(1, 0.9), 2.0)]
    grown.append(trial(4, corner(2, 0.9), 3.5))
    race = Race.of(grown, 4, first_seed=11)
    assert race.entrants == (4, 2, 3)
    first = race.step(scores)
    assert set(first.needed) == {(4, 11), (4, 12)}  # the old entrants' runs are reused
    state, _, _ = run_race(race, score, scores)
    assert state.answer == 4


def test_a_longer_budget_adds_seeds_to_the_answer_and_the_baselines() -> None:
    truth = {2: 1.0, 3: 0.0, 0: 0.5, 1: 0.55}
    _, scores, _ = run_race(race_of(2), lambda e, s: truth[e] + 0.01 * (s % 3))
    more = race_of(3).step(scores)
    assert set(more.needed) == {(e, 13) for e in (2, 0, 1)}  # trial 3 was dropped at 2 seeds


def test_a_failed_run_puts_its_entrant_out() -> None:
    state = race_of().step({2: {11: float("nan")}, 3: {11: None}})  # type: ignore[dict-item]
    assert {d.number: d.reason for d in state.dropped} == {
        2: "its run on seed 11 failed",
        3: "its run on seed 11 failed",
    }
    assert all(e not in state.still_in for e in (2, 3))


def test_one_seed_or_none() -> None:
    state, scores, made = run_race(race_of(1), lambda e, s: float(e))
    assert state.over and state.answer == 3 and made == 4 and state.seeds == (11,)
    words = {v.word for v in race_of(1).verdicts(state, scores).values()}
    assert words == {WITHIN}  # one seed: no spread, never beats
    empty = race_of(0).step({})
    assert empty.over and empty.answer is None and not empty.needed
    assert race_of(0).verdicts(empty, {}) == {}


def test_race_scores_reads_the_runs_by_trial_and_seed() -> None:
    runs = [
        Confirmation("best", 11, 2, 1.5, {}, 1000),
        Confirmation("uniform", 11, 0, 1.0, {}, 1000),
    ]
    assert race_scores(runs) == {2: {11: 1.5}, 0: {11: 1.0}}
    assert race_of().name(0) == "uniform" and race_of().name(2) == "trial 2"
