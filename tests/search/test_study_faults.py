"""Faults around a running study, injected through the real CLI (``mixopt search`` in a
subprocess, or :func:`mixopt.cli.main`): a second driver on the same study, signals under
both executors, a database that stops and a disk that fills mid-study, a damaged
``study.db``. Each ends in one line, with its own exit status, and loses nothing finished.

The studies run :class:`tests.support.runners.HoldingPlan` (``--plan``, no ``--eval``):
trials that train nothing and, where the test asks, wait, so that a driver is caught with a
trial running."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mixopt.cli import main
from tests.support.runners import hold_folder

REPO = Path(__file__).resolve().parents[2]
PLAN = "tests.support.runners:HoldingPlan"
WAIT_S = 300.0  # a driver's start under load: Ray's, torch's and Optuna's imports


def _search(inputs: dict[str, Any], out: Path, seed: int, *extra: str) -> list[str]:
    """``mixopt search``'s arguments for a study of 2k-token trials that train nothing."""
    return [
        "search",
        "--domains",
        inputs["domains"],
        "--model",
        inputs["model"],
        "--plan",
        PLAN,
        "--budget",
        "2k",
        "--confirm",
        "0",
        "--early-stop",
        "off",
        "--sampler",
        "random",
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


@contextlib.contextmanager
def _holding(passing: int = 0) -> Iterator[tuple[int, Path]]:
    """A seed of its own for a study whose trials from call ``passing`` on wait (see
    :class:`~tests.support.runners.HoldingPlan`) until the folder goes, at the end at last."""
    seed = 1000 + secrets.randbelow(10**9)
    folder = hold_folder(seed)
    folder.mkdir()
    (folder / "pass").write_text(str(passing))
    try:
        yield seed, folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _driver(args: list[str], root: Path, ray: bool = False) -> subprocess.Popen[bytes]:
    """``python -m mixopt ARGS`` in a process group of its own; its stdout and stderr go to
    ``root/stdout.txt`` and ``root/stderr.txt``. ``ray``: join the suite's Ray cluster
    (``RAY_ADDRESS``), else run in process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if not ray:
        env.pop("RAY_ADDRESS", None)
    with open(root / "stdout.txt", "wb") as out, open(root / "stderr.txt", "wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "mixopt", *args],
            cwd=root,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )


def _wait_for(path: Path, proc: subprocess.Popen[bytes], root: Path) -> None:
    end = time.monotonic() + WAIT_S
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError((root / "stderr.txt").read_text()[-3000:])
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _events(out: Path) -> list[str]:
    path = out / "events.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line)["event"] for line in path.read_text().splitlines() if line.strip()]


def _counts(out: Path) -> dict[str, int]:
    counts: dict[str, int] = json.loads((out / "results.json").read_text())["counts"]
    return counts


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# -- one driver per study -------------------------------------------------------------------


@pytest.mark.slow
def test_a_second_driver_or_a_resume_is_refused_while_one_runs(
    study_inputs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """While a driver runs a study, another ``mixopt search`` on its --out and a ``--resume``
    are refused in one line naming the holder (host, pid), exit 2, writing nothing; once
    the holder is killed (its lock left stale in the folder), a resume takes the study over
    and loses nothing."""
    out = tmp_path / "study"
    with _holding(passing=2) as (seed, hold):
        args = _search(study_inputs, out, seed, "--trials", "2", "--executor", "inprocess")
        first = _driver(args, tmp_path)
        try:
            _wait_for(hold / "waiting-2", first, tmp_path)  # the baselines done, trial 2 running
            before = _files(out)
            holder = f"host {socket.gethostname()}, pid {first.pid}"
            for again in (args, ["search", "--resume", str(out), "--quiet"]):
                assert main(again) == 2
                err = capsys.readouterr().err
                assert len(_error_lines(err)) == 1, err
                assert f"{out}: the study is being run by a driver on {holder}" in err, err
            assert _files(out) == before  # nothing written, the folder's files untouched
        finally:
            _stop(first)  # SIGKILL: its lock file stays, naming a driver that is gone
        assert f'"pid": {first.pid}' in (out / "driver.lock").read_text()
    assert main(["search", "--resume", str(out), "--quiet"]) == 0
    assert _counts(out) == {"trials": 4, "complete": 4}
    assert not (out / "driver.lock").exists()  # released at the end


@pytest.mark.slow
def test_a_study_in_postgresql_is_locked_in_the_database(
    study_inputs: dict[str, Any],
    postgres_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two machines sharing one PostgreSQL study (here: a copy of the study folder, with a
    lock file of its own) cannot run it at once: the lock lives in the database, and the
    refusal names the driver that holds it."""
    from urllib.parse import urlsplit

    out, copy = tmp_path / "study", tmp_path / "elsewhere"
    monkeypatch.setenv("PGPASSWORD", urlsplit(postgres_url).password or "")
    with _holding(passing=2) as (seed, hold):
        args = [
            *_search(study_inputs, out, seed, "--trials", "1", "--executor", "inprocess"),
            "--storage",
            postgres_url,
        ]
        first = _driver(args, tmp_path)
        try:
            _wait_for(hold / "waiting-2", first, tmp_path)
            copy.mkdir()
            shutil.copy(out / "study.json", copy / "study.json")
            assert (
                main(["search", "--resume", str(copy), "--quiet", "--executor", "inprocess"]) == 2
            )
            err = capsys.readouterr().err
            assert len(_error_lines(err)) == 1, err
            holder = f"a driver on host {socket.gethostname()}, pid {first.pid}"
            assert f"{copy}: the study is being run by {holder}" in err, err
            assert sorted(p.name for p in copy.iterdir()) == ["study.json"]  # nothing written
        finally:
            _stop(first)  # its connection closes, and its lock goes with it
    assert main(["search", "--resume", str(copy), "--quiet", "--executor", "inprocess"]) == 0
    assert _counts(copy) == {"trials": 3, "complete": 3}


# -- signals --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["inprocess", "ray"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_study_as_interrupted(
    study_inputs: dict[str, Any],
    shared_ray: str,
    tmp_path: Path,
    executor: str,
    signum: signal.Signals,
) -> None:
    """SIGINT or SIGTERM to the driver with a trial running: one line saying the study was
    interrupted and how to resume it, exit 128 + the signal, and nothing that looks
    finished (no results table, no best_mixture.json or report, no study_finished event);
    the resume then runs only what is missing."""
    out = tmp_path / "study"
    with _holding(passing=2) as (seed, hold):
        args = _search(study_inputs, out, seed, "--trials", "2", "--executor", executor)
        driver = _driver(args, tmp_path, ray=executor == "ray")
        try:
            _wait_for(hold / "waiting-2", driver, tmp_path)
            time.sleep(1.0)  # the trial under way, its driver waiting on it
            driver.send_signal(signum)
            driver.wait(timeout=120)
        finally:
            _stop(driver)
    err = (tmp_path / "stderr.txt").read_text()
    assert driver.returncode == 128 + signum, err[-3000:]
    resume = f"resume with mixopt search --resume {out}"
    assert _error_lines(err)[-1] == (
        f"mixopt: the study was interrupted ({signum.name}); its finished trials are kept: {resume}"
    ), err[-3000:]
    assert (tmp_path / "stdout.txt").read_text() == ""  # no results table
    assert not (out / "best_mixture.json").exists() and not (out / "report").exists()
    events = _events(out)
    assert "study_interrupted" in events and "study_finished" not in events
    assert events.count("trial_finished") == 2  # the baselines, kept
    assert main(["search", "--resume", str(out), "--quiet", "--executor", "inprocess"]) == 0
    assert _counts(out) == {"trials": 4, "complete": 4}
    assert _events(out).count("trial_finished") == 4  # the baselines were not run again


