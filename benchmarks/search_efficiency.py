"""Search efficiency: how close each method gets to the best mixture in a given number of trials.

    python benchmarks/search_efficiency.py           # 4/8/16 domains + a hard shape, 16/32/64 trials, 10 seeds
    python benchmarks/search_efficiency.py --quick   # 4/8 domains + the hard shape, 16/32 trials, 2 seeds

Problems have a known optimum. Their objective is the published functional form of how loss
depends on mixture proportions, the data mixing law L_t(r) = c_t + k_t * exp(sum_j t_tj r_j)
(Ye et al., 2024), for several out-of-domain targets t, averaged, negated (higher is better)
and observed with Gaussian noise; bounds and caps are per-domain maximum shares. The hard
shape adds a narrow optimum near a face of the simplex (one domain's share close to 0). The
true optimum is found numerically (SLSQP from many starts) on the noise-free objective.

Methods, each with the same number of (noisy) trials:
- random: flat-Dirichlet proposals, keep the best observed (what most users do by hand);
- regmix: RegMix's recipe: random proposals, a gradient-boosted regressor fitted to them
  (scikit-learn's histogram GBM, LightGBM's algorithm), then the predicted best of 100k
  simulated mixtures;
- law: the data mixing law fitted to the random proposals, then optimized over the simplex;
- mixopt samplers (tpe, gp, cmaes, qmc) through mixopt's own simplex parameterization and
  feasibility projection; the best observed trial is the recommendation.

Printed: simple regret of the recommendation, normalized by the uniform mixture's gap to the
optimum (0 = optimal, 1 = no better than uniform), median and interquartile range over seeds,
and the trials each method needs to come within 5% and 1%. The full run also compares GP and
TPE with 2 trials running at once against 1 (each proposal asked while another still runs,
as in a study on two workers): the regret, and how often a proposal lands next to the running
one (a sampler that ignores running trials would propose near-duplicates).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

SAMPLERS = ("tpe", "gp", "cmaes", "qmc")


@dataclass(frozen=True)
class Problem:
    """A seeded mixture problem: noisy objective, bounds, and its true optimum."""

    name: str
    k: int
    upper: np.ndarray
    t: np.ndarray  # (targets, k) exponents of the mixing law
    c: np.ndarray
    kk: np.ndarray
    bump: tuple[np.ndarray, float, float] | None  # (centre, width, height) of a narrow optimum
    noise: float

    def value(self, r: np.ndarray) -> float:
        """Noise-free objective: negative mean target loss (plus the bump)."""
        loss = float(np.mean(self.c + self.kk * np.exp(self.t @ r)))
        out = -loss
        if self.bump is not None:
            centre, width, height = self.bump
            out += height * math.exp(-float(np.sum((r - centre) ** 2)) / (2 * width**2))
        return out

    def observe(self, r: np.ndarray, rng: np.random.Generator) -> float:
        return self.value(r) + float(rng.normal(0, self.noise))


def make_problem(k: int, seed: int, hard: bool = False) -> Problem:
    rng = np.random.default_rng([k, seed, int(hard)])
    targets = 3
    # each out-of-domain target is helped by a few domains (negative exponent) and barely by the rest
    t = rng.normal(0.3, 0.4, size=(targets, k))
    for row in t:
        row[rng.choice(k, size=max(1, k // 4), replace=False)] = rng.uniform(
            -3.0, -1.5, size=max(1, k // 4)
        )
    c = rng.uniform(1.5, 2.5, targets)
    kk = rng.uniform(0.5, 1.0, targets)
    upper = np.ones(k)
    upper[rng.choice(k, size=max(1, k // 4), replace=False)] = rng.uniform(
        0.15, 0.4, size=max(1, k // 4)
    )  # caps
    bump = None
    if hard:
        centre = rng.dirichlet(np.ones(k))
        centre[rng.integers(k)] = 0.0  # on a face: one domain absent
        centre = np.minimum(centre / centre.sum(), upper)
        centre /= centre.sum()
        bump = (centre, 0.06, 0.15)
    value_range = 0.05  # noise sd: roughly the seed-to-seed spread of real held-out losses
    return Problem(
        f"{k} domains{' (narrow optimum near a face)' if hard else ''}",
        k,
        upper,
        t,
        c,
        kk,
        bump,
        value_range * 0.2,
    )


def project(weights: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """clip(t * w, 0, upper) summing to 1: the feasibility projection mixopt uses (by bisection)."""
    lo, hi = 0.0, float(np.max(upper / np.maximum(weights, 1e-300)))
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.minimum(mid * weights, upper).sum() < 1 else (lo, mid)
    r = np.minimum(hi * weights, upper)
    return r / r.sum()


def optimum(problem: Problem) -> tuple[np.ndarray, float]:
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    best_r, best_v = None, -math.inf
    cons = [{"type": "eq", "fun": lambda r: r.sum() - 1}]
    bounds = [(0.0, float(u)) for u in problem.upper]
    starts = [project(rng.dirichlet(np.ones(problem.k)), problem.upper) for _ in range(40)]
    if problem.bump is not None:
        starts.append(problem.bump[0])
    for x0 in starts:
        res = minimize(
            lambda r: -problem.value(r),
            x0,
            method="SLSQP",
            bounds=bounds,
            constraints=cons,
            options={"maxiter": 300},
        )
        r = project(np.clip(res.x, 0, None) + 1e-12, problem.upper)
        v = problem.value(r)
        if v > best_v:
            best_r, best_v = r, v
    assert best_r is not None
    return best_r, best_v


@functools.cache
def solved(k: int, seed: int, hard: bool = False) -> tuple[Problem, float]:
    """The seeded problem and its optimum's value, solved once per run (every method and the
    concurrency table score against the same optimum)."""
    problem = make_problem(k, seed, hard)
    return problem, optimum(problem)[1]


def run_random(
    problem: Problem, n: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[float]]:
    xs = [project(rng.dirichlet(np.ones(problem.k)), problem.upper) for _ in range(n)]
    return xs, [problem.observe(x, rng) for x in xs]


def run_sampler(
    name: str, problem: Problem, n: int, rng: np.random.Generator, seed: int, concurrency: int = 1
) -> tuple[list[np.ndarray], list[float]]:
    """``n`` trials with ``concurrency`` of them running at once: each proposal is asked while
    the others are still running (as in a study on several workers), the oldest told first."""
    import optuna

    from mixopt.data.spec import DomainSpec
    from mixopt.data.tokenize import TokenizedDomain
    from mixopt.search.samplers import make_sampler, parameterization_for
    from mixopt.search.space import Simplex

    names = [f"d{i}" for i in range(problem.k)]
    domains = [TokenizedDomain(DomainSpec(nm, data=({"t": 1},), max_share=float(u)), "text", "-", 1, 10**9)
               for nm, u in zip(names, problem.upper, strict=True)]  # fmt: skip
    simplex = Simplex(domains, 10**6, parameterization_for(name))
    study = optuna.create_study(
        direction="maximize", sampler=make_sampler(name, seed, startup=min(8, n // 2))
    )
    getattr(study.sampler, "attach", lambda simplex: None)(simplex)  # the surrogate maps mixtures through it
    xs, ys = [], []
    running: list[tuple[Any, np.ndarray]] = []
    for i in range(n + concurrency - 1):
        if i < n:
            trial = study.ask()
            mix = simplex.suggest(trial)
            running.append((trial, np.array([mix[nm] for nm in names])))
        if len(running) == concurrency or i >= n:
            trial, x = running.pop(0)
            y = problem.observe(x, rng)
            study.tell(trial, y)
            xs.append(x)
            ys.append(y)
    return xs, ys


def concurrency_table(seeds: int, n: int) -> None:
    """Regret of the model-based samplers with 1 vs 2 trials running at once (8 domains), and
    how often a proposal lands next to one still running (L1 distance under 0.05)."""
    print(f"concurrent trials: 8 domains, {n} trials, {seeds} seeds; median regret [IQR]")
    for name in ("gp", "tpe"):
        row: dict[int, tuple[list[float], list[float]]] = {}
        for conc in (1, 2):
            gaps, near = [], []
            for seed in range(seeds):
                problem, best_v = solved(8, seed)
                uniform_v = problem.value(project(np.ones(8), problem.upper))
                xs, ys = run_sampler(name, problem, n, np.random.default_rng([seed, 7]), seed, conc)
                gaps.append(regret(problem, xs[int(np.argmax(ys))], best_v, uniform_v))
                # proposal i+1 was asked while proposal i still ran (at concurrency 2)
                near += [float(np.abs(a - b).sum() < 0.05) for a, b in itertools.pairwise(xs)]
            row[conc] = (gaps, near)
        q1, q2 = (np.percentile(row[c][0], [25, 50, 75]) for c in (1, 2))
        print(
            f"  {name:<4} 1 at a time {q1[1]:.3f} [{q1[0]:.2f},{q1[2]:.2f}]  2 at a time "
            f"{q2[1]:.3f} [{q2[0]:.2f},{q2[2]:.2f}] = {q2[1] / max(q1[1], 1e-12):.2f} x; "
            f"proposals next to a running one: {np.mean(row[2][1]):.0%} (1 at a time: "
            f"{np.mean(row[1][1]):.0%} next to the last)"
        )
    print()


def recommend_regmix(
    problem: Problem, xs: list[np.ndarray], ys: list[float], rng: np.random.Generator
) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(
        max_iter=200, learning_rate=0.05, min_samples_leaf=3, random_state=0
    )
    model.fit(np.array(xs), np.array(ys))
    pool = rng.dirichlet(np.ones(problem.k), size=100_000)
    pool = pool[np.all(pool <= problem.upper, axis=1)] if np.any(problem.upper < 1) else pool
    if len(pool) == 0:
        return xs[int(np.argmax(ys))]
    return pool[int(np.argmax(model.predict(pool)))]


def recommend_law(problem: Problem, xs: list[np.ndarray], ys: list[float]) -> np.ndarray:
    """Fit y = -(c + k exp(t . r)) to the observations, then maximize it on the simplex."""
    from scipy.optimize import least_squares, minimize

    X, y = np.array(xs), np.array(ys)

    def resid(p: np.ndarray) -> np.ndarray:
        return -(p[0] + math.exp(p[1]) * np.exp(X @ p[2:])) - y

    fit = least_squares(
        resid, np.concatenate([[float(-y.mean()) - 0.5, 0.0], np.zeros(problem.k)]), max_nfev=2000
    )
    p = fit.x

    def pred(r: np.ndarray) -> float:
        return -(p[0] + math.exp(p[1]) * math.exp(float(r @ p[2:])))

    best, best_v = xs[int(np.argmax(ys))], -math.inf
    cons = [{"type": "eq", "fun": lambda r: r.sum() - 1}]
    for x0 in [project(np.ones(problem.k), problem.upper), *xs[:5]]:
        res = minimize(
            lambda r: -pred(r),
            x0,
            method="SLSQP",
            bounds=[(0, float(u)) for u in problem.upper],
            constraints=cons,
        )
        r = project(np.clip(res.x, 0, None) + 1e-12, problem.upper)
        if pred(r) > best_v:
            best, best_v = r, pred(r)
    return best


def regret(problem: Problem, r: np.ndarray, best_v: float, uniform_v: float) -> float:
    return max(0.0, (best_v - problem.value(r)) / (best_v - uniform_v))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer sizes, budgets and seeds (a smoke run)"
    )
    parser.add_argument("--seeds", type=int, default=None)
    args = parser.parse_args(argv)
    sizes = (
        [(4, False), (8, False), (4, True)]
        if args.quick
        else [(4, False), (8, False), (16, False), (8, True)]
    )
    budgets = [16, 32] if args.quick else [16, 32, 64]
    # quick is CI's smoke: every problem and method runs; a third seed only reran the same code
    seeds = args.seeds or (2 if args.quick else 10)
    methods: list[str] = ["random", "regmix", "law", *SAMPLERS]

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    print(
        f"{seeds} seeds per cell; regret = (optimum - found) / (optimum - uniform), median [IQR]\n"
    )
    header = (
        f"{'problem':<40} {'method':<7} "
        + " ".join(f"{f'{b} trials':>17}" for b in budgets)
        + f" {'to 5%':>6} {'to 1%':>6}"
    )
    print(header)
    print("-" * len(header))
    to_5pct: dict[tuple[str, str], float] = {}  # (problem, method) -> median trials to within 5%
    final: dict[
        tuple[str, str], float
    ] = {}  # (problem, method) -> median regret at the most trials
    for k, hard in sizes:
        for method in methods:
            cells: dict[int, list[float]] = {b: [] for b in budgets}
            reach5, reach1 = [], []
            for seed in range(seeds):
                problem, best_v = solved(k, seed, hard)
                uniform_v = problem.value(project(np.ones(k), problem.upper))
                rng = np.random.default_rng([seed, 7])
                n = max(budgets)
                if method in SAMPLERS:
                    xs, ys = run_sampler(method, problem, n, rng, seed)
                else:
                    xs, ys = run_random(problem, n, rng)
                incumbent = [xs[int(np.argmax(ys[: i + 1]))] for i in range(n)]
                trajectory = [regret(problem, x, best_v, uniform_v) for x in incumbent]
                for b in budgets:
                    if method == "regmix":
                        rec = recommend_regmix(problem, xs[:b], ys[:b], rng)
                    elif method == "law":
                        rec = recommend_law(problem, xs[:b], ys[:b])
                    else:
                        rec = incumbent[b - 1]
                    cells[b].append(regret(problem, rec, best_v, uniform_v))
                if method in ("regmix", "law"):  # a recommendation per budget only
                    reach5.append(next((b for b in budgets if cells[b][-1] <= 0.05), math.inf))
                    reach1.append(next((b for b in budgets if cells[b][-1] <= 0.01), math.inf))
                else:
                    reach5.append(
                        next((i + 1 for i, g in enumerate(trajectory) if g <= 0.05), math.inf)
                    )
                    reach1.append(
                        next((i + 1 for i, g in enumerate(trajectory) if g <= 0.01), math.inf)
                    )
            row = f"{problem.name:<40} {method:<7} "
            for b in budgets:
                q = np.percentile(cells[b], [25, 50, 75])
                row += f"{q[1]:>6.3f} [{q[0]:.2f},{q[2]:.2f}]"
            row += f" {_fmt(statistics.median(reach5)):>6} {_fmt(statistics.median(reach1)):>6}"
            to_5pct[(problem.name, method)] = statistics.median(reach5)
            final[(problem.name, method)] = statistics.median(cells[max(budgets)])
            print(row, flush=True)
        print()
    from mixopt.study.spec import DEFAULT_SAMPLER

    print(
        f"trials to come within 5% (median over seeds): mixopt's default ({DEFAULT_SAMPLER}) against random search"
    )
    for k, hard in sizes:
        name = make_problem(k, 0, hard).name
        ours, rnd = to_5pct[(name, DEFAULT_SAMPLER)], to_5pct[(name, "random")]
        if math.isfinite(ours) and math.isfinite(rnd):
            verdict = f"{ours / rnd:.2f} x the trials"
        elif math.isfinite(ours):
            verdict = f"random does not get there in {max(budgets)} trials"
        else:
            verdict = (
                "the default does not get there either"
                if not math.isfinite(rnd)
                else "random gets there first"
            )
        ratio = final[(name, DEFAULT_SAMPLER)] / max(final[(name, "random")], 1e-12)
        print(
            f"  {name:<40} {DEFAULT_SAMPLER} {_fmt(ours):>5}, random {_fmt(rnd):>5}: {verdict}; "
            f"regret at {max(budgets)} trials {ratio:.2f} x random's"
        )
    print()
    if not args.quick:  # GP's asks with running trials (qLogEI) cost minutes over 10 seeds
        concurrency_table(seeds, max(budgets) // 2)
    print(f"figure: regret table above; ran in {time.perf_counter() - started:.0f} s")
    return 0


def _fmt(x: float) -> str:
    return ">max" if not math.isfinite(x) else f"{x:.0f}"


if __name__ == "__main__":
    sys.exit(main())
