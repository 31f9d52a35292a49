"""Search efficiency on synthetic problems: how close each method gets to a known optimum.

    python benchmarks/search_efficiency.py           # 6 problems, 16/32 trials, 10 seeds
    python benchmarks/search_efficiency.py --quick   # 3 problems, 8/16 trials, 2 seeds, fewer methods

The problems have a known optimum, and their shapes are chosen so that no method is favoured
by construction:
- ``law``: the published functional form of how loss depends on mixture proportions, the data
  mixing law L_t(r) = c_t + k_t * exp(sum_j t_tj r_j) (Ye et al., 2024), averaged over 3
  out-of-domain targets and negated (higher is better): smooth, its optimum on a face or
  inside; per-domain caps on a quarter of the domains;
- ``law + narrow optimum``: the same plus a narrow bump on a face (one domain absent);
- ``kinked``: minus the largest of 4 planes (a piecewise-linear loss, not differentiable
  where the planes meet), whose optimum lies inside the simplex where they cross;
- ``bowl``: minus a quadratic with its minimum at an interior point drawn from a Dirichlet,
  its curvature unequal across directions.
Noise: Gaussian with sd 0.01 on ``law`` problems (about the seed-to-seed spread of a real
held-out loss), and heteroscedastic on ``kinked`` and ``bowl``: 0.005 + 0.03 x the largest
share (a mixture dominated by one domain varies more between seeds), so a method that trusts
single noisy scores near the corners pays for it. The true optimum is found numerically
(SLSQP from many starts, and the best of 200k random mixtures) on the noise-free objective.

Every method of `_methods.py` runs on every problem under its protocol (the same trials,
baselines first, the same noise draws, every Optuna sampler in both parameterizations).
Printed: simple regret of the recommendation, normalized by the uniform mixture's gap to the
optimum (0 = optimal, 1 = no better than uniform), median and interquartile range over seeds,
and the trials each method needs to come within 5% and 1%.
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

from _methods import (
    Method,
    all_methods,
    project,
    quartiles,
    run,
    trials_to_reach,
    uniform,
)

NOISE = 0.01  # sd of a trial's noise on the law problems: the seed-to-seed spread of a real held-out loss


@dataclass(frozen=True)
class Problem:
    """A seeded mixture problem: noise-free objective, noise, bounds."""

    name: str
    k: int
    upper: np.ndarray
    t: np.ndarray  # (targets, k) exponents of the mixing law
    c: np.ndarray
    kk: np.ndarray
    bump: tuple[np.ndarray, float, float] | None  # (centre, width, height) of a narrow optimum
    noise: float

    @property
    def natural(self) -> np.ndarray:
        return np.linspace(2.0, 1.0, self.k)  # domains of unequal sizes

    def value(self, r: np.ndarray) -> float:
        """Noise-free objective: negative mean target loss (plus the bump)."""
        loss = float(np.mean(self.c + self.kk * np.exp(self.t @ r)))
        out = -loss
        if self.bump is not None:
            centre, width, height = self.bump
            out += height * math.exp(-float(np.sum((r - centre) ** 2)) / (2 * width**2))
        return out

    def noise_sd(self, r: np.ndarray) -> float:
        return self.noise

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
    return Problem(
        f"law, {k} domains{' + narrow optimum' if hard else ''}", k, upper, t, c, kk, bump, NOISE
    )


@dataclass(frozen=True)
class Shaped:
    """``kinked`` or ``bowl``: a non-smooth or an interior-optimum problem, heteroscedastic noise."""

    name: str
    k: int
    planes: np.ndarray  # kinked: (4, k) slopes; bowl: (k, k) curvature
    centre: np.ndarray  # bowl: the optimum; kinked: unused

    @property
    def upper(self) -> np.ndarray:
        return np.ones(self.k)

    @property
    def natural(self) -> np.ndarray:
        return np.linspace(2.0, 1.0, self.k)

    def value(self, r: np.ndarray) -> float:
        if self.name.startswith("kinked"):
            return -2.0 - float(np.max(self.planes @ r))
        d = r - self.centre
        return -2.0 - float(d @ self.planes @ d)

    def noise_sd(self, r: np.ndarray) -> float:
        return 0.005 + 0.03 * float(np.max(r))


def make_shaped(kind: str, k: int, seed: int) -> Shaped:
    rng = np.random.default_rng([k, seed, 17 if kind == "kinked" else 19])
    if kind == "kinked":
        # each plane slopes up toward some domains: their maximum is lowest where they cross
        planes = rng.normal(0.0, 0.4, size=(4, k))
        return Shaped(f"kinked, {k} domains", k, planes, np.zeros(k))
    basis = rng.normal(size=(k, k))
    curvature = basis @ np.diag(rng.uniform(0.2, 3.0, k)) @ basis.T / k
    return Shaped(f"bowl, {k} domains", k, curvature, rng.dirichlet(np.full(k, 3.0)))


def optimum(problem: Problem | Shaped) -> tuple[np.ndarray, float]:
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    best_r, best_v = None, -math.inf
    cons = [{"type": "eq", "fun": lambda r: r.sum() - 1}]
    bounds = [(0.0, float(u)) for u in problem.upper]
    starts = [project(rng.dirichlet(np.ones(problem.k)), problem.upper) for _ in range(40)]
    if isinstance(problem, Problem) and problem.bump is not None:
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
    pool = rng.dirichlet(np.ones(problem.k), size=200_000)  # SLSQP can stop at a kink
    pool = pool[np.all(pool <= problem.upper, axis=1)]
    values = [problem.value(r) for r in pool[:: max(1, len(pool) // 20_000)]]
    if values and max(values) > best_v:
        best_r, best_v = pool[:: max(1, len(pool) // 20_000)][int(np.argmax(values))], max(values)
    assert best_r is not None
    return best_r, best_v


PROBLEMS = {  # name -> (kind, k, hard)
    "law4": ("law", 4, False),
    "law8": ("law", 8, False),
    "law16": ("law", 16, False),
    "law8-narrow": ("law", 8, True),
    "kinked6": ("kinked", 6, False),
    "bowl6": ("bowl", 6, False),
}


@functools.cache
def solved(key: str, seed: int) -> tuple[Problem | Shaped, float]:
    """The seeded problem and its optimum's value, solved once per run."""
    kind, k, hard = PROBLEMS[key]
    problem = make_problem(k, seed, hard) if kind == "law" else make_shaped(kind, k, seed)
    return problem, optimum(problem)[1]