# -- storage and disk -----------------------------------------------------------------------


def _full_after(pages: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The study's SQLite file fills ``pages`` pages past its size when a connection opens:
    SQLite's own "database or disk is full" (its page limit is what a full disk hits)."""
    import mixopt.study.store as store

    real = store.wal_journal

    def journal(connection: Any, record: Any = None) -> None:
        real(connection, record)
        cursor = connection.cursor()
        name = cursor.execute("PRAGMA database_list").fetchone()[2]
        if Path(name).name == "study.db":
            size = cursor.execute("PRAGMA page_count").fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count = {size + pages}")
        cursor.close()

    monkeypatch.setattr(store, "wal_journal", journal)


@pytest.mark.slow
def test_a_full_disk_ends_the_study_in_one_line_with_exit_3(
    study_inputs: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SQLite's "database or disk is full" mid-study: one line naming the cause and the
    resume command, exit 3 (not bad input's 2); once there is room, the resume keeps every
    trial that finished and runs the rest."""
    import optuna

    out = tmp_path / "study"
    args = _search(study_inputs, out, 7, "--trials", "40", "--executor", "inprocess")
    with monkeypatch.context() as patch:
        _full_after(6, patch)
        assert main(args) == 3
    err = capsys.readouterr().err
    assert len(_error_lines(err)) == 1, err
    assert "database or disk is full" in err and f"resume with mixopt search --resume {out}" in err
    assert not (out / "best_mixture.json").exists()
    storage = f"sqlite:///{out / 'study.db'}"
    done = {
        t.number: t.value
        for t in optuna.load_study(study_name="mixopt", storage=storage).get_trials()
        if t.state.name == "COMPLETE"
    }
    assert done  # some trials finished before the disk filled
    assert main(["search", "--resume", str(out), "--quiet"]) == 0
    after = optuna.load_study(study_name="mixopt", storage=storage).get_trials()
    assert {n: v for n, v in ((t.number, t.value) for t in after) if n in done} == done
    assert _counts(out)["complete"] == 42


def _postmaster(port: int) -> Any:
    """The PostgreSQL server process listening on ``port``."""
    import psutil

    for p in psutil.process_iter(["name", "cmdline"]):
        cmd = p.info["cmdline"] or []
        ours = "-p" in cmd and cmd[cmd.index("-p") + 1] == str(port) and "-D" in cmd
        if p.info["name"] == "postgres" and ours:
            return p
    raise AssertionError(f"no PostgreSQL server on port {port}")


@pytest.mark.slow
def test_a_database_that_stops_mid_study_ends_it_in_one_line_with_exit_3(
    study_inputs: dict[str, Any], postgres_url: str, tmp_path: Path
) -> None:
    """PostgreSQL stopped while a trial runs: once the trial ends, the driver says in one
    line that the storage failed and how to resume, exit 3; started again, the database
    holds every trial that finished, and the resume completes the study."""
    from urllib.parse import urlsplit

    port = urlsplit(postgres_url).port
    assert port is not None
    out = tmp_path / "study"
    server = _postmaster(port)
    cmd, uids = server.cmdline(), server.uids()
    with _holding(passing=2) as (seed, hold):
        args = _search(study_inputs, out, seed, "--trials", "2", "--executor", "inprocess")
        driver = _driver([*args, "--storage", postgres_url], tmp_path)
        try:
            _wait_for(hold / "waiting-2", driver, tmp_path)
            server.send_signal(signal.SIGINT)  # a fast shutdown
            server.wait(timeout=60)
            shutil.rmtree(hold)  # the trial ends, and its driver finds no database
            driver.wait(timeout=120)
        finally:
            _stop(driver)
    err = (tmp_path / "stderr.txt").read_text()
    assert driver.returncode == 3, err[-3000:]
    assert len(_error_lines(err)) == 1, err[-3000:]
    assert "the study's storage or disk failed" in err
    assert f"resume with mixopt search --resume {out}" in err and "Traceback" not in err
    again = subprocess.Popen(
        cmd, user=uids.real, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_ready(postgres_url)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PGPASSWORD", urlsplit(postgres_url).password or "")
            assert main(["search", "--resume", str(out), "--quiet"]) == 0
        assert _counts(out) == {"trials": 4, "complete": 4}
        assert _events(out).count("trial_finished") == 4
    finally:
        again.send_signal(signal.SIGINT)
        again.wait(timeout=60)


def _wait_ready(url: str) -> None:
    import psycopg

    end = time.monotonic() + 60
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            assert time.monotonic() < end, "PostgreSQL did not start again"
            time.sleep(0.3)


# -- a damaged study.db ---------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "emptied", "random bytes"])
def test_a_damaged_study_db_is_refused_and_left_as_it_is(
    study_inputs: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: str,
) -> None:
    """A resume of a study whose study.db was cut short, emptied or overwritten is refused
    in one line naming the file, exit 2, and the file is not written to (no schema
    written into it, no journal beside it)."""
    out = tmp_path / "study"
    args = _search(study_inputs, out, 3, "--trials", "1", "--executor", "inprocess")
    assert main(args) == 0
    db = out / "study.db"
    data = db.read_bytes()
    db.write_bytes(
        {
            "truncated": data[: len(data) // 3],
            "emptied": b"",
            "random bytes": secrets.token_bytes(len(data)),
        }[damage]
    )
    before = _files(out)
    capsys.readouterr()
    assert main(["search", "--resume", str(out), "--trials", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(_error_lines(err)) == 1, err
    assert f"the study's storage {db} is damaged" in err, err
    assert _files(out) == before
