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


def test_export_says_how_fields_and_tiny_shares_were_written(
    tmp_path: Path, tokenizer_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.export.test_records import _awkward

    domains = _awkward(tmp_path)
    mix = tmp_path / "mix.json"
    mix.write_text(json.dumps({"news": 0.5, "legal": 0.2, "sql": 0.299, "haiku": 0.001}))
    args = ["export", "--domains", str(domains), "--model", str(tokenizer_dir)]
    assert main([*args, "--mixture", str(mix), "--budget", "3k", "--out", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    haiku = next(line for line in text.splitlines() if line.startswith("  haiku:"))
    assert "share 0.001" in haiku and "rounded up to 1 whole record" in haiku
    assert "field 'id' has different types across domains" in text and "as strings" in text
    assert "field 'body' dropped from sql" in text
    whole = json.loads((tmp_path / "o" / "manifest.json").read_text())["keep_whole"]
    assert f"cutoff_len / sequence_len {whole['cutoff_len']:,}" in text


def test_export_a_study_folder(
    three_domain_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import mixopt
    from mixopt.study.store import StudyStore

    held = StudyStore(three_domain_study).read_spec()
    best = json.loads((three_domain_study / "best_mixture.json").read_text())
    out = tmp_path / "cli"
    assert main(["export", str(three_domain_study), "--budget", "6k", "--out", str(out)]) == 0
    assert f"to {out}" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["study"] == str(three_domain_study.resolve())
    assert manifest["mixture"] == best["best_mixture"] and manifest["budget"] == 6000
    assert manifest["domains_file"] == held.data.domains
    assert manifest["tokenizer"] == held.model.name
    # the same in Python, and options given still win over the study's
    api = mixopt.export_mixture(study=str(three_domain_study), budget="6k", out=str(tmp_path / "a"))
    assert (api / "mixture.jsonl").read_bytes() == (out / "mixture.jsonl").read_bytes()
    mix = tmp_path / "mix.json"
    mix.write_text(json.dumps({"finance": 0.5, "cooking": 0.25, "sports": 0.25}))
    argv = ["export", str(three_domain_study), "--mixture", str(mix), "--budget", "6k"]
    assert main([*argv, "--out", str(tmp_path / "own")]) == 0
    own = json.loads((tmp_path / "own" / "manifest.json").read_text())
    assert own["mixture"] == {"finance": 0.5, "cooking": 0.25, "sports": 0.25}
    capsys.readouterr()
    # a folder that holds no study: one line
    assert main(["export", str(tmp_path), "--budget", "6k", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a mixopt study folder" in err[0]
