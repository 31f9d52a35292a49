"""Without an out-of-domain set: which estimate, from the training domains alone, predicts real
unseen targets, and what its answer is worth on them.

    python benchmarks/code_suite.py build OUT            # once: the code suite's inputs
    python benchmarks/leave_one_out.py code OUT          # 5 training languages, 5 unseen ones
    python benchmarks/leave_one_out.py demo              # the demo's 6 domains, 1 unseen target
    python benchmarks/leave_one_out.py --quick --model M  # CI's smoke: the demo's, tiny

The problems: `code_suite.py`'s (source code of five training languages; five languages none
of them is, and the base model never saw, as targets) and `examples/demo.py`'s (SQL over three
databases and three kinds of text; the target is gold SQL over a fourth database). Each
estimator scores a candidate mixture with no target in sight:

- `lodo-mean`: mixopt's leave-one-out plan as it runs by default (each domain left out in
  turn, its share spread over the rest in proportion; minus the mean left-out loss);
- `lodo-worst`: the same trainings, minus the worst left-out loss (group-robust's choice);
- `nearest-mean`, `nearest-worst`: the left-out share moved whole to the remaining domain
  nearest the left-out one (unigram token distributions, Jensen-Shannon), so the training
  keeps the left-out domain's closest kin instead of diluting it;
- `uniform`, `natural`: no estimate; the answer is the baseline itself.

The candidates: uniform, natural, one leaning on each domain (0.6, the rest even) and
Dirichlet(1) draws (a fixed seed), each made feasible as a study's proposals are. Two tables:

1. Each candidate trained at seed 0 and scored on every real target (one training), and each
   estimate computed at seed 0: Spearman's rank correlation of every estimator with every
   target over the candidates (with the value a two-sided 5% test needs at that many).
2. Each estimator's answer (its best candidate), the uniform and natural mixtures, and each
   target's best candidate at seed 0 (the most a choice among these candidates could gain),
   trained on fresh seeds: the real lift over uniform on each target (loss of uniform minus
   loss of the answer, paired by seed; nats), its mean and 95% t interval over the seeds.

Every training is one real trial (`mixopt.trial.run_trial`), two at a time on one thread
each, cached as a JSON line in OUT (a killed run resumes; `code_suite.py`'s own trials are
shared with its grid and `check`).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "examples")]

from _trials import STATE, append_row, read_rows  # noqa: E402
from code_suite import Setup, _pool, _setup, evaluate  # noqa: E402

LEAN = 0.6  # a mixture leaning on one domain gives it this share, the rest evenly
SHARES = ("spread", "nearest")
ESTIMATORS = ("lodo-mean", "lodo-worst", "nearest-mean", "nearest-worst")
BASELINES = ("uniform", "natural")
FRESH = (11, 12, 13, 14)
# the demo's score without its execution-accuracy report (weight 0 there; generation is slow)
DEMO_TASK = "tasks:\n  - name: sql\n    kind: loss\n    data: sql_hospital.jsonl\n"


def candidates(
    names: Sequence[str], domains: Sequence[Any], budget: int, random: int
) -> list[tuple[str, tuple[float, ...]]]:
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
    return [(label, tuple(round(float(m[n]), 6) for n in names)) for label, m in out]


def left_out(mix: Sequence[float], seed: int, share: str) -> dict[str, float]:
    """Each left-out domain's loss after leave-one-out's k trainings of ``mix`` (cached)."""
    from mixopt.plans import LeaveOneOut
    from mixopt.training.config import TrainConfig
    from mixopt.trial import TrialSpec, run_trial

    setup: Setup = STATE["setup"]
    cache = str(Path(setup.cache).with_name("left_out.jsonl"))
    key = json.dumps([share, json.loads(setup.key(mix, seed))])
    cached = read_rows(cache).get(key)
    if cached is not None:
        return dict(cached["losses"])
    total = sum(float(x) for x in mix)
    mixture = dict(zip(setup.names, (float(x) / total for x in mix), strict=True))
    t0 = time.perf_counter()
    train = TrainConfig(**dict(setup.train), threads=1, checkpoints=1)
    plan = LeaveOneOut(share=share)  # type: ignore[arg-type]
    spec = TrialSpec(
        setup.model, STATE["domains"], mixture, setup.budget, None, train, seed, plan=plan
    )
    result = run_trial(spec)
    losses = {n: float(result.metrics[f"lodo/{n}/loss"]) for n in setup.names}
    append_row(cache, {"key": key, "losses": losses, "seconds": round(time.perf_counter() - t0, 2)})
    return losses


def estimates(by_share: dict[str, dict[str, float]]) -> dict[str, float]:
    """Every estimator's score (higher is better) from one candidate's left-out losses, by
    the plan's own :meth:`~mixopt.plans.LeaveOneOut.score`."""
    from mixopt.plans import LeaveOneOut

    return {
        f"{prefix}-{aggregate}": LeaveOneOut(aggregate=aggregate).score(by_share[share])
        for share, prefix in zip(SHARES, ("lodo", "nearest"), strict=True)
        for aggregate in ("mean", "worst")
    }


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation, ties ranked as their average (two mixtures that leave a
    domain out the same way share its loss)."""
    from scipy import stats

    return float(stats.spearmanr(a, b).statistic)


def critical_rho(n: int) -> float:
    """The |Spearman| a two-sided 5% test needs over n points (t approximation)."""
    from scipy import stats

    if n <= 3:
        return float("nan")
    t = float(stats.t.ppf(0.975, n - 2))
    return t / math.sqrt(n - 2 + t * t)


def interval(diffs: Sequence[float]) -> tuple[float, float, float]:
    """Mean and 95% t interval of paired differences (the mean twice where there is one)."""
    from scipy import stats

    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return mean, mean, mean
    half = (
        float(stats.t.ppf(0.975, len(diffs) - 1)) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    )
    return mean, mean - half, mean + half


def run(
    setup: Setup, mixes: list[tuple[str, tuple[float, ...]]], fresh: Sequence[int]
) -> dict[str, Any]:
    """Both tables' numbers: seed-0 targets and estimates, then answers on fresh seeds."""
    targets = [*setup.targets, *(["mean"] if len(setup.targets) > 1 else [])]
    jobs = [(m, 0, s) for _, m in mixes for s in SHARES]
    with _pool(setup) as pool:
        real0 = list(pool.map(evaluate, [m for _, m in mixes], [0] * len(mixes)))
        lodo = list(pool.map(left_out, *zip(*jobs, strict=True)))
        rows = []
        for i, (label, mix) in enumerate(mixes):
            loss = {t: real0[i][t] for t in setup.targets}
            loss["mean"] = statistics.fmean(loss.values())
            est = estimates({s: lodo[2 * i + j] for j, s in enumerate(SHARES)})
            rows.append({"label": label, "mix": mix, "loss": loss, "estimate": est})
        answers = {e: max(rows, key=lambda r: r["estimate"][e])["label"] for e in ESTIMATORS}
        answers |= {b: b for b in BASELINES}
        answers |= {
            f"best for {t}": min(rows, key=lambda r: r["loss"][t])["label"] for t in targets
        }
        chosen = sorted(set(answers.values()))
        mix_of = dict(mixes)
        pairs = [(label, s) for label in chosen for s in fresh]
        scored = list(pool.map(evaluate, [mix_of[lab] for lab, _ in pairs], [s for _, s in pairs]))
    fresh_loss: dict[str, dict[int, dict[str, float]]] = {}
    for (label, s), r in zip(pairs, scored, strict=True):
        loss = {t: r[t] for t in setup.targets}
        fresh_loss.setdefault(label, {})[s] = loss | {"mean": statistics.fmean(loss.values())}
    rho = {
        e: {
            t: spearman([r["estimate"][e] for r in rows], [-r["loss"][t] for r in rows])
            for t in targets
        }
        for e in ESTIMATORS
    }
    lift = {
        name: {
            t: interval([fresh_loss["uniform"][s][t] - fresh_loss[label][s][t] for s in fresh])
            for t in targets
        }
        for name, label in answers.items()
    }
    # where each answer ranks among the candidates on each target at seed 0 (1: the best; a
    # pick at random ranks (n + 1) / 2 on average)
    rank = {
        name: {t: 1 + sum(r["loss"][t] < _loss(rows, label, t) for r in rows) for t in targets}
        for name, label in answers.items()
    }
    return {
        "targets": targets,
        "rows": rows,
        "rho": rho,
        "answers": answers,
        "lift": lift,
        "rank": rank,
        "fresh": list(fresh),
        "critical": critical_rho(len(rows)),
    }


