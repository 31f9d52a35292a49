"""Warm start: how many new trials a study seeded with an earlier study's trials needs to reach
the best that a study started cold finds in all of its trials.

    python benchmarks/warm_start.py           # 6 domains, 16 trials a study, GP, 7 searches
    python benchmarks/warm_start.py --quick   # 16 trials, TPE, 2 searches (smoke run)

The problem is a surrogate: the data-mixing-law problems of `search_efficiency.py` (noisy,
known optimum, per-domain caps), not real trials, which are too slow on this machine's two
shared cores to repeat a study pair many times. Each study starts with the uniform baseline
and then asks mixopt's sampler through mixopt's own simplex; the earlier study's trials enter
the new one through `mixopt.study.warm.apply_warm_start`, as `--warm-start` does. Scenarios:

- same domains: the earlier study searched this very problem (another sampler seed, other
  noise); every trial is reused as it is;
- one domain new here: the earlier study had 5 of the 6 domains; its trials are reused with
  the new domain at share 0 (its score is the problem's value there: the same training set);
- one domain gone here, `--warm-start-any`: the earlier study had 7 domains and every trial
  drew on the one this study lacks, so none is evidence here; the best half of --trials
  mixtures, renormalized, are re-trained as the first proposals (they count as new trials).

Printed per scenario, median and IQR over searches: the new trials (the baseline included)
until the study's recommendation (its best observed trial, reused ones included) is at least
as good, on the noise-free objective, as the cold study's final recommendation, and the same
counting only the study's own trials as candidates; the cold study needs all N by definition
(or fewer: its own first reach is printed too). ``>N``: not reached within N new trials.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_efficiency import Problem, make_problem


def simplex_for(upper: np.ndarray, sampler: str) -> Any:
    from mixopt.data.spec import DomainSpec
    from mixopt.data.tokenize import TokenizedDomain
    from mixopt.search.proposals.samplers import parameterization_for
    from mixopt.search.proposals.space import Simplex

    domains = [
        TokenizedDomain(
            DomainSpec(f"d{i}", data=({"t": 1},), max_share=float(u)), "text", "-", 1, 10**9
        )
        for i, u in enumerate(upper)
    ]
    return Simplex(domains, 10**6, parameterization_for(sampler))


def run_study(
    problem: Problem, k: int, n: int, sampler: str, seed: int, warm: Any = None
) -> list[tuple[dict[str, float], float, bool]]:
    """A study on the first ``k`` domains of ``problem`` (the rest at share 0): the uniform
    baseline, then ``n`` searched trials. Returns (mixture, observed score, reused) in order,
    the reused trials first."""
    import optuna

    from mixopt.search.proposals.samplers import make_sampler
    from mixopt.search.proposals.space import SearchSpace
    from mixopt.study.trials import Attr
    from mixopt.study.warm import apply_warm_start

    simplex = simplex_for(problem.upper[:k], sampler)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(sampler, seed, 8))
    rng = np.random.default_rng([seed, k, 7])
    out: list[tuple[dict[str, float], float, bool]] = []
    uniform = simplex.mixture(
        dict.fromkeys(simplex.params, 0.0 if simplex.kind == "logratio" else 1 / np.e)
    )
    study.enqueue_trial(simplex.params_for(uniform), user_attrs={Attr.MIXTURE: uniform})
    if warm is not None:
        apply_warm_start(warm, study, simplex, SearchSpace())
        out += [(t.mixture, t.score, True) for t in warm.reused]
    for _ in range(n + 1):
        trial = study.ask()
        proposed = simplex.suggest(trial)
        mix = dict(trial.user_attrs.get(Attr.MIXTURE) or proposed)
        y = problem.observe(vector(mix, problem.k), rng)
        study.tell(trial, y)
        out.append((mix, y, False))
    return out


def vector(mix: dict[str, float], k: int) -> np.ndarray:
    return np.array([mix.get(f"d{i}", 0.0) for i in range(k)])


def taken(trials: list[tuple[dict[str, float], float, bool]], k: int, how: str, limit: int) -> Any:
    """The earlier study's trials as a warm start onto the first ``k`` domains."""
    from mixopt.study.warm import Taken, WarmStart

    names = [f"d{i}" for i in range(k)]
    rows = sorted((t for t in trials if not t[2]), key=lambda t: -t[1])
    out = []
    for j, (mix, y, _) in enumerate(rows):
        kept = {n: mix.get(n, 0.0) for n in names}
        total = sum(kept.values())
        out.append(
            Taken(
                {n: v / total for n, v in kept.items()},
                {},
                {"study": "old", "trial": j, "how": how},
                y,
                {},
            )
        )
    return WarmStart(tuple(out), ()) if how == "reused" else WarmStart((), tuple(out[:limit]))


