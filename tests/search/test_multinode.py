"""A study on a real two-node Ray cluster, started on this machine with `ray start`."""

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

from mixopt import optimize_mixture
from tests.conftest import FAST_TRAIN

pytestmark = pytest.mark.slow


@pytest.fixture()
def cluster() -> Any:
    """A head node and a worker node on loopback, one CPU each."""
    from tests.support.services import ray_cluster

    with ray_cluster(nodes=2, cpus=1) as address:
        yield address


def test_study_on_a_two_node_cluster(
    cluster: str, study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    import optuna

    result = optimize_mixture(
        study_inputs["model"],
        study_inputs["domains"],
        study_inputs["evaluator"],
        budget="2k",
        train=FAST_TRAIN,
        trials=4,
        concurrency=2,
        confirm=0,
        out=str(tmp_path / "s"),
        ray_address=cluster,
        quiet=True,
    )
    assert [t.state for t in result.trials].count("COMPLETE") == 6
    study = optuna.load_study(
        study_name="mixopt", storage=f"sqlite:///{tmp_path / 's' / 'study.db'}"
    )
    nodes = {t.user_attrs["result"]["node"] for t in study.trials}
    assert len(nodes) == 2  # trials ran on both nodes


def test_stopping_a_cluster_spares_other_processes() -> None:
    """`stop_groups` kills a group and its descendants in groups of their own (as Ray's
    workers are), and nothing else."""
    import psutil

    from tests.support.services import _running, stop_groups

    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    spawn = f"import subprocess, time; subprocess.Popen({sleeper!r}, start_new_session=True); time.sleep(60)"
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
        assert stop_groups([node.pid]) == []
        assert node.wait(timeout=10) == -signal.SIGKILL and not _running(worker)
        assert other.poll() is None
    finally:
        for p in workers:
            with contextlib.suppress(psutil.Error):
                p.kill()
        for proc in (node, other):
            proc.kill()
            proc.wait()
