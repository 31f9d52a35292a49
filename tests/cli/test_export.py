from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mixopt.cli import main
from mixopt.testing import write_domains


def test_export_cli_end_to_end(
    tmp_path: Path, tokenizer_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    domains = write_domains(tmp_path / "data", {"finance": "jsonl", "sql": "jsonl"}, n=50)
    mix = tmp_path / "best_mixture.json"
    mix.write_text(json.dumps({"best_mixture": {"finance": 0.25, "sql": 0.75}, "score": 0.5}))
    out = tmp_path / "export"
    args = [
        "export",
        "--domains",
        str(domains),
        "--model",
        str(tokenizer_dir),
        "--mixture",
        str(mix),
        "--budget",
        "2k",
        "--out",
        str(out),
        "--seed",
        "3",
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "finance: 500 tokens" in text and "sql: 1,500 tokens" in text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["mixture"] == {"finance": 0.25, "sql": 0.75} and manifest["seed"] == 3
    assert manifest["mixopt_version"] and manifest["tokenizer"] == str(tokenizer_dir)
    assert main(args) == 2  # the folder now holds an export: refused, left untouched
    assert "not empty" in capsys.readouterr().err
    assert json.loads((out / "manifest.json").read_text()) == manifest


@pytest.mark.parametrize(
    ("mixture", "message"),
    [
        ({"finance": 0.2, "sql": 0.2}, "sum to 1"),
        ({"finanse": 0.5, "sql": 0.5}, "Did you mean: finance?"),
        ([0.5, 0.5], "expected"),
        ({"finance": 1.0}, "infeasible"),
    ],
)
def test_bad_mixtures_write_nothing(
    tmp_path: Path,
    tokenizer_dir: Path,
    capsys: pytest.CaptureFixture[str],
    mixture: object,
    message: str,
) -> None:
    domains = write_domains(tmp_path / "data", {"finance": "jsonl", "sql": "jsonl"}, n=20)
    mix = tmp_path / "mix.json"
    mix.write_text(json.dumps(mixture))
    out = tmp_path / "export"
    status = main(
        [
            "export",
            "--domains",
            str(domains),
            "--model",
            str(tokenizer_dir),
            "--mixture",
            str(mix),
            "--budget",
            "20k",
            "--out",
            str(out),
        ]
    )
    assert status == 2 and message in capsys.readouterr().err
    assert not out.exists()


def test_export_events_and_quiet(
    tmp_path: Path, tokenizer_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    domains = write_domains(tmp_path / "data", {"finance": "jsonl", "sql": "jsonl"}, n=30)
    mix = tmp_path / "mix.json"
    mix.write_text(json.dumps({"finance": 0.5, "sql": 0.5}))
    log = tmp_path / "events.jsonl"
    args = [
        "export",
        "--domains",
        str(domains),
        "--model",
        str(tokenizer_dir),
        "--mixture",
        str(mix),
        "--budget",
        "1k",
        "--out",
        str(tmp_path / "out"),
        "--events",
        str(log),
    ]
    assert main([*args, "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "wrote" in captured.out  # quiet: no progress, results still
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["event"], e.get("domain")) for e in events] == [
        ("tokenize_started", "finance"),
        ("tokenize_done", "finance"),
        ("tokenize_started", "sql"),
        ("tokenize_done", "sql"),
        ("export_started", None),
        ("export_done", None),
    ]
    assert (
        events[-1]["records"]
        == json.loads((tmp_path / "out" / "manifest.json").read_text())["records"]
    )
    # a failure is one line on stderr and the last event of the log
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mixopt: error:") and "not empty" in err[0]
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["event"] == "error" and "not empty" in last["problems"][0]


def test_an_infeasible_budget_names_the_largest_that_fits(
    tmp_path: Path, tokenizer_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mix.json").write_text(json.dumps({"finance": 0.7, "sql": 0.3}))
    data = {"finance": "jsonl", "sql": "jsonl"}
    base = ["export", "--domains", str(write_domains(tmp_path / "data", data, n=20))]
    base += ["--model", str(tokenizer_dir), "--mixture", str(tmp_path / "mix.json")]
    run = subprocess.run(
        [sys.executable, "-m", "mixopt", *base, "--budget", "20k", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2 and not (tmp_path / "o").exists()
    found = re.search(r"the largest budget this mixture fits is \S+ \(--budget (\d+)\)", run.stderr)
    assert found, run.stderr
    largest = int(found.group(1))
    # that budget is exported; one token more is refused
    assert main([*base, "--budget", str(largest), "--out", str(tmp_path / "fits")]) == 0
    assert main([*base, "--budget", str(largest + 1), "--out", str(tmp_path / "over")]) == 2
    assert f"--budget {largest})" in capsys.readouterr().err