def _loss(rows: Sequence[dict[str, Any]], label: str, target: str) -> float:
    return float(next(r["loss"][target] for r in rows if r["label"] == label))


def show(res: dict[str, Any], names: Sequence[str], problem: str) -> str:
    targets = res["targets"]
    lines = [f"candidates ({problem}; shares in the order {' '.join(names)}), seed 0:"]
    head = (
        f"{'mixture':<18} "
        + " ".join(f"{t[:10]:>10}" for t in targets)
        + " "
        + " ".join(f"{e:>13}" for e in ESTIMATORS)
    )
    lines.append(head)
    for r in res["rows"]:
        lines.append(
            f"{r['label']:<18} "
            + " ".join(f"{r['loss'][t]:>10.4f}" for t in targets)
            + " "
            + " ".join(f"{r['estimate'][e]:>13.4f}" for e in ESTIMATORS)
        )
    lines += [
        "",
        f"Spearman of each estimate with each real target (-loss) over {len(res['rows'])} candidates; a two-sided 5% test needs |rho| >= {res['critical']:.2f}:",
    ]
    lines.append(f"{'estimator':<14} " + " ".join(f"{t[:10]:>10}" for t in targets))
    for e in ESTIMATORS:
        lines.append(f"{e:<14} " + " ".join(f"{res['rho'][e][t]:>10.2f}" for t in targets))
    seeds = ",".join(str(s) for s in res["fresh"])
    lines += [
        "",
        f"real lift over uniform of each answer (loss of uniform - loss of the answer, nats), mean [95% t interval] over fresh seeds {seeds}:",
    ]
    lines.append(
        f"{'estimator':<16} {'its answer':<16} " + " ".join(f"{t[:22]:>24}" for t in targets)
    )
    for name, label in res["answers"].items():
        cells = " ".join(
            f"{f'{m:+.4f} [{lo:+.3f}, {hi:+.3f}]':>24}"
            for m, lo, hi in (res["lift"][name][t] for t in targets)
        )
        lines.append(f"{name:<16} {label:<16} {cells}")
    n = len(res["rows"])
    lines += [
        "",
        f"where each answer ranks among the {n} candidates on each target at seed 0 (1: the "
        f"best; a random pick: {(n + 1) / 2:.1f} on average):",
    ]
    lines.append(f"{'estimator':<16} " + " ".join(f"{t[:10]:>10}" for t in targets))
    for name in res["answers"]:
        lines.append(f"{name:<16} " + " ".join(f"{res['rank'][name][t]:>10}" for t in targets))
    return "\n".join(lines)


