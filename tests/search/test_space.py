from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from mixopt.data.spec import DomainSpec
from mixopt.data.tokenize import TokenizedDomain
from mixopt.errors import ConfigError
from mixopt.search.proposals.space import BUILTIN_SPACES, Simplex, load_space, parse_space


def _domains(**bounds: dict[str, float]) -> tuple[TokenizedDomain, ...]:
    names = ["a", "b", "c", "d"]
    return tuple(
        TokenizedDomain(
            DomainSpec(n, data=({"text": "x"},), **bounds.get(n, {})),
            "text",
            "/nonexistent",
            100,
            10**6,
        )  # type: ignore[arg-type]
        for n in names
    )


@pytest.mark.parametrize("path", sorted(BUILTIN_SPACES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_space_loads(path: Path) -> None:
    space = load_space(path.stem)
    assert space.name == path.stem and space.apply(_domains())


def _study(tmp_path: Path, sampler: Any) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        storage=f"sqlite:///{tmp_path / 's.db'}", sampler=sampler, direction="maximize"
    )


@pytest.mark.parametrize("kind", ["exponential", "logratio"])
def test_random_proposals_cover_the_simplex_and_respect_every_bound(
    tmp_path: Path, kind: str
) -> None:
    import optuna

    domains = _domains(a={"max_share": 0.5}, b={"min_share": 0.1}, c={"fixed_share": 0.2})
    simplex = Simplex(domains, budget=20_000, parameterization=kind)
    study = _study(tmp_path, optuna.samplers.RandomSampler(seed=0))
    seen = []
    for _ in range(300):
        trial = study.ask()
        mix = simplex.suggest(trial)
        study.tell(trial, 0.0)
        assert sum(mix.values()) == pytest.approx(1.0)
        assert mix["a"] <= 0.5 + 1e-9 and mix["b"] >= 0.1 - 1e-9 and mix["c"] == pytest.approx(0.2)
        assert all(v >= 0 for v in mix.values())
        seen.append(mix)
    # each free domain reaches close to its largest and smallest feasible share
    assert max(m["a"] for m in seen) > 0.45 and min(m["a"] for m in seen) < 0.05
    assert max(m["b"] for m in seen) > 0.6 and min(m["b"] for m in seen) < 0.15
    assert max(m["d"] for m in seen) > 0.6 and min(m["d"] for m in seen) < 0.05


def test_flat_dirichlet_under_independent_uniform_params(tmp_path: Path) -> None:
    import optuna

    simplex = Simplex(_domains(), budget=10**6, parameterization="exponential")
    study = _study(tmp_path, optuna.samplers.RandomSampler(seed=1))
    shares = []
    for _ in range(400):
        trial = study.ask()
        shares.append(simplex.suggest(trial)["a"])
        study.tell(trial, 0.0)
    # a flat Dirichlet over 4 domains: each share is Beta(1, 3), mean 1/4, P(share > 0.5) = 1/8
    assert sum(shares) / len(shares) == pytest.approx(0.25, abs=0.03)
    assert sum(s > 0.5 for s in shares) / len(shares) == pytest.approx(0.125, abs=0.04)


def test_caps_bound_the_proposals() -> None:
    domains = list(_domains())
    domains[0] = dataclasses.replace(domains[0], num_tokens=1000)  # 4,000 tokens within its cap
    simplex = Simplex(domains, budget=20_000, parameterization="exponential")
    mix = simplex.mixture({"a": 1e-9, "b": 0.9, "c": 0.9, "d": 0.9})  # asks a for almost everything
    assert mix["a"] == pytest.approx(0.2)


@pytest.mark.parametrize("kind", ["exponential", "logratio"])
def test_baselines_round_trip_through_the_parameters(kind: str) -> None:
    simplex = Simplex(_domains(), budget=10**6, parameterization=kind)
    for mixture in (
        {"a": 0.25, "b": 0.25, "c": 0.25, "d": 0.25},
        {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4},
    ):
        params = simplex.params_for(mixture)
        back = simplex.mixture({k.split("_", 1)[1]: v for k, v in params.items()})
        assert back == pytest.approx(mixture, abs=1e-9)


def test_a_mixture_without_the_reference_domain_keeps_the_others_ratios() -> None:
    # an earlier study's mixture taken into a study with one more domain (--warm-start): the
    # new domain, at share 0, may be the log-ratios' reference
    simplex = Simplex(_domains(), budget=10**6, parameterization="logratio")
    params = simplex.params_for({"a": 0.5, "b": 0.3, "c": 0.2, "d": 0.0})
    back = simplex.mixture({k.split("_", 1)[1]: v for k, v in params.items()})
    assert back == pytest.approx({"a": 0.5, "b": 0.3, "c": 0.2, "d": 0.0}, abs=0.002)


def test_training_knobs(tmp_path: Path) -> None:
    import optuna

    space = load_space("mixture_and_lr")
    study = _study(tmp_path, optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    knobs = space.suggest_train(trial)
    assert 3e-4 <= knobs["learning_rate"] <= 1e-2 and knobs["lora_rank"] in (4, 8, 16)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"mixtures": {}}, "unknown key 'mixtures'. Did you mean: mixture?"),
        ({"mixture": {"parametrization": "auto"}}, "Did you mean: parameterization?"),
        ({"mixture": {"parameterization": "polar"}}, "parameterization must be one of"),
        ({"train": {"learning_rte": {"low": 1e-4, "high": 1e-3}}}, "Did you mean: learning_rate?"),
        ({"train": {"learning_rate": {"low": 1e-3, "high": 1e-4}}}, "needs choices, or low < high"),
        ({"mixture": {"bounds": {"a": {"min": 0.1}}}}, "unknown key 'min'"),
        ([1, 2], "expected a mapping"),
    ],
)
def test_bad_spaces(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_space(raw)


def test_space_bounds_must_name_known_domains_and_stay_feasible() -> None:
    with pytest.raises(ConfigError, match=re.escape("unknown domain 'aa'. Did you mean: a?")):
        parse_space({"mixture": {"bounds": {"aa": {"max_share": 0.5}}}}).apply(_domains())
    with pytest.raises(ConfigError, match="above max_share"):
        parse_space({"mixture": {"bounds": {"a": {"min_share": 0.6, "max_share": 0.5}}}}).apply(
            _domains()
        )
    capped = parse_space({"mixture": {"max_epochs": {"b": 2}}}).apply(_domains())
    assert [d.spec.max_epochs for d in capped] == [4.0, 2.0, 4.0, 4.0]


def test_unknown_space_name() -> None:
    with pytest.raises(
        ConfigError, match=re.escape("Unknown search space 'defualt'. Did you mean: default?")
    ):
        load_space("defualt")
