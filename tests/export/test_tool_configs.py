"""The tool configs an export writes, read back the way each tool reads them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mixopt.data.allocation import allocate
from mixopt.data.sampling import plan_records
from mixopt.data.spec import load_domains
from mixopt.data.tokenize import TokenizedDomain, tokenize_domains
from mixopt.export.records import write_mixture
from mixopt.testing import write_domains

BUDGET, SEED = 6000, 5


def _three_records(domains: tuple[TokenizedDomain, ...]) -> dict[str, float]:
    """A mixture whose finance share draws exactly 3 records (interleaving's failure case)."""
    for tokens in range(1, 200):
        mixture = {"finance": tokens / BUDGET, "sql": 0.6, "support": 0.4 - tokens / BUDGET}
        if len(plan_records(domains, allocate(mixture, BUDGET, domains), SEED)[0][0]) == 3:
            return mixture
    raise AssertionError("no share gives 3 finance records")


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory, tokenizer: Any
) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("tool-configs")
    path = write_domains(
        root / "data", {"finance": "jsonl", "sql": "parquet", "support": "inline"}, n=80
    )
    domains = tokenize_domains(load_domains(path), tokenizer, root / "cache")
    out = write_mixture(domains, _three_records(domains), BUDGET, root / "out", seed=SEED)
    return out, json.loads((out / "manifest.json").read_text())


def _load_json(path: str | Path) -> Any:
    from datasets import load_dataset

    return load_dataset("json", data_files=str(path), split="train")


def _constants(path: Path) -> dict[str, Any]:
    """The literal constants a script assigns at module level."""
    tree = ast.parse(path.read_text())
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Dict | ast.Constant)
    }


def _records(manifest: dict[str, Any]) -> dict[str, int]:
    return {n: d["records"] for n, d in manifest["domains"].items()}


