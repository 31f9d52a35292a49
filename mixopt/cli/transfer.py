"""``mixopt transfer OUT --budget 500k``: does a finished study's answer hold at another budget?"""

from __future__ import annotations

import argparse
from typing import Any

from mixopt.cli._common import add_output_options, print_table, quiet_libraries
from mixopt.cli._spec import add_spec_options, given_settings

__all__ = ["add_parser", "print_transfer", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "transfer",
        help="train a finished study's best mixture and the baselines at another budget (a transfer check)",
        description="Train the best mixture of the study in OUT and its uniform and natural baselines at "
        "another budget, on fresh seeds, with the study's recipe (on the whole pools, also for a study "
        "searched with --target-budget), and report the lift there and the share of the study's lift it "
        "keeps. Written to OUT/best_mixture.json ('transfer', by budget), the report and MLflow (runs "
        "under the study's parent, tagged mixopt.budget). Run again after an interruption: only the "
        "missing runs are trained.",
        epilog="example: mixopt transfer my-study --budget 500k --seeds 3",
    )
    p.add_argument("study", metavar="OUT", help="a finished study's folder")
    p.add_argument(
        "--budget",
        dest="at_budget",
        required=True,
        metavar="TOKENS",
        help="the budget to check the study's answer at, e.g. 500k",
    )
    p.add_argument(
        "--seeds", type=int, default=2, metavar="K", help="fresh seeds per mixture (default: 2)"
    )
    # how the runs execute and are tracked
    add_spec_options(p, ("execution", "output"), leave_out=("out", "storage"))
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    quiet_libraries()
    from mixopt.api import transfer_check

    transfer = transfer_check(
        args.study,
        args.at_budget,
        args.seeds,
        quiet=args.quiet,
        events=args.events,
        **given_settings(args),
    )
    print_transfer(transfer)
    return 0


def print_transfer(transfer: Any) -> None:
    from mixopt.budget import format_budget

    seeds = len(transfer.best.confirmed)
    print(f"\n{transfer.headline()}.")
    if not transfer.held:
        print(
            "The study's answer did not hold at this budget: choose again there (--confirm-budget)."
        )
    print(
        f"\nAt budget {format_budget(transfer.budget)} (mean of {seeds} fresh seed{'s' * (seeds > 1)}; higher is better):"
    )
    rows: list[list[object]] = [
        ["answer", _num(transfer.best.score), _num(transfer.best.spread), "", "", "", ""]
    ]
    for name, c in sorted(transfer.baselines.items()):
        lift, kept = transfer.lift.get(name), transfer.retained.get(name)
        rows.append(
            [
                name,
                _num(c.score),
                _num(c.spread),
                "-" if lift is None else f"{lift.value:+.4f}",
                _interval(lift),
                "-" if lift is None else lift.verdict or "-",
                "-" if kept is None else f"{kept:.0%}",
            ]
        )
    header = ["mixture", "score", "std", "lift of answer", "95% interval", "verdict"]
    print_table([*header, "of the study's lift"], rows)


def _interval(lift: Any) -> str:
    if lift is None or lift.low is None or lift.high is None:
        return "one seed: no spread" if lift is not None and lift.seeds == 1 else "-"
    return f"[{lift.low:+.4f}, {lift.high:+.4f}]"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
