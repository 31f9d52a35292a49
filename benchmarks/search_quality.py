"""Search quality on real trials: every method, both parameterizations, 30 searches each, on a
surrogate fitted to a table of real LoRA trials (the way HPOBench and YAHPO Gym make HPO
comparisons cheap and honest).

    python benchmarks/search_quality.py                      # 30 searches a method, 8/16/32 trials
    python benchmarks/search_quality.py --quick              # CI's smoke: 1 target, 6 methods, 2 searches, 8/16 trials
    python benchmarks/search_quality.py --real REAL.json     # add the real-trial check (see below)

The table is `benchmarks/data/code_suite_grid.csv` (`benchmarks/code_suite.py grid` writes it):
real trials of the source-code suite, a dense grid over the training languages' shares, plus
random interior mixtures, several seeds at a subset of points. Per target:

1. The surrogate: a Gaussian-process regression of the score (minus the target's loss) on the
   shares (Matern 5/2 with a length scale per domain, plus white noise), fitted to every row.
   Its held-out error: fitted without the random interior mixtures, it predicts them; the
   RMSE is printed beside the seed noise sd (a surrogate can do no better than the noise).
2. The problem: the surrogate's mean is the true value; each trial adds Gaussian noise with
   the sd measured between seeds (pooled over the points run on several seeds).
3. The grid oracle: the best surrogate value over the table's mixtures; a method's figure is
   the share of the oracle's lift over uniform that its recommendation gets (1 = the oracle's,
   0 = no better than uniform), median [IQR] over searches; and the trials until its
   recommendation first reaches 90% of that lift.
4. Every method of `_methods.py` (its docstring says how each runs) gets the same trials (the
   baselines first), the same noise draws and both parameterizations; the samplers run again
   with 2 trials at once.
5. Choosing under noise: the default's searches picked three ways: the best single score; the
   top 3 by score each re-run on 2 fresh seeds, the best mean of its 3 runs (6 more runs); and
   a GP regression fitted to all the search's trials, picking the trial it predicts best.
   Then the race that mixopt runs (`_race.py` runs mixopt.study.race and .verdict on the
   problem): the top 3 trials at least 0.2 apart (L1) and both baselines on 2, 3 and 5
   shared fresh seeds, the clearly behind dropped; the answer's share of the oracle's lift,
   the runs the race made, and its verdict over uniform (beats, within noise, loses) beside
   what a plain 95% interval, uncorrected for the race's choice, would have said.
6. Calibration: a null problem (every mixture scores as uniform does, with the first
   target's seed noise), 1000 random searches of 32 trials, each followed by the race: how
   often the verdict says ``beats`` (the goal: at most 5%).
7. The cost of proposing: seconds per proposal (Optuna's ask and the sampler's suggestion) of
   the model-based samplers after 16, 64 and 256 trials with 2 running, against the mean real
   trial's seconds in the table.
8. The real-trial check: the recommendations of each method's median search (32 trials, 1 at
   a time) are written to ``--out``/recommendations.json (with uniform); train them for real
   on fresh seeds and pass the result to ``--real``; each method's real lift over uniform is
   printed beside the surrogate's:

       python benchmarks/code_suite.py check SUITE --mixtures OUT/recommendations.json --seeds 11,12 --out-json real.json
       python benchmarks/search_quality.py --real real.json
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import math
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _methods import (  # noqa: E402
    MODEL_METHODS,
    Method,
    Search,
    all_methods,
    observe,
    quartiles,
    run,
    trials_to_reach,
    uniform,
)
from _race import NullProblem, Outcome, calibration, race  # noqa: E402

from mixopt.study.race import MIN_DISTANCE  # noqa: E402
from mixopt.study.verdict import BEATS, LOSES, WITHIN  # noqa: E402

TABLE = HERE / "data" / "code_suite_grid.csv"
DEFAULT = "gp/logratio"  # mixopt's default sampler in its default parameterization


@dataclass(frozen=True)
class Table:
    """The real trials of one target: mixtures, seeds, scores (minus the loss)."""

    names: tuple[str, ...]
    target: str
    x: np.ndarray
    y: np.ndarray
    seed: np.ndarray
    kind: tuple[str, ...]
    seconds: float

    @functools.cached_property
    def noise(self) -> float:
        """Seed noise sd, pooled over the mixtures run on two or more seeds."""
        groups: dict[tuple[float, ...], list[float]] = {}
        for x, y in zip(self.x, self.y, strict=True):
            groups.setdefault(tuple(np.round(x, 6)), []).append(float(y))
        dev = [(v - statistics.fmean(g)) ** 2 for g in groups.values() if len(g) > 1 for v in g]
        dof = sum(len(g) - 1 for g in groups.values() if len(g) > 1)
        return math.sqrt(sum(dev) / dof) if dof else float("nan")


def load_tables(path: Path) -> list[Table]:
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"{path}: no rows")
    columns = list(rows[0])
    names = tuple(columns[columns.index("kind") + 1 : columns.index("seed")])
    targets = [c.removesuffix("_loss") for c in columns if c.endswith("_loss")]
    x = np.array([[float(r[n]) for n in names] for r in rows])
    seconds = statistics.fmean(float(r["seconds"]) for r in rows)
    return [
        Table(
            names,
            t,
            x,
            -np.array([float(r[f"{t}_loss"]) for r in rows]),
            np.array([int(r["seed"]) for r in rows]),
            tuple(r["kind"] for r in rows),
            seconds,
        )
        for t in targets
    ]


def fit_gp(x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    k = x.shape[1]
    kernel = ConstantKernel(1.0) * Matern(np.full(k, 0.5), (1e-2, 1e2), nu=2.5) + WhiteKernel(
        1e-2, (1e-6, 1.0)
    )
    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp.fit(x, y)
    return gp


class TableProblem:
    """The surrogate of one target's table as a mixture problem (see the module's docstring)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.name = table.target
        self.k = len(table.names)
        self.upper = np.ones(self.k)
        natural = [x for x, kind in zip(table.x, table.kind, strict=True) if kind == "natural"]
        self.natural = natural[0] if natural else np.ones(self.k) / self.k
        self.gp = fit_gp(table.x, table.y)
        self.sd = table.noise
        self.oracle = float(np.max(self.gp.predict(np.unique(table.x, axis=0))))
        self.uniform = self.value(uniform(self))

    @functools.lru_cache(maxsize=100_000)  # noqa: B019  (one problem per process, kept for its life)
    def _value(self, key: tuple[float, ...]) -> float:
        return float(self.gp.predict(np.array([key]))[0])

    def value(self, r: np.ndarray) -> float:
        return self._value(tuple(float(v) for v in np.round(r, 9)))

    def noise_sd(self, r: np.ndarray) -> float:
        return self.sd

    def share(self, r: np.ndarray) -> float:
        """Share of the oracle's lift over uniform that ``r`` gets."""
        return (self.value(r) - self.uniform) / (self.oracle - self.uniform)


