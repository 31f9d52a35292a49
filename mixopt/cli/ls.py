"""``mixopt ls``: every kind of part mixopt knows (built-in and installed), one line each.

Each kind is one row of :data:`KINDS`: where its parts are listed (a registry, read with
``describe()``), one line on what it is, how a study names one, and its default.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from mixopt.registry import Registry, import_object

__all__ = ["KINDS", "Kind", "add_parser", "catalogue", "run"]


@dataclass(frozen=True)
class Kind:
    """One kind of part ``mixopt ls`` lists."""

    source: str
    """``module:attr`` of its :class:`~mixopt.registry.Registry`, or of a function that
    returns its (name, description) rows; imported only when the kind is listed."""
    about: str
    """What a part of this kind is, in a few words (``mixopt ls --help``)."""
    use: str
    """How a study names one (the kind's heading)."""
    default: str | None = None
    """``module:attr`` of the default's name (marked ``(default)``), if the kind has one."""


KINDS: dict[str, Kind] = {
    "evaluators": Kind(
        "mixopt.evaluators.tasks:EVALUATORS",
        "what scores a trained model out of domain",
        "kind: NAME in a task file",
    ),
    "plans": Kind(
        "mixopt.plans:PLANS",
        "how a trial trains and scores a mixture",
        "--plan NAME",
    ),
    "samplers": Kind(
        "mixopt.search.proposals.samplers:SAMPLERS",
        "what proposes the next trial",
        "--sampler NAME",
        "mixopt.study.spec:DEFAULT_SAMPLER",
    ),
    "spaces": Kind(
        "mixopt.search.proposals.space:describe_spaces",
        "what the search varies",
        "--space NAME",
        "mixopt.search.proposals.space:DEFAULT_SPACE",
    ),
    "scorers": Kind(
        "mixopt.scorers:SCORERS",
        "per-record scores that filters keep records by",
        "filters: {NAME: {min: ..., max: ...}} in a search space",
    ),
    "clusterers": Kind(
        "mixopt.cluster:CLUSTERERS",
        "how mixopt cluster splits a pool into domains",
        "mixopt cluster --method NAME",
        "mixopt.cluster:ClusterConfig.method",
    ),
    "executors": Kind(
        "mixopt.search.executors:EXECUTORS",
        "what runs a study's trials",
        "--executor NAME",
        "mixopt.study.spec:ExecutionSpec.executor",
    ),
    "trackers": Kind(
        "mixopt.search.tracking:TRACKERS",
        "where a study's runs are recorded",
        "--tracking-uri NAME, or an MLflow URI",
        "mixopt.search.tracking:DEFAULT_TRACKER",
    ),
}


def add_parser(subparsers: Any) -> None:
    about = ", ".join(f"{name} ({kind.about})" for name, kind in KINDS.items())
    p = subparsers.add_parser(
        "ls",
        help=f"list the {', '.join(KINDS)} mixopt knows",
        description="List every kind of part a study or mixopt cluster can name, each with "
        "one line on what it is and what it declares it can do, marking the defaults, plus "
        "those that installed packages add through entry points (shown by where they come "
        f"from, without importing them): {about}.",
        epilog="example: mixopt ls samplers",
    )
    p.add_argument(
        "kind",
        nargs="?",
        choices=list(KINDS),
        metavar="KIND",
        help=f"what to list: {', '.join(KINDS)} (default: all)",
    )
    p.set_defaults(handler=run)


def catalogue(kind: str) -> list[tuple[str, str]]:
    """(name, description) of every part of ``kind``, the default marked."""
    entry = KINDS[kind]
    source = import_object(entry.source, kind)
    rows: list[tuple[str, str]] = (
        source.describe() if isinstance(source, Registry) else list(source())
    )
    default = import_object(entry.default, kind) if entry.default else None
    return [(n, f"{d} (default)" if n == default else d) for n, d in rows]


def run(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else list(KINDS)
    for k, kind in enumerate(kinds):
        rows = catalogue(kind)
        if k:
            print()
        print(f"{kind} ({KINDS[kind].use}):")
        width = max(len(name) for name, _ in rows)
        for name, description in rows:
            print(f"  {name.ljust(width)}  {description}".rstrip())
    return 0
