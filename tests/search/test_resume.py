"""Kill the driver with SIGKILL in the middle of a study, resume it, lose nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mixopt.cli import main

pytestmark = pytest.mark.slow


def _finished(out: Path) -> int:
    """Completed trials, read without touching the schema (opening the study through Optuna
    would create its tables, racing the driver that is creating them)."""
    import sqlite3

    if not (out / "study.json").exists():
        return 0
    try:
        with sqlite3.connect(f"{(out / 'study.db').as_uri()}?mode=ro", uri=True) as conn:
            return int(
                conn.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
            )
    except sqlite3.Error:
        return 0


def test_sigkill_mid_study_then_resume_keeps_every_trial_once(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    import optuna
    from mlflow.tracking import MlflowClient

    out = tmp_path / "study"
    cmd = [sys.executable, "-m", "mixopt", "search", "--domains", study_inputs["domains"], "--budget", "4k",
           "--model", study_inputs["model"], "--eval", study_inputs["evaluator"], "--trials", "5", "--out", str(out),
           "--seq-len", "64", "--batch-size", "8", "--confirm", "0", "--sampler", "random", "--quiet"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 240
        while _finished(out) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        assert proc.poll() is None, (
            f"the study ended before it could be killed: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
        )
        os.kill(proc.pid, signal.SIGKILL)  # the driver only, mid-trial: as a pre-empted node would
        proc.wait(timeout=30)
    finally:
        time.sleep(2)
        with contextlib.suppress(
            ProcessLookupError
        ):  # what Ray left of the killed driver's cluster
            os.killpg(proc.pid, signal.SIGKILL)
    before = {
        t.number: t.value
        for t in optuna.load_study(
            study_name="mixopt", storage=f"sqlite:///{out / 'study.db'}"
        ).trials
        if t.state.name == "COMPLETE"
    }
    assert len(before) >= 3

    assert main(["search", "--resume", str(out), "--quiet"]) == 0

    study = optuna.load_study(study_name="mixopt", storage=f"sqlite:///{out / 'study.db'}")
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 7  # 2 baselines + 5 searched, each exactly once
    assert all(study.trials[n].value == v for n, v in before.items())  # kept, not re-run
    assert sorted(t.user_attrs["role"] for t in complete).count("baseline:uniform") == 1
    interrupted = [t for t in study.trials if t.user_attrs.get("interrupted")]
    assert all(t.state.name == "FAIL" for t in interrupted)

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs(
        [client.get_experiment_by_name("mixopt").experiment_id], max_results=1000
    )
    assert not [r for r in runs if r.info.status == "RUNNING"]
    finished = [r for r in runs if r.data.tags.get("mixopt.state") == "COMPLETE"]
    numbers = sorted(int(r.data.tags["mixopt.trial_number"]) for r in finished)
    assert numbers == sorted(t.number for t in complete)  # one finished run per completed trial
    assert len({r.data.tags.get("mlflow.parentRunId") for r in finished}) == 1
