"""``mixopt search``: find the domain mixture with the best out-of-domain score."""

from __future__ import annotations

import argparse
from typing import Any

from mixopt.cli._common import add_output_options, print_table, quiet_libraries
from mixopt.errors import ConfigError
from mixopt.search.samplers import DEFAULT_SAMPLER

__all__ = ["add_parser", "print_result", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "search",
        help="search the mixture of domains that generalizes best (the main job)",
        description="Propose mixtures with Optuna, fine-tune each briefly with LoRA on Ray Tune, score "
        "it with the out-of-domain evaluator, and report the best mixture with its lift over the "
        "uniform and natural mixtures. Everything goes under --out; --resume OUT continues a study. "
        "Progress goes to stderr (--quiet silences it; --events FILE and OUT/events.jsonl log it as "
        "JSON lines), the results table to stdout.",
        epilog="example: mixopt search --domains domains.json --budget 50k --model Qwen/Qwen2.5-0.5B "
        "--eval downstream/sql_hospital.yaml --trials 32 --out my-study",
    )
    p.add_argument("--domains", metavar="FILE", help="the domains file")
    p.add_argument("--budget", help="training tokens per trial, e.g. 50k")
    p.add_argument("--model", help="base model: hub id or local folder")
    p.add_argument(
        "--eval",
        dest="evaluator",
        metavar="TASKS",
        help="task file (downstream/*.yaml) or module:attr",
    )
    p.add_argument(
        "--trials",
        type=int,
        default=16,
        help="searched trials besides the baselines (default 16; 0: baselines only)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        help="trials at once (default: one per GPU, else per --cpus-per-trial CPUs)",
    )
    p.add_argument(
        "--cpus-per-trial",
        type=int,
        default=1,
        help="CPUs and torch threads per trial without GPUs (default 1)",
    )
    p.add_argument(
        "--sampler",
        default=DEFAULT_SAMPLER,
        help=f"{DEFAULT_SAMPLER} (default), gp, tpe, cmaes, qmc, random, or module:attr",
    )
    p.add_argument(
        "--space",
        help="search space: search_spaces/NAME.yaml name or a YAML path (default: default)",
    )
    p.add_argument("--out", default="mixopt-out", help="output folder (default mixopt-out)")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for proposals, data samples and training (default 0)",
    )
    p.add_argument(
        "--confirm",
        type=int,
        default=2,
        help="fresh seeds to re-run the best and the baselines on (default 2)",
    )
    p.add_argument(
        "--early-stop",
        choices=("auto", "on", "off"),
        default="auto",
        help="ASHA early stopping on the intermediate score (auto: on from 8 trials)",
    )
    p.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="MIX.json",
        help="a mixture to score beside uniform and natural (repeatable)",
    )
    p.add_argument(
        "--trial-timeout",
        type=float,
        metavar="SECONDS",
        help="stop a trial that runs longer and record it as failed (default: no limit)",
    )
    p.add_argument(
        "--max-retries",
        type=int,
        default=1,
        help="re-runs of a trial whose worker process died (default 1; a trial that raises is never re-run)",
    )
    p.add_argument(
        "--resume", metavar="OUT", help="continue the study in OUT (other options are read from it)"
    )
    p.add_argument("--ray-address", help="join a running Ray cluster (default: start a local one)")
    p.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: SQLite in the output folder)"
    )
    p.add_argument("--storage", help="Optuna storage URL (default: SQLite in the output folder)")
    p.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="tokenization cache (default $MIXOPT_CACHE_DIR or ~/.cache/mixopt)",
    )
    t = p.add_argument_group("training (each trial's LoRA fine-tune)")
    t.add_argument("--lr", type=float, help="learning rate (default 2e-3)")
    t.add_argument("--lora-rank", type=int, help="LoRA rank (default 8)")
    t.add_argument("--seq-len", type=int, help="tokens per sequence (default 256)")
    t.add_argument("--batch-size", type=int, help="sequences per step (default 8)")
    t.add_argument("--checkpoints", type=int, help="intermediate scores per trial (default 3)")
    t.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    t.add_argument("--precision", help="auto (default), fp32, bf16, fp16")
    t.add_argument(
        "--allow-pickle", action="store_true", help="allow a model whose weights are pickled (.bin)"
    )
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    quiet_libraries()
    from mixopt.search.api import optimize_mixture, resume_search

    if args.resume:
        result = resume_search(
            args.resume, quiet=args.quiet, cache_dir=args.cache_dir, events=args.events
        )
    else:
        missing = [
            f"--{n}"
            for n, v in (
                ("domains", args.domains),
                ("budget", args.budget),
                ("model", args.model),
                ("eval", args.evaluator),
            )
            if v is None
        ]
        if missing:
            raise ConfigError(f"mixopt search needs {', '.join(missing)} (or --resume OUT)")
        result = optimize_mixture(
            args.model, args.domains, args.evaluator, args.budget, train=_train(args), baselines=_baselines(args.baseline),
            quiet=args.quiet, events=args.events, cache_dir=args.cache_dir, trials=args.trials, concurrency=args.concurrency,
            cpus_per_trial=args.cpus_per_trial, sampler=args.sampler, space=args.space, out=args.out, seed=args.seed,
            confirm=args.confirm, early_stop=args.early_stop, ray_address=args.ray_address,
            tracking_uri=args.tracking_uri, storage=args.storage, allow_pickle=args.allow_pickle,
            trial_timeout=args.trial_timeout, max_retries=args.max_retries,
        )  # fmt: skip
    print_result(result)
    return 0


