"""The verdict: a paired lift over fresh seeds, its interval (the block design's pooled noise,
Student t, widened for the winner's curse) and one word, never more confident than the
seeds allow."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mixopt.study.verdict import (
    BEATS,
    LOSES,
    WITHIN,
    Verdict,
    block_noise,
    family_size,
    judge,
    quantile,
)

SEEDS = (1, 2, 3)


def test_two_entrants_is_the_paired_t_interval() -> None:
    a = {1: 1.00, 2: 1.30, 3: 1.10, 4: 1.25}
    b = {1: 0.90, 2: 1.10, 3: 1.05, 4: 1.00}
    v = judge(10, 20, "uniform", {10: a, 20: b}, (10, 20))
    diffs = [a[s] - b[s] for s in a]
    ci = stats.ttest_rel(list(a.values()), list(b.values())).confidence_interval(0.95)
    assert v.lift == pytest.approx(sum(diffs) / 4)
    assert (v.low, v.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert v.word == BEATS and v.seeds == 4 and v.family == 1


def test_block_noise_is_the_two_way_residual() -> None:
    rng = random.Random(3)
    scores = {e: {s: rng.gauss(0, 1) for s in range(4)} for e in range(5)}
    sd, dof = block_noise(scores, range(5), range(4)) or (0.0, 0)
    # the residual of the additive model: least squares on entrant and seed effects
    import numpy as np

    y = np.array([scores[e][s] for e in range(5) for s in range(4)])
    x = np.array(
        [
            [1.0] + [e == i for i in range(1, 5)] + [s == j for j in range(1, 4)]
            for e in range(5)
            for s in range(4)
        ],
        dtype=float,
    )
    residual = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    assert dof == 4 * 3
    assert sd == pytest.approx(math.sqrt(float(residual @ residual) / 12))
    assert block_noise(scores, range(1), range(4)) is None
    assert block_noise(scores, range(5), range(1)) is None


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(-1, 1), min_size=3, max_size=3),
    st.lists(st.floats(-5, 5), min_size=3, max_size=3),
)
def test_a_seed_that_moves_every_mixture_alike_changes_nothing(
    noise: list[float], shift: list[float]
) -> None:
    """Common random numbers: what a seed does to every entrant cancels in the pairs."""
    base = {e: {s: 0.1 * e + 0.05 * noise[(e + s) % 3] * s for s in SEEDS} for e in range(4)}
    moved = {e: {s: v + shift[s - 1] for s, v in runs.items()} for e, runs in base.items()}
    one, two = (judge(3, 0, "uniform", x, range(4), 5) for x in (base, moved))
    assert one.word == two.word
    assert one.lift == pytest.approx(two.lift, abs=1e-9)
    assert one.low == pytest.approx(two.low, abs=1e-9)


def test_the_three_words_and_their_sentences() -> None:
    def at(lift: float) -> Verdict:
        a = {s: lift + 0.01 * (s % 2) for s in SEEDS}
        b = {s: 0.01 * ((s + 1) % 2) for s in SEEDS}
        return judge(1, 0, "uniform", {1: a, 0: b}, (1, 0))

    up, flat, down = at(1.0), at(0.0), at(-1.0)
    assert (up.word, flat.word, down.word) == (BEATS, WITHIN, LOSES)
    assert up.sentence().startswith("beats uniform by +1.00")
    assert "[95% interval +" in up.sentence() and up.sentence().endswith(", 3 fresh seeds")
    assert flat.sentence().startswith("within noise of uniform: +0.00")
    assert down.sentence().startswith("loses to uniform by -0.99")
    assert up.low is not None and up.low > 0 and down.high is not None and down.high < 0


def test_one_seed_has_no_interval_and_never_beats() -> None:
    v = judge(1, 0, "uniform", {1: {5: 2.0}, 0: {5: 1.0}}, (1, 0), family=7)
    assert v.lift == pytest.approx(1.0) and v.low is None and v.high is None
    assert v.word == WITHIN  # a whole unit ahead, but one seed shows no spread
    assert v.sentence() == "vs uniform +1.0000 (one seed: no spread)"
    assert v.to_dict()["verdict"] == WITHIN


def test_no_fresh_seed_and_the_answer_itself() -> None:
    none = judge(1, 0, "natural", {1: {}, 0: {}}, (1, 0))
    assert none.lift is None and none.word == WITHIN
    assert none.sentence() == "vs natural: no fresh seeds"
    same = judge(0, 0, "uniform", {0: {1: 1.0, 2: 1.2}}, (0,))
    assert same.itself and same.lift == 0.0 and same.sentence() == "the answer is uniform itself"


def test_only_seeds_both_ran_count_and_failed_runs_count_nowhere() -> None:
    scores = {1: {1: 1.0, 2: 1.1, 3: 5.0, 4: float("nan")}, 0: {1: 0.0, 2: 0.2, 4: 0.3}}
    v = judge(1, 0, "uniform", scores, (1, 0))
    assert v.seeds == 2 and v.lift == pytest.approx((1.0 + 0.9) / 2)
    assert judge(1, 0, "uniform", scores, (1, 0), seeds=(1,)).seeds == 1


def test_the_winners_curse_widens_the_interval() -> None:
    scores = {e: {s: 0.01 * e + 0.003 * ((e * s) % 3) for s in SEEDS} for e in range(5)}
    alone = judge(4, 0, "uniform", scores, range(5), family=1)
    curse = judge(4, 0, "uniform", scores, range(5), family=family_size(5, 2))
    assert alone.lift == curse.lift
    assert alone.low is not None and curse.low is not None and curse.low < alone.low
    assert quantile(4, 7) == pytest.approx(5.04, abs=0.01)  # the module docstring's figure
    assert quantile(4, 1) == pytest.approx(2.78, abs=0.01)


def test_family_size_counts_each_reportable_lift_once() -> None:
    assert family_size(5, 2) == 7  # 3 searched x 2 baselines, and uniform against natural
    assert family_size(2, 2) == 1  # a baseline-only study of two: one pair
    assert family_size(4, 4) == 6  # four baselines: every pair
    assert family_size(2, 1) == 1
    assert family_size(1, 1) == 1


def test_on_a_null_problem_beats_is_rare_only_with_the_correction() -> None:
    """The best of 5 equal mixtures on 3 fresh seeds, 400 times: the corrected verdict says
    ``beats`` (or ``loses``) at most 5% of the time; a plain 95% interval says so far more."""
    rng = random.Random(11)
    false, plain = 0, 0
    for _ in range(400):
        scores = {e: {s: rng.gauss(0, 1) for s in SEEDS} for e in range(5)}
        best = max(range(5), key=lambda e: sum(scores[e].values()))
        words = [judge(best, b, "b", scores, range(5), family_size(5, 2)).word for b in (3, 4)]
        naive = [judge(best, b, "b", scores, range(5), 1).word for b in (3, 4)]
        false += any(w != WITHIN for w in words)
        plain += any(w == BEATS for w in naive)
    assert false / 400 <= 0.05
    assert plain / 400 > 0.10
