"""Data pipeline benchmark: tokenization throughput, cache hits, and sampling one trial's mixture.

    python benchmarks/data_pipeline.py            # 8 domains x 100k records
    python benchmarks/data_pipeline.py --quick    # 8 domains x 2k records (a smoke run)

Prints: records/s and tokens/s of the first (cold) tokenization, the cache-hit re-run time as
a ratio of the first run, and the time to sample and pack a 50k-token mixture (target: under
0.2 s, since a search samples one per trial).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

# 8 domains: the six synthetic kinds, two of them twice with other seeds (other records)
DOMAINS = [
    ("finance", "finance", "jsonl"),
    ("sports", "sports", "parquet"),
    ("cooking", "cooking", "csv"),
    ("code", "code", "jsonl"),
    ("sql", "sql", "jsonl"),
    ("support", "support", "jsonl"),
    ("finance_b", "finance", "jsonl"),
    ("sports_b", "sports", "jsonl"),
]


def build_corpus(root: Path, records: int) -> Path:
    import json

    from datasets import Dataset

    from mixopt.testing import make_records

    entries = []
    for i, (name, kind, how) in enumerate(DOMAINS):
        rows = make_records(kind, records, seed=i)
        path = root / f"{name}.{how}"
        if how == "jsonl":
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        elif how == "parquet":
            Dataset.from_list(rows).to_parquet(str(path))
        else:
            Dataset.from_list(rows).to_csv(str(path), index=False)
        entries.append({"domain": name, "path": path.name})
    (root / "domains.json").write_text(json.dumps(entries))
    return root / "domains.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000, help="records per domain")
    parser.add_argument("--quick", action="store_true", help="2k records per domain (smoke run)")
    parser.add_argument("--budget", type=int, default=50_000, help="tokens per sampled mixture")
    args = parser.parse_args(argv)
    records = 2_000 if args.quick else args.records

    import datasets

    datasets.disable_progress_bars()
    from mixopt.data import load_domains, sample_mixture, tokenize_domains, uniform_mixture
    from mixopt.testing import DOMAIN_KINDS, build_tokenizer, make_records

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        domains_file = build_corpus(root, records)
        texts = [str(r) for kind in DOMAIN_KINDS for r in make_records(kind, 2000, seed=123)]
        tokenizer = build_tokenizer(texts, vocab_size=4096)
        print(
            f"corpus: {len(DOMAIN_KINDS)} kinds -> {len(DOMAINS)} domains x {records:,} records "
            f"(built in {time.perf_counter() - t0:.1f} s)"
        )
        specs = load_domains(domains_file)

        t0 = time.perf_counter()
        domains = tokenize_domains(specs, tokenizer, root / "cache")
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        tokenize_domains(specs, tokenizer, root / "cache")
        warm = time.perf_counter() - t0

        n_records = sum(d.num_records for d in domains)
        n_tokens = sum(d.num_tokens for d in domains)
        mixture = uniform_mixture(domains, args.budget)
        times = []
        for seed in range(20):
            t0 = time.perf_counter()
            sample_mixture(domains, mixture, args.budget, seed=seed).pack(256)
            times.append(time.perf_counter() - t0)
        # the first sample pays for memory-mapping each domain's table; later ones are per-trial cost
        first, steady = times[0], statistics.median(times[1:])

    rows = [
        (
            "tokenize (cold)",
            f"{cold:.2f} s",
            f"{n_records / cold:,.0f} records/s, {n_tokens / cold:,.0f} tokens/s",
        ),
        ("tokenize (cache hit)", f"{warm:.3f} s", f"{warm / cold:.4f} x the cold run"),
        (
            f"sample+pack {args.budget:,} tok (first)",
            f"{first * 1000:.1f} ms",
            f"{first / 0.2:.3f} x the 0.2 s target",
        ),
        (
            f"sample+pack {args.budget:,} tok (median)",
            f"{steady * 1000:.1f} ms",
            f"{steady / 0.2:.3f} x the 0.2 s target",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure'.ljust(width)}  {'time':>10}  ratio / rate")
    for name, t, note in rows:
        print(f"{name.ljust(width)}  {t:>10}  {note}")
    print(f"\n{n_records:,} records, {n_tokens:,} tokens in {len(domains)} domains")
    return 0


if __name__ == "__main__":
    sys.exit(main())
