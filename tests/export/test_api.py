"""``mixopt.export_mixture`` is ``mixopt export`` in Python: the same spec, the same files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mixopt
from mixopt.cli import main
from mixopt.export import ExportSpec
from mixopt.testing import write_domains


def test_the_api_writes_what_the_cli_writes(tmp_path: Path, tokenizer_dir: Path) -> None:
    domains = write_domains(tmp_path / "data", {"finance": "jsonl", "sql": "jsonl"}, n=30)
    mix = tmp_path / "mix.json"
    mix.write_text(json.dumps({"finance": 0.4, "sql": 0.6}))
    common = {"domains": str(domains), "model": str(tokenizer_dir), "mixture": str(mix)}
    path = mixopt.export_mixture(**common, budget="1.5k", out=str(tmp_path / "api"), quiet=True)
    argv = [f"--{k}={v}" for k, v in common.items()]
    assert (
        main(["export", "--quiet", *argv, "--budget", "1500", "--out", str(tmp_path / "cli")]) == 0
    )
    # (the tool configs name their own folder, so they differ by that path)
    for name in ("mixture.jsonl", "weights.json", "domains/finance.jsonl", "domains/sql.jsonl"):
        assert (path / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    spec = ExportSpec.from_options(**common, budget="1.5k", out=str(tmp_path / "again"), seed=1)
    assert spec.budget == 1500
    assert (
        json.loads((mixopt.export_mixture(spec, quiet=True) / "manifest.json").read_text())["seed"]
        == 1
    )


def test_bad_options_are_refused_together(tmp_path: Path) -> None:
    with pytest.raises(mixopt.ConfigError) as info:
        mixopt.export_mixture(budgett="5M", budget="5q", out=str(tmp_path / "x"))
    problems = info.value.problems
    assert any("unknown setting 'budgett'" in p and "Did you mean: budget?" in p for p in problems)
    assert any("not a token count" in p for p in problems)
    with pytest.raises(mixopt.ConfigError, match="needs --domains"):
        mixopt.export_mixture(model="m", mixture="x.json", budget="5M", out=str(tmp_path / "y"))
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
