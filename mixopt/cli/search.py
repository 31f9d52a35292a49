"""``mixopt search``: find the domain mixture with the best out-of-domain score."""

from __future__ import annotations

import argparse
from typing import Any

from mixopt.cli._common import add_output_options, print_table, quiet_libraries
from mixopt.cli._spec import add_spec_options, given_settings
from mixopt.errors import ConfigError

__all__ = ["add_parser", "print_result", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "search",
        help="search the mixture of domains that generalizes best (the main job)",
        description="Propose mixtures with Optuna, fine-tune each briefly with LoRA on Ray Tune, score "
        "it with the out-of-domain evaluator, and report the best mixture with its lift over the "
        "uniform and natural mixtures. Everything goes under --out; --resume OUT continues a study. "
        "Settings come from --config study.yaml (the same sections as study.json: data, model, "
        "evaluator, search, train, execution, output) and from the options below, which win. "
        "Progress goes to stderr (--quiet silences it; --events FILE and OUT/events.jsonl log it as "
        "JSON lines), the results table to stdout.",
        epilog="example: mixopt search --domains domains.json --budget 50k --model Qwen/Qwen2.5-0.5B "
        "--eval downstream/sql_hospital.yaml --trials 32 --out my-study. Without --model and --eval: "
        "the default model (Qwen/Qwen2.5-0.5B, or $MIXOPT_MODEL) and the leave-one-out estimate "
        "(k trainings per trial for k domains).",
    )
    p.add_argument(
        "--config", metavar="STUDY.yaml", help="a study spec file; options given here override it"
    )
    p.add_argument(
        "--resume",
        metavar="OUT",
        help="continue the study in OUT (its settings are read from it; execution options may change)",
    )
    add_spec_options(p)
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    quiet_libraries()
    from mixopt.api import optimize_mixture, resume_search
    from mixopt.study.spec import StudySpec

    settings = given_settings(args)
    if args.resume:
        if args.config:
            raise ConfigError("--resume reads the study's settings from its folder; drop --config")
        result = resume_search(args.resume, quiet=args.quiet, events=args.events, **settings)
    else:
        base = StudySpec.load(args.config) if args.config else StudySpec()
        # the options by their flat names (--domains is domains), as the spec takes them
        spec = base.replace(**settings)
        result = optimize_mixture(spec=spec, quiet=args.quiet, events=args.events)
    print_result(result)
    return 0


def print_result(result: Any) -> None:
    best = result.best
    counts = result.counts()
    # the sentence first: what the answer is, what it beats and how sure that is
    print(f"\n{result.verdict}.")
    itself = result.baseline_answer
    print(
        f"\nAnswer: the {itself} baseline's mixture"
        if itself
        else f"\nAnswer: trial {result.best_trial}'s mixture"
    )
    print_table(
        ["domain", "share"],
        [[k, round(v, 4)] for k, v in sorted(best.mixture.items(), key=lambda kv: -kv[1])],
    )
    confirmed = bool(best.confirmed)
    header = ["mixture", "score", "std" if confirmed else "", "search score"]
    header += ["lift of answer", "95% interval", "verdict"]
    rows = [
        [
            "answer",
            _num(best.score),
            _spread(best) if confirmed else "",
            _num(best.search_score),
            "",
            "",
            "",
        ]
    ]
    for name, c in sorted(result.baselines.items()):
        lift = result.lifts.get(name)
        rows.append(
            [
                name,
                _num(c.score),
                _spread(c) if c.confirmed else "",
                _num(c.search_score),
                _signed(lift.value if lift else None),
                _interval(lift),
                "-" if lift is None else lift.verdict or "-",
            ]
        )
    if result.objectives:
        _print_objectives(result)
    seeds = len(best.confirmed)
    what = (
        f"mean of {seeds} fresh seed{'s' if seeds > 1 else ''} shared by every mixture, at the best trial's training settings"
        if confirmed
        else "single runs on the search seed, not confirmed"
    )
    scored = f"{result.estimate}; " if result.estimate else ""
    print(f"\nScores ({scored}{what}; higher is better):")
    print_table(header, rows)
    states = ", ".join(f"{v} {k}" for k, v in counts.items() if k not in ("trials", "reused"))
    reused = (
        f"; {counts['reused']} of them reused from earlier studies (--warm-start)"
        if "reused" in counts
        else ""
    )
    print(f"\n{counts['trials']} trials ({states}{reused})")
    print(
        f"wrote {result.paths['best_mixture']} and {result.paths['results']}"
        + (f" and {result.paths['pareto']}" if "pareto" in result.paths else "")
    )
    if "report" in result.paths:
        print(f"report: {result.paths['report']}")
    if result.paths.get("tracking_uri") != "none":  # --tracking-uri none: no runs to see
        print(f"see every trial: {result.mlflow_command}")


def _print_objectives(result: Any) -> None:
    """The Pareto front's size, and each objective's score and lift of the picked mixture."""
    best, names = result.best, result.objectives
    print(
        f"\n{len(names)} objectives; the Pareto front holds {len(result.front)} trials ({', '.join(map(str, result.front))}), "
        f"and the mixture above is the one --pick chose. Per objective (the next table shows the first, {names[0]}):"
    )
    rows = [["best (picked)", *(_num(best.scores.get(n)) for n in names), *([""] * len(names))]]
    for name, c in sorted(result.baselines.items()):
        lifts = result.objective_lifts.get(name, {})
        rows.append(
            [
                name,
                *(_num(c.scores.get(n)) for n in names),
                *(_signed(lifts[n].value) if n in lifts else "-" for n in names),
            ]
        )
    print_table(["mixture", *names, *(f"lift on {n}" for n in names)], rows)


def _interval(lift: Any) -> str:
    """``[+0.0040, +0.0200]``; ``one seed: no spread``; ``-`` without fresh seeds."""
    if lift is None or lift.seeds == 0:
        return "-"
    if lift.low is None or lift.high is None:
        return "one seed: no spread"
    return f"[{lift.low:+.4f}, {lift.high:+.4f}]"


def _spread(c: Any) -> str:
    """The std over the confirmation seeds; one seed has none (never a std of 0)."""
    return f"no spread ({len(c.confirmed)} seed)" if c.spread is None else f"{c.spread:.4f}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}"
