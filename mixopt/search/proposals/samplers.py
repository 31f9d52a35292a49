"""Optuna samplers by name, each with the simplex parameterization that suits it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mixopt.registry import Registry

__all__ = [
    "SAMPLERS",
    "SINGLE_OBJECTIVE",
    "attach_simplex",
    "make_sampler",
    "parameterization_for",
    "random_startup",
]


def _tpe(seed: int, startup: int) -> Any:
    """Tree-structured Parzen estimator, multivariate, with a constant liar for concurrent trials."""
    import optuna

    # multivariate: the shares are dependent (they sum to one), so model them jointly;
    # constant_liar: concurrent trials are not proposed on top of each other
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=startup, multivariate=True, constant_liar=True
    )


def _gp(seed: int, startup: int) -> Any:
    """Gaussian-process Bayesian optimization on log-ratio coordinates."""
    import optuna

    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)


def _cmaes(seed: int, startup: int) -> Any:
    """CMA-ES evolution strategy on log-ratio coordinates (needs the cmaes package)."""
    import optuna

    return optuna.samplers.CmaEsSampler(
        seed=seed, n_startup_trials=startup, warn_independent_sampling=False
    )


def _qmc(seed: int, startup: int) -> Any:
    """Scrambled quasi-Monte Carlo (Sobol) points: even coverage, no model."""
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)


def _random(seed: int, startup: int) -> Any:
    """Independent uniform proposals: a flat Dirichlet over the simplex."""
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


def _surrogate(seed: int, startup: int) -> Any:
    """A fitted mixing law and regression bag propose their predicted best; GP otherwise."""
    from mixopt.search.proposals.surrogate import SurrogateSampler

    return SurrogateSampler(seed=seed, startup=startup)


def _nsga2(seed: int, startup: int) -> Any:
    """NSGA-II genetic algorithm (multi-objective studies; its first generation is random)."""
    import optuna

    return optuna.samplers.NSGAIISampler(seed=seed)


SAMPLERS: Registry[Any] = Registry(
    "sampler",
    "mixopt.samplers",
    {
        "tpe": _tpe,
        "gp": _gp,
        "cmaes": _cmaes,
        "qmc": _qmc,
        "random": _random,
        "nsga2": _nsga2,
        "surrogate": _surrogate,
    },
)
# Optuna 5.0's CmaEsSampler raises on a study with several objectives; the others take them
# the surrogate fits one score (its mixing law and the proposals' judging)
SINGLE_OBJECTIVE = frozenset({"cmaes", "surrogate"})
_LOGRATIO = {"gp", "cmaes", "surrogate"}  # the surrogate's fallback is GP
# those whose model takes over after random start-up trials
_STARTUP = {
    "tpe",
    "gp",
    "cmaes",
    "surrogate",
}


def make_sampler(name: str, seed: int, startup: int) -> Any:
    """An Optuna sampler; ``startup`` trials are proposed at random before the model kicks in."""
    factory: Callable[[int, int], Any] = SAMPLERS.get(name)
    return factory(seed, startup)


def attach_simplex(sampler: Any, simplex: Any) -> None:
    """Give ``sampler`` the study's map between parameters and mixtures, if it takes one
    (an ``attach`` method, as the surrogate sampler has); other samplers are left as they are."""
    attach = getattr(sampler, "attach", None)
    if callable(attach):
        attach(simplex)


def random_startup(name: str, startup: int) -> int:
    """How many first trials the sampler ``name`` proposes at random before its model is
    used (0: it has no model, or it is a user's sampler, which may do as it likes)."""
    return startup if SAMPLERS.canonical(name) in _STARTUP else 0


def parameterization_for(sampler: str, requested: str = "auto") -> str:
    """``requested``, or for ``auto`` the one that suits ``sampler``."""
    if requested != "auto":
        return requested
    return "logratio" if SAMPLERS.canonical(sampler) in _LOGRATIO else "exponential"
