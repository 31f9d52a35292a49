"""The surrogate sampler: its mixing-law fit, feasible and reproducible proposals, that it finds
a known optimum sooner than random search, keeps away from running trials, backs off after
misses (a policy read from storage), and runs in a real study."""

from __future__ import annotations

import math
import pickle
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from mixopt.data.spec import DomainSpec
from mixopt.data.tokenize import TokenizedDomain
from mixopt.search.proposals.mixing_law import fit_mixing_law
from mixopt.search.proposals.samplers import make_sampler, parameterization_for, random_startup
from mixopt.search.proposals.space import Simplex
from mixopt.search.proposals.surrogate import (
    PROPOSED,
    SurrogateSampler,
    batch_shares,
    fallback_turns_owed,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)
KINDS = ("exponential", "logratio")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Matrices of a few dozen rows: a second BLAS thread only spins on a busy machine."""
    import scipy.linalg  # noqa: F401  (loaded first, so that the limit reaches its BLAS)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _simplex(kind: str, k: int = 5, bounds: dict[str, dict[str, float]] | None = None) -> Simplex:
    domains = tuple(
        TokenizedDomain(
            DomainSpec(f"d{i}", data=({"t": 1},), **(bounds or {}).get(f"d{i}", {})),
            "text",
            "-",
            1,
            10**9,
        )
        for i in range(k)
    )
    return Simplex(domains, 10**6, kind)


def _study(
    kind: str,
    objective: Callable[[np.ndarray], float],
    trials: int,
    seed: int = 0,
    startup: int = 6,
    simplex: Simplex | None = None,
    name: str = "surrogate",
    until: Callable[[np.ndarray], bool] | None = None,
) -> tuple[optuna.Study, Simplex, list[np.ndarray]]:
    """``trials`` proposals scored by ``objective`` (of the shares, in domain order), one at a
    time; stopped early at a mixture that meets ``until``."""
    simplex = simplex or _simplex(kind)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(name, seed, startup))
    getattr(study.sampler, "attach", lambda s: None)(simplex)
    mixes = []
    for _ in range(trials):
        trial = study.ask()
        mix = simplex.suggest(trial)
        r = np.array([mix[d.name] for d in simplex.domains])
        mixes.append(r)
        study.tell(trial, objective(r))
        if until is not None and until(r):
            break
    return study, simplex, mixes


def _ours(study: optuna.Study) -> list[int]:
    return [t.number for t in study.get_trials(deepcopy=False) if PROPOSED in t.system_attrs]


# a 5-domain mixing-law problem with an optimum inside the simplex: three targets, each
# helped by other domains, averaged (the shape of the search-efficiency benchmark's problems)
_T = np.array([[-2.5, 0.4, 0.3, 0.6, 0.2], [0.5, -2.0, 0.2, 0.1, 0.6], [0.3, 0.5, 0.4, -2.2, 0.3]])


def _law_value(r: np.ndarray) -> float:
    return -float(np.mean(2.0 + 0.8 * np.exp(_T @ r)))


def _optimum() -> float:
    from scipy.optimize import minimize

    best = -math.inf
    for x0 in np.random.default_rng(0).dirichlet(np.ones(5), 20):
        res = minimize(
            lambda r: -_law_value(r),
            x0,
            method="SLSQP",
            bounds=[(0, 1)] * 5,
            constraints=[{"type": "eq", "fun": lambda r: r.sum() - 1}],
        )
        best = max(best, _law_value(np.clip(res.x, 0, 1) / np.clip(res.x, 0, 1).sum()))
    return best


def test_the_law_fit_recovers_known_parameters_from_noise_free_scores() -> None:
    rng = np.random.default_rng(3)
    shares = rng.dirichlet(np.ones(4), 30)
    t = np.array([-2.0, 1.0, 0.5])  # the last share is the reference, its exponent 0
    for a, b in ((2.0, 0.7), (-1.0, -0.4)):  # a loss (b > 0) and a score that rises (b < 0)
        law = fit_mixing_law(shares, a + b * np.exp(shares[:, :-1] @ t), seed=1)
        assert law.a == pytest.approx(a, abs=1e-4) and law.b == pytest.approx(b, rel=1e-3)
        assert np.allclose(law.t, t, atol=1e-3) and law.rmse < 1e-6
    with pytest.raises(ValueError, match="at least 6 scored mixtures"):
        fit_mixing_law(shares[:5], np.zeros(5))


def test_a_bootstrap_draw_that_holds_every_trial_is_fitted_too() -> None:
    """With few trials some of the bag's draws hold all of them (none out of the bag); the
    fit must not fail on those (it did, and stopped a study at its surrogate proposal)."""
    from mixopt.search.proposals.surrogate_model import fit_surrogate

    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.ones(3), size=4)
    y = -np.exp(x @ np.array([-1.0, 0.5, 0.2]))
    for seed in range(20):  # 4 trials: a draw holds all 4 with chance 4!/4**4, ~0.09
        model = fit_surrogate(x, y, seed=seed)
        assert np.all(np.isfinite(model.predict(x)))


@pytest.mark.parametrize("kind", KINDS)
def test_batch_shares_are_the_simplex_mixtures(kind: str) -> None:
    simplex = _simplex(kind, 5, {"d1": {"max_share": 0.15}, "d3": {"fixed_share": 0.2}})
    rng = np.random.default_rng(0)
    width = len(simplex.params)
    raw = (
        rng.uniform(1e-6, 1.0, (40, width))
        if kind == "exponential"
        else rng.uniform(-6, 6, (40, width))
    )
    one = [
        [simplex.mixture(dict(zip(simplex.params, r, strict=True)))[n] for n in simplex.free]
        for r in raw
    ]
    assert np.allclose(batch_shares(simplex, raw), one, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_proposals_are_feasible_with_caps_and_fixed_shares(kind: str) -> None:
    bounds = {"d0": {"max_share": 0.12}, "d2": {"fixed_share": 0.25}, "d4": {"min_share": 0.05}}
    simplex = _simplex(kind, 5, bounds)
    # the unconstrained optimum is mostly d0: the cap binds
    study, _, mixes = _study(
        kind, lambda r: -float(np.sum((r - [0.6, 0.1, 0.1, 0.1, 0.1]) ** 2)), 22, simplex=simplex
    )
    assert len(_ours(study)) >= 5  # the surrogate proposed, from its first turn on
    for r in mixes:
        assert r.sum() == pytest.approx(1) and r[0] <= 0.12 + 1e-9 and r[2] == pytest.approx(0.25)
        assert r[4] >= 0.05 - 1e-9
    assert max(r[0] for r in mixes[-5:]) == pytest.approx(0.12, abs=1e-6)  # it found the cap


def test_the_same_seed_and_history_give_the_same_proposals() -> None:
    runs = [_study("logratio", _law_value, 16, seed=3)[0] for _ in range(2)]
    assert [t.params for t in runs[0].trials] == [t.params for t in runs[1].trials]
    assert _ours(runs[0]) and _ours(runs[0]) == _ours(runs[1])
    other = _study("logratio", _law_value, 16, seed=4)[0]
    assert [t.params for t in other.trials] != [t.params for t in runs[0].trials]
    sampler = pickle.loads(pickle.dumps(runs[0].sampler))  # it pickles, simplex attached
    assert isinstance(sampler, SurrogateSampler) and sampler.seed == 3


GAP = 0.05


def test_it_reaches_a_known_optimum_in_fewer_trials_than_random_search() -> None:
    """Trials until a proposal's true value is within 2% of the uniform mixture's gap to the
    optimum; noise sd 0.01 (the scores span about 0.5). Surrogate: at most 30 trials (startup
    6); random search: up to 300. Measured: 13, 13 and 19 trials; random search, none within
    300 (within 10%: 34 on one seed)."""
    best = _optimum()
    gap = GAP * (best - _law_value(np.full(5, 0.2)))

    def noisy(seed: int) -> Callable[[np.ndarray], float]:
        rng = np.random.default_rng(seed)
        return lambda r: _law_value(r) + float(rng.normal(0, 0.01))

    def close(r: np.ndarray) -> bool:
        return best - _law_value(r) <= gap

    def reached(mixes: list[np.ndarray], cap: int) -> int:
        return next((i + 1 for i, r in enumerate(mixes) if close(r)), cap + 1)

    ours = [reached(_study("logratio", noisy(s), 30, seed=s, until=close)[2], 30) for s in range(3)]
    # random search: independent uniform parameters (a flat Dirichlet), as the random sampler proposes
    flat = _simplex("exponential")
    random = []
    for s in range(3):
        draws = np.random.default_rng(s).uniform(1e-12, 1.0, (300, len(flat.params)))
        random.append(reached(list(batch_shares(flat, draws)), 300))
    assert statistics.median(ours) < statistics.median(random), (ours, random)
    assert max(ours) <= 30, ours


def test_no_proposal_lands_next_to_a_running_or_completed_trial() -> None:
    """Two trials at once, each asked while the other runs; the objective's peak draws every
    proposal to one point, so only the distance rule keeps them apart."""
    simplex = _simplex("logratio", 4)
    study = optuna.create_study(direction="maximize", sampler=make_sampler("surrogate", 0, 6))
    study.sampler.attach(simplex)  # type: ignore[attr-defined]
    peak = np.array([0.4, 0.3, 0.2, 0.1])
    running: list[tuple[Any, np.ndarray]] = []
    told: list[np.ndarray] = []
    checked = 0
    for i in range(26):
        trial = study.ask()
        mix = simplex.suggest(trial)
        r = np.array([mix[d.name] for d in simplex.domains])
        if PROPOSED in study._storage.get_trial(trial._trial_id).system_attrs:
            others = [x for _, x in running] + told
            assert min(np.abs(r - x).sum() for x in others) >= 0.05 - 1e-9, i
            checked += 1
        running.append((trial, r))
        if len(running) == 2:
            done, x = running.pop(0)
            study.tell(done, -float(np.abs(x - peak).sum()))
            told.append(x)
    assert checked >= 8


def test_the_policy_backs_off_after_misses_and_resumes_from_storage(tmp_path: Path) -> None:
    """Every surrogate proposal is told the worst score (a miss): the fallback then gets 1, 2,
    4 turns; a study reopened from its storage with a new sampler goes on where it was."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    simplex = _simplex("logratio", 3)

    def step(study: optuna.Study) -> bool:
        trial = study.ask()
        mix = simplex.suggest(trial)
        ours = PROPOSED in study._storage.get_trial(trial._trial_id).system_attrs
        study.tell(trial, -10.0 if ours else -abs(mix["d0"] - 0.5))
        return ours

    def opened() -> optuna.Study:
        sampler = SurrogateSampler(seed=0, startup=5)
        sampler.attach(simplex)
        return optuna.create_study(
            storage=url, study_name="s", direction="maximize", sampler=sampler, load_if_exists=True
        )

    study = opened()
    who = [step(study) for _ in range(9)]  # 5 start-up trials, then S F S F F
    assert who == [False] * 5 + [True, False, True, False]
    study = opened()  # a resume: the sampler remembers nothing, the storage does
    who += [step(study) for _ in range(8)]
    assert who[9:] == [False, True, False, False, False, False, True, False]
    trials = study.get_trials(deepcopy=False)
    assert fallback_turns_owed(trials, len(trials)) == 7  # 8 after the 4th miss, one taken
    # a proposal that pays (beats the best known when it was proposed) resets the count
    trials = study.get_trials()  # copies, changed below
    paying = [t for t in trials if PROPOSED in t.system_attrs][-1]
    paying.system_attrs[PROPOSED] = {"best": -11.0, "predicted": 0.0}
    assert fallback_turns_owed(trials, len(trials)) == 0