def held_out_error(table: Table) -> tuple[float, float, int]:
    """(RMSE, Spearman) of the surrogate fitted without the random mixtures, on them (seed 0)."""
    from scipy.stats import spearmanr

    held = np.array([k == "random" for k in table.kind])
    test = held & (table.seed == 0)
    if not held.any() or held.all():
        return float("nan"), float("nan"), 0
    gp = fit_gp(table.x[~held], table.y[~held])
    pred = gp.predict(table.x[test])
    rmse = float(np.sqrt(np.mean((pred - table.y[test]) ** 2)))
    return rmse, float(spearmanr(pred, table.y[test]).statistic), int(test.sum())


_PROBLEMS: dict[tuple[str, str], TableProblem] = {}


def _problem(path: str, target: str) -> TableProblem:
    if (path, target) not in _PROBLEMS:
        table = next(t for t in load_tables(Path(path)) if t.target == target)
        _PROBLEMS[(path, target)] = TableProblem(table)
    return _PROBLEMS[(path, target)]


@dataclass(frozen=True)
class Job:
    path: str
    target: str
    method: str
    search: int
    n: int
    budgets: tuple[int, ...]
    concurrency: int


def _noise(search: int, n: int) -> np.ndarray:
    """The search's noise draws: the same for every method (the i-th trial draws z[i])."""
    return np.random.default_rng([search, 7]).standard_normal(n + 64)


