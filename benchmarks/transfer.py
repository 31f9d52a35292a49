"""Does a mixture found at a small proxy budget still win at the real one? One real study
at a proxy budget, then its answer trained at 4x and 16x the budget, with and without
repetition matching (``--target-budget``).

    python benchmarks/transfer.py           # demo problem, 6 domains, proxy 4k, 10 trials a study, 2 fresh seeds
    python benchmarks/transfer.py --quick   # 2 domains, proxy 2k, baselines only, 2x matched only, 1 seed (a smoke run)

The problem is `examples/demo.py`'s (a tiny pre-trained Llama, six training domains, the
loss of gold SQL over a database no domain covers). Three studies search at the proxy
budget with the same seed and trials: one on the whole pools, and one per scale with
``--target-budget`` (each pool cut by the budget ratio, so every domain repeats as at the
target). Each study's answer goes to its scale with ``mixopt transfer`` (the feature under
test: whole pools, fresh seeds), and the proxy's top-5 mixtures and the baselines are
trained there on the same fresh seeds to see whether the proxy's ranking holds.

Figures per (scale, matching): the share of the proxy's lift over uniform that holds at the
scale (``retained``; 1.0 = all of it, below 0 = the best mixture loses there), and the
Spearman correlation between the proxy's search scores and the mean scores at the scale of
the top-5 mixtures + uniform + natural. Scores are cached in ``--out``: a re-run trains only
what is missing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "examples")]

from _trials import worker_init  # noqa: E402
from demo import build  # noqa: E402
from demo_problem import TASK, Setup, evaluate  # noqa: E402

TOP = 5


def study(out: Path, inputs: dict[str, Any], target: int | None, quick: bool) -> Path:
    """One study at the proxy budget (resumed if it is there already)."""
    from mixopt import optimize_mixture, resume_search

    folder = out / f"study-{'whole' if target is None else f'target-{target}'}"
    common = {"quiet": True, "concurrency": 2, "executor": "inprocess" if quick else "ray"}
    if (folder / "best_mixture.json").exists():
        return folder
    if (folder / "study.json").exists():
        resume_search(folder, **common)
        return folder
    optimize_mixture(
        inputs["model"],
        inputs["domains"],
        inputs["task"],
        budget=inputs["budget"],
        target_budget=target,
        trials=inputs["trials"],
        confirm=inputs["seeds"],
        seed=0,
        sampler="random" if quick else "gp",
        early_stop="off",
        train=inputs["train"],
        out=str(folder),
        **common,
    )
    return folder


def ranking(folder: Path, inputs: dict[str, Any], budget: int) -> float:
    """Spearman between the proxy's search scores and the mean scores at ``budget`` (whole
    pools, the confirmation's fresh seeds) of the top mixtures and the baselines."""
    from scipy.stats import spearmanr

    results = json.loads((folder / "results.json").read_text())["trials"]
    done = [t for t in results if t["state"] == "COMPLETE" and t["score"] is not None]
    top = sorted((t for t in done if not t.get("baseline")), key=lambda t: -t["score"])[:TOP]
    rows = top + [t for t in done if t.get("baseline") in ("uniform", "natural")]
    names = tuple(inputs["names"])
    mixes = [np.array([t["mixture"].get(n, 0.0) for n in names]) for t in rows]
    seeds = tuple(
        range(1, 1 + inputs["seeds"])
    )  # the confirmation's fresh seeds (the study's seed is 0)
    setup = Setup(
        inputs["model"],
        inputs["domains"],
        inputs["task"],
        names,
        budget,
        inputs["train"],
        str(folder.parent / f"scores-{budget}.jsonl"),
        seeds,
    )
    with ProcessPoolExecutor(2, initializer=worker_init, initargs=(setup,)) as pool:
        jobs = [(m, s) for m in mixes for s in seeds]
        scores = list(pool.map(evaluate, [m for m, _ in jobs], [s for _, s in jobs]))
    at = [
        statistics.fmean(scores[i * len(seeds) : (i + 1) * len(seeds)]) for i in range(len(mixes))
    ]
    rho = spearmanr([t["score"] for t in rows], at).statistic
    return float(rho)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 domains, baselines only, 2x with matching only, one seed",
    )
    parser.add_argument(
        "--model",
        help="a tiny model already built, e.g. by `mixopt tiny-model` (default: pre-train one "
        "in OUT, as examples/demo.py does); cached studies and scores do not record it: use "
        "a fresh --out",
    )
    parser.add_argument(
        "--out", default="benchmarks-out/transfer", help="inputs, studies and cached scores"
    )
    args = parser.parse_args(argv)
    from mixopt import transfer_check

    started = time.perf_counter()
    out = Path(args.out).resolve() / ("quick" if args.quick else "full")
    model, domains, task = build(
        out, "30000" if args.quick else "400000", Path(args.model) if args.model else None
    )
    (task.parent / "score.yaml").write_text(TASK.format(data="sql_hospital.jsonl"))
    entries = json.loads(domains.read_text())
    if args.quick:  # two domains: the smallest problem with a mixture to choose
        entries = [e for e in entries if e["domain"] in ("sql_shop", "finance")]
        domains = domains.with_name("domains-quick.json")
        domains.write_text(json.dumps(entries))
    proxy = 2_000 if args.quick else 4_000
    scales = (2,) if args.quick else (4, 16)
    inputs = {
        "model": str(model),
        "domains": str(domains),
        "task": str(task.parent / "score.yaml"),
        "names": [e["domain"] for e in entries],
        "budget": proxy,
        "trials": 0 if args.quick else 10,
        "seeds": 1 if args.quick else 2,
        "train": {"seq_len": 128, "learning_rate": 3e-3},
    }
    rows = []
    for scale in scales:
        # quick (CI's smoke) runs one study, the one with --target-budget (the feature under
        # test): the whole pools' study is the same call without it (its row is left out)
        for target in (scale * proxy,) if args.quick else (None, scale * proxy):
            folder = study(out, inputs, target, args.quick)
            t = transfer_check(
                folder, scale * proxy, seeds=inputs["seeds"], quiet=True, executor="inprocess"
            )
            own = json.loads((folder / "best_mixture.json").read_text())["lift"].get("uniform")
            rho = ranking(folder, inputs, scale * proxy)
            rows.append(
                (
                    scale,
                    target is not None,
                    own,
                    t.lift.get("uniform"),
                    t.retained.get("uniform"),
                    rho,
                )
            )
    print(
        f"demo problem, {len(inputs['names'])} domains; proxy budget {proxy:,} tokens; {inputs['trials']} trials a study; "
        f"{inputs['seeds']} fresh seed(s); score = -(gold SQL loss)\n"
    )
    header = f"{'scale':>5} {'matched':>8} {'proxy lift':>11} {'lift there':>11} {'retained':>9} {'spearman':>9}"
    print(header + "\n" + "-" * len(header))
    for scale, matched, own, there, kept, rho in rows:
        lift = "-" if there is None else f"{there.value:+.4f}"
        print(
            f"{scale:>4}x {'yes' if matched else 'no':>8} {own if own is None else f'{own:+.4f}':>11} {lift:>11} "
            f"{'-' if kept is None else f'{kept:.2f}':>9} {rho:>9.2f}"
        )
    kept = {(s, m): _x(k) for s, m, _, _, k, _ in rows}
    print(
        f"\nfigure: retained share of the proxy's lift over uniform at {scales[-1]} x the proxy budget: "
        f"{kept.get((scales[-1], False), '- (--quick runs one study)')} without matching, "
        f"{kept[(scales[-1], True)]} with; ran in {time.perf_counter() - started:.0f} s"
    )
    return 0


def _x(value: float | None) -> str:
    return "n/a (no proxy lift to keep)" if value is None else f"{value:.2f} x"


if __name__ == "__main__":
    sys.exit(main())
