"""The wheel is complete: built from this checkout and installed apart from it (non-editable,
no source tree on the path), it runs a study whose built-in search space it reads from the
package data, not from the checkout's ``search_spaces/``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FAST_TRAIN

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def _pip(*args: str | Path, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", *map(str, args), "--no-index", "--quiet"],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _build_wheel(tmp_path: Path) -> Path:
    """A wheel of this checkout, built offline with the environment's setuptools (dev extra)."""
    assert int(version("setuptools").split(".")[0]) >= 77, (
        "pyproject's build-system: setuptools>=77"
    )
    # build from a copy of what the wheel is made of: setuptools leaves build/ and *.egg-info
    # beside the sources, and a stale build/ in the checkout could slip old files into the wheel
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "mixopt", src / "mixopt", ignore=shutil.ignore_patterns("__pycache__"))
    _pip("wheel", src, "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("mixopt-*.whl")
    return wheel


def test_the_wheel_runs_a_study_with_a_builtin_space(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "site"
    _pip("install", "--no-deps", "--target", target, _build_wheel(tmp_path), cwd=tmp_path)
    assert (target / "mixopt" / "search_spaces" / "default.yaml").is_file()
    # a plug-in author's helpers ship; the tests' server launchers and stand-in trials do not
    shipped = {p.name for p in (target / "mixopt" / "testing").glob("*.py")}
    assert {"checks.py", "corpus.py", "tokenizer.py"} <= shipped
    assert not shipped & {"services.py", "runners.py"}

    # outside the checkout, with only the installed wheel on the path (the dependencies come
    # from this environment's site-packages, which PYTHONPATH comes before)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import mixopt, mixopt.search.proposals.space as s; print(mixopt.__file__); print(s.BUILTIN_SPACES)",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert where == [
        str(target / "mixopt" / "__init__.py"),
        str(target / "mixopt" / "search_spaces"),
    ]

    out = cwd / "study"
    train = [
        "--seq-len",
        str(FAST_TRAIN["seq_len"]),
        "--batch-size",
        str(FAST_TRAIN["batch_size"]),
        "--lr",
        str(FAST_TRAIN["learning_rate"]),
        "--checkpoints",
        str(FAST_TRAIN["checkpoints"]),
    ]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mixopt",
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
            "1",
            "--confirm",
            "0",
            "--space",
            "default",
            "--sampler",
            "random",
            "--early-stop",
            "off",
            "--out",
            str(out),
            "--quiet",
            *train,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    best = json.loads((out / "best_mixture.json").read_text())
    assert best["space"]["name"] == "default"
    assert set(best["best_mixture"]) == {"finance", "cooking", "sports"}
    results = json.loads((out / "results.json").read_text())
    assert len(results["trials"]) == 3  # the two baselines and the one searched trial
