"""The chain a user runs: pool -> mixopt cluster -> mixopt validate -> mixopt search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixopt.cli import main
from mixopt.testing import make_heldout, make_records

TASKS = """
tasks:
  - name: finance_loss
    kind: loss
    data: heldout.jsonl
"""


@pytest.mark.slow
def test_pool_to_clusters_to_search(tiny_model_dir: Path, tmp_path: Path) -> None:
    kinds = ("finance", "cooking", "sports")
    pool = [r for kind in kinds for r in make_records(kind, 200, seed=1)]
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pool))
    heldout = make_heldout("finance", 20, 555, make_records("finance", 200, seed=1))
    (tmp_path / "heldout.jsonl").write_text("".join(json.dumps(r) + "\n" for r in heldout))
    (tmp_path / "tasks.yaml").write_text(TASKS)
    clusters, cache = tmp_path / "clusters", str(tmp_path / "cache")

    assert (
        main(
            [
                "cluster",
                "--data",
                str(tmp_path / "pool.jsonl"),
                "--out",
                str(clusters),
                "--k",
                "3",
                "--cache-dir",
                cache,
                "--quiet",
            ]
        )
        == 0
    )
    domains = str(clusters / "domains.json")
    common = [
        "--domains",
        domains,
        "--model",
        str(tiny_model_dir),
        "--budget",
        "2k",
        "--eval",
        str(tmp_path / "tasks.yaml"),
        "--cache-dir",
        cache,
    ]
    assert main(["validate", *common]) == 0
    study = tmp_path / "study"
    assert (
        main(
            [
                "search",
                *common,
                "--out",
                str(study),
                "--executor",
                "inprocess",
                "--tracking-uri",
                "none",
                "--trials",
                "1",
                "--confirm",
                "0",
                "--seq-len",
                "64",
                "--quiet",
            ]
        )
        == 0
    )
    best = json.loads((study / "best_mixture.json").read_text())
    names = [d["domain"] for d in json.loads(Path(domains).read_text())]
    assert sorted(best["best_mixture"]) == sorted(names)
    assert sum(best["best_mixture"].values()) == pytest.approx(1.0)
