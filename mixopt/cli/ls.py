"""``mixopt ls``: the built-in (and installed) evaluators, trial plans, samplers, search spaces
and scorers."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]

KINDS = ("evaluators", "plans", "samplers", "spaces", "scorers")


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "ls",
        help="list the evaluators, trial plans, samplers, search spaces and scorers mixopt knows",
        description="List the built-in evaluator kinds (for task files), trial plans (--plan), "
        "samplers (--sampler) and search spaces (--space), each with one line on what it is, "
        "plus the evaluators, plans and samplers that installed packages add through entry points.",
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
        from mixopt.evaluators.tasks import EVALUATORS

        return EVALUATORS.describe()
    if kind == "plans":
        from mixopt.plans import PLANS

        return PLANS.describe()
    if kind == "samplers":
        from mixopt.search.proposals.samplers import SAMPLERS, SINGLE_OBJECTIVE
        from mixopt.study.spec import DEFAULT_MO_SAMPLER, DEFAULT_SAMPLER

        rows = _mark(SAMPLERS.describe(), DEFAULT_SAMPLER)
        rows = [
            (
                n,
                f"{d} (default with several objectives)"
                if n == DEFAULT_MO_SAMPLER and n != DEFAULT_SAMPLER
                else d,
            )
            for n, d in rows
        ]
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
    "evaluators": "kind: NAME in a task file",
    "plans": "--plan NAME",
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
