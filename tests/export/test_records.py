from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mixopt.data.allocation import allocate
from mixopt.data.sampling import plan_records
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


def _awkward(root: Path) -> Path:
    """Domains whose fields clash: an integer ``id`` in one, a string ``id`` in another; a
    field one domain trains on (``body``) that another holds as a number; fields only some
    domains have; and a 2-record domain listed last."""
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]

    def text(i: int) -> str:
        return " ".join(words[(i + k) % 10] for k in range(3 + i % 17))

    news = [{"id": i, "body": text(i), "tags": ["n", str(i)]} for i in range(40)]
    legal = [{"id": f"L-{i}", "text": text(i + 3), "meta": {"court": "x"}} for i in range(40)]
    sql = [
        {"id": i / 2, "body": i, "prompt": f"Q{i}: {text(i)}?", "completion": " SELECT 1;"}
        for i in range(40)
    ]
    haiku = [{"text": "old pond frog jumps in"}, {"text": text(30)}]
    entries = [
        {"domain": "news", "data": news, "text_field": "body", "format": "text"},
        {"domain": "legal", "data": legal},
        {"domain": "sql", "data": sql, "format": "prompt_completion"},
        {"domain": "haiku", "data": haiku},
    ]
    (root / "domains.json").write_text(json.dumps(entries))
    return root / "domains.json"


@pytest.fixture()
def awkward(tmp_path: Path, tokenizer: Any) -> tuple[TokenizedDomain, ...]:
    return tokenize_domains(load_domains(_awkward(tmp_path)), tokenizer)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_dataset_folder_holds_every_record_of_every_domain(
    tmp_path: Path, awkward: tuple[TokenizedDomain, ...]
) -> None:
    from datasets import load_from_disk

    mixture = {"news": 0.4, "legal": 0.3, "sql": 0.29, "haiku": 0.01}
    out = write_mixture(awkward, mixture, 3000, tmp_path / "out", seed=2)
    rows = _lines(out / "mixture.jsonl")
    ds = load_from_disk(str(out / "dataset"))
    assert len(ds) == len(rows) and {r["domain"] for r in rows} == set(mixture)
    # record by record: each of its fields as in mixture.jsonl, the fields it lacks null
    for got, want in zip(ds, rows, strict=True):
        assert {k: v for k, v in got.items() if k in want} == want
        assert all(got[k] is None for k in got if k not in want)
    texts = {"news": "body", "legal": "text", "haiku": "text", "sql": "completion"}
    assert all(isinstance(row[texts[row["domain"]]], str) for row in ds)  # no text missing


def test_mixed_field_types_share_one_schema(
    tmp_path: Path, awkward: tuple[TokenizedDomain, ...]
) -> None:
    from datasets import concatenate_datasets, load_dataset

    mixture = {"news": 0.4, "legal": 0.3, "sql": 0.29, "haiku": 0.01}
    out = write_mixture(awkward, mixture, 3000, tmp_path / "out", seed=2)
    fields = json.loads((out / "manifest.json").read_text())["fields"]
    assert fields["as_strings"]["id"] == {"news": "int64", "legal": "string", "sql": "double"}
    assert fields["dropped"] == {"body": ["sql"]}  # news trains on it; sql's is a number
    assert any("'id'" in n and "written as strings" in n for n in fields["notes"])
    rows = _lines(out / "mixture.jsonl")
    news = next(r for r in rows if r["domain"] == "news")
    assert isinstance(news["id"], str) and isinstance(news["body"], str) and news["tags"]
    sql = next(r for r in rows if r["domain"] == "sql")
    assert "body" not in sql and sql["id"] == json.dumps(float(sql["id"]))
    # every tool joins the per-domain files; datasets refused the clash ("can't be aligned")
    parts = [
        load_dataset("json", data_files=str(f), split="train")
        for f in sorted((out / "domains").iterdir())
    ]
    assert len(concatenate_datasets(parts)) == len(rows)
    assert len(load_dataset("json", data_files=str(out / "mixture.jsonl"), split="train")) == len(
        rows
    )


def test_a_share_below_one_record_is_rounded_up_to_one(
    tmp_path: Path, awkward: tuple[TokenizedDomain, ...]
) -> None:
    haiku = next(d for d in awkward if d.name == "haiku")
    tokens = int(haiku.lengths().min()) - 1  # under any record it holds
    mixture = {"news": 0.5 - tokens / 3000, "legal": 0.2, "sql": 0.3, "haiku": tokens / 3000}
    out = write_mixture(awkward, mixture, 3000, tmp_path / "out", seed=2)
    manifest = json.loads((out / "manifest.json").read_text())
    got = manifest["domains"]["haiku"]
    assert got["tokens"] == tokens and got["records"] == 1 and got["below_one_record"]
    assert got["tokens_exported"] > tokens and "one whole record" in manifest["tiny_shares"]
    assert not any(d["below_one_record"] for n, d in manifest["domains"].items() if n != "haiku")
    zero = write_mixture(awkward, {**mixture, "news": 0.5, "haiku": 0.0}, 3000, tmp_path / "z")
    manifest = json.loads((zero / "manifest.json").read_text())
    assert manifest["domains"]["haiku"]["records"] == 0
    assert not (zero / "domains" / "haiku.jsonl").exists()


def test_the_manifest_gives_the_lengths_that_keep_every_record_whole(
    tmp_path: Path, awkward: tuple[TokenizedDomain, ...]
) -> None:
    import yaml

    mixture = {"news": 0.4, "legal": 0.3, "sql": 0.29, "haiku": 0.01}
    out = write_mixture(awkward, mixture, 3000, tmp_path / "out", seed=2)
    manifest = json.loads((out / "manifest.json").read_text())
    longest = {n: d["longest_record_tokens"] for n, d in manifest["domains"].items()}
    by_name = {d.name: d for d in awkward}
    plans = plan_records(awkward, allocate(mixture, 3000, awkward), 2)
    for d, (idx, _) in zip(awkward, plans, strict=True):
        assert longest[d.name] == int(by_name[d.name].lengths()[idx].max())
    whole = manifest["keep_whole"]
    assert whole["longest_record_tokens"] == max(longest.values()) < whole["cutoff_len"]
    lf = yaml.safe_load((out / "llamafactory" / "mixture.yaml").read_text())
    ax = yaml.safe_load((out / "axolotl.yaml").read_text())
    assert lf["cutoff_len"] == whole["cutoff_len"] and ax["sequence_len"] == whole["sequence_len"]
