"""``mixopt cluster``: domains from an unlabeled pool of records."""

from __future__ import annotations

import argparse
import math
from typing import Any

from mixopt.cli._common import add_output_options, event_log, print_table, quiet_libraries
from mixopt.cli._spec import add_config_options, given_config

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    from mixopt.cluster.config import ClusterConfig

    p = subparsers.add_parser(
        "cluster",
        help="split an unlabeled pool of records into domains (a domains file for search)",
        description="Embed every record of a pool, cluster the records, name each cluster by "
        "its top TF-IDF terms and write to --out: domains.json (ready for 'mixopt validate' and "
        "'mixopt search'), NAME.jsonl per cluster, clusters.json (sizes, terms, the k table) "
        "and report/index.html (sizes, top terms, sample records, the k-selection curve, a "
        "2-D map). The folder appears whole or not at all.",
        epilog="example: mixopt cluster --data 'pool/*.jsonl' --out clusters/ --k-range 4:16 "
        "--min-size 50",
    )
    p.add_argument(
        "--data",
        required=True,
        nargs="+",
        metavar="POOL",
        help="files, folders or globs (any format a domain's path accepts), or a "
        "domains file whose domains are pooled",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (new or empty)")
    add_config_options(p, ClusterConfig)
    p.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="where embeddings are cached (default: $MIXOPT_CACHE_DIR or ~/.cache/mixopt)",
    )
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mixopt.cluster import cluster_domains
    from mixopt.cluster.config import ClusterConfig

    quiet_libraries()
    # the settings go to the API unchecked: it reports every problem with them (and with the
    # pool and --out) together, before any record is embedded
    settings = given_config(args, ClusterConfig)
    result = cluster_domains(
        args.data, args.out, cache_dir=args.cache_dir, events=event_log(args), **settings
    )
    config = result.config
    if config.k is None:
        print(f"choosing k by {config.metric}, rule {config.k_rule}:")
        print_table(
            ["k", config.metric, "gain on k-1", "chosen"],
            [
                [s.k, _score(s.score), _score(s.gain), "<-" if s.k == result.chosen_k else ""]
                for s in result.k_scores
            ],
        )
        print(result.k_reason)
        print()
    small = result.small
    if small.sizes:
        verb = "merged into the nearest cluster" if small.action == "merge" else "dropped"
        print(
            f"{len(small.sizes)} cluster(s) under --min-size {config.min_size} "
            f"(sizes {', '.join(map(str, small.sizes))}; {small.records:,} records) {verb}"
        )
    print_table(
        ["domain", "records", "top terms"],
        [
            [n, s, ", ".join(t)]
            for n, s, t in zip(result.names, result.sizes, result.terms, strict=True)
        ],
    )
    print(f"\nwrote {result.domains_file} ({result.k} domains, {sum(result.sizes):,} records)")
    print(f"report: {result.report}")
    print(f"next: mixopt validate --domains {result.domains_file} --model MODEL --budget 50k")
    return 0


def _score(value: float) -> float | str:
    return "n/a" if math.isnan(value) else round(value, 4)
