from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mixopt.data.spec import load_domains
from mixopt.data.tokenize import TokenizedDomain, tokenize_domains
from mixopt.errors import ConfigError, InfeasibleMixtureError
from mixopt.export.records import write_mixture
from mixopt.testing import write_domains


@pytest.fixture()
def domains(tmp_path: Path, tokenizer: Any) -> tuple[TokenizedDomain, ...]:
    path = write_domains(
        tmp_path / "data", {"finance": "jsonl", "sql": "parquet", "support": "inline"}, n=60
    )
    return tokenize_domains(load_domains(path), tokenizer)


def test_export_writes_records_dataset_weights_and_manifest(
    tmp_path: Path, domains: tuple[TokenizedDomain, ...]
) -> None:
    from datasets import load_from_disk

    mixture = {"finance": 0.5, "sql": 0.3, "support": 0.2}
    out = write_mixture(
        domains, mixture, 3000, tmp_path / "out", seed=7, provenance={"tokenizer": "tiny"}
    )
    rows = [json.loads(line) for line in (out / "mixture.jsonl").read_text().splitlines()]
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["records"] == len(rows)
        and manifest["tokenizer"] == "tiny"
        and manifest["seed"] == 7
    )
    assert {n: d["tokens"] for n, d in manifest["domains"].items()} == {
        "finance": 1500,
        "sql": 900,
        "support": 600,
    }
    assert (
        3000
        <= manifest["tokens_exported"]
        < 3000 + 3 * max(int(d.lengths().max()) for d in domains)
    )
    by_domain = {n: sum(r["domain"] == n for r in rows) for n in mixture}
    assert by_domain == {n: d["records"] for n, d in manifest["domains"].items()}
    assert {"prompt", "completion"} <= set(next(r for r in rows if r["domain"] == "sql"))
    assert "messages" in next(r for r in rows if r["domain"] == "support")
    ds = load_from_disk(str(out / "dataset"))
    assert len(ds) == len(rows) and ds[0]["domain"] == rows[0]["domain"]
    weights = json.loads((out / "weights.json").read_text())
    assert weights["domains"] == ["finance", "sql", "support"]
    assert weights["token_shares"] == pytest.approx(mixture)
    # one description of the mix, in both files
    assert weights["mix"] == manifest["mix"] and weights["mix"]["records"] == by_domain
    assert manifest["tokens_allocated"] == 3000 and "whole record" in manifest["exact"]
    for name, d in manifest["domains"].items():  # each domain's tokens, rounded up to whole records
        assert d["tokens"] <= d["tokens_exported"] and d["records"] == by_domain[name]
    assert manifest["tokens_exported"] == sum(
        d["tokens_exported"] for d in manifest["domains"].values()
    )


def test_export_refuses_a_nonempty_folder_and_leaves_nothing_on_failure(
    tmp_path: Path, domains: tuple[TokenizedDomain, ...]
) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        write_mixture(domains, {"finance": 1.0}, 1000, tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    with pytest.raises(InfeasibleMixtureError):
        write_mixture(domains, {"finance": 1.0}, 10**6, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".new")]
