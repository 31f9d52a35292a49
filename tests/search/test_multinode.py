"""A study on a real two-node Ray cluster, started on this machine with `ray start`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
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


@pytest.fixture()
def cluster(tmp_path: Path) -> Any:
    ray = str(Path(sys.executable).parent / "ray")  # the CLI that ray[tune] installs beside python
    assert Path(ray).exists()
    # as from a shell of its own: without the single-machine setting an earlier local study
    # of this test process put in its environment (which keeps a local Ray on loopback)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
    port = _free_port()
    temp = Path("/tmp") / f"mxc{port}"  # short: Ray's socket paths must stay under ~107 characters
    common = ["--num-cpus=1", "--num-gpus=0", "--disable-usage-stats"]
    subprocess.run([ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", f"--temp-dir={temp}",
                    "--include-dashboard=false", *common], check=True, env=env, capture_output=True)  # fmt: skip
    try:
        subprocess.run([ray, "start", f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1", *common],
                       check=True, env=env, capture_output=True)  # fmt: skip
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True)
        shutil.rmtree(temp, ignore_errors=True)


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
