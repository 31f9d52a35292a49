"""What a sampler is to mixopt: a factory ``(seed, startup) -> optuna sampler`` that declares
what its samplers can do.

A factory needs no base class; a function will do, and :func:`declare` states its
capabilities (a factory that declares none gets :class:`SamplerCapabilities`' defaults)::

    @declare(SamplerCapabilities(parameterization="logratio", random_startup=True))
    def make_sampler(seed: int, startup: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)

A class works too (the class is the factory), with ``capabilities = SamplerCapabilities(...)``
as a class attribute. :func:`mixopt.testing.check_sampler` checks a factory as a study uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from mixopt.errors import ConfigError

if TYPE_CHECKING:
    from mixopt.search.proposals.space import Simplex

__all__ = ["SamplerCapabilities", "SamplerFactory", "SimplexUser", "capabilities_of", "declare"]

F = TypeVar("F", bound=Callable[..., Any])


class SamplerFactory(Protocol):
    """Builds the study's Optuna sampler: ``factory(seed, startup)``, positionally.

    It must return an ``optuna.samplers.BaseSampler`` seeded with ``seed`` (the same seed
    proposes the same trials), whose first ``startup`` proposals may be random before its
    model is used. The sampler must leave an enqueued trial's parameters as queued (the
    baselines enter so), propose within each parameter's distribution, work with several
    trials asked before any is told (trials run at once), and store only JSON on trials
    (SQLite storage). Mixopt builds it once per run of the study (a resumed study gets a new
    seed) and, where the sampler has an ``attach`` method, calls ``attach(simplex)`` once
    before the first trial is asked (:class:`SimplexUser`).
    """

    def __call__(self, seed: int, startup: int) -> Any: ...


class SimplexUser(Protocol):
    """A sampler that proposes mixtures itself (the surrogate sampler): before the first
    trial is asked, mixopt gives it the study's :class:`~mixopt.search.proposals.space.Simplex`,
    the map between the study's share parameters and feasible mixtures (``simplex.params``,
    ``simplex.kind``, ``simplex.suggest(trial)``, ``simplex.params_for(mixture)``,
    ``simplex.mixture(raw)``). Its factory declares ``needs_simplex=True``, so that a sampler
    without ``attach`` is refused before the study starts."""

    def attach(self, simplex: Simplex) -> None: ...


@dataclass(frozen=True)
class SamplerCapabilities:
    """What a factory's samplers can do, declared by the factory (:func:`declare`); the
    defaults are what mixopt assumes of a factory that declares nothing."""

    multi_objective: bool = True
    """It takes a study with several objectives (False: such a study is refused before it
    starts, with the samplers that take one)."""
    parameterization: str = "exponential"
    """The simplex parameterization that suits it, which ``parameterization: auto`` picks:
    ``exponential`` (normalized exponentials) or ``logratio`` (additive log-ratios)."""
    random_startup: bool = False
    """Its first ``startup`` proposals are random, before its model is used (the study warns
    when they would cover every trial)."""
    needs_simplex: bool = False
    """It proposes mixtures itself and needs ``attach(simplex)`` (:class:`SimplexUser`)."""

    def __post_init__(self) -> None:
        if self.parameterization not in ("exponential", "logratio"):
            raise ConfigError(
                f"sampler capabilities: parameterization {self.parameterization!r} must be "
                "exponential or logratio"
            )

    def describe(self) -> list[str]:
        """A few words each, as ``mixopt ls samplers`` shows them."""
        return [
            f"{self.parameterization} simplex",
            *(["random start-up"] if self.random_startup else []),
            *(["needs attach(simplex)"] if self.needs_simplex else []),
            "several objectives" if self.multi_objective else "one objective only",
        ]


def declare(capabilities: SamplerCapabilities) -> Callable[[F], F]:
    """Decorator: the factory declares ``capabilities`` (as its ``capabilities`` attribute)."""

    def mark(factory: F) -> F:
        factory.capabilities = capabilities  # type: ignore[attr-defined]
        return factory

    return mark


def capabilities_of(factory: Any, name: str = "") -> SamplerCapabilities:
    """What ``factory`` declares (the defaults if nothing); a one-line :class:`ConfigError`
    if its ``capabilities`` attribute is something else."""
    declared = getattr(factory, "capabilities", None)
    if declared is None:
        return SamplerCapabilities()
    if not isinstance(declared, SamplerCapabilities):
        raise ConfigError(
            f"sampler {name or getattr(factory, '__qualname__', factory)!r}: its capabilities "
            f"are a {type(declared).__name__}; declare a mixopt SamplerCapabilities "
            "(@declare(SamplerCapabilities(...)))"
        )
    return declared