def _demo_setup(
    out: Path, quick: bool, model: Path | None, budget: int | None
) -> tuple[Setup, tuple[Any, ...]]:
    from demo import build

    from mixopt.data.spec import load_domains
    from mixopt.data.tokenize import tokenize_domains
    from mixopt.models import load_tokenizer

    model_dir, domains_file, task = build(out, "30000" if quick else "400000", model)
    score = task.parent / "score.yaml"
    score.write_text(DEMO_TASK)
    specs = load_domains(str(domains_file))
    if quick:
        specs = [s for s in specs if s.name in ("sql_shop", "sql_school", "finance")]
    domains = tuple(tokenize_domains(specs, load_tokenizer(str(model_dir)), out / "cache"))
    train = {"seq_len": 64 if quick else 128, "learning_rate": 3e-3}  # the demo's recipe
    setup = Setup(
        str(model_dir),
        str(domains_file),
        str(score),
        tuple(d.name for d in domains),
        ("sql",),
        budget or (1_000 if quick else 16_000),
        tuple(sorted(train.items())),
        str(out / "trials.jsonl"),
    )
    return setup, domains


def _code_setup(out: Path, budget: int | None) -> tuple[Setup, tuple[Any, ...]]:
    from dataclasses import replace

    from mixopt.data.spec import load_domains
    from mixopt.data.tokenize import tokenize_domains
    from mixopt.models import load_tokenizer

    manifest_path = out / "manifest.json"
    if not manifest_path.exists():
        raise SystemExit(
            f"{out} holds no code suite: run `python benchmarks/code_suite.py build {out}` first"
        )
    setup = _setup(out, False, json.loads(manifest_path.read_text()))
    if budget:
        setup = replace(setup, budget=budget)
    specs = [s for s in load_domains(setup.domains) if s.name in setup.names]
    return setup, tuple(tokenize_domains(specs, load_tokenizer(setup.model)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "problem", nargs="?", choices=("code", "demo"), help="which problem (--quick: demo)"
    )
    parser.add_argument(
        "out",
        nargs="?",
        help="code: the suite's folder (code_suite.py build OUT); demo: where its inputs go",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the demo's, 3 domains, 2 candidates, 1k tokens, 2 fresh seeds",
    )
    parser.add_argument(
        "--model",
        help="demo: a tiny model already built (default: pre-train one, as examples/demo.py does)",
    )
    parser.add_argument("--random", type=int, help="Dirichlet candidates (default 5 code, 2 demo)")
    parser.add_argument(
        "--budget", type=int, help="training tokens (default: the problem's, 32k code, 16k demo)"
    )
    parser.add_argument(
        "--seeds", help=f"fresh seeds (default {','.join(map(str, FRESH))}; quick 11,12)"
    )
    parser.add_argument("--out-json", help="write both tables' numbers here")
    args = parser.parse_args(argv)
    problem = "demo" if args.quick else args.problem
    if problem is None:
        parser.error("a problem (code, demo) or --quick")
    started = time.perf_counter()
    if problem == "code":
        if not args.out:
            parser.error("code needs OUT, the folder code_suite.py build wrote")
        setup, domains = _code_setup(Path(args.out).resolve(), args.budget)
    else:
        out = Path(args.out or "benchmarks-out/leave_one_out").resolve() / (
            "quick" if args.quick else "full"
        )
        setup, domains = _demo_setup(
            out, args.quick, Path(args.model) if args.model else None, args.budget
        )
    random = args.random if args.random is not None else (5 if problem == "code" else 2)
    mixes = candidates(setup.names, domains, setup.budget, random)
    if args.quick:  # CI's smoke: uniform and natural, the fewest a rank correlation takes
        mixes = mixes[:2]
    fresh = (
        tuple(int(s) for s in args.seeds.split(","))
        if args.seeds
        else ((11, 12) if args.quick else FRESH)
    )
    from mixopt.plans.leave_one_out import nearest_domain

    near = {d.name: nearest_domain(d, [o for o in domains if o is not d]) for d in domains}
    print(
        "nearest domain (unigram tokens, Jensen-Shannon): "
        + ", ".join(f"{a} -> {b}" for a, b in near.items())
        + "\n"
    )
    res = run(setup, mixes, fresh)
    res["nearest"] = near
    print(show(res, setup.names, problem))
    if args.out_json:
        Path(args.out_json).write_text(json.dumps(res, indent=1))
    k = len(setup.names)
    seconds = [
        r["seconds"] for r in read_rows(Path(setup.cache).with_name("left_out.jsonl")).values()
    ]
    target_s = [r["seconds"] for r in read_rows(setup.cache).values()]
    if seconds and target_s:
        ratio = statistics.median(seconds) / statistics.median(target_s)
        print(
            f"\nfigure: an estimate costs {ratio:.2f} x a target trial's seconds (median; k = {k} trainings)"
        )
    print(f"ran in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
