"""``mixopt export``: materialize a mixture at a budget for the real fine-tune."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mixopt.cli._common import add_output_options, event_log, quiet_libraries
from mixopt.cli._spec import add_config_options, given_config

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    from mixopt.export.spec import ExportSpec

    p = subparsers.add_parser(
        "export",
        help="write a mixture's records at a budget, with configs for LLaMA-Factory and Axolotl",
        description="Sample a mixture from the domains at a token budget (usually larger than "
        "the search budget) and write to --out: mixture.jsonl and a datasets folder (the mixed "
        "records), domains/NAME.jsonl (each domain's records), weights.json (token and record "
        "shares), manifest.json, llamafactory/ (dataset_info.json and the mixture.yaml data "
        "arguments), axolotl.yaml (a datasets: list) and interleave.py (a datasets script). "
        "Each tool config trains on exactly the exported records per domain, whole. Given a "
        "study folder, its domains, model and best mixture are exported.",
        epilog="example: mixopt export my-study --budget 5M --out mixed/ (or, naming each: "
        "mixopt export --domains domains.json --model Qwen/Qwen2.5-0.5B --mixture "
        "my-study/best_mixture.json --budget 5M --out mixed/)",
    )
    p.add_argument(
        "study",
        nargs="?",
        default=argparse.SUPPRESS,
        metavar="STUDY",
        help="a study folder: its domains, model and best mixture, unless given below",
    )
    add_config_options(p, ExportSpec)
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mixopt.export import ExportSpec, export_mixture

    quiet_libraries()
    path = export_mixture(events=event_log(args), **given_config(args, ExportSpec))
    manifest = json.loads((path / "manifest.json").read_text())
    print(
        f"wrote {manifest['records']:,} records ({manifest['tokens_exported']:,} tokens) to {path}"
    )
    for name, d in manifest["domains"].items():
        print(f"  {name}: {_domain_line(d, manifest['mixture'].get(name, 0.0))}")
    whole = manifest["keep_whole"]
    print(
        f"  longest record {whole['longest_record_tokens']:,} tokens: cutoff_len / sequence_len "
        f"{whole['cutoff_len']:,} (set in the tool configs) keep every record whole"
    )
    for note in manifest["fields"]["notes"]:
        print(f"  {note}")
    return 0


def _domain_line(d: dict[str, Any], asked: float) -> str:
    """A domain's figures, and what became of a share below one record."""
    line = (
        f"{d['tokens']:,} tokens ({d['tokens_exported']:,} in whole records), "
        f"{d['records']:,} records, {d['epochs']:.2f} epochs, share {asked:.3g}"
    )
    if d["below_one_record"]:
        line += (
            ": under one record, rounded up to 1 whole record (a trial draws it too, cut "
            "short); give it share 0 to leave it out"
        )
    elif d["records"] == 0:
        line += ": no records, no file" + (" (under one token at this budget)" if asked else "")
    return line
