"""A user sampler (given to mixopt as ``module:attr``) that proposes a fixed list of mixtures
in order: a real Optuna sampler, used where a test needs to know what is proposed when."""

from __future__ import annotations

from typing import Any

import optuna

# exponential parameterization: w = 1 gives a domain weight 0, a tiny w a huge weight
ALL_FINANCE = {"w_finance": 1e-9, "w_cooking": 1.0, "w_sports": 1.0}
MOSTLY_FINANCE = {"w_finance": 1e-9, "w_cooking": 0.5, "w_sports": 1.0}
ALL_COOKING = {"w_finance": 1.0, "w_cooking": 1e-9, "w_sports": 1.0}
ALL_SPORTS = {"w_finance": 1.0, "w_cooking": 1.0, "w_sports": 1e-9}
SEQUENCE = [ALL_FINANCE, MOSTLY_FINANCE, ALL_COOKING, ALL_SPORTS]


class FixedSequenceSampler(optuna.samplers.RandomSampler):
    """The n-th searched trial gets SEQUENCE[n] (baselines, enqueued, are not asked here)."""

    def sample_independent(
        self, study: Any, trial: Any, param_name: str, param_distribution: Any
    ) -> Any:
        searched = [
            t
            for t in study.get_trials(deepcopy=False)
            if t.user_attrs.get("role", "search") == "search" and "mixture" in t.user_attrs
        ]
        return SEQUENCE[len(searched) % len(SEQUENCE)][param_name]


def make(seed: int, startup: int) -> FixedSequenceSampler:
    return FixedSequenceSampler(seed=seed)