def _run_job(job: Job) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore")
    problem, method = _problem(job.path, job.target), Method(job.method)
    search = run(
        method, problem, job.n, job.search, _noise(job.search, job.n), job.budgets, job.concurrency
    )
    return {
        "job": job,
        "shares": {b: problem.share(search.recommended[b]) for b in job.budgets},
        "to90": trials_to_reach(
            problem,
            search,
            method,
            problem.uniform + 0.9 * (problem.oracle - problem.uniform),
            job.budgets,
        ),
        "recommended": {b: search.recommended[b].tolist() for b in job.budgets},
        "picks": _picks(problem, search, job) if _raced(job) else None,
        # the default's trials, which the race (`_race.py`) chooses among at report time
        "trials": {"xs": [x.tolist() for x in search.xs], "ys": list(search.ys)}
        if _raced(job)
        else None,
    }


def _raced(job: Job) -> bool:
    """The default's searches, one trial at a time: those the choosing rules compare on."""
    return job.method == DEFAULT and job.concurrency == 1


def _picks(problem: TableProblem, search: Search, job: Job) -> dict[str, dict[int, float]]:
    """Share of the oracle's lift of three ways to choose among a search's trials."""
    fresh = np.random.default_rng([job.search, 13])  # the re-runs' noise: seeds no trial used
    out: dict[str, dict[int, float]] = {rule: {} for rule in PICKS}
    for b in job.budgets:
        xs, ys = search.xs[:b], search.ys[:b]
        order = np.argsort(ys)[::-1]
        out[PICKS[0]][b] = problem.share(xs[order[0]])
        top = order[:3]
        means = [
            (ys[i] + sum(observe(problem, xs[i], z) for z in fresh.standard_normal(2))) / 3
            for i in top
        ]
        out[PICKS[1]][b] = problem.share(xs[top[int(np.argmax(means))]])
        predicted = fit_gp(np.array(xs), np.array(ys)).predict(np.array(xs))
        out[PICKS[2]][b] = problem.share(xs[int(np.argmax(predicted))])
    return out


PICKS = ("best single score", "top 3 re-run on 2 seeds", "GP fitted to all trials")


def _fmt(q: tuple[float, float, float]) -> str:
    return f"{q[1]:6.3f} [{q[0]:5.2f},{q[2]:5.2f}]"


def _trials(values: list[float], most: int) -> str:
    m = statistics.median(values)
    return f">{most}" if not math.isfinite(m) else f"{m:.0f}"


def describe(table: Table, problem: TableProblem) -> str:
    """Where the target's optimum lies by the surrogate's mean: on the table's mixtures (the
    grid oracle), and over the whole simplex (the best of 100k flat and sparse Dirichlet
    draws and the table's own mixtures)."""
    rng = np.random.default_rng(0)
    points = np.unique(table.x, axis=0)
    pool = np.vstack(
        [
            points,
            rng.dirichlet(np.ones(problem.k), 50_000),
            rng.dirichlet(np.full(problem.k, 0.3), 50_000),
        ]
    )
    values = problem.gp.predict(pool)
    best = pool[int(np.argmax(values))]
    lift = problem.oracle - problem.uniform
    return (
        f"grid oracle {_where(points[int(np.argmax(problem.gp.predict(points)))], table.names)}, lift over uniform "
        f"{lift:.4f} = {lift / table.noise:.1f} x the seed noise sd; over the whole simplex {_where(best, table.names)}, "
        f"{float(values.max()) - problem.oracle:+.4f} against the grid oracle"
    )


def _where(r: np.ndarray, names: tuple[str, ...]) -> str:
    """``r`` and its place: a vertex, a face (some domains below 2%) or the interior."""
    held = int(np.sum(r >= 0.02))
    where = (
        "a vertex"
        if held == 1
        else "the interior"
        if held == len(r)
        else f"a face ({held} domains)"
    )
    return (
        f"at {where} ["
        + ", ".join(f"{n} {v:.2f}" for n, v in zip(names, r, strict=True) if v >= 0.02)
        + "]"
    )


