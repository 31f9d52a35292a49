"""The real thing at small scale: the demo's mixture problem solved by brute force on a
coarse grid, and each search method's found mixture scored against the grid's best.

    python benchmarks/demo_problem.py           # 6 domains, grid step 1/4 (126 mixtures), 16 trials a method
    python benchmarks/demo_problem.py --quick   # 3 domains, grid step 1/2 (6 mixtures), 4 trials a method, 4k tokens

The problem is `examples/demo.py`'s: a tiny pre-trained Llama, six training domains (SQL over
three databases; finance, sports and cooking text), and an out-of-domain target that none of
them covers, the loss of the gold SQL over a fourth database (the score is its negative).
Each evaluation is one real trial (`mixopt.trial.run_trial`: sample the mixture to the
budget, LoRA fine-tune, score), two at a time on this machine's two cores.

1. Grid: every mixture whose shares are multiples of 1/step (within the caps) is scored at
   seed 0; the 5 best are scored again on fresh seeds (1, 2, 3), and the grid's best is the
   one with the best mean there (a single seed's best is flattered by its own noise).
2. Each method gets the same trials at seed 0, as in a study (all trials share the seed, so
   only the mixture differs; the uniform and natural mixtures first): random Dirichlet,
   RegMix's LightGBM regression, a fitted mixing law (the recipes of `_methods.py`), and
   mixopt's samplers, each in the simplex parameterization mixopt gives it. Its
   recommendation (best observed; the model's pick for regmix and law) is then scored on the
   fresh seeds too. (The README's figures of 2026-11-29 predate the baselines-first protocol.)
3. Regret = (grid best - found) / (grid best - uniform), on the fresh seeds' mean: 0 matches
   the grid's best, 1 is no better than uniform, below 0 beats the grid.

Every (mixture, seed) score is cached in `--out` (one JSON line each), so the grid is computed
once and a re-run, or an interrupted one, trains only what is missing.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "examples")]

from _methods import Method, run  # noqa: E402
from _trials import STATE, append_row, read_rows, simplex_grid, worker_init  # noqa: E402
from demo import build  # noqa: E402  (examples/demo.py builds the problem's inputs)

TOP = 5  # grid mixtures re-scored on the fresh seeds
# the demo's score without its execution-accuracy report (weight 0 there; generation is slow)
TASK = "tasks:\n  - name: sql_loss\n    kind: loss\n    data: {data}\n"


@dataclass(frozen=True)
class Setup:
    """What a worker needs to run a trial (picklable; the workers rebuild the rest)."""

    model: str
    domains: str
    task: str
    names: tuple[str, ...]
    budget: int
    train: dict[str, Any]
    cache: str
    fresh: tuple[int, ...]
    """Seeds the recommendations are scored on (none of them is the search's seed 0)."""

    def key(self, mix: np.ndarray, seed: int) -> str:
        return json.dumps([[round(float(x), 6) for x in mix], seed])


def evaluate(mix: np.ndarray, seed: int) -> float:
    """Score one mixture with one real trial (cached in the setup's JSON-lines file)."""
    from mixopt.plans import OnePass
    from mixopt.training.config import TrainConfig
    from mixopt.trial import TrialSpec, run_trial

    setup: Setup = STATE["setup"]
    key = setup.key(mix, seed)
    cached = read_rows(setup.cache).get(key)
    if cached is not None:
        return float(cached["score"])
    mixture = dict(zip(setup.names, (float(x) for x in mix), strict=True))
    spec = TrialSpec(
        setup.model,
        STATE["domains"],
        mixture,
        setup.budget,
        STATE["suite"],
        TrainConfig(**setup.train, threads=1),
        seed,
        plan=OnePass(),
    )
    score = run_trial(spec).score
    assert score is not None
    append_row(setup.cache, {"key": key, "score": score})
    return score


class Objective:
    """The problem as the methods of `_methods.py` see it: k shares, caps, and a real trial at
    seed 0 as the value (its noise is the trial's own: none is added)."""

    name = "demo"

    def __init__(self, upper: np.ndarray, natural: np.ndarray) -> None:
        self.k, self.upper, self.natural = len(upper), upper, natural

    def value(self, r: np.ndarray) -> float:
        return evaluate(r, 0)

    def noise_sd(self, r: np.ndarray) -> float:
        return 0.0


def _score_many(mixes: list[np.ndarray], seeds: tuple[int, ...]) -> list[float]:
    return [statistics.fmean(evaluate(m, s) for s in seeds) for m in mixes]


def run_method(
    method: str, n: int, seed: int, upper: np.ndarray, natural: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """One method's search at seed 0: (recommended mixture, its observed score, its fresh score)."""
    objective = Objective(upper, natural)
    search = run(Method(method), objective, n, seed, np.zeros(n + 8), [n])
    rec = search.recommended[n]
    return rec, max(search.ys), _score_many([rec], STATE["setup"].fresh)[0]


def grid(k: int, step: int, upper: np.ndarray) -> list[np.ndarray]:
    """Every mixture with shares in multiples of 1/step, within the caps."""
    return [m for m in map(np.array, simplex_grid(k, step)) if np.all(m <= upper + 1e-9)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 domains, a 1/2 grid, 4 trials")
    parser.add_argument("--trials", type=int, help="trials per method (default 16; quick 4)")
    parser.add_argument("--seeds", type=int, default=1, help="searches per method (default 1)")
    parser.add_argument(
        "--fresh", type=int, help="fresh seeds to score the winners on (default 3; quick 1)"
    )
    parser.add_argument(
        "--out", default="benchmarks-out/demo_problem", help="inputs and cached scores"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    out = Path(args.out).resolve() / ("quick" if args.quick else "full")
    model, domains, task = build(out, "30000" if args.quick else "400000")
    (task.parent / "score.yaml").write_text(TASK.format(data="sql_hospital.jsonl"))
    entries = json.loads(domains.read_text())
    names = tuple(e["domain"] for e in entries)
    if args.quick:
        names = ("sql_shop", "sql_school", "finance")
    budget, step = (4_000, 2) if args.quick else (32_000, 4)
    train = {"seq_len": 128, "learning_rate": 3e-3}  # the demo's recipe
    n = args.trials or (4 if args.quick else 16)
    fresh_seeds = tuple(range(1, 1 + (args.fresh or (1 if args.quick else 3))))
    setup = Setup(
        str(model),
        str(domains),
        str(task.parent / "score.yaml"),
        names,
        budget,
        train,
        str(out / f"scores-{budget}-{len(names)}.jsonl"),
        fresh_seeds,
    )
    worker_init(setup)
    from mixopt.data.allocation import max_shares, natural_mixture, uniform_mixture

    doms = STATE["domains"]
    upper = np.array([max_shares(doms, budget)[nm] for nm in names])
    uniform = np.array([uniform_mixture(doms, budget)[nm] for nm in names])
    natural = np.array([natural_mixture(doms, budget)[nm] for nm in names])
    points = grid(len(names), step, upper)
    from mixopt.search.proposals.samplers import parameterization_for

    methods = [
        "random",
        "regmix",
        "law",
        *(f"{s}/{parameterization_for(s)}" for s in ("tpe", "gp", "cmaes", "qmc")),
    ]
    with ProcessPoolExecutor(2, initializer=worker_init, initargs=(setup,)) as pool:
        first = list(pool.map(evaluate, points, [0] * len(points)))
        top = [points[i] for i in np.argsort(first)[::-1][:TOP]]
        fresh = list(
            pool.map(
                _score_many, [[m] for m in [*top, uniform, natural]], [fresh_seeds] * (len(top) + 2)
            )
        )
        fresh = [f[0] for f in fresh]
        jobs = [(m, s) for m in methods for s in range(args.seeds)]
        found = list(
            pool.map(
                run_method,
                [m for m, _ in jobs],
                [n] * len(jobs),
                [s for _, s in jobs],
                [upper] * len(jobs),
                [natural] * len(jobs),
            )
        )
    best_i = int(np.argmax(fresh[:TOP]))
    best_mix, best_v = top[best_i], fresh[best_i]
    uniform_v, natural_v = fresh[TOP], fresh[TOP + 1]
    span = best_v - uniform_v

    def fmt_mix(m: np.ndarray) -> str:
        return " ".join(f"{x:.2f}" for x in m)

    print(
        f"domains: {' '.join(names)}; budget {budget:,} tokens; score = -(gold SQL loss), "
        f"fresh seeds {fresh_seeds}\n"
    )
    print(f"grid: {len(points)} mixtures (step 1/{step}); seed-0 best {max(first):.4f}")
    print(f"  grid best (of the top {TOP}, on fresh seeds): [{fmt_mix(best_mix)}] {best_v:.4f}")
    print(
        f"  uniform [{fmt_mix(uniform)}] {uniform_v:.4f}; natural [{fmt_mix(natural)}] {natural_v:.4f}\n"
    )
    header = f"{'method':<16} {'trials':>6} {'found mixture':<{6 * len(names)}} {'seed 0':>8} {'fresh':>8} {'regret':>7}"
    print(header)
    print("-" * len(header))
    regrets: dict[str, list[float]] = {m: [] for m in methods}
    for (method, _), (rec, seen, score) in zip(jobs, found, strict=True):
        r = (best_v - score) / span if span > 0 else math.nan
        regrets[method].append(r)
        print(
            f"{method:<16} {n:>6} {fmt_mix(rec):<{6 * len(names)}} {seen:>8.4f} {score:>8.4f} {r:>7.2f}"
        )
    from mixopt.study.spec import DEFAULT_SAMPLER

    # 1 - regret: the share of the grid best's lift over uniform that a method's pick gets
    default = f"{DEFAULT_SAMPLER}/{parameterization_for(DEFAULT_SAMPLER)}"
    ours, rnd = (1 - statistics.median(regrets[m]) for m in (default, "random"))
    print(
        f"\nfigure: share of the grid best's lift over uniform reached by mixopt's default "
        f"({DEFAULT_SAMPLER}) {ours:.2f} x, by random search {rnd:.2f} x, in {n} trials; the grid "
        f"took {len(points)} trials = {len(points) / n:.1f} x a method's; ran in "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