def test_llamafactory_concatenates_the_files(exported: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = exported
    info = json.loads((out / "llamafactory" / "dataset_info.json").read_text())
    args = yaml.safe_load((out / "llamafactory" / "mixture.yaml").read_text())
    names = args["dataset"].split(",")
    assert names == ["finance", "sql", "support"] and set(info) == set(names)
    # every record once: no probabilities, whose first exhausted file would end the mixture
    assert args["mix_strategy"] == "concat" and "interleave_probs" not in args
    assert args["stage"] == "sft" and args["seed"] == SEED
    counts = _records(manifest)
    assert counts["finance"] == 3
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
    # sft drops a record without a response: text is the response to an empty prompt
    assert info["finance"]["columns"] == {"response": "text"}


def test_a_text_only_export_trains_with_stage_pt(tmp_path: Path, tokenizer: Any) -> None:
    path = write_domains(tmp_path / "data", {"finance": "jsonl", "code": "jsonl"}, n=40)
    domains = tokenize_domains(load_domains(path), tokenizer)
    out = write_mixture(domains, {"finance": 0.5, "code": 0.5}, 1500, tmp_path / "out")
    args = yaml.safe_load((out / "llamafactory" / "mixture.yaml").read_text())
    info = json.loads((out / "llamafactory" / "dataset_info.json").read_text())
    assert args["stage"] == "pt" and args["dataset"] == "mixture"
    # the shuffled mixture as one file: packing per domain file dropped the last one's tail
    assert info == {
        "mixture": {
            "file_name": "../mixture.jsonl",
            "formatting": "alpaca",
            "columns": {"prompt": "text"},  # what stage pt reads
        }
    }
    # one example per record, none cut: every exported token trained
    manifest = json.loads((out / "manifest.json").read_text())
    assert args["packing"] is False
    assert args["cutoff_len"] == manifest["keep_whole"]["cutoff_len"]
    assert args["cutoff_len"] > max(int(d.lengths().max()) for d in domains)
    assert (
        len(_load_json(out / "llamafactory" / info["mixture"]["file_name"])) == manifest["records"]
    )


def test_stage_pt_reads_one_file_when_text_fields_differ(tmp_path: Path, tokenizer: Any) -> None:
    path = write_domains(tmp_path / "data", {"finance": "jsonl", "code": "jsonl"}, n=40)
    entries = json.loads(path.read_text())
    code = path.parent / entries[1]["path"]
    rows = [json.loads(line) for line in code.read_text().splitlines()]
    entries[1] = {
        "domain": "code",
        "data": [{"body": r["text"]} for r in rows],
        "text_field": "body",
    }
    path.write_text(json.dumps(entries))
    domains = tokenize_domains(load_domains(path), tokenizer)
    out = write_mixture(domains, {"finance": 0.5, "code": 0.5}, 1500, tmp_path / "out")
    info = json.loads((out / "llamafactory" / "dataset_info.json").read_text())
    assert info["mixture"]["columns"] == {"prompt": "text"}
    mixed = [json.loads(line) for line in (out / "mixture.jsonl").read_text().splitlines()]
    texts = _load_json(out / "llamafactory" / info["mixture"]["file_name"]).to_list()
    # the same records in the same (shuffled) order, each text under one column
    assert [(t["domain"], t["text"]) for t in texts] == [
        (r["domain"], r.get("text") or r["body"]) for r in mixed
    ]


def test_one_description_of_the_mixture(exported: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = exported
    weights = json.loads((out / "weights.json").read_text())
    counts = _records(manifest)
    files = {n: len(_load_json(out / "domains" / f"{n}.jsonl")) for n in counts}
    assert files == counts and sum(files.values()) == manifest["records"]
    mix = weights["mix"]
    assert mix == manifest["mix"] and mix["records"] == counts and mix["shuffle_seed"] == SEED
    assert mix["files"] == {n: f"domains/{n}.jsonl" for n in counts}
    assert mix["record_shares"] == pytest.approx(
        {n: c / manifest["records"] for n, c in counts.items()}
    )
    assert weights["token_shares"] == {
        n: d["tokens"] / BUDGET for n, d in manifest["domains"].items()
    }
    # the configs name the same files and state the same counts
    args = yaml.safe_load((out / "llamafactory" / "mixture.yaml").read_text())
    info = json.loads((out / "llamafactory" / "dataset_info.json").read_text())
    assert [Path(info[n]["file_name"]).name for n in args["dataset"].split(",")] == [
        Path(f).name for f in mix["files"].values()
    ]
    axolotl = yaml.safe_load((out / "axolotl.yaml").read_text())
    assert [
        Path(e["path"]).relative_to(out.resolve()).as_posix() for e in axolotl["datasets"]
    ] == list(mix["files"].values())
    snippet = _constants(out / "interleave.py")
    assert (
        snippet["FILES"] == mix["files"]
        and snippet["RECORDS"] == counts
        and snippet["SEED"] == SEED
    )
    for text in (
        (out / "llamafactory" / "mixture.yaml").read_text(),
        (out / "axolotl.yaml").read_text(),
    ):
        assert all(f"#   {n}: {c} records" in text for n, c in counts.items())


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
        assert f"#   {name}: {counts[name]} records" in text  # the mixture, stated beside the list
    assert entries["finance"]["type"] == "completion" and entries["finance"]["field"] == "text"
    assert entries["support"]["type"] == "chat_template"
    assert (
        entries["support"]["field_messages"] in _load_json(entries["support"]["path"]).column_names
    )
    assert entries["sql"]["type"]["field_output"] == "completion"
    # together the files are the whole export: the same records as mixture.jsonl
    together = sorted(
        json.dumps(r, sort_keys=True)
        for e in entries.values()
        for r in _load_json(e["path"]).to_list()
    )
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
    # every exported record once, the 3-record domain included: exactly the mixture
    assert report["records"] == manifest["records"] and report["domains"] == _records(manifest)
    total = manifest["records"]
    from datasets import load_from_disk

    assert len(load_from_disk(str(saved))) == total


def test_a_zero_share_domain_is_left_out(tmp_path: Path, tokenizer: Any) -> None:
    path = write_domains(tmp_path / "data", {"finance": "jsonl", "sql": "jsonl"}, n=40)
    domains: tuple[TokenizedDomain, ...] = tokenize_domains(load_domains(path), tokenizer)
    out = write_mixture(domains, {"finance": 1.0, "sql": 0.0}, 1500, tmp_path / "out")
    args = yaml.safe_load((out / "llamafactory" / "mixture.yaml").read_text())
    assert args["stage"] == "pt" and args["dataset"] == "mixture"  # finance alone: text
    mixed = (out / "mixture.jsonl").read_text().splitlines()
    assert {json.loads(line)["domain"] for line in mixed} == {"finance"}
    assert [p.name for p in (out / "domains").iterdir()] == ["finance.jsonl"]
    axolotl = yaml.safe_load((out / "axolotl.yaml").read_text())
    assert [Path(e["path"]).name for e in axolotl["datasets"]] == ["finance.jsonl"]
