"""The README's main command: the offline demo runs end to end (shortened here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.py"


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO), "--out", str(tmp_path / "demo"), "--trials", "3", "--budget", "8k", "--pretrain-tokens", "60000"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for text in (
        "Best mixture:",
        "sql_shop",
        "uniform",
        "natural",
        "lift of best",
        "mlflow ui --backend-store-uri",
    ):
        assert text in done.stdout
    assert (tmp_path / "demo" / "study" / "best_mixture.json").exists()
    assert (tmp_path / "demo" / "study" / "report" / "index.html").exists()
    assert "report: " in done.stdout
