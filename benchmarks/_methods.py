"""The search methods the benchmarks compare, on any mixture problem, under one protocol.

Not a script: `search_efficiency.py` (synthetic problems) and `search_quality.py` (a surrogate
of real trials) import it, so every method is run the same way on every problem:

- the same trials: every search starts with the uniform and the natural mixture (as every
  mixopt study does), then proposes until it has ``n``;
- the same noise: the i-th trial of every method, in search s, draws the same standard
  normal z[s, i], scaled by the problem's noise sd at the proposed mixture;
- the same parameterizations: every Optuna sampler runs in both of mixopt's simplex
  parameterizations (``exponential``: a flat Dirichlet for independent samplers;
  ``logratio``), through mixopt's own :class:`~mixopt.search.proposals.space.Simplex`;
- the same recommendation rule for every method that proposes one trial at a time: the best
  observed score; the methods that fit a model recommend the model's pick (their own recipe).

Methods besides the samplers (each named as in the tables):
- ``random``: flat-Dirichlet proposals, keep the best observed (what most users do by hand);
- ``regmix``: RegMix (Liu et al. 2024) as its paper does it: random runs, a LightGBM
  regressor fitted to them, then the average of the top 100 of 20k simulated mixtures by
  predicted score;
- ``law``: the data mixing law of Ye et al. (2024) fitted to the random runs, with their
  implicit domain aggregation, loss = c + sum_m exp(b_m + t_m . r) over M latent validation
  components (M = 1 can only put its optimum at a vertex; M = 2 once there are enough runs,
  chosen by 4-fold cross-validation), then minimized over the simplex;
- ``climb``: CLIMB's iterative search (Diao et al. 2025): rounds of runs (half the trials,
  then a quarter, then a quarter), after each a LightGBM predictor fitted to all runs so far
  ranks 20k simulated mixtures and the next round samples from its top 1%; the answer is the
  predictor's best of the runs and its top candidates.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

SAMPLERS = ("tpe", "gp", "cmaes", "qmc", "surrogate")
PARAMETERIZATIONS = ("logratio", "exponential")
MODEL_METHODS = ("regmix", "law", "climb")  # recommend a model's pick, not a run's score
CANDIDATES = (
    20_000  # simulated mixtures a regressor ranks (RegMix ranks 1M at 7 to 40 domains; 20k cover 5)
)


class Problem(Protocol):
    """A mixture problem: k domains, per-domain maximum shares, a noise-free value (higher
    is better) and the sd of a trial's noise at a mixture."""

    name: str
    k: int
    upper: np.ndarray
    natural: np.ndarray

    def value(self, r: np.ndarray) -> float: ...

    def noise_sd(self, r: np.ndarray) -> float: ...


@dataclass(frozen=True)
class Method:
    """One row of a table: ``sampler/parameterization``, or a method of its own."""

    name: str

    @property
    def sampler(self) -> str | None:
        return self.name.split("/")[0] if "/" in self.name else None

    @property
    def parameterization(self) -> str | None:
        return self.name.split("/")[1] if "/" in self.name else None


def all_methods(samplers: Sequence[str] = SAMPLERS) -> list[Method]:
    rows = [Method(f"{s}/{p}") for s in samplers for p in PARAMETERIZATIONS]
    return [Method("random"), *rows, *(Method(m) for m in MODEL_METHODS)]


@dataclass
class Search:
    """One search: its trials in the order proposed, and its recommendation after b trials."""

    xs: list[np.ndarray]
    ys: list[float]
    recommended: dict[int, np.ndarray] = field(default_factory=dict)
    ask_seconds: list[float] = field(default_factory=list)


