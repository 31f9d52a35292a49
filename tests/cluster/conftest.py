from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixopt.testing import make_records

KINDS = ("finance", "sports", "cooking", "code")


def write_pool(path: Path, n: int = 60, seed: int = 3) -> list[int]:
    """A JSONL pool of the synthetic text kinds, shuffled; returns each record's true kind."""
    import random

    rows = [(i, r) for i, kind in enumerate(KINDS) for r in make_records(kind, n, seed=seed)]
    random.Random(seed).shuffle(rows)
    path.write_text("".join(json.dumps(r) + "\n" for _, r in rows))
    return [i for i, _ in rows]


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    path = tmp_path_factory.mktemp("pool") / "pool.jsonl"
    return path, write_pool(path)