def _train(args: argparse.Namespace) -> dict[str, Any]:
    names = {"lr": "learning_rate", "lora_rank": "lora_rank", "seq_len": "seq_len", "batch_size": "batch_size",
             "checkpoints": "checkpoints", "device": "device", "precision": "precision"}  # fmt: skip
    return {
        field: getattr(args, arg) for arg, field in names.items() if getattr(args, arg) is not None
    }


def _baselines(paths: list[str]) -> dict[str, dict[str, float]]:
    from pathlib import Path

    from mixopt.cli.export import read_mixture

    out: dict[str, dict[str, float]] = {}
    for path in paths:
        name = Path(path).stem
        if name in out:
            raise ConfigError(f"two --baseline files are named {name!r}; rename one")
        out[name] = read_mixture(path)
    return out


def print_result(result: Any) -> None:
    best = result.best
    counts = result.counts()
    print("\nBest mixture:")
    print_table(
        ["domain", "share"],
        [[k, round(v, 4)] for k, v in sorted(best.mixture.items(), key=lambda kv: -kv[1])],
    )
    confirmed = bool(best.confirmed)
    header = ["mixture", "score", "std" if confirmed else "", "search score", "lift of best"]
    rows = [
        [
            "best",
            _num(best.score),
            _num(best.spread) if confirmed else "",
            _num(best.search_score),
            "",
        ]
    ]
    for name, c in sorted(result.baselines.items()):
        rows.append(
            [
                name,
                _num(c.score),
                _num(c.spread) if c.confirmed else "",
                _num(c.search_score),
                _signed(result.lift.get(name)),
            ]
        )
    print(
        f"\nScores ({'mean of ' + str(len(best.confirmed)) + ' fresh seeds' if confirmed else 'single runs'}; higher is better):"
    )
    print_table(header, rows)
    states = ", ".join(f"{v} {k}" for k, v in counts.items() if k != "trials")
    print(f"\n{counts['trials']} trials ({states})")
    print(f"wrote {result.paths['best_mixture']} and {result.paths['results']}")
    if "report" in result.paths:
        print(f"report: {result.paths['report']}")
    print(f"see every trial: {result.mlflow_command}")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}"
