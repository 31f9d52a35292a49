"""Starting Ray: a local Ray that mixopt starts listens on the loopback address only; a study
joins the cluster named by --ray-address, else by RAY_ADDRESS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mixopt.errors import ConfigError
from tests.support.services import free_port

pytestmark = pytest.mark.slow

# in a fresh interpreter, as `mixopt search` runs: the study modules are imported first (none
# may import Ray, which reads its settings once), then Ray is started as run_study starts it
SCRIPT = """
import json, sys
import psutil
import mixopt.cli, mixopt.search.orchestration.study, mixopt.search.executors.ray_tune
assert "ray" not in sys.modules, "Ray was imported before mixopt started it"
from mixopt.search.executors.ray_tune import start_ray, stop_ray

assert start_ray(None)
import ray
listening = []
# the processes Ray started for this driver (GCS, raylet, workers, agents), and the driver
for proc in [psutil.Process(), *psutil.Process().children(recursive=True)]:
    try:
        listening += [[proc.name(), c.laddr.ip, c.laddr.port] for c in proc.net_connections("inet")
                      if c.status == psutil.CONN_LISTEN]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        continue
node = ray.nodes()[0]
print(json.dumps({"node_ip": node["NodeManagerAddress"], "gcs": ray.get_runtime_context().gcs_address,
                  "listening": listening}))
stop_ray()
"""


def _loopback(ip: str) -> bool:
    import ipaddress

    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def test_local_ray_listens_on_loopback_only(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ENABLE_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert _loopback(report["node_ip"]) and _loopback(report["gcs"].rpartition(":")[0])
    # every Ray process started (GCS, raylet, workers, agents) listens somewhere, and only on 127.0.0.1
    names = {name for name, _, _ in report["listening"]}
    assert {"gcs_server", "raylet"} <= names, report["listening"]
    assert all(_loopback(ip) for _, ip, _ in report["listening"]), report["listening"]
    # a Ray of its own even where RAY_ADDRESS names a cluster (the suite's, tests/conftest.py)
    assert report["gcs"] != os.environ["RAY_ADDRESS"]


def test_a_study_joins_the_cluster_in_ray_address(
    shared_ray: str, study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    """Without --ray-address a study joins the cluster in Ray's RAY_ADDRESS (as under `ray job
    submit`), runs its trials there and leaves it running; --ray-address wins over it."""
    import ray

    from mixopt import optimize_mixture
    from tests.support.runners import WaitingTrial

    assert os.environ["RAY_ADDRESS"] == shared_ray  # set for the whole suite
    ray.init(address=shared_ray, logging_level="ERROR")
    try:
        (node,) = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    finally:
        ray.shutdown()
    result = optimize_mixture(
        study_inputs["model"],
        study_inputs["domains"],
        study_inputs["evaluator"],
        budget="2k",
        trials=1,
        confirm=0,
        out=str(tmp_path / "s"),
        runner=WaitingTrial(0.0),
        quiet=True,
    )
    assert {t.result["node"] for t in result.trials} == {node}
    ray.init(address=shared_ray, logging_level="ERROR")  # still up after the study
    ray.shutdown()

    # --ray-address wins; an address where nothing answers is refused in one line, before
    # anything is written (Ray would retry it for minutes)
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(
        ConfigError, match=f"--ray-address {dead}: no Ray cluster answers there"
    ) as err:
        optimize_mixture(
            study_inputs["model"],
            study_inputs["domains"],
            study_inputs["evaluator"],
            budget="2k",
            trials=1,
            confirm=0,
            out=str(tmp_path / "t"),
            runner=WaitingTrial(0.0),
            quiet=True,
            ray_address=dead,
        )
    assert len(str(err.value).splitlines()) == 1 and not (tmp_path / "t").exists()


def test_a_cluster_address_nothing_answers_at_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mixopt.cli import main
    from mixopt.search.executors.ray_tune import address_problems

    dead = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("RAY_ADDRESS", dead)
    assert (
        main(
            [
                "search",
                "--domains",
                str(tmp_path / "none.json"),
                "--budget",
                "1k",
                "--model",
                "m",
                "--eval",
                "e",
                "--out",
                str(tmp_path / "s"),
            ]
        )
        == 2
    )
    assert f"RAY_ADDRESS {dead}: no Ray cluster answers there" in capsys.readouterr().err
    assert address_problems("auto") == [] and address_problems("nohost") == [
        "--ray-address 'nohost' is not HOST:PORT, ray://HOST:PORT or auto"
    ]
    assert (
        main(
            [
                "search",
                "--domains",
                str(tmp_path / "none.json"),
                "--budget",
                "1k",
                "--model",
                "m",
                "--eval",
                "e",
                "--out",
                str(tmp_path / "s"),
                "--executor",
                "inprocess",
            ]
        )
        == 2
    )
    assert "RAY_ADDRESS" not in capsys.readouterr().err  # trials in this process join no cluster
