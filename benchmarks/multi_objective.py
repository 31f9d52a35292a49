"""Multi-objective search: how much of the true Pareto front each sampler covers in N trials.

    python benchmarks/multi_objective.py           # 4 and 8 domains, 16/32 trials, 10 searches
    python benchmarks/multi_objective.py --quick   # 4 domains, 8 trials, 2 searches (a smoke run)

Problems: two out-of-domain targets over the probability simplex, each scored by the data
mixing law of ``search_efficiency.py`` (Ye et al., 2024: loss = c + k * exp(t . r), negated
so that higher is better) with its own exponents, so the two targets are helped by different
domains and their optima differ; every observation has Gaussian noise. A search is a study
with ``directions=["maximize", "maximize"]``; every sampler gets the same problems, trials,
noise, start-up trials and mixopt's own simplex parameterization for it (as a study uses).

Figure: the hypervolume of the noise-free scores of the mixtures a search tried (what its
Pareto front really holds), over the hypervolume of the true front (10,000 mixtures of
a dense Dirichlet sample and every vertex and edge midpoint), both from the reference point
that is each objective's worst over that sample. 1 = the whole front covered. Median and
interquartile range over searches, and each sampler's median as a ratio of random search's.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

SAMPLERS = ("random", "qmc", "tpe", "nsga2", "gp")  # Optuna 5.0's samplers that take 2+ objectives


@dataclass(frozen=True)
class Problem:
    """Two noisy objectives over the simplex of ``k`` domains."""

    k: int
    t: np.ndarray  # (2, k) exponents of each objective's mixing law
    c: np.ndarray
    kk: np.ndarray
    noise: float

    @property
    def name(self) -> str:
        return f"{self.k} domains, 2 objectives"

    def values(self, r: np.ndarray) -> np.ndarray:
        """Noise-free objectives (rows of ``r`` are mixtures)."""
        return -(self.c + self.kk * np.exp(np.atleast_2d(r) @ self.t.T))

    def observe(self, r: np.ndarray, rng: np.random.Generator) -> list[float]:
        return [float(v) for v in self.values(r)[0] + rng.normal(0, self.noise, 2)]


def make_problem(k: int, seed: int) -> Problem:
    rng = np.random.default_rng([k, seed, 2])
    t = rng.normal(0.3, 0.4, size=(2, k))
    helpers = rng.permutation(k)
    half = max(1, k // 4)
    # each objective is helped by its own few domains: their optima lie apart on the simplex
    t[0, helpers[:half]] = rng.uniform(-3.0, -1.5, half)
    t[1, helpers[half : 2 * half]] = rng.uniform(-3.0, -1.5, half)
    # noise sd 0.01: the seed-to-seed spread of a real held-out loss (as in search_efficiency.py)
    return Problem(k, t, rng.uniform(1.5, 2.5, 2), rng.uniform(0.5, 1.0, 2), 0.01)


def hypervolume(points: np.ndarray, ref: np.ndarray) -> float:
    """Area dominated by ``points`` (2 objectives, maximized) above ``ref``."""
    pts = points[np.all(points > ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = pts[np.argsort(-pts[:, 0])]
    area, best_y = 0.0, ref[1]
    for x, y in pts:  # sweep from the largest first objective down
        if y > best_y:
            area += (x - ref[0]) * (y - best_y)
            best_y = y
    return area


@functools.cache
def solved(k: int, seed: int) -> tuple[Problem, np.ndarray, float]:
    """The problem, its reference point and its true front's hypervolume (once per run)."""
    problem = make_problem(k, seed)
    rng = np.random.default_rng(0)
    eye = np.eye(k)
    edges = np.array([(eye[i] + eye[j]) / 2 for i in range(k) for j in range(i + 1, k)])
    dense = np.vstack([rng.dirichlet(np.full(k, 0.3), 10_000), eye, edges])
    vals = problem.values(dense)
    ref = vals.min(axis=0)
    return problem, ref, hypervolume(vals, ref)


def run_sampler(
    name: str, problem: Problem, n: int, rng: np.random.Generator, seed: int
) -> np.ndarray:
    """``n`` noisy trials of the sampler ``name``; the mixtures it tried, one a row."""
    import optuna

    from mixopt.data.spec import DomainSpec
    from mixopt.data.tokenize import TokenizedDomain
    from mixopt.search.proposals.samplers import make_sampler, parameterization_for
    from mixopt.search.proposals.space import Simplex

    names = [f"d{i}" for i in range(problem.k)]
    domains = [
        TokenizedDomain(DomainSpec(nm, data=({"t": 1},)), "text", "-", 1, 10**9) for nm in names
    ]
    simplex = Simplex(domains, 10**6, parameterization_for(name))
    sampler = make_sampler(name, seed, startup=min(8, n // 2))
    study = optuna.create_study(directions=["maximize", "maximize"], sampler=sampler)
    tried = []
    for _ in range(n):
        trial = study.ask()
        mix = simplex.suggest(trial)
        x = np.array([mix[nm] for nm in names])
        study.tell(trial, problem.observe(x, rng))
        tried.append(x)
    return np.array(tried)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="one size, fewer trials and searches (a smoke run)"
    )
    parser.add_argument(
        "--seeds", type=int, default=None, help="searches per cell (default 10; --quick 2)"
    )
    args = parser.parse_args(argv)
    sizes = [4] if args.quick else [4, 8]
    # quick: CI's smoke (GP's multi-objective proposals cost seconds each: few of them)
    budgets = [8] if args.quick else [16, 32]
    seeds = args.seeds or (2 if args.quick else 10)

    import optuna

    from mixopt.study.spec import DEFAULT_SAMPLER

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    print(
        f"{seeds} searches per cell; hypervolume of the tried mixtures / the true front's, median [IQR]\n"
    )
    header = (
        f"{'problem':<26} {'sampler':<7} "
        + " ".join(f"{f'{b} trials':>17}" for b in budgets)
        + f" {'x random':>9} {'s/search':>9}"
    )
    print(header)
    print("-" * len(header))
    medians: dict[tuple[int, str], float] = {}
    for k in sizes:
        for name in SAMPLERS:
            cells: dict[int, list[float]] = {b: [] for b in budgets}
            clock = time.perf_counter()
            for seed in range(seeds):
                problem, ref, whole = solved(k, seed)
                tried = run_sampler(
                    name, problem, max(budgets), np.random.default_rng([seed, 7]), seed
                )
                for b in budgets:
                    cells[b].append(hypervolume(problem.values(tried[:b]), ref) / whole)
            medians[(k, name)] = float(np.median(cells[max(budgets)]))
            row = f"{problem.name:<26} {name:<7} "
            for b in budgets:
                q = np.percentile(cells[b], [25, 50, 75])
                row += f"{q[1]:>6.3f} [{q[0]:.2f},{q[2]:.2f}]"
            ratio = medians[(k, name)] / max(medians[(k, "random")], 1e-12)
            row += f" {ratio:>7.2f} x {(time.perf_counter() - clock) / seeds:>9.2f}"
            print(row, flush=True)
        print()
    for k in sizes:
        best = max(SAMPLERS, key=lambda s: medians[(k, s)])
        print(
            f"{k} domains at {max(budgets)} trials: highest median {best} ({medians[(k, best)]:.3f}); "
            f"mixopt's multi-objective default {DEFAULT_SAMPLER} {medians[(k, DEFAULT_SAMPLER)]:.3f} = "
            f"{medians[(k, DEFAULT_SAMPLER)] / max(medians[(k, 'random')], 1e-12):.2f} x random's"
        )
    print(f"figure: hypervolume table above; ran in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
