"""How well the leave-one-out estimate ranks mixtures against a real out-of-domain target.

    python benchmarks/leave_one_out.py           # the demo's 6 domains, 10 mixtures, 16k tokens
    python benchmarks/leave_one_out.py --quick   # 3 domains, 3 mixtures, 1k tokens (CI's smoke)

The problem is `examples/demo.py`'s (its builders make the data and the task): a tiny
pre-trained Llama, six training domains (SQL over three databases; finance, sports and
cooking text), and a target none of them covers, the loss of the gold SQL over a fourth
database (the score is its negative). Each mixture (uniform, natural, one leaning on each
domain, and random Dirichlet draws, from a fixed seed) is trained twice at seed 0: once as a
study with that task file trains it (one training, scored on the target), once with
the leave-one-out plan (no ``--eval``: k trainings, each scored on the left-out domain's loss, no target
used). The table: Spearman's rank correlation between the two scores over the mixtures, and
what the estimate cost (its seconds / the target trial's seconds, per mixture). One process,
one thread: the trials run one after another.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "examples")]

from demo import build  # noqa: E402  (examples/demo.py builds the problem's inputs)

# the demo's score without its execution-accuracy report (weight 0 there; generation is slow)
TASK = "tasks:\n  - name: sql_loss\n    kind: loss\n    data: sql_hospital.jsonl\n"
LEAN = 0.6  # a mixture leaning on one domain gives it this share, the rest evenly


def mixtures(
    names: tuple[str, ...], domains: tuple, budget: int, random: int
) -> list[tuple[str, dict[str, float]]]:
    """Uniform, natural, one leaning on each domain, then ``random`` Dirichlet draws (seed 0),
    each made feasible at ``budget`` as a study's proposals are."""
    from mixopt.data.allocation import natural_mixture, scaled_mixture, uniform_mixture

    rest = (1 - LEAN) / (len(names) - 1)
    out = [
        ("uniform", uniform_mixture(domains, budget)),
        ("natural", natural_mixture(domains, budget)),
    ]
    out += [
        (f"lean {n}", scaled_mixture(domains, [LEAN if m == n else rest for m in names], budget))
        for n in names
    ]
    rng = np.random.default_rng(0)
    out += [
        (
            f"dirichlet {i}",
            scaled_mixture(domains, list(rng.dirichlet(np.ones(len(names)))), budget),
        )
        for i in range(random)
    ]
    return out


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (no ties among real-valued scores)."""
    ra, rb = (np.argsort(np.argsort(x)).astype(float) for x in (a, b))
    return float(np.corrcoef(ra, rb)[0, 1])


def timed(spec: object) -> tuple[float, float]:
    from mixopt.trial import run_trial

    start = time.perf_counter()
    result = run_trial(spec)  # type: ignore[arg-type]
    assert result.score is not None
    return result.score, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 domains, 3 mixtures, 1k tokens")
    parser.add_argument(
        "--budget", type=int, help="training tokens per training (default 16000; quick 1000)"
    )
    parser.add_argument("--random", type=int, help="random Dirichlet mixtures (default 2; quick 1)")
    parser.add_argument("--out", default="benchmarks-out/leave_one_out", help="the built inputs")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = "1"
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    from mixopt.cli._common import quiet_libraries
    from mixopt.data.spec import load_domains
    from mixopt.data.tokenize import tokenize_domains
    from mixopt.evaluators.tasks import make_evaluator
    from mixopt.models import load_tokenizer
    from mixopt.plans import LeaveOneOut, OnePass
    from mixopt.training.config import TrainConfig
    from mixopt.trial import TrialSpec

    quiet_libraries()
    out = Path(args.out).resolve() / ("quick" if args.quick else "full")
    model, domains_file, task = build(out, "30000" if args.quick else "400000")
    (task.parent / "score.yaml").write_text(TASK)
    specs = load_domains(str(domains_file))
    if args.quick:
        specs = [s for s in specs if s.name in ("sql_shop", "sql_school", "finance")]
    domains = tuple(tokenize_domains(specs, load_tokenizer(str(model)), out / "cache"))
    names = tuple(d.name for d in domains)
    budget = args.budget or (1_000 if args.quick else 16_000)
    mixes = mixtures(
        names, domains, budget, args.random if args.random is not None else (1 if args.quick else 2)
    )
    if args.quick:
        mixes = mixes[:3]
    # the demo's recipe (examples/demo.py: --seq-len 128 --lr 3e-3), on one thread
    train = TrainConfig(seq_len=64 if args.quick else 128, learning_rate=3e-3, threads=1)
    suite = make_evaluator(str(task.parent / "score.yaml"))
    rows = []
    print(f"{'mixture':<18} {'target':>8} {'lodo':>8} {'target s':>9} {'lodo s':>8}", flush=True)
    for label, mix in mixes:
        target, t_s = timed(
            TrialSpec(str(model), domains, mix, budget, suite, train, seed=0, plan=OnePass())
        )
        lodo, l_s = timed(
            TrialSpec(str(model), domains, mix, budget, None, train, seed=0, plan=LeaveOneOut())
        )
        rows.append((label, target, lodo, t_s, l_s))
        print(f"{label:<18} {target:>8.4f} {lodo:>8.4f} {t_s:>9.1f} {l_s:>8.1f}", flush=True)
    rho = spearman([r[1] for r in rows], [r[2] for r in rows])
    cost = statistics.median(r[4] / r[3] for r in rows)
    k = len(names)
    print(
        f"\ndomains: {' '.join(names)}; budget {budget:,} tokens per training; seed 0; "
        f"{len(rows)} mixtures; target = -(gold SQL loss on the unseen hospital database)\n"
    )
    print(f"{'figure':<58} {'value':>8}  ratio")
    print(f"{'Spearman, leave-one-out vs target, over the mixtures':<58} {rho:>8.2f}  -")
    print(
        f"{'seconds per mixture, leave-one-out / target (median)':<58} {cost:>8.2f}  {cost:.2f} x "
        f"(k = {k} trainings)"
    )
    print(f"\nran in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