def make_problem_by_key(key: str, seed: int) -> Problem | Shaped:
    return solved(key, seed)[0]


def regret(problem: Problem | Shaped, r: np.ndarray, best_v: float, uniform_v: float) -> float:
    return max(0.0, (best_v - problem.value(r)) / (best_v - uniform_v))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer problems, trials, seeds and methods (a smoke run)",
    )
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--problems", help=f"comma-separated subset of {', '.join(PROBLEMS)}")
    parser.add_argument("--methods", help="comma-separated subset of the methods")
    args = parser.parse_args(argv)
    keys = (
        args.problems.split(",")
        if args.problems
        else (
            ["law4", "kinked6", "bowl6"]
            if args.quick
            else ["law4", "law8", "law8-narrow", "kinked6", "bowl6", "law16"]
        )
    )
    budgets = [8, 16] if args.quick else [16, 32]
    seeds = args.seeds or (2 if args.quick else 10)
    from mixopt.search.proposals.samplers import SAMPLERS

    methods = [m for m in all_methods() if m.sampler is None or m.sampler in SAMPLERS.names()]
    if (
        args.quick
    ):  # CI's smoke: each kind of method once, the cheap samplers in both parameterizations
        methods = [m for m in methods if m.sampler in (None, "tpe", "qmc")] + [
            Method("gp/logratio")
        ]
    if args.methods:
        methods = [m for m in methods if m.name in args.methods.split(",")]

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    print(
        f"{seeds} seeds per cell; regret = (optimum - found) / (optimum - uniform), median [IQR]\n"
    )
    header = (
        f"{'problem':<26} {'method':<22} "
        + " ".join(f"{f'{b} trials':>17}" for b in budgets)
        + f" {'to 5%':>6} {'to 1%':>6}"
    )
    print(header)
    print("-" * len(header))
    final: dict[tuple[str, str], float] = {}
    to_5pct: dict[tuple[str, str], float] = {}
    for key in keys:
        for method in methods:
            cells: dict[int, list[float]] = {b: [] for b in budgets}
            reach5, reach1 = [], []
            for seed in range(seeds):
                problem, best_v = solved(key, seed)
                uniform_v = problem.value(uniform(problem))
                z = np.random.default_rng([seed, 7]).standard_normal(max(budgets) + 8)
                search = run(method, problem, max(budgets), seed, z, budgets)
                for b in budgets:
                    cells[b].append(regret(problem, search.recommended[b], best_v, uniform_v))
                gap = best_v - uniform_v
                reach5.append(
                    trials_to_reach(problem, search, method, best_v - 0.05 * gap, budgets)
                )
                reach1.append(
                    trials_to_reach(problem, search, method, best_v - 0.01 * gap, budgets)
                )
            row = f"{problem.name:<26} {method.name:<22} "
            for b in budgets:
                q = quartiles(cells[b])
                row += f"{q[1]:>6.3f} [{q[0]:.2f},{q[2]:.2f}]"
            row += f" {_fmt(statistics.median(reach5)):>6} {_fmt(statistics.median(reach1)):>6}"
            final[(key, method.name)] = statistics.median(cells[max(budgets)])
            to_5pct[(key, method.name)] = statistics.median(reach5)
            print(row, flush=True)
        print()
    from mixopt.search.proposals.samplers import parameterization_for
    from mixopt.study.spec import DEFAULT_SAMPLER

    default = f"{DEFAULT_SAMPLER}/{parameterization_for(DEFAULT_SAMPLER)}"
    print(
        f"mixopt's default ({default}) against random search: median regret at {max(budgets)} trials, trials to within 5%"
    )
    for key in keys:
        if (key, default) not in final:
            continue
        ours, rnd = final[(key, default)], final[(key, "random")]
        best = min((v, m) for (k2, m), v in final.items() if k2 == key)
        print(
            f"  {make_problem_by_key(key, 0).name:<26} regret {ours:.3f} = {ours / max(rnd, 1e-12):.2f} x random's; "
            f"to 5%: {_fmt(to_5pct[(key, default)])} vs {_fmt(to_5pct[(key, 'random')])}; lowest regret: {best[1]} ({best[0]:.3f})"
        )
    print(f"\nfigure: regret table above; ran in {time.perf_counter() - started:.0f} s")
    return 0


def _fmt(x: float) -> str:
    return ">max" if not math.isfinite(x) else f"{x:.0f}"


if __name__ == "__main__":
    sys.exit(main())
