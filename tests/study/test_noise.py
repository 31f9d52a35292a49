"""The seed noise measured before the search, and the sentence that says what it means."""

from __future__ import annotations

import math
import statistics

import pytest

from mixopt.study.noise import (
    SeedNoise,
    noise_floor,
    noise_runs,
    noise_sentence,
    resolvable,
    seed_noise,
)
from mixopt.study.verdict import family_size, quantile


def test_the_pooled_sd_of_two_baselines_on_two_seeds() -> None:
    noise = seed_noise({"uniform": [1.00, 1.04], "natural": [2.00, 1.97]})
    assert noise is not None and noise.dof == 2 and noise.mixtures == 2 and noise.seeds == 2
    pooled = (statistics.variance([1.00, 1.04]) + statistics.variance([2.00, 1.97])) / 2
    assert noise.sd == pytest.approx(math.sqrt(pooled))
    assert seed_noise({"uniform": [1.0], "natural": [2.0]}) is None  # one seed each: no spread
    assert seed_noise({"uniform": [1.0, 1.2], "natural": [2.0]}) == SeedNoise(
        pytest.approx(math.sqrt(0.02)), 1, 1, 2
    )


def test_the_floor_and_what_the_race_resolves() -> None:
    noise = SeedNoise(0.01, 2, 2, 2)
    assert noise_floor(noise) == pytest.approx(1.96 * 0.01 * math.sqrt(2), rel=1e-3)
    y3 = resolvable(noise, 3, 5, 2)
    assert y3 == pytest.approx(quantile(8, family_size(5, 2)) * 0.01 * math.sqrt(2 / 3))
    widths = [resolvable(noise, n, 5, 2) or 0.0 for n in (2, 3, 5, 10)]
    assert widths == sorted(widths, reverse=True)  # more seeds resolve smaller lifts
    assert resolvable(noise, 1, 5, 2) is None and resolvable(noise, 0, 5, 2) is None


def test_the_sentence() -> None:
    noise = SeedNoise(0.006, 2, 2, 2)
    text = noise_sentence(noise, 5, 5, 2)
    y = resolvable(noise, 5, 5, 2) or 0.0
    assert text == (
        f"seed noise sd 0.0060 (2 mixtures on 2 seeds): a lift smaller than about "
        f"{noise_floor(noise):.4f} is noise at this budget; 5 fresh seeds resolve a lift of about {y:.4f}"
    )
    assert noise_sentence(noise, 1, 5, 2).endswith(
        "; one fresh seed gives no spread, so no lift is resolved"
    )


def test_the_runs_it_needs_are_the_races_first_round() -> None:
    assert noise_runs({"uniform": 0, "natural": 1}, 11) == [(0, 11), (1, 11)]
