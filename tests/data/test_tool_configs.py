"""The tool configs an export writes, read back the way each tool reads them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mixopt.data.export import export_mixture
from mixopt.data.spec import load_domains
from mixopt.data.tokenize import TokenizedDomain, tokenize_domains
from mixopt.testing import write_domains

MIXTURE = {"finance": 0.5, "sql": 0.3, "support": 0.2}


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory, tokenizer: Any
) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("tool-configs")
    path = write_domains(
        root / "data", {"finance": "jsonl", "sql": "parquet", "support": "inline"}, n=80
    )
    domains = tokenize_domains(load_domains(path), tokenizer, root / "cache")
    out = export_mixture(domains, MIXTURE, 6000, root / "out", seed=5)
    return out, json.loads((out / "manifest.json").read_text())


def _load_json(path: str | Path) -> Any:
    from datasets import load_dataset

    return load_dataset("json", data_files=str(path), split="train")


def _records(manifest: dict[str, Any]) -> dict[str, int]:
    return {n: d["records"] for n, d in manifest["domains"].items()}


def test_llamafactory_dataset_info_and_arguments(exported: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = exported
    info = json.loads((out / "llamafactory" / "dataset_info.json").read_text())
    args = yaml.safe_load((out / "llamafactory" / "mixture.yaml").read_text())
    names = args["dataset"].split(",")
    assert names == ["finance", "sql", "support"] and set(info) == set(names)
    assert args["mix_strategy"] == "interleave_under"
    probs = [float(p) for p in args["interleave_probs"].split(",")]
    assert sum(probs) == pytest.approx(1, abs=1e-12)
    counts = _records(manifest)
    assert probs == pytest.approx([counts[n] / manifest["records"] for n in names])
    dataset_dir = Path(args["dataset_dir"])
    assert dataset_dir == out.resolve() / "llamafactory"
    for name in names:
        entry = info[name]
        ds = _load_json(dataset_dir / entry["file_name"])  # LLaMA-Factory joins the two
        assert len(ds) == counts[name]
        assert set(entry["columns"].values()) <= set(ds.column_names)
    assert info["support"]["formatting"] == "sharegpt"
    assert info["support"]["tags"]["role_tag"] == "role"
    assert info["sql"]["columns"] == {"prompt": "prompt", "response": "completion"}
    assert info["finance"]["columns"] == {"prompt": "text"}


def test_weights_record_shares_match_the_files(exported: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = exported
    weights = json.loads((out / "weights.json").read_text())
    files = {n: len(_load_json(out / "domains" / f"{n}.jsonl")) for n in MIXTURE}
    assert files == _records(manifest) and sum(files.values()) == manifest["records"]
    assert weights["record_shares"] == pytest.approx(
        {n: c / manifest["records"] for n, c in files.items()}
    )
    assert weights["token_shares"] == pytest.approx(MIXTURE)


def test_axolotl_datasets_load(exported: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = exported
    text = (out / "axolotl.yaml").read_text()
    config = yaml.safe_load(text)
    entries = {Path(e["path"]).stem: e for e in config["datasets"]}
    counts = _records(manifest)
    assert set(entries) == set(counts) and config["shuffle_merged_datasets"] is True
    for name, entry in entries.items():
        assert entry["ds_type"] == "json" and Path(entry["path"]).is_absolute()
        ds = _load_json(entry["path"])
        assert len(ds) == counts[name]
        assert f"#   {name}: {counts[name]} " in text  # the mixture, stated beside the list
    assert entries["finance"]["type"] == "completion" and entries["finance"]["field"] == "text"
    assert entries["support"]["type"] == "chat_template"
    assert (
        entries["support"]["field_messages"] in _load_json(entries["support"]["path"]).column_names
    )
    assert entries["sql"]["type"]["field_output"] == "completion"
    # together the files are the whole export: the same records as mixture.jsonl
    together = sorted(json.dumps(r, sort_keys=True) for e in entries.values()
                      for r in _load_json(e["path"]).to_list())  # fmt: skip
    whole = sorted(
        json.dumps(json.loads(line), sort_keys=True)
        for line in (out / "mixture.jsonl").read_text().splitlines()
    )
    assert len(together) == len(whole) == manifest["records"]


def test_interleave_snippet_runs_as_written(
    exported: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, manifest = exported
    saved = tmp_path / "mixed"
    run = subprocess.run(
        [sys.executable, str(out / "interleave.py"), str(saved)],
        cwd=tmp_path,  # not the export folder: the script finds its files itself
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    total = manifest["records"]
    assert report["records"] == total
    for name, expected in _records(manifest).items():
        # a binomial draw of `total` records: within 4 standard deviations of its mean
        p = expected / total
        assert abs(report["domains"][name] - expected) <= 4 * (total * p * (1 - p)) ** 0.5 + 1
    from datasets import load_from_disk

    assert len(load_from_disk(str(saved))) == total


def test_a_zero_share_domain_is_left_out(tmp_path: Path, tokenizer: Any) -> None:
    path = write_domains(tmp_path / "data", {"finance": "jsonl", "sql": "jsonl"}, n=40)
    domains: tuple[TokenizedDomain, ...] = tokenize_domains(load_domains(path), tokenizer)
    out = export_mixture(domains, {"finance": 1.0, "sql": 0.0}, 1500, tmp_path / "out")
    args = yaml.safe_load((out / "llamafactory" / "mixture.yaml").read_text())
    assert args["dataset"] == "finance" and args["interleave_probs"] == "1.0"  # a string, as split
    assert [p.name for p in (out / "domains").iterdir()] == ["finance.jsonl"]
    axolotl = yaml.safe_load((out / "axolotl.yaml").read_text())
    assert [Path(e["path"]).name for e in axolotl["datasets"]] == ["finance.jsonl"]
