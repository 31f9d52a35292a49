"""``mixopt report OUT``: the study's HTML report with plots, written to ``OUT/report/``."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="write a study's HTML report with plots (OUT/report/index.html)",
        description="Read a study folder (finished or interrupted) and write OUT/report/: "
        "index.html and PNG plots of the best mixture against the baselines, the "
        "optimization history, each domain's share against the score, parameter "
        "importances, the proposals on the simplex, the top trials' per-task metrics, "
        "and what the study cost. A search writes it at its end too.",
        epilog="example: mixopt report my-study   (then open my-study/report/index.html)",
    )
    p.add_argument("out", metavar="OUT", help="the study folder (the --out of a search)")
    p.add_argument(
        "--top",
        type=int,
        default=5,
        metavar="N",
        help="top trials whose metrics are shown (default 5)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mixopt.errors import ConfigError
    from mixopt.report import write_report

    if args.top < 1:
        raise ConfigError("--top must be at least 1")
    page = write_report(args.out, top=args.top)
    print(f"wrote {page}")
    from mixopt.report import gather

    data = gather(args.out)
    # what the study found, a transfer that did not hold first (it overrides the answer)
    for _, t in sorted(data.transfers.items()):
        if not t.held:
            print(f"{t.headline()}: the study's answer did not hold there")
    if data.best is not None:
        print(f"{data.headline}.")
    return 0
