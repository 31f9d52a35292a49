from __future__ import annotations

import re
from pathlib import Path

import pytest

from mixopt.data.spec import DomainSpec
from mixopt.data.tokenize import TokenizedDomain
from mixopt.errors import ConfigError
from mixopt.search.samplers import SAMPLERS, make_sampler, parameterization_for
from mixopt.search.space import Simplex


@pytest.mark.parametrize("name", ["tpe", "gp", "cmaes", "qmc", "random"])
def test_each_sampler_searches_the_simplex(tmp_path: Path, name: str) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    domains = tuple(
        TokenizedDomain(DomainSpec(n, data=({"t": 1},), max_share=0.7), "text", "/x", 10, 10**6)
        for n in "abc"
    )
    simplex = Simplex(domains, 10_000, parameterization_for(name))
    study = optuna.create_study(
        storage=f"sqlite:///{tmp_path / 's.db'}",
        sampler=make_sampler(name, seed=0, startup=4),
        direction="maximize",
    )
    target = {"a": 0.6, "b": 0.3, "c": 0.1}
    for _ in range(14):
        trial = study.ask()
        mix = simplex.suggest(trial)
        assert sum(mix.values()) == pytest.approx(1) and max(mix.values()) <= 0.7 + 1e-9
        study.tell(trial, -sum(abs(mix[k] - target[k]) for k in target))
    assert len(study.trials) == 14 and study.best_value > -1.0


def test_parameterization_follows_the_sampler() -> None:
    assert parameterization_for("tpe") == "exponential" and parameterization_for("gp") == "logratio"
    assert (
        parameterization_for("cmaes") == "logratio"
        and parameterization_for("gp", "exponential") == "exponential"
    )


def test_unknown_sampler() -> None:
    with pytest.raises(ConfigError, match=re.escape("Unknown sampler 'tpee'. Did you mean: tpe?")):
        SAMPLERS.get("tpee")
