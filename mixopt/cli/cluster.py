"""``mixopt cluster``: domains from an unlabeled pool of records."""

from __future__ import annotations

import argparse
import math
from typing import Any

from mixopt.cli._common import add_output_options, event_log, print_table, quiet_libraries

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
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
    k = p.add_mutually_exclusive_group()
    k.add_argument("--k", type=int, help="number of clusters (default: chosen over --k-range)")
    k.add_argument(
        "--k-range", default="4:16", metavar="A:B", help="k values tried, inclusive (default 4:16)"
    )
    p.add_argument(
        "--metric",
        default="silhouette",
        help="how k is chosen: silhouette (highest, the default) or davies-bouldin (lowest)",
    )
    p.add_argument(
        "--method",
        default="kmeans",
        help="kmeans (default), agglomerative (Ward), "
        "agglomerative-average, sccl, or your own as module:attr",
    )
    p.add_argument(
        "--embed",
        default="tfidf",
        help="tfidf (default: TF-IDF + truncated SVD), "
        "model (mean-pooled hidden states of --model) or sentence-transformers:PATH",
    )
    p.add_argument("--model", metavar="MODEL", help="local causal LM folder for --embed model")
    p.add_argument(
        "--min-size",
        type=int,
        default=0,
        metavar="N",
        help="clusters with fewer records are merged into the nearest one (or "
        "dropped, --small drop)",
    )
    p.add_argument(
        "--small",
        default="merge",
        choices=("merge", "drop"),
        help="what --min-size does to small clusters (default merge)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random step (default 0)")
    p.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="where embeddings are cached (default: $MIXOPT_CACHE_DIR or ~/.cache/mixopt)",
    )
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mixopt.cluster import cluster_domains

    quiet_libraries()
    # the settings go to the API unchecked: it reports every problem with them (and with the
    # pool and --out) together, before any record is embedded
    result = cluster_domains(
        args.data,
        args.out,
        cache_dir=args.cache_dir,
        events=event_log(args),
        k=args.k,
        k_range=args.k_range,
        method=args.method,
        embed=args.embed,
        model=args.model,
        metric=args.metric,
        min_size=args.min_size,
        small=args.small,
        seed=args.seed,
    )
    config = result.config
    if config.k is None:
        print(f"choosing k by {config.metric}:")
        print_table(
            ["k", config.metric, "chosen"],
            [
                [s.k, _score(s.score), "<-" if s.k == result.chosen_k else ""]
                for s in result.k_scores
            ],
        )
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
