"""Optuna samplers by name (:data:`SAMPLERS`), each factory declaring what it can do: the
objectives it takes, the simplex parameterization that suits it, its random start-up trials
(the protocol, :class:`SamplerFactory`, is in :mod:`mixopt.search.proposals._base`)."""

from __future__ import annotations

from typing import Any

from mixopt.errors import ConfigError
from mixopt.registry import Registry
from mixopt.search.proposals._base import (
    SamplerCapabilities,
    SamplerFactory,
    SimplexUser,
    capabilities_of,
    declare,
)

__all__ = [
    "SAMPLERS",
    "SamplerCapabilities",
    "SamplerFactory",
    "SimplexUser",
    "attach_simplex",
    "capabilities_of",
    "check_attach",
    "declare",
    "make_sampler",
    "parameterization_for",
    "random_startup",
    "sampler_capabilities",
]

# the model-based samplers start with random trials; those on log-ratio coordinates move in
# an unconstrained space where distances mean something (see benchmarks/README.md)
_NO_MODEL = SamplerCapabilities()  # what a factory that declares nothing gets
_MODEL = SamplerCapabilities(random_startup=True)
_LOGRATIO = SamplerCapabilities(parameterization="logratio", random_startup=True)
# Optuna 5.0's CmaEsSampler raises on a study with several objectives
_ONE_OBJECTIVE = SamplerCapabilities(
    parameterization="logratio", random_startup=True, multi_objective=False
)


@declare(_MODEL)
def _tpe(seed: int, startup: int) -> Any:
    """Tree-structured Parzen estimator, multivariate, with a constant liar for concurrent trials."""
    import optuna

    # multivariate: the shares are dependent (they sum to one), so model them jointly;
    # constant_liar: concurrent trials are not proposed on top of each other
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=startup, multivariate=True, constant_liar=True
    )


@declare(_LOGRATIO)
def _gp(seed: int, startup: int) -> Any:
    """Gaussian-process Bayesian optimization on log-ratio coordinates."""
    import optuna

    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)


@declare(_ONE_OBJECTIVE)
def _cmaes(seed: int, startup: int) -> Any:
    """CMA-ES evolution strategy on log-ratio coordinates (needs the cmaes package)."""
    import optuna

    return optuna.samplers.CmaEsSampler(
        seed=seed, n_startup_trials=startup, warn_independent_sampling=False
    )


@declare(_NO_MODEL)
def _qmc(seed: int, startup: int) -> Any:
    """Scrambled quasi-Monte Carlo (Sobol) points: even coverage, no model."""
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)


@declare(_NO_MODEL)
def _random(seed: int, startup: int) -> Any:
    """Independent uniform proposals: a flat Dirichlet over the simplex."""
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


# it fits one score (its mixing law and the proposals' judging); its fallback is GP
@declare(
    SamplerCapabilities(
        parameterization="logratio",
        random_startup=True,
        multi_objective=False,
        needs_simplex=True,
    )
)
def _surrogate(seed: int, startup: int) -> Any:
    """A fitted mixing law and regression bag propose their predicted best; GP otherwise."""
    from mixopt.search.proposals.surrogate import SurrogateSampler

    return SurrogateSampler(seed=seed, startup=startup)


@declare(_NO_MODEL)
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
    lambda factory: capabilities_of(factory).describe(),
)


def make_sampler(name: str, seed: int, startup: int) -> Any:
    """An Optuna sampler; ``startup`` trials are proposed at random before the model kicks in."""
    factory: SamplerFactory = SAMPLERS.get(name)
    return factory(seed, startup)


def sampler_capabilities(name: str) -> SamplerCapabilities:
    """What the sampler ``name`` declares (a user's that declares nothing: the defaults)."""
    return capabilities_of(SAMPLERS.get(name), name)


def attach_simplex(sampler: Any, simplex: Any, name: str = "") -> None:
    """Give ``sampler`` the study's map between parameters and mixtures, if it takes one
    (an ``attach`` method: :class:`SimplexUser`); other samplers are left as they are, but
    one whose factory ``name`` declares ``needs_simplex`` is refused (:func:`check_attach`)."""
    if name:
        check_attach(sampler, name)
    attach = getattr(sampler, "attach", None)
    if callable(attach):
        attach(simplex)


def check_attach(sampler: Any, name: str) -> None:
    """A one-line :class:`ConfigError` if the factory ``name`` declares ``needs_simplex`` and
    ``sampler``, which it built, has no ``attach(simplex)`` method."""
    if sampler_capabilities(name).needs_simplex and not callable(getattr(sampler, "attach", None)):
        raise ConfigError(
            f"sampler {name!r} declares needs_simplex, but its {type(sampler).__name__} has no "
            "attach(simplex) method; add one, or declare needs_simplex=False"
        )


def random_startup(name: str, startup: int) -> int:
    """How many first trials the sampler ``name`` proposes at random before its model is
    used (0: it declares no random start-up, as a user's sampler that declares nothing)."""
    return startup if sampler_capabilities(name).random_startup else 0


def parameterization_for(sampler: str, requested: str = "auto") -> str:
    """``requested``, or for ``auto`` the one that ``sampler`` declares suits it."""
    if requested != "auto":
        return requested
    return sampler_capabilities(sampler).parameterization
