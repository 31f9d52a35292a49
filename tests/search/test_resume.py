"""Kill the driver with SIGKILL in the middle of a study, resume it, lose nothing."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mixopt.cli import main
from tests.conftest import once
from tests.search.killable_study import SAMPLER

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
    cmd = [
        sys.executable,
        "-m",
        "mixopt",
        "search",
        "--domains",
        study_inputs["domains"],
        "--budget",
        "4k",
        "--model",
        study_inputs["model"],
        "--eval",
        study_inputs["evaluator"],
        "--trials",
        "5",
        "--out",
        str(out),
        "--seq-len",
        "64",
        "--batch-size",
        "8",
        "--confirm",
        "0",
        "--sampler",
        "random",
        "--quiet",
    ]
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


# --- kills at chosen points of a study of trivial trials -------------------------------

OPTIONS = {
    "budget": "2k",
    "trials": 4,
    "concurrency": 1,
    "confirm": 0,
    "early_stop": "off",
    "sampler": SAMPLER,
    "seed": 0,
}


def _kill_points(seed: int) -> list[tuple[str, Any]]:
    """Three kills, at points drawn by ``seed``: during a trial (its runner call), during the
    MLflow logging of a finished trial, while writing the final results."""
    rng = random.Random(seed)
    return [
        ("trial", rng.randrange(1, 5)),  # runner calls 0-1 are the baselines
        ("mlflow", rng.randrange(1, 4)),  # the n-th trial run closed after the resume
        ("report", rng.choice(["results.json", "best_mixture.json"])),
    ]


def _drive(settings: dict[str, Any], tmp: Path) -> None:
    """Run the driver until it says it reached its kill point; SIGKILL it and all it started."""
    ready = Path(settings["ready"])
    if settings["point"] == "trial":  # the runner says when call K is under way
        ready = Path(settings["calls"]) / f"started-{settings['at']}"
    ready.unlink(missing_ok=True)
    path = tmp / "settings.json"
    path.write_text(json.dumps(settings))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.search.killable_study", str(path)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ready.exists(), (
            f"never reached {settings['point']}: {proc.stderr.read().decode()[-3000:] if proc.poll() is not None and proc.stderr else 'timed out'}"
        )
        os.kill(proc.pid, signal.SIGKILL)  # the driver, as a pre-empted node would lose it
        proc.wait(timeout=30)
    finally:
        _kill_session(proc.pid)


def _kill_session(sid: int) -> None:
    """SIGKILL what is left of the driver's session (its Ray), and check that nothing stays."""
    for _ in range(100):
        left = [p for p in _session(sid) if p != os.getpid()]
        if not left:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sid, signal.SIGKILL)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    raise AssertionError(f"processes of the killed study still run: {_session(sid)}")


def _session(sid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != "Z":  # session id; zombies are gone already
                out.append(int(stat.parent.name))
    return out


def _outcome(out: Path) -> dict[str, Any]:
    """What the study reports, without what differs between two folders (paths, trial numbers
    shifted by interrupted trials)."""
    best = json.loads((out / "best_mixture.json").read_text())
    results = json.loads((out / "results.json").read_text())
    trials = sorted(
        (t["role"], t["state"], sorted(t["mixture"].items()), t["score"]) for t in results["trials"]
    )
    return {
        "best": best["best_mixture"],
        "score": best["score"],
        "lift": best["lift"],
        "baselines": best["baselines"],
        "counts": results["counts"],
        "trials": trials,
    }


@pytest.fixture(scope="module")
def reference(
    study_inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The same study, never killed."""
    from mixopt import optimize_mixture
    from tests.support.runners import FaultyTrial

    def make(tmp: Path) -> dict[str, Any]:
        optimize_mixture(
            study_inputs["model"],
            study_inputs["domains"],
            study_inputs["evaluator"],
            runner=FaultyTrial(str(tmp / "calls")),
            **OPTIONS,
            out=str(tmp / "study"),
            quiet=True,
        )
        return _outcome(tmp / "study")

    return once(tmp_path_factory, "resume-reference", make)


# each executor once: with Ray the kill leaves Ray's processes behind, in-process it takes
# the running trial with it; either way the folder must hold what the reference holds
@pytest.mark.parametrize(("seed", "executor"), [(0, "ray"), (1, "inprocess")])
def test_sigkill_at_chosen_points_then_resume_loses_nothing(
    seed: int,
    executor: str,
    study_inputs: dict[str, Any],
    reference: dict[str, Any],
    tmp_path: Path,
) -> None:
    import optuna
    from mlflow.tracking import MlflowClient

    from mixopt import resume_search
    from tests.support.runners import FaultyTrial

    out = tmp_path / "study"
    base = {
        "out": str(out),
        "calls": str(tmp_path / "calls"),
        "ready": str(tmp_path / "ready"),
        "model": study_inputs["model"],
        "domains": study_inputs["domains"],
        "evaluator": study_inputs["evaluator"],
        "options": {**OPTIONS, "executor": executor},
    }
    kills = _kill_points(seed)
    for i, (point, at) in enumerate(kills):
        _drive({**base, "point": point, "at": at, "resume": i > 0}, tmp_path)
        _check_folder(out)  # whatever the kill interrupted, the folder reads back
    resume_search(out, quiet=True, runner=FaultyTrial(str(tmp_path / "calls")), executor=executor)

    assert _outcome(out) == reference  # as if it had never been killed
    study = optuna.load_study(study_name="mixopt", storage=f"sqlite:///{out / 'study.db'}")
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 6  # 2 baselines + 4 searched, each exactly once
    assert len({json.dumps(t.user_attrs["mixture"], sort_keys=True) for t in complete}) == 6
    assert all(t.state.name == "FAIL" for t in study.trials if t.user_attrs.get("interrupted"))
    assert [t for t in study.trials if t.user_attrs.get("interrupted")]  # the kill mid-trial

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs(
        [client.get_experiment_by_name("mixopt").experiment_id], max_results=1000
    )
    assert not [r for r in runs if r.info.status == "RUNNING"]
    finished = [r for r in runs if r.data.tags.get("mixopt.state") == "COMPLETE"]
    assert sorted(int(r.data.tags["mixopt.trial_number"]) for r in finished) == sorted(
        t.number for t in complete
    )
    for run in finished:  # the figures Optuna holds, logged once, in a FINISHED run
        assert run.info.status == "FINISHED"
        assert (
            run.data.metrics["score"]
            == study.trials[int(run.data.tags["mixopt.trial_number"])].value
        )
    _check_folder(out)


def _check_folder(out: Path) -> None:
    """Every file mixopt writes in the output folder parses; no torn temporary file stays
    past a resume."""
    import sqlite3

    for path in out.iterdir():
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".db":
            with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    if (out / "study.json").exists():
        json.loads((out / "study.json").read_text())["spec"]
