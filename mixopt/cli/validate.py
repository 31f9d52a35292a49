"""``mixopt validate``: run the checks ``mixopt search`` runs first, and show what each domain
holds."""

from __future__ import annotations

import argparse
from typing import Any

from mixopt.cli._common import (
    add_data_options,
    add_output_options,
    event_log,
    print_table,
    quiet_libraries,
)

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check a domains file (and evaluator, space, budget); count records and tokens",
        description="Check a domains file. With --model, tokenize every domain (cached) and "
        "count tokens; with --budget too, show the largest share each domain can fill. "
        "--eval and --space check a task file and a search space as mixopt search would, "
        "evaluation data overlapping training data included. All problems are reported at once.",
        epilog="example: mixopt validate --domains domains.json --model Qwen/Qwen2.5-0.5B "
        "--budget 50k --eval downstream/my_task.yaml",
    )
    add_data_options(p, model_required=False)
    p.add_argument(
        "--budget", help="token budget, e.g. 50k or 1.5M: show each domain's maximum share"
    )
    p.add_argument("--eval", dest="evaluator", metavar="TASKS", help="task file or module:attr")
    p.add_argument("--space", help="search space: built-in name or YAML path")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mixopt.budget import format_budget, parse_budget
    from mixopt.errors import MixoptError
    from mixopt.search.preflight import check_inputs

    problems: list[str] = []
    budget = None
    if args.budget is not None:
        try:
            budget = parse_budget(args.budget)
        except MixoptError as exc:
            problems.extend(exc.problems)
    quiet_libraries()
    checked = check_inputs(args.domains, args.model, args.evaluator, budget, args.space,
                           cache_dir=args.cache_dir, problems=problems, events=event_log(args))  # fmt: skip
    if checked.domains is None:
        return _records_only(checked.specs, args)
    from mixopt.data.allocation import max_shares

    domains = checked.domains
    shares = max_shares(domains, budget) if budget else {}
    header = ["domain", "format", "records", "tokens", "max_epochs", "share bounds"]
    if budget:
        header.append(f"max share @ {format_budget(budget)}")
    rows = []
    for d in domains:
        row: list[Any] = [
            d.name,
            d.format,
            d.num_records,
            d.num_tokens,
            d.spec.max_epochs,
            _bounds(d.spec),
        ]
        if budget:
            row.append(shares[d.name])
        rows.append(row)
    print_table(header, rows)
    total = sum(d.num_tokens for d in domains)
    print(
        f"\n{len(domains)} domains, {sum(d.num_records for d in domains):,} records, "
        f"{total:,} tokens "
        f"(tokens of the {args.model} tokenizer)"
    )
    if budget:
        print(f"budget {format_budget(budget)} ({budget:,} tokens) is feasible")
    if checked.suite is not None:
        print(f"evaluator: {len(checked.suite.tasks)} tasks checked, no overlap with training data")
    if checked.space.filters:
        from mixopt.search.filters import kept_table
        from mixopt.search.preflight import check_filters

        scores = check_filters(checked.space, domains, checked.model_ref, budget, args.cache_dir, event_log(args))
        print("\nfilters: what each threshold keeps on its own, at each end of its range")
        print_table(*kept_table(checked.space.filters, domains, scores))
    return 0


def _records_only(specs: Any, args: argparse.Namespace) -> int:
    import tempfile

    from mixopt.data.formats import resolve_format
    from mixopt.data.sources import load_records
    from mixopt.data.spec import count_problems
    from mixopt.errors import ConfigError, MixoptError

    rows: list[list[Any]] = []
    problems: list[str] = []
    # parsed files are not worth caching without tokens: nothing is written
    scratch = tempfile.TemporaryDirectory(prefix="mixopt-validate-")
    for spec in specs:
        try:
            records = load_records(spec, scratch.name)
            if len(records) == 0:
                raise ConfigError(f"domain {spec.name!r}: no records")
            mismatch = count_problems(spec, len(records))  # a file's records are counted here
            if mismatch:
                raise ConfigError(mismatch)
            rows.append(
                [
                    spec.name,
                    resolve_format(spec, records.column_names),
                    len(records),
                    spec.max_epochs,
                    _bounds(spec),
                ]
            )
        except MixoptError as exc:
            problems.extend(exc.problems)
    scratch.cleanup()
    if problems:
        raise ConfigError(problems)
    print_table(["domain", "format", "records", "max_epochs", "share bounds"], rows)
    print(f"\n{len(rows)} domains; pass --model to count tokens and check a --budget")
    return 0


def _bounds(spec: Any) -> str:
    if spec.fixed_share is not None:
        return f"fixed {spec.fixed_share:g}"
    return f"[{spec.min_share:g}, {spec.max_share:g}]"
