"""``mixopt validate``: run the checks ``mixopt search`` runs first, and show what each domain
holds."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from mixopt.cli._common import add_output_options, event_log, print_table, quiet_libraries
from mixopt.cli._spec import add_spec_options, given_settings

if TYPE_CHECKING:
    from mixopt.search.orchestration.preflight import Checked
    from mixopt.study.spec import StudySpec

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check a domains file (and evaluator, plan, space, budget); count records and tokens",
        description="Check what mixopt search would run, with the same options and the same "
        "checks, all problems reported at once, and write nothing. Without --model, count each "
        "domain's records; with --model, tokenize every domain (cached) and count tokens; with "
        "--budget too, show the largest share each domain can fill, and with --target-budget "
        "the epochs each domain sees at both budgets. The evaluator (--eval), the trial plan "
        "(--plan: leave-one-out without --eval), the space, the sampler, --pick, --baseline and "
        "--in-domain are checked as mixopt search checks them, evaluation data overlapping "
        "training data included.",
        epilog="example: mixopt validate --domains domains.json --model Qwen/Qwen2.5-0.5B "
        "--budget 50k --eval downstream/my_task.yaml",
    )
    p.add_argument(
        "--config", metavar="STUDY.yaml", help="a study spec file; options given here override it"
    )
    # everything that decides what a study checks; where it writes (output) is not checked
    add_spec_options(p, ("data", "model", "scoring", "search", "train", "execution"))
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mixopt.search.orchestration.preflight import check_inputs

    spec, problems = _spec(args)
    budget, target = spec.search.budget, spec.search.target_budget
    if target is not None and budget is None:
        problems.append("--target-budget needs --budget (the proxy's budget) to compare with")
    quiet_libraries()
    checked = check_inputs(spec, problems, event_log(args))
    if checked.domains is None:
        code = _records_only(checked.specs)
        _evaluator_lines(spec, checked, checked.specs, tokens=False)
        return code
    domains = checked.domains
    _tokens_table(domains, budget)
    total = sum(d.num_tokens for d in domains)
    print(
        f"\n{len(domains)} domains, {sum(d.num_records for d in domains):,} records, "
        f"{total:,} tokens "
        f"(tokens of the {spec.model.name} tokenizer)"
    )
    if budget:
        from mixopt.budget import format_budget

        print(f"budget {format_budget(budget)} ({budget:,} tokens) is feasible")
    if budget and target:
        _epochs(domains, budget, target)
    _evaluator_lines(spec, checked, domains)
    if checked.space.filters:
        from mixopt.search.orchestration.preflight import check_filters
        from mixopt.search.proposals.filters import kept_table

        scores = check_filters(
            checked.space, domains, checked.model_ref, budget, spec.data.cache_dir, event_log(args)
        )
        print("\nfilters: what each threshold keeps on its own, at each end of its range")
        print_table(*kept_table(checked.space.filters, domains, scores))
    return 0


def _tokens_table(domains: Any, budget: int | None) -> None:
    """Each domain's format, records, tokens, cap and bounds, and its largest share at the
    budget."""
    from mixopt.budget import format_budget
    from mixopt.data.allocation import max_shares

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


def _evaluator_lines(spec: StudySpec, checked: Checked, domains: Any, tokens: bool = True) -> None:
    """What the checked plan and evaluator will do: the plan's first line (leave-one-out's
    cost), a data file read as a loss task, the tasks (checked for overlap with the training
    data when the domains were tokenized) and the objectives."""
    from mixopt.evaluators.tasks import loss_data_line
    from mixopt.plans import cost_line, no_target_line

    names = [d.name for d in domains]
    plan = checked.plan
    said = None if plan is None else cost_line(plan, names, spec.search.trials)
    if said is not None:
        print(f"plan: {said[0]}")
    if line := no_target_line(plan):
        print(line)
    if line := loss_data_line(spec.scoring.evaluator):
        print(line)
    if (suite := checked.suite) is not None:
        if tokens:
            n = len(suite.tasks)
            print(f"evaluator: {n} task{'s' * (n != 1)} checked, no overlap with training data")
        print(_objectives_line(suite))


def _spec(args: argparse.Namespace) -> tuple[StudySpec, list[str]]:
    """The study spec mixopt search would build from these options, and the problems of the
    options that do not parse (each left out, so the checks of the others still run)."""
    from mixopt.errors import ConfigError
    from mixopt.study.spec import StudySpec

    spec = StudySpec.load(args.config) if args.config else StudySpec()
    settings = given_settings(args)
    problems: list[str] = []
    for name, value in list(settings.items()):
        try:
            spec.replace(**{name: value})
        except ConfigError as exc:
            problems.extend(exc.problems)
            del settings[name]
    if spec.data.domains is None and "domains" not in settings:
        raise ConfigError(
            [*problems, "mixopt validate needs --domains (or a --config naming them)"]
        )
    try:
        return spec.replace(**settings), problems
    except ConfigError as exc:  # settings that parse alone but not together (a cross-field check)
        raise ConfigError([*problems, *exc.problems]) from None


def _objectives_line(suite: Any) -> str:
    """What the study maximizes: the objectives, or the one (weighted) score."""
    if suite.multi_objective:
        return f"objectives: {', '.join(suite.objectives)} (each maximized; the answer is their Pareto front)"
    if suite.objectives:
        return f"objective: {suite.objectives[0]}"
    scored = [t.name for t in suite.tasks if t.share > 0]
    return (
        f"objective: the score of {scored[0]}"
        if len(scored) == 1
        else f"objective: the weighted mean of {', '.join(scored)}"
    )


def _epochs(domains: Any, budget: int, target: int) -> None:
    """The epochs each domain sees under the uniform mixture at the proxy's budget (whole
    pools, and pools cut as --target-budget cuts them) and at the target's; a warning where
    the whole-pool proxy repeats a domain more than 2x differently from the target run."""
    import sys

    from mixopt.budget import format_budget
    from mixopt.data.allocation import allocate, check_budget, uniform_mixture
    from mixopt.data.subsample import subsample_domains

    check_budget(domains, target)
    cut = subsample_domains(domains, budget, target)
    at = {
        "proxy": allocate(uniform_mixture(domains, budget), budget, domains).epochs,
        "matched": allocate(uniform_mixture(cut, budget), budget, cut).epochs,
        "target": allocate(uniform_mixture(domains, target), target, domains).epochs,
    }
    p, t = format_budget(budget), format_budget(target)
    print("\nEpochs under the uniform mixture (passes over each domain's data):")
    print_table(
        ["domain", f"proxy @ {p}", f"proxy @ {p} with --target-budget {t}", f"target @ {t}"],
        [[d.name, *(round(at[k][d.name], 4) for k in at)] for d in domains],
    )
    apart = [
        d.name
        for d in domains
        if max(at["proxy"][d.name], at["target"][d.name])
        > 2 * min(at["proxy"][d.name], at["target"][d.name])
    ]
    if apart:
        print(
            f"warning: at {p} the proxy repeats {', '.join(apart)} more than 2x differently from the run at {t}; "
            f"search with --target-budget {t} so each domain repeats as it will there",
            file=sys.stderr,
        )


def _records_only(specs: Any) -> int:
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