def ask_costs(
    path: str, target: str, samplers: list[str], n: int
) -> list[tuple[str, dict[int, float]]]:
    """Median seconds per proposal around trial 16, 64 and 256, with 2 trials running."""
    from _methods import run_sampler

    problem = _problem(path, target)
    out = []
    for name in samplers:
        sampler, parameterization = name.split("/")
        search = run_sampler(sampler, parameterization, problem, n, 0, _noise(0, n), concurrency=2)
        at = {
            m: statistics.median(search.ask_seconds[max(0, m - 4) : m + 4])
            for m in (16, 64, 256)
            if m <= n
        }
        out.append((name, at))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 target, 6 methods, 2 searches, 8/16 trials (a smoke run)",
    )
    parser.add_argument(
        "--targets", help="comma-separated subset of the table's targets (default: all)"
    )
    parser.add_argument(
        "--concurrent-searches",
        type=int,
        help="searches a sampler runs with 2 trials at once (default: --searches)",
    )
    parser.add_argument("--table", default=str(TABLE), help="the real trials (CSV)")
    parser.add_argument("--searches", type=int, help="searches per method (default 30; quick 2)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--methods", help="comma-separated subset of the methods")
    parser.add_argument(
        "--out", default="benchmarks-out/search_quality", help="results and recommendations"
    )
    parser.add_argument(
        "--costs", type=int, help="trials of the proposal-cost run (default 256; quick 24; 0: none)"
    )
    parser.add_argument(
        "--race-seeds", help="seed budgets of the race, comma-separated (default 2,3,5; quick 2,3)"
    )
    parser.add_argument(
        "--calibration",
        type=int,
        help="null-problem searches of the calibration run (default 1000; quick 40; 0: none)",
    )
    parser.add_argument(
        "--real",
        help="the --out-json of `code_suite.py check` on --out's recommendations.json: adds the real-trial table",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    budgets = (8, 16) if args.quick else (8, 16, 32)
    searches = args.searches or (2 if args.quick else 30)
    race_seeds = tuple(
        int(v) for v in (args.race_seeds or ("2,3" if args.quick else "2,3,5")).split(",")
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = str(Path(args.table).resolve())
    tables = load_tables(Path(path))
    if args.targets or args.quick:
        wanted = args.targets.split(",") if args.targets else [tables[0].target]
        tables = [t for t in tables if t.target in wanted]
    from mixopt.search.proposals.samplers import SAMPLERS

    methods = [m for m in all_methods() if m.sampler is None or m.sampler in SAMPLERS.names()]
    if args.quick:
        methods = [
            m
            for m in methods
            if m.name in ("random", "tpe/exponential", "gp/logratio", *MODEL_METHODS)
        ]
    if args.methods:
        methods = [m for m in methods if m.name in args.methods.split(",")]
    print(
        f"table: {path}: {len(tables[0].x)} real trials, domains {', '.join(tables[0].names)}; "
        f"mean trial {tables[0].seconds:.1f} s\n"
    )
    for table in tables:
        problem = _problem(path, table.target)
        rmse, rho, held = held_out_error(table)
        print(
            f"target {table.target}: seed noise sd {table.noise:.4f}; surrogate held-out RMSE {rmse:.4f} "
            f"= {rmse / table.noise:.2f} x the noise (Spearman {rho:.2f} over {held} random mixtures); "
            f"{describe(table, problem)}"
        )
        near = neighbours(problem, MIN_DISTANCE)
        print(
            f"  two mixtures {MIN_DISTANCE} apart (L1, the race's least distance): values differ by a median "
            f"{near[0]:.2f} x the noise sd (90th percentile {near[1]:.2f} x)"
        )
    print()
    twice = args.concurrent_searches if args.concurrent_searches is not None else searches
    jobs = [
        Job(path, t.target, m.name, s, max(budgets), budgets, c)
        for t in tables
        for m in methods
        for c in ((1, 2) if m.sampler else (1,))
        for s in range(searches if c == 1 else twice)
    ]
    results = run_jobs(jobs, out / "results.jsonl", args.workers)
    report(results, tables, methods, budgets, searches, path, race_seeds)
    nulls = args.calibration if args.calibration is not None else (40 if args.quick else 1000)
    if nulls:
        calibration_report(tables[0], nulls, race_seeds)
    recommendations(results, tables, methods, budgets, out)
    if args.real:
        real_table(json.loads(Path(args.real).read_text()), out, tables, path)
    most = args.costs if args.costs is not None else (24 if args.quick else 256)
    proposers = [
        m.name
        for m in methods
        if m.name in ("gp/logratio", "tpe/exponential", "surrogate/logratio")
    ]
    print(f"\ncost of proposing, 2 trials running (mean real trial: {tables[0].seconds:.1f} s)")
    for name, at in ask_costs(path, tables[0].target, proposers if most else [], most):
        cells = ", ".join(
            f"after {m}: {s:.3f} s = {s / tables[0].seconds:.4f} x a trial" for m, s in at.items()
        )
        print(f"  {name:<20} {cells}")
    print(f"\nfigure: the tables above; ran in {time.perf_counter() - started:.0f} s")
    return 0


def run_jobs(jobs: list[Job], path: Path, workers: int) -> list[dict[str, Any]]:
    """Every job's result, each appended to ``path`` as it finishes: a re-run (after a kill,
    or with more methods) runs only what is missing."""
    done: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a kill
                continue
            done[json.dumps(row["job"], sort_keys=True)] = row
    todo = [
        j
        for j in jobs
        # a default's row from before the trials were kept runs again
        if (row := done.get(json.dumps(j.__dict__, sort_keys=True))) is None
        or (_raced(j) and not row.get("trials"))
    ]
    with ProcessPoolExecutor(workers) as pool, open(path, "a") as f:
        for row in pool.map(_run_job, todo, chunksize=1):
            row = {**row, "job": row["job"].__dict__}
            f.write(json.dumps(row, default=float) + "\n")
            f.flush()
            done[json.dumps(row["job"], sort_keys=True)] = row
    out = []
    for j in jobs:
        row = dict(done[json.dumps(j.__dict__, sort_keys=True)])
        row["job"] = j
        row["shares"] = {int(b): v for b, v in row["shares"].items()}
        row["recommended"] = {int(b): v for b, v in row["recommended"].items()}
        if row.get("picks"):
            row["picks"] = {
                rule: {int(b): v for b, v in cells.items()} for rule, cells in row["picks"].items()
            }
        out.append(row)
    return out


def report(
    results: list[dict[str, Any]],
    tables: list[Table],
    methods: list[Method],
    budgets: tuple[int, ...],
    searches: int,
    path: str = str(TABLE),
    race_seeds: tuple[int, ...] = (2,),
) -> None:
    most = max(budgets)
    for table in tables:
        print(
            f"target {table.target}: share of the grid oracle's lift over uniform, median [IQR] over {searches} searches"
        )
        header = (
            f"  {'method':<22}"
            + "".join(f"{f'{b} trials':>21}" for b in budgets)
            + f"{'to 90%':>8}"
            + "".join(f"{f'{b}, 2 at once':>21}" for b in budgets[1:])
        )
        print(header)
        to90: dict[str, float] = {}
        for m in methods:
            mine = [
                r for r in results if r["job"].target == table.target and r["job"].method == m.name
            ]
            one = [r for r in mine if r["job"].concurrency == 1]
            two = [r for r in mine if r["job"].concurrency == 2]
            row = f"  {m.name:<22}" + "".join(
                f"{_fmt(quartiles([r['shares'][b] for r in one])):>21}" for b in budgets
            )
            row += f"{_trials([r['to90'] for r in one], most):>8}"
            if two:
                row += "".join(
                    f"{_fmt(quartiles([r['shares'][b] for r in two])):>21}" for b in budgets[1:]
                )
            print(row)
            to90[m.name] = statistics.median([r["to90"] for r in one])
        if DEFAULT in to90 and "random" in to90:
            ours, rnd = to90[DEFAULT], to90["random"]
            verdict = (
                f"{ours / rnd:.2f} x random's"
                if math.isfinite(ours) and math.isfinite(rnd)
                else f"random needs more than {most}"
                if math.isfinite(ours)
                else "not within the budget"
            )
            print(
                f"  trials to 90% of the oracle's lift, median: default ({DEFAULT}) {_trials([ours], most)}, random {_trials([rnd], most)}: {verdict}"
            )
        picks = [r["picks"] for r in results if r["job"].target == table.target and r["picks"]]
        if picks:
            print(
                "  choosing among the default's trials (share of the oracle's lift, median [IQR]; extra runs):"
            )
            for rule, cost in zip(PICKS, ("0", "6", "0"), strict=True):
                cells = "".join(
                    f"{_fmt(quartiles([p[rule][b] for p in picks])):>21}" for b in budgets
                )
                print(f"    {rule:<26}{cells}  +{cost}")
        rows = [r for r in results if r["job"].target == table.target and r.get("trials")]
        if rows:
            race_report(rows, _problem(path, table.target), budgets, race_seeds)
        print()


def _races(rows: list[dict[str, Any]], problem: TableProblem, b: int, seeds: int) -> list[Outcome]:
    """The race after ``b`` trials of each search, on ``seeds`` fresh seeds."""
    out = []
    for r in rows:
        xs = [np.array(x) for x in r["trials"]["xs"][:b]]
        out.append(race(problem, xs, r["trials"]["ys"][:b], seeds, (r["job"].search, 17)))
    return out


def race_report(
    rows: list[dict[str, Any]],
    problem: TableProblem,
    budgets: tuple[int, ...],
    race_seeds: tuple[int, ...],
) -> None:
    """The race (mixopt.study.race) among the default's trials: the answer's share of the
    oracle's lift and the runs it took, after each budget; its verdicts after the most."""
    from mixopt.study.race import K

    print(
        f"  the race on fresh seeds: the top {K} trials at least {MIN_DISTANCE} apart (L1) and both baselines, "
        "the answer's share of the oracle's lift, median [IQR]; runs made, median (most)"
    )
    most = max(budgets)
    last: dict[int, list[Outcome]] = {}
    for seeds in race_seeds:
        outcomes = {b: _races(rows, problem, b, seeds) for b in budgets}
        last[seeds] = outcomes[most]
        cells = "".join(
            f"{_fmt(quartiles([problem.share(o.answer) for o in outcomes[b]])):>21}"
            for b in budgets
        )
        runs = [o.runs for o in outcomes[most]]
        based = sum(o.number < 2 for o in outcomes[most]) / len(rows)  # trials 0, 1: baselines
        print(
            f"    {f'race, {seeds} seeds':<26}{cells}  +{statistics.median(runs):.0f} ({outcomes[most][0].most}); "
            f"a baseline won {based:.2f} x the races"
        )
    noise, oracle = problem.table.noise, problem.oracle - problem.uniform
    for seeds, outcomes in last.items():
        lifts = [problem.value(o.answer) - problem.uniform for o in outcomes]
        words = [o.words["uniform"] for o in outcomes]
        shares = ", ".join(f"{w} {words.count(w) / len(words):.2f}" for w in (BEATS, WITHIN, LOSES))
        plain = sum(o.plain["uniform"] == BEATS for o in outcomes) / len(outcomes)
        print(
            f"    verdict over uniform after {most} trials, {seeds} seeds: {shares} of the searches "
            f"(a plain 95% interval: beats {plain:.2f}); the answers' true lift, median "
            f"{statistics.median(lifts):+.4f} = {statistics.median(lifts) / noise:.2f} x the noise sd"
        )
    if oracle < noise:  # the goal: a lift under the noise is declared as such
        share = min(
            sum(o.words["uniform"] == WITHIN for o in outcomes) / len(outcomes)
            for outcomes in last.values()
        )
        print(
            f"    the oracle's lift is {oracle / noise:.2f} x the noise sd: 'within noise' of uniform in "
            f"{share:.2f} of the searches or more, at every seed budget (goal >= 0.90)"
        )


def neighbours(problem: TableProblem, distance: float) -> tuple[float, float]:
    """(median, 90th percentile) of the surrogate's value difference between two mixtures
    ``distance`` apart (L1), over 2,000 flat-Dirichlet mixtures, in seed-noise sds."""
    rng = np.random.default_rng(5)
    x = rng.dirichlet(np.ones(problem.k), 2_000)
    step = rng.standard_normal(x.shape)
    step -= step.mean(axis=1, keepdims=True)
    y = x + step / np.abs(step).sum(axis=1, keepdims=True) * distance
    keep = np.all(y >= 0, axis=1)
    diff = np.abs(problem.gp.predict(x[keep]) - problem.gp.predict(y[keep])) / problem.sd
    return float(np.median(diff)), float(np.percentile(diff, 90))


def calibration_report(table: Table, searches: int, race_seeds: tuple[int, ...]) -> None:
    """How often the race's verdict says ``beats`` on a null problem (the issue's goal: 5%)."""
    natural = [x for x, kind in zip(table.x, table.kind, strict=True) if kind == "natural"]
    problem = NullProblem(
        len(table.names), table.noise, natural[0] if natural else np.ones(len(table.names))
    )
    print(
        f"\ncalibration: a null problem (every mixture scores as uniform does; noise sd {table.noise:.4f}), "
        f"{searches} random searches of 32 trials, then the race (goal: 'beats' in <= 0.05 x the searches)"
    )
    for seeds, row in calibration(problem, searches, 32, race_seeds).items():
        print(
            f"  {seeds} seeds: beats uniform {row['uniform']:.3f}, beats either baseline {row['any']:.3f} x the "
            f"searches; with a plain 95% interval (no correction for the choice) {row['plain']:.3f}"
        )


def recommendations(
    results: list[dict[str, Any]],
    tables: list[Table],
    methods: list[Method],
    budgets: tuple[int, ...],
    out: Path,
) -> None:
    """Each method's median search's answer at the most trials (1 at a time), per target."""
    most, recs = max(budgets), {}
    for table in tables:
        for m in methods:
            one = sorted(
                (
                    r
                    for r in results
                    if r["job"].target == table.target
                    and r["job"].method == m.name
                    and r["job"].concurrency == 1
                ),
                key=lambda r: r["shares"][most],
            )
            median = one[(len(one) - 1) // 2]
            mix = dict(
                zip(table.names, (round(v, 6) for v in median["recommended"][most]), strict=True)
            )
            recs[f"{table.target}:{m.name}"] = mix
        recs[f"{table.target}:uniform"] = {n: round(1 / len(table.names), 6) for n in table.names}
    (out / "recommendations.json").write_text(json.dumps(recs, indent=1))
    print(f"recommendations of each method's median search: {out / 'recommendations.json'}")


def real_table(real: dict[str, Any], out: Path, tables: list[Table], path: str) -> None:
    """Each recommendation's real lift over uniform (fresh seeds) beside the surrogate's."""
    from scipy.stats import spearmanr

    recs = json.loads((out / "recommendations.json").read_text())
    for table in tables:
        problem = _problem(path, table.target)
        base = statistics.fmean(-v for v in real[f"{table.target}:uniform"]["losses"][table.target])
        print(
            f"\nreal check, target {table.target}: lift over uniform on fresh seeds (real) and by the surrogate"
        )
        pairs = []
        for label, mix in recs.items():
            if (
                not label.startswith(f"{table.target}:")
                or label.endswith(":uniform")
                or label not in real
            ):
                continue  # the uniform base, another target's, or one not trained for real
            losses = real[label]["losses"][table.target]
            lift = statistics.fmean(-v for v in losses) - base
            predicted = problem.value(np.array([mix[n] for n in table.names])) - problem.uniform
            pairs.append((lift, predicted))
            print(f"  {label.split(':', 1)[1]:<22} real {lift:+.4f}  surrogate {predicted:+.4f}")
        if len(pairs) > 2:
            rho = spearmanr([p[0] for p in pairs], [p[1] for p in pairs]).statistic
            print(f"  Spearman of real and surrogate lifts over the methods: {rho:.2f}")


if __name__ == "__main__":
    sys.exit(main())
