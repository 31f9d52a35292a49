"""Regenerate the shipped example: six synthetic domains in six storage formats, and a small
byte-level BPE tokenizer trained on them (so the example needs no network).

    python examples/build_example.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mixopt.testing import DOMAIN_KINDS, build_tokenizer, make_records, write_domains

HERE = Path(__file__).resolve().parent
LAYOUT = {
    "finance": "jsonl",
    "sports": "parquet",
    "cooking": "csv",
    "code": "jsonl",
    "sql": "json",
    "support": "jsonl",
}


def main() -> None:
    shutil.rmtree(HERE / "data", ignore_errors=True)
    path = write_domains(
        HERE / "data", LAYOUT, n=300, seed=0, extra={"support": {"max_share": 0.5}}
    )
    path.replace(HERE / "domains.json")
    text = (HERE / "domains.json").read_text().replace('"path": "', '"path": "data/')
    (HERE / "domains.json").write_text(text)
    corpus = [str(r) for kind in DOMAIN_KINDS for r in make_records(kind, 300, seed=1)]
    build_tokenizer(corpus, HERE / "tokenizer", vocab_size=1024)


if __name__ == "__main__":
    main()
