"""Options and steps that several subcommands share."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mixopt.events import EventLog

__all__ = ["add_output_options", "event_log", "print_table", "quiet_libraries"]


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quiet", action="store_true", help="no progress lines on stderr; results still print"
    )
    parser.add_argument(
        "--events",
        metavar="FILE",
        help="append a JSON-lines event log to FILE (one object per event: event, time, fields)",
    )


def event_log(args: argparse.Namespace) -> EventLog:
    """The run's progress lines (stderr, unless --quiet) and --events file."""
    from mixopt.events import EventLog

    return EventLog([args.events] if args.events else [], quiet=args.quiet)


def quiet_libraries() -> None:
    """Keep library progress bars and hub chatter out of the CLI's output."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print an aligned plain-text table (numbers right-aligned)."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    numeric = [all(isinstance(row[i], int | float) for row in rows) for i in range(len(header))]
    for k, row in enumerate(cells):
        print(
            "  ".join(
                c.rjust(w) if numeric[i] else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if k == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
