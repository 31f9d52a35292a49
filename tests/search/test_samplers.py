from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterator
from typing import Any

import pytest

from mixopt.data.spec import DomainSpec
from mixopt.data.tokenize import TokenizedDomain
from mixopt.errors import ConfigError
from mixopt.search.proposals.samplers import (
    SAMPLERS,
    check_attach,
    make_sampler,
    parameterization_for,
    random_startup,
    sampler_capabilities,
)
from mixopt.search.proposals.space import Simplex

# One clear optimum inside a 4-domain simplex (3 free parameters), away from the corners
TARGET = {"a": 0.45, "b": 0.3, "c": 0.15, "d": 0.1}
SEEDS = range(3)  # fixed: each comparison is a median over these, so one lucky run cannot decide it
STARTUP = 8  # random trials before a model takes over, as mixopt's default startup_trials
# Trials each sampler is given (startup included), and random with it: enough for each to
# converge here. Measured with optuna 5.0 over ten sets of 3 seeds, the median regret was
# 12-78x below random's for TPE, 3.6-55x for CMA-ES and (four sets) 7-27x for GP; the bar
# is 2x. CMA-ES needs the most trials: it ignores the startup ones and moves in generations
# of 7 proposals. GP needs the fewest, and each of its proposals costs the most.
BUDGETS = {"tpe": 100, "gp": 28, "cmaes": 120}


def _search(name: str, seed: int, trials: int) -> Any:
    """A study of ``trials`` proposals by sampler ``name``, scored by ``-KL(TARGET || mixture)``:
    smooth, like a loss that is lowest at one mixture, and 0 at the optimum, so
    ``-study.best_value`` is the regret."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    domains = tuple(
        TokenizedDomain(DomainSpec(n, data=({"t": 1},)), "text", "/x", 10, 10**6) for n in TARGET
    )
    simplex = Simplex(domains, 10_000, parameterization_for(name))
    study = optuna.create_study(
        sampler=make_sampler(name, seed=seed, startup=STARTUP), direction="maximize"
    )
    for _ in range(trials):
        trial = study.ask()
        mix = simplex.suggest(trial)
        assert sum(mix.values()) == pytest.approx(1)
        study.tell(trial, sum(p * math.log(max(mix[k], 1e-12) / p) for k, p in TARGET.items()))
    return study


@pytest.fixture()
def one_thread() -> Iterator[None]:
    """The samplers' linear algebra is on matrices of a few dozen rows, where a second BLAS or
    OpenMP thread only spins: on a busy 2-core machine it made the GP case 6x slower (27 s
    against 4.5 s), most after CMA-ES had started scipy's BLAS threads."""
    import scipy.linalg  # noqa: F401  (loaded first, so that the limit reaches its BLAS)
    import torch  # noqa: F401  (and torch's OpenMP, which Optuna's GP runs on)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_each_model_based_sampler_beats_random(name: str) -> None:
    trials = BUDGETS[name]
    regret = statistics.median(-_search(name, s, trials).best_value for s in SEEDS)
    random = statistics.median(-_search("random", s, trials).best_value for s in SEEDS)
    assert regret <= random / 2, f"{name}: median regret {regret:.5f}, random's {random:.5f}"


def test_qmc_covers_the_space_more_evenly_than_random() -> None:
    """QMC has no model, so nothing makes it find an optimum sooner than random proposals do;
    what it promises is even coverage. Its proposals (the ``w_*`` parameters, uniform on
    [0, 1] per domain) must be measurably more even than random ones: at most half their
    centered L2 discrepancy (measured: about a fifth at 32 trials)."""
    import numpy as np
    from scipy.stats import qmc

    def discrepancy(name: str, seed: int) -> float:
        study = _search(name, seed, 32)
        points = np.array([[t.params[f"w_{k}"] for k in TARGET] for t in study.trials])
        return float(qmc.discrepancy(points))

    even = statistics.median(discrepancy("qmc", s) for s in SEEDS)
    random = statistics.median(discrepancy("random", s) for s in SEEDS)
    assert even <= random / 2, f"qmc's discrepancy {even:.4f}, random's {random:.4f}"


def test_parameterization_follows_the_sampler() -> None:
    assert parameterization_for("tpe") == "exponential" and parameterization_for("gp") == "logratio"
    assert (
        parameterization_for("cmaes") == "logratio"
        and parameterization_for("gp", "exponential") == "exponential"
    )


def test_unknown_sampler() -> None:
    with pytest.raises(ConfigError, match=re.escape("Unknown sampler 'tpee'. Did you mean: tpe?")):
        SAMPLERS.get("tpee")


def test_builtins_declare_what_they_can_do() -> None:
    declared = {name: sampler_capabilities(name) for name in SAMPLERS.builtins()}
    assert {n for n, c in declared.items() if not c.multi_objective} == {"cmaes", "surrogate"}
    assert {n for n, c in declared.items() if c.parameterization == "logratio"} == {
        "gp",
        "cmaes",
        "surrogate",
    }
    assert {n for n, c in declared.items() if c.random_startup} == {
        "tpe",
        "gp",
        "cmaes",
        "surrogate",
    }
    assert {n for n, c in declared.items() if c.needs_simplex} == {"surrogate"}


PLUGINS = "tests.testing.plugins"


def test_a_user_sampler_declares_its_capabilities_or_gets_the_defaults() -> None:
    assert parameterization_for(f"{PLUGINS}:declared_sampler") == "logratio"
    assert sampler_capabilities(f"{PLUGINS}:declared_sampler").needs_simplex
    assert random_startup(f"{PLUGINS}:declared_sampler", 8) == 0
    klass = sampler_capabilities(f"{PLUGINS}:DeclaringSamplerClass")
    assert not klass.multi_objective and random_startup(f"{PLUGINS}:DeclaringSamplerClass", 8) == 8
    # one that declares nothing: what mixopt assumes of a sampler it does not know
    assert parameterization_for(f"{PLUGINS}:good_sampler") == "exponential"
    assert random_startup(f"{PLUGINS}:good_sampler", 8) == 0
    assert sampler_capabilities(f"{PLUGINS}:good_sampler").multi_objective


def test_a_sampler_that_needs_the_simplex_and_cannot_take_it_is_refused() -> None:
    check_attach(make_sampler("surrogate", 0, 2), "surrogate")
    name = f"{PLUGINS}:needs_simplex_without_attach"
    with pytest.raises(ConfigError, match=r"declares needs_simplex, but its RandomSampler has no"):
        check_attach(make_sampler(name, 0, 2), name)
    with pytest.raises(ConfigError, match="its capabilities are a dict"):
        sampler_capabilities(f"{PLUGINS}:wrong_capabilities")
