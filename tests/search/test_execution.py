"""Starting Ray: a local Ray that mixopt starts listens on the loopback address only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# in a fresh interpreter, as `mixopt search` runs: the study modules are imported first (none
# may import Ray, which reads its settings once), then Ray is started as run_study starts it
SCRIPT = """
import json, sys
import psutil
import mixopt.cli, mixopt.search.study, mixopt.search.executors.ray_tune
assert "ray" not in sys.modules, "Ray was imported before mixopt started it"
from mixopt.search.executors.ray_tune import start_ray

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
ray.shutdown()
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
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                          timeout=300, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert _loopback(report["node_ip"]) and _loopback(report["gcs"].rpartition(":")[0])
    # every Ray process started (GCS, raylet, workers, agents) listens somewhere, and only on 127.0.0.1
    names = {name for name, _, _ in report["listening"]}
    assert {"gcs_server", "raylet"} <= names, report["listening"]
    assert all(_loopback(ip) for _, ip, _ in report["listening"]), report["listening"]
