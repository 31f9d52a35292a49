"""The ``mixopt`` command: a thin layer over the Python API.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args) -> int``. Expected failures (:class:`MixoptError`) print one line per problem
and exit with status 2 (bad input) or 3 (storage or disk failed under a running study); a
study stopped by SIGINT or SIGTERM prints one line with its resume command and exits 130 or
143; nothing heavy is imported until a subcommand runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mixopt.errors import MixoptError, StudyInterrupted

__all__ = ["main", "run"]

_SUBCOMMANDS = ("search", "transfer", "validate", "export", "cluster", "report", "ls", "tiny-model")
EPILOG = """example (check the inputs, search, then export the best mixture at the real budget):
  mixopt validate --domains domains.json --model Qwen/Qwen2.5-0.5B --budget 50k \\
      --eval my_task.yaml
  mixopt search --domains domains.json --model Qwen/Qwen2.5-0.5B --budget 50k \\
      --eval my_task.yaml --trials 32 --out my-study
  mixopt export --domains domains.json --model Qwen/Qwen2.5-0.5B \\
      --mixture my-study/best_mixture.json --budget 5M --out mixed/

Run 'mixopt COMMAND --help' for a command's options; 'mixopt ls' lists the evaluators,
samplers and search spaces. Expected failures print one line each ('mixopt: error: ...')
and exit with status 2."""


def build_parser() -> argparse.ArgumentParser:
    from importlib import import_module

    from mixopt._version import __version__

    parser = argparse.ArgumentParser(
        prog="mixopt",
        description="Find the domain mixture that makes a fine-tuned LLM generalize best\n"
        "to domains none of its training data covers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the example's lines
    )
    parser.add_argument("--version", action="version", version=f"mixopt {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMANDS:
        import_module(f"mixopt.cli.{name.replace('-', '_')}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        status: int = args.handler(args)
        return status
    except MixoptError as exc:
        for problem in exc.problems:
            print(f"mixopt: error: {problem}", file=sys.stderr)
        if getattr(args, "events", None):
            from mixopt.events import EventLog

            EventLog([args.events], quiet=True).emit("error", problems=list(exc.problems))
        return exc.exit_status
    except StudyInterrupted as exc:
        print(f"mixopt: {exc.line()}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("mixopt: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
