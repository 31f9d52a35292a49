"""Faults injected through the real CLI (``mixopt search`` and ``mixopt export``, in a
subprocess or through :func:`mixopt.cli.main`), each checked where it would show: the
sockets a study's processes listen on, every byte a study writes (its folder, its MLflow
store, Ray's folder), a shared tracking server's artifact store, the system's temp folder.

The studies run :class:`tests.support.runners.TrivialPlan` (``--plan``, no ``--eval``):
real Ray, Optuna, MLflow and PostgreSQL around trials that train nothing."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PLAN = "tests.support.runners:TrivialPlan"


def _search(inputs: dict[str, Any], out: Path | str, *extra: str) -> list[str]:
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
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


# -- a local Ray, started by `mixopt search` ----------------------------------------------


def _watch(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    """While ``proc`` runs: the TCP sockets its process tree listens on (process name, address,
    port), and Ray's folders its processes name, with their permissions."""
    import psutil

    root = psutil.Process(proc.pid)
    listening: set[tuple[str, str, int]] = set()
    folders: dict[str, int] = {}
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error, OSError):
                    for c in p.net_connections("inet"):
                        if c.status == psutil.CONN_LISTEN:
                            listening.add((p.name(), c.laddr.ip, c.laddr.port))
                    for folder in re.findall(r"/tmp/mxr\w+", " ".join(p.cmdline())):
                        folders[folder] = stat.S_IMODE(os.stat(folder).st_mode)
        time.sleep(0.3)
    return {"listening": listening, "folders": folders}


@pytest.fixture(scope="module")
def local_ray_study(
    study_inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """``python -m mixopt search`` with no cluster to join (no RAY_ADDRESS, whatever the suite
    set): it starts a local Ray of its own, watched while it runs (:func:`_watch`)."""
    root = tmp_path_factory.mktemp("local-ray")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "RAY_ENABLE_"))}
    env.update(PYTHONPATH=str(REPO), MIXOPT_CACHE_DIR=str(root / "cache"))
    log = root / "stderr.txt"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mixopt",
                *_search(study_inputs, root / "study", "--trials", "1"),
            ],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            watched = _watch(proc)
        finally:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=600)
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, log.read_text()[-3000:]
    return watched


def _loopback(ip: str) -> bool:
    import ipaddress

    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


@pytest.mark.slow
def test_a_study_s_local_ray_listens_on_loopback_only(local_ray_study: dict[str, Any]) -> None:
    listening = local_ray_study["listening"]
    names = {name for name, _, _ in listening}
    assert {"gcs_server", "raylet"} <= names, listening  # seen while it ran
    assert all(_loopback(ip) for _, ip, _ in listening), sorted(listening)


@pytest.mark.slow
def test_a_study_s_local_ray_folder_is_private_and_removed(
    local_ray_study: dict[str, Any],
) -> None:
    folders = local_ray_study["folders"]
    assert folders, "no Ray folder seen in the study's processes"
    assert all(mode == 0o700 for mode in folders.values()), folders
    assert not [f for f in folders if os.path.exists(f)], folders  # gone with the study