def reach(
    trials: list[tuple[dict[str, float], float, bool]],
    problem: Problem,
    target: float,
    own_only: bool,
) -> int | None:
    """New trials until the recommendation (best observed) is worth ``target`` (noise-free)."""
    pool = [t for t in trials if t[2] and not own_only]
    new = [t for t in trials if not t[2]]
    for i, t in enumerate(new, 1):
        pool.append(t)
        best = max(pool, key=lambda p: p[1])
        if problem.value(vector(best[0], problem.k)) >= target - 1e-12:
            return i
    return None


def scenario(
    name: str, searches: int, n: int, sampler: str
) -> list[tuple[int | None, int | None, int | None]]:
    rows = []
    for s in range(searches):
        if name == "one domain gone here (--warm-start-any)":
            problem, k, old_k, how = make_problem(7, s), 6, 7, "prior"
        else:
            problem, k, old_k, how = (
                make_problem(6, s),
                6,
                (6 if name == "same domains" else 5),
                "reused",
            )
        old = run_study(problem, old_k, n, sampler, 1000 + s)
        cold = run_study(problem, k, n, sampler, s)
        target = problem.value(vector(max(cold, key=lambda t: t[1])[0], problem.k))
        warm = run_study(problem, k, n, sampler, s, taken(old, k, how, (n + 1) // 2))
        rows.append(
            (
                reach(cold, problem, target, True),
                reach(warm, problem, target, False),
                reach(warm, problem, target, True),
            )
        )
    return rows


def summary(values: list[int | None], n: int) -> str:
    """Median [IQR] of the trials to reach, a miss counted as n + 1 (shown as >n)."""
    xs = [v if v is not None else n + 2 for v in values]
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3
    shown = [f">{n + 1}" if v > n + 1 else f"{v:g}" for v in (statistics.median(xs), q[0], q[2])]
    return f"{shown[0]} [{shown[1]}-{shown[2]}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="TPE, 2 searches: a smoke run")
    parser.add_argument(
        "--trials", type=int, default=16, help="searched trials a study (after the baseline)"
    )
    parser.add_argument("--searches", type=int, default=None)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = "tpe" if args.quick else "gp"
    searches = args.searches or (2 if args.quick else 7)
    n = args.trials
    print(
        f"warm start vs cold: {n} searched trials + the uniform baseline a study, sampler {sampler}, "
        f"{searches} searches; new trials (baseline included) to reach the cold study's final best, "
        "median [IQR]"
    )
    print(f"{'scenario':40s} {'cold':>12s} {'warm':>12s} {'warm, own only':>16s}  ratio warm/cold")
    for name in ("same domains", "one domain new here", "one domain gone here (--warm-start-any)"):
        rows = scenario(name, searches, n, sampler)
        cold, warm, own = ([r[i] for r in rows] for i in range(3))
        ratio = statistics.median(
            (w or n + 2) / (c or n + 2) for c, w in zip(cold, warm, strict=True)
        )
        print(
            f"{name:40s} {summary(cold, n):>12s} {summary(warm, n):>12s} {summary(own, n):>16s}  {ratio:.2f} x cold"
        )
    print(
        "figure: the ratio is the median over searches of warm/cold new trials to reach the cold best (below 1: "
        "warm start saves trials); surrogate problems, not real trials"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
