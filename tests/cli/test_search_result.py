"""What ``mixopt search`` prints and writes when no mixture beats uniform, with one
confirmation seed: a real study (in-process, no tracking) whose bounds leave one mixture, so
the uniform and natural baselines train the same mixture and tie, and uniform wins."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mixopt.cli import main
from tests.conftest import FAST_TRAIN, once

pytestmark = pytest.mark.slow  # a real study: two trials and two confirmation runs

# min shares summing to 1: a single feasible mixture, which both baselines are moved to
ONE_POINT = "mixture:\n  bounds: {finance: {min_share: 0.5}, cooking: {min_share: 0.3}, sports: {min_share: 0.2}}\n"


@pytest.fixture(scope="module")
def tie(study_inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    def make(root: Path) -> dict[str, Any]:
        (root / "space.yaml").write_text(ONE_POINT)
        train = [f"--{k.replace('_', '-')}={v}" for k, v in FAST_TRAIN.items()]
        argv = [
            "search",
            "--domains",
            study_inputs["domains"],
            "--model",
            study_inputs["model"],
            "--eval",
            study_inputs["evaluator"],
            "--budget",
            "2k",
            "--trials",
            "0",
            "--confirm",
            "1",
            "--space",
            str(root / "space.yaml"),
            "--executor",
            "inprocess",
            "--tracking-uri",
            "none",
            "--cache-dir",
            str(root / "cache"),
            "--out",
            str(root / "study"),
            "--quiet",
            *train,
        ]
        old = os.umask(0o022)
        try:
            import contextlib
            import io

            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                status = main(argv)
        finally:
            os.umask(old)
        return {"status": status, "stdout": out.getvalue(), "out": root / "study"}

    return once(tmp_path_factory, "tie-study", make)


def test_a_baseline_that_wins_is_the_answer_and_the_tool_says_so(tie: dict[str, Any]) -> None:
    assert tie["status"] == 0
    text = tie["stdout"]
    # uniform and natural train the same mixture and tie: uniform, the first, is the answer
    assert text.lstrip().startswith(
        "The answer is the uniform baseline: no searched mixture beat it on 1 fresh seed; "
        "vs natural +0.0000 (one seed: no spread)."
    )
    assert "Answer: the uniform baseline's mixture" in text and "Best mixture" not in text
    answer = json.loads((tie["out"] / "best_mixture.json").read_text())
    assert answer["answer_is"] == "uniform" and answer["verdict"].startswith(
        "The answer is the uniform"
    )
    assert answer["lifts"]["natural"] == {
        "lift": 0.0,
        "low": None,
        "high": None,
        "verdict": "within noise",
        "seeds": 1,
        "family": 1,
        "spread": None,
    }
    page = (tie["out"] / "report" / "index.html").read_text()
    assert "<h2>No mixture beat uniform beyond noise</h2>" in page
    assert "The answer is the uniform baseline" in page


def test_one_confirmation_seed_shows_no_spread_never_a_std_of_zero(tie: dict[str, Any]) -> None:
    table = tie["stdout"].split("Scores (", 1)[1].split("\n\n", 1)[0]
    rows = [
        line for line in table.splitlines() if line.startswith(("answer", "uniform", "natural"))
    ]
    assert len(rows) == 3 and all("no spread (1 seed)" in r for r in rows), table
    assert "0.0000  -" not in table and " 0.0000 " not in table.replace("+0.0000", "")
    assert sum("one seed: no spread" in r for r in rows) == 2  # each lift's interval column
    page = (tie["out"] / "report" / "index.html").read_text()
    assert "(1 paired fresh seed: no spread)" in page


def test_the_study_folder_is_readable_by_the_group(tie: dict[str, Any]) -> None:
    written = [p for p in tie["out"].rglob("*") if p.is_file()]
    names = {p.relative_to(tie["out"]).as_posix() for p in written}
    assert {
        "study.json",
        "best_mixture.json",
        "results.json",
        "report/index.html",
        "report/history.png",
    } <= names
    modes = {p.relative_to(tie["out"]).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in written}
    assert all(m & stat.S_IRGRP for m in modes.values()), modes
