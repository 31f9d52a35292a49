"""``mixopt export``: materialize a mixture at a budget for the real fine-tune."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mixopt.cli._common import add_data_options, add_output_options, event_log, quiet_libraries
from mixopt.io import read_mixture, require_empty_dir

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a mixture's records at a budget, with configs for LLaMA-Factory and Axolotl",
        description="Sample a mixture from the domains at a token budget (usually larger than "
        "the search budget) and write to --out: mixture.jsonl and a datasets folder (the mixed "
        "records), domains/NAME.jsonl (each domain's records), weights.json (token and record "
        "shares), manifest.json, llamafactory/ (dataset_info.json and the mixture.yaml data "
        "arguments), axolotl.yaml (a datasets: list) and interleave.py (a datasets script). "
        "Each tool config trains on exactly the exported records per domain.",
        epilog="example: mixopt export --domains domains.json --model Qwen/Qwen2.5-0.5B "
        "--mixture my-study/best_mixture.json --budget 5M --out mixed/",
    )
    add_data_options(p, model_required=True)
    p.add_argument(
        "--mixture",
        required=True,
        metavar="FILE",
        help='JSON: {"domain": share, ...}, or a best_mixture.json from a search',
    )
    p.add_argument("--budget", required=True, help="token budget, e.g. 5M")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="output folder (must not exist or be empty)"
    )
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mixopt._version import __version__
    from mixopt.budget import parse_budget
    from mixopt.data.export import export_mixture
    from mixopt.data.spec import load_domains
    from mixopt.data.tokenize import tokenize_domains
    from mixopt.models import load_tokenizer

    budget = parse_budget(args.budget)
    mixture = read_mixture(args.mixture)
    specs = load_domains(args.domains)
    out = Path(args.out)
    require_empty_dir(out)
    quiet_libraries()
    events = event_log(args)
    tokenizer = load_tokenizer(args.model)
    domains = tokenize_domains(specs, tokenizer, args.cache_dir, events=events)
    filters = _filters(args.mixture)
    if filters:  # a study's answer with its filter thresholds: export what they keep
        from mixopt.data.filtering import filter_domains
        from mixopt.scorers.cache import score_domains

        only = filters["space"].scorers_by_domain([d.name for d in domains])
        scores = score_domains(
            domains, filters["settings"], filters["model"], args.cache_dir, events, only, tokenizer
        )
        domains = filter_domains(domains, scores, filters["values"])
    events.emit(
        "export_started",
        f"sampling {budget:,} tokens and writing {out}...",
        out=str(out.resolve()),
        budget=budget,
        mixture=mixture,
        seed=args.seed,
    )
    provenance = {
        "mixopt_version": __version__,
        "tokenizer": args.model,
        "domains_file": str(Path(args.domains).resolve()),
        "mixture": mixture,
        **({"filters": filters["values"]} if filters else {}),
    }
    path = export_mixture(
        domains,
        mixture,
        budget,
        out,
        seed=args.seed,
        provenance=provenance,
        cache_dir=args.cache_dir,
    )
    manifest = json.loads((path / "manifest.json").read_text())
    events.emit(
        "export_done",
        None,
        out=str(path.resolve()),
        records=manifest["records"],
        tokens=manifest["tokens_exported"],
        domains=manifest["domains"],
    )
    print(
        f"wrote {manifest['records']:,} records ({manifest['tokens_exported']:,} tokens) to {path}"
    )
    for name, d in manifest["domains"].items():
        print(
            f"  {name}: {d['tokens']:,} tokens ({d['tokens_exported']:,} in whole records), "
            f"{d['records']:,} records, {d['epochs']:.2f} epochs"
        )
    return 0


def _filters(path: str) -> dict[str, Any] | None:
    """The filter thresholds of a search's ``best_mixture.json`` (None for a plain mixture file),
    with the space they were searched in and the model its scores were computed with."""
    from mixopt.search.proposals.filters import FilterSpace

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not data.get("filters"):
        return None
    space = FilterSpace.from_dict(data["space"]["filters"])
    return {
        "values": data["filters"],
        "settings": dict(space.settings),
        "space": space,
        "model": data["model"],
    }