def test_it_is_a_single_objective_sampler_on_log_ratios_with_random_startup() -> None:
    assert parameterization_for("surrogate") == "logratio"
    assert random_startup("surrogate", 8) == 8  # its fallback, GP, starts with random trials
    study = optuna.create_study(
        directions=["maximize", "maximize"], sampler=make_sampler("surrogate", 0, 2)
    )
    with pytest.raises(ValueError, match="takes one objective"):
        study.ask().suggest_float("w_a", 0.0, 1.0)


@pytest.mark.slow
def test_mixopt_search_runs_with_the_surrogate_sampler(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    """Two baselines and four searched trials, in process: the sixth trial is the surrogate's
    (five completed trials are enough for three domains), and the study finishes."""
    from mixopt.cli import main
    from tests.conftest import FAST_TRAIN

    out = tmp_path / "study"
    train = [f"--{k.replace('_', '-')}={v}" for k, v in FAST_TRAIN.items()]
    argv = [
        "search",
        "--domains",
        study_inputs["domains"],
        "--model",
        study_inputs["model"],
        "--eval",
        study_inputs["evaluator"],
        "--budget",
        "2k",
        "--trials",
        "4",
        "--startup-trials",
        "2",
        "--sampler",
        "surrogate",
        "--confirm",
        "0",
        "--early-stop",
        "off",
        "--executor",
        "inprocess",
        "--tracking-uri",
        "none",
        "--out",
        str(out),
        "--quiet",
        *train,
    ]
    assert main(argv) == 0
    storage = f"sqlite:///{out / 'study.db'}"
    (name,) = optuna.get_all_study_names(storage)
    trials = optuna.load_study(study_name=name, storage=storage).get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE"] * 6
    assert [t.number for t in trials if PROPOSED in t.system_attrs] == [5]
    assert sum(trials[5].user_attrs["mixture"].values()) == pytest.approx(1)


@pytest.mark.slow
def test_a_study_with_two_objectives_refuses_it_in_one_line(
    two_objective_run: dict[str, Any],
    study_inputs: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mixopt.cli import main

    argv = [
        "search",
        "--domains",
        study_inputs["domains"],
        "--model",
        study_inputs["model"],
        "--budget",
        "4k",
        "--eval",
        two_objective_run["evaluator"],
        "--executor",
        "inprocess",
        "--quiet",
        "--sampler",
        "surrogate",
        "--out",
        str(tmp_path / "a"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and "sampler 'surrogate' takes one objective, and the study has 2" in err[0]
    ), err
    assert not (tmp_path / "a").exists()
