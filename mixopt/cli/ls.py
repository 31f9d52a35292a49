"""``mixopt ls``: the built-in (and installed) evaluators, samplers, search spaces and scorers."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]

KINDS = ("evaluators", "samplers", "spaces", "scorers")


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "ls",
        help="list the evaluators, samplers, search spaces and scorers mixopt knows",
        description="List the built-in evaluator kinds (for task files), samplers (--sampler) "
        "and search spaces (--space), each with one line on what it is, plus the evaluators "
        "and samplers that installed packages add through entry points.",
        epilog="example: mixopt ls samplers",
    )
    p.add_argument(
        "kind",
        nargs="?",
        choices=KINDS,
        metavar="KIND",
        help=f"what to list: {', '.join(KINDS)} (default: all)",
    )
    p.set_defaults(handler=run)


def catalogue(kind: str) -> list[tuple[str, str]]:
    """(name, description) of every part of ``kind``."""
    if kind == "evaluators":
        from mixopt.evaluators.leave_one_out import LEAVE_ONE_OUT
        from mixopt.evaluators.tasks import EVALUATORS

        lodo = (
            "No task file: each trial trains once per domain left out (k trainings), scored by "
            "minus that domain's loss; the default without --eval (--lodo-domains A,B to rotate fewer)"
        )
        return [*EVALUATORS.describe(), (LEAVE_ONE_OUT, lodo)]
    if kind == "samplers":
        from mixopt.search.proposals.samplers import SAMPLERS, SINGLE_OBJECTIVE
        from mixopt.study.spec import DEFAULT_SAMPLER

        rows = _mark(SAMPLERS.describe(), DEFAULT_SAMPLER)
        return [
            (n, f"{d.rstrip('.')}; one objective only" if n in SINGLE_OBJECTIVE else d)
            for n, d in rows
        ]
    if kind == "scorers":
        from mixopt.scorers import SCORERS

        return SCORERS.describe()
    from mixopt.search.proposals.space import describe_spaces

    return _mark(describe_spaces(), "default")


def _mark(rows: list[tuple[str, str]], default: str) -> list[tuple[str, str]]:
    return [(n, f"{d} (default)" if n == default else d) for n, d in rows]


_USE = {
    "evaluators": "kind: NAME in a task file; --eval leave-one-out",
    "samplers": "--sampler NAME",
    "spaces": "--space NAME",
    "scorers": "filters: {NAME: {min: ..., max: ...}} in a search space",
}


def run(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else list(KINDS)
    for k, kind in enumerate(kinds):
        rows = catalogue(kind)
        if k:
            print()
        print(f"{kind} ({_USE[kind]}):")
        width = max(len(name) for name, _ in rows)
        for name, description in rows:
            print(f"  {name.ljust(width)}  {description}".rstrip())
    return 0