def project(weights: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """clip(t * w, 0, upper) summing to 1: the feasibility projection mixopt uses (by bisection)."""
    weights = np.maximum(weights, 0.0)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    lo, hi = 0.0, float(np.max(upper / np.maximum(weights, 1e-300)))
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.minimum(mid * weights, upper).sum() < 1 else (lo, mid)
    r = np.minimum(hi * weights, upper)
    return r / r.sum()


def uniform(problem: Problem) -> np.ndarray:
    return project(np.ones(problem.k), problem.upper)


def baselines(problem: Problem) -> list[np.ndarray]:
    return [uniform(problem), project(problem.natural, problem.upper)]


def dirichlet(rng: np.random.Generator, problem: Problem, size: int | None = None) -> Any:
    if size is None:
        return project(rng.dirichlet(np.ones(problem.k)), problem.upper)
    pool = rng.dirichlet(np.ones(problem.k), size=size)
    if np.any(problem.upper < 1):
        pool = pool[np.all(pool <= problem.upper, axis=1)]
    return pool


def observe(problem: Problem, x: np.ndarray, z: float) -> float:
    return problem.value(x) + z * problem.noise_sd(x)


def run(
    method: Method,
    problem: Problem,
    n: int,
    seed: int,
    z: np.ndarray,
    budgets: Sequence[int],
    concurrency: int = 1,
) -> Search:
    """One search of ``n`` trials (``z``: its noise draws, one per trial)."""
    if method.sampler is not None:
        assert method.parameterization is not None
        search = run_sampler(
            method.sampler, method.parameterization, problem, n, seed, z, concurrency
        )
        search.recommended = {b: search.xs[int(np.argmax(search.ys[:b]))] for b in budgets}
        return search
    rng = np.random.default_rng([seed, 11])
    if method.name == "climb":
        return run_climb(problem, n, rng, z, budgets)
    xs = baselines(problem)[:n] + [dirichlet(rng, problem) for _ in range(n - 2)]
    ys = [observe(problem, x, z[i]) for i, x in enumerate(xs)]
    search = Search(xs, ys)
    for b in budgets:
        if method.name == "random":
            search.recommended[b] = xs[int(np.argmax(ys[:b]))]
        elif method.name == "regmix":
            search.recommended[b] = recommend_regmix(problem, xs[:b], ys[:b], rng)
        elif method.name == "law":
            search.recommended[b] = recommend_law(problem, xs[:b], ys[:b], rng)
        else:
            raise ValueError(f"unknown method {method.name!r}")
    return search


def run_sampler(
    name: str,
    parameterization: str,
    problem: Problem,
    n: int,
    seed: int,
    z: np.ndarray,
    concurrency: int = 1,
    startup: int = 8,
) -> Search:
    """``n`` trials through mixopt's sampler ``name`` and simplex parameterization, the
    baselines enqueued first as a study does; with ``concurrency`` trials running at once,
    each proposal is asked while the others still run (the oldest is told first)."""
    import optuna

    from mixopt.data.spec import DomainSpec
    from mixopt.data.tokenize import TokenizedDomain
    from mixopt.search.proposals.samplers import attach_simplex, make_sampler
    from mixopt.search.proposals.space import Simplex

    names = [f"d{i}" for i in range(problem.k)]
    domains = [
        TokenizedDomain(DomainSpec(nm, data=({"t": 1},), max_share=float(u)), "text", "-", 1, 10**9)
        for nm, u in zip(names, problem.upper, strict=True)
    ]
    simplex = Simplex(domains, 10**6, parameterization)
    sampler = make_sampler(name, seed, startup)
    attach_simplex(
        sampler, simplex
    )  # as a study does: a sampler that proposes mixtures needs the map
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(direction="maximize", sampler=sampler)
    for b in baselines(problem)[:n]:
        study.enqueue_trial(simplex.params_for(dict(zip(names, b, strict=True))))
    search = Search([], [])
    running: list[tuple[Any, np.ndarray, int]] = []
    for i in range(n + concurrency - 1):
        if i < n:
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trial = study.ask()
                mix = simplex.suggest(trial)
            search.ask_seconds.append(time.perf_counter() - started)
            running.append((trial, np.array([mix[nm] for nm in names]), i))
        if len(running) == concurrency or i >= n:
            trial, x, number = running.pop(0)
            y = observe(problem, x, z[number])
            study.tell(trial, y)
            search.xs.append(x)
            search.ys.append(y)
    return search


def _lightgbm(xs: Sequence[np.ndarray], ys: Sequence[float], seed: int) -> Any:
    import lightgbm

    # tiny data sets: LightGBM's defaults (20 rows a leaf) would fit a constant
    model = lightgbm.LGBMRegressor(
        n_estimators=100,
        learning_rate=0.1,
        num_leaves=8,
        min_child_samples=2,
        min_data_in_bin=1,
        subsample=0.8,
        subsample_freq=1,
        random_state=seed,
        n_jobs=1,
        verbose=-1,
    )
    model.fit(np.array(xs), np.array(ys))
    return model


def recommend_regmix(
    problem: Problem, xs: Sequence[np.ndarray], ys: Sequence[float], rng: np.random.Generator
) -> np.ndarray:
    """RegMix: LightGBM on the runs, the mean of the top 100 predicted of the candidates."""
    model = _lightgbm(xs, ys, int(rng.integers(2**31)))
    pool = dirichlet(rng, problem, CANDIDATES)
    if len(pool) < 100:
        return xs[int(np.argmax(ys))]
    top = pool[np.argsort(model.predict(pool))[-100:]]
    return project(top.mean(axis=0), problem.upper)


def run_climb(
    problem: Problem, n: int, rng: np.random.Generator, z: np.ndarray, budgets: Sequence[int]
) -> Search:
    """CLIMB's rounds, planned anew for each budget (its schedule depends on the total)."""
    search = Search([], [])
    for b in budgets:
        sizes = [b - 2 * (b // 4), b // 4, b // 4]
        xs = baselines(problem)[:b] + [dirichlet(rng, problem) for _ in range(sizes[0] - 2)]
        ys = [observe(problem, x, z[i]) for i, x in enumerate(xs)]
        model = None
        for size in sizes[1:]:
            model = _lightgbm(xs, ys, int(rng.integers(2**31)))
            pool = dirichlet(rng, problem, CANDIDATES)
            top = pool[np.argsort(model.predict(pool))[-max(size, len(pool) // 100) :]]
            for x in top[rng.choice(len(top), size=size, replace=False)]:
                xs.append(project(x, problem.upper))
                ys.append(observe(problem, xs[-1], z[len(xs) - 1]))
        model = _lightgbm(xs, ys, int(rng.integers(2**31)))
        pool = np.concatenate([np.array(xs), dirichlet(rng, problem, CANDIDATES // 10)])
        search.recommended[b] = project(pool[int(np.argmax(model.predict(pool)))], problem.upper)
        if b == max(budgets):
            search.xs, search.ys = xs, ys
    return search


def _law(p: np.ndarray, X: np.ndarray, m: int) -> np.ndarray:
    """Loss predicted by the mixing law with ``m`` latent components: c + sum exp(b + t . r)."""
    k = X.shape[1]
    out = np.full(len(X), p[0])
    for j in range(m):
        b, t = p[1 + j * (k + 1)], p[2 + j * (k + 1) : 1 + (j + 1) * (k + 1)]
        out = out + np.exp(np.clip(b + X @ t, -50, 50))
    return out


def _fit_law(X: np.ndarray, loss: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    from scipy.optimize import least_squares

    k, best, best_cost = X.shape[1], None, math.inf
    for _ in range(4):  # several starts: the fit is not convex
        start = np.concatenate(
            [
                [loss.min() - 0.1 * abs(loss.min()) - 0.01],
                *[[math.log(max(loss.std(), 1e-3) / m)], rng.normal(0, 1, k)] * m,
            ]
        )
        fit = least_squares(lambda p: _law(p, X, m) - loss, start, max_nfev=200)
        if fit.cost < best_cost:
            best, best_cost = fit.x, fit.cost
    assert best is not None
    return best


def recommend_law(
    problem: Problem, xs: Sequence[np.ndarray], ys: Sequence[float], rng: np.random.Generator
) -> np.ndarray:
    """Fit the mixing law to the runs (score = -loss) and minimize its loss on the simplex."""
    from scipy.optimize import minimize

    X, loss = np.array(xs), -np.array(ys)
    m = 1
    if len(xs) >= 2 * (
        2 * (problem.k + 1) + 1
    ):  # enough runs for two components: 4-fold CV chooses
        folds, errors = np.arange(len(X)) % 4, {}
        for cand in (1, 2):
            errs = [
                np.mean(
                    (
                        _law(
                            _fit_law(X[folds != f], loss[folds != f], cand, rng),
                            X[folds == f],
                            cand,
                        )
                        - loss[folds == f]
                    )
                    ** 2
                )
                for f in range(4)
            ]
            errors[cand] = float(np.mean(errs))
        m = min(errors, key=errors.__getitem__)
    p = _fit_law(X, loss, m, rng)
    best, best_v = xs[int(np.argmax(ys))], math.inf
    cons = [{"type": "eq", "fun": lambda r: r.sum() - 1}]
    for x0 in [
        uniform(problem),
        *[np.eye(problem.k)[i] * 0.7 + 0.3 / problem.k for i in range(problem.k)],
    ]:
        res = minimize(
            lambda r: float(_law(p, r[None, :], m)[0]),
            project(x0, problem.upper),
            method="SLSQP",
            bounds=[(0, float(u)) for u in problem.upper],
            constraints=cons,
        )
        r = project(np.clip(res.x, 0, None) + 1e-12, problem.upper)
        v = float(_law(p, r[None, :], m)[0])
        if v < best_v:
            best, best_v = r, v
    return best


def trials_to_reach(
    problem: Problem, search: Search, method: Method, target: float, budgets: Sequence[int]
) -> float:
    """Trials until the recommendation's true value reaches ``target`` (inf: never)."""
    if method.name in MODEL_METHODS:
        return next(
            (b for b in budgets if problem.value(search.recommended[b]) >= target), math.inf
        )
    best, incumbent = -math.inf, search.xs[0]
    for i, (x, y) in enumerate(zip(search.xs, search.ys, strict=True)):
        if y > best:
            best, incumbent = y, x
        if problem.value(incumbent) >= target:
            return i + 1
    return math.inf


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    q = np.percentile(np.array(values, dtype=float), [25, 50, 75])
    return float(q[0]), float(q[1]), float(q[2])
