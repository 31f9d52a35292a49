"""A study on a real two-node Ray cluster, started on this machine with `ray start`."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mixopt import optimize_mixture
from tests.conftest import FAST_TRAIN

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_start(args: list[str], env: dict[str, str], groups: list[int]) -> None:
    """``ray start ARGS`` as the leader of a new process group, which the node's daemons
    inherit; the group is recorded before the outcome is checked, so that a node which
    failed halfway is stopped too."""
    ray = str(Path(sys.executable).parent / "ray")  # the CLI that ray[tune] installs beside python
    proc = subprocess.Popen([ray, "start", *args], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    groups.append(proc.pid)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err


def _stop(groups: list[int]) -> list[str]:
    """Kill the processes of these groups and their descendants (Ray's workers have groups of
    their own but are children of a raylet); the pids still running after 30 s."""
    import psutil

    procs = []
    for p in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(p.pid) in groups:
                procs += [p, *p.children(recursive=True)]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()  # as `ray stop --force` did, but to this cluster's processes alone
    deadline = time.monotonic() + 30
    while True:
        alive = [p for p in procs if _running(p)]
        if not alive or time.monotonic() > deadline:
            return [str(p.pid) for p in alive]
        time.sleep(0.2)


def _running(p: Any) -> bool:
    """Not exited, and not a zombie (where no init process reaps orphans, killed ones stay)."""
    import psutil

    try:
        return bool(p.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


@pytest.fixture()
def cluster() -> Any:
    """A head node and a worker node on loopback. Stopped by killing exactly the processes they
    started: `ray stop` would stop every Ray process on the machine, other studies' too."""
    # as from a shell of its own: without the single-machine setting an earlier local study
    # of this test process put in its environment (which keeps a local Ray on loopback)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
    port = _free_port()
    temp = Path("/tmp") / f"mxc{port}"  # short: Ray's socket paths must stay under ~107 characters
    common = ["--num-cpus=1", "--num-gpus=0", "--disable-usage-stats"]
    groups: list[int] = []
    try:
        _ray_start(["--head", "--node-ip-address=127.0.0.1", f"--port={port}", f"--temp-dir={temp}",
                    "--include-dashboard=false", *common], env, groups)  # fmt: skip
        _ray_start(
            [f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1", *common], env, groups
        )
        yield f"127.0.0.1:{port}"
    finally:
        left = _stop(groups)
        shutil.rmtree(temp, ignore_errors=True)
        assert not left, f"still running after the cluster was stopped: {left}"


def test_study_on_a_two_node_cluster(
    cluster: str, study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    import optuna

    result = optimize_mixture(
        study_inputs["model"], study_inputs["domains"], study_inputs["evaluator"], budget="2k", train=FAST_TRAIN,
        trials=4, concurrency=2, confirm=0, out=str(tmp_path / "s"), ray_address=cluster, quiet=True,
    )  # fmt: skip
    assert [t.state for t in result.trials].count("COMPLETE") == 6
    study = optuna.load_study(
        study_name="mixopt", storage=f"sqlite:///{tmp_path / 's' / 'study.db'}"
    )
    nodes = {t.user_attrs["result"]["node"] for t in study.trials}
    assert len(nodes) == 2  # trials ran on both nodes


def test_stopping_a_cluster_spares_other_processes() -> None:
    """`_stop` kills a group and its descendants in groups of their own (as Ray's workers
    are), and nothing else."""
    import psutil

    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    spawn = f"import subprocess, time; subprocess.Popen({sleeper!r}, start_new_session=True); time.sleep(60)"  # fmt: skip
    node = subprocess.Popen([sys.executable, "-c", spawn], start_new_session=True)
    other = subprocess.Popen(sleeper, start_new_session=True)
    workers: list[Any] = []
    try:
        deadline = time.monotonic() + 30
        while not workers and time.monotonic() < deadline:
            time.sleep(0.1)
            workers = psutil.Process(node.pid).children()
        (worker,) = workers
        assert os.getpgid(worker.pid) != node.pid
        assert _stop([node.pid]) == []
        assert node.wait(timeout=10) == -signal.SIGKILL and not _running(worker)
        assert other.poll() is None
    finally:
        for p in workers:
            with contextlib.suppress(psutil.Error):
                p.kill()
        for proc in (node, other):
            proc.kill()
            proc.wait()
