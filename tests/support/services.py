"""The servers a study at scale talks to, started for a test or a benchmark on this machine
and stopped after: PostgreSQL (Optuna's storage), an MLflow tracking server and a Ray cluster.

    with postgres_server(folder) as url:     # postgresql://mixopt:...@127.0.0.1:PORT/mixopt
        optimize_mixture(..., storage=url)
    with mlflow_server(folder) as url:       # http://127.0.0.1:PORT
        optimize_mixture(..., tracking_uri=url)
    with ray_cluster(nodes=2) as address:    # 127.0.0.1:PORT
        optimize_mixture(..., ray_address=address)

The two servers write their logs (and process ids) in ``folder``. Where a server cannot run here
(PostgreSQL not installed, no unprivileged user to run it as), :class:`ServiceUnavailable`
says why, in one line: a test skips with it through :func:`unavailable`, which fails it
instead where ``$MIXOPT_REQUIRE_SERVICES`` is set (as CI sets it: a service CI failed to
install must not turn its tests into skips).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

__all__ = [
    "REQUIRE_SERVICES",
    "ServiceUnavailable",
    "free_port",
    "mlflow_server",
    "postgres_bin",
    "postgres_server",
    "ray_cluster",
    "ray_cluster_folder",
    "stop_groups",
    "unavailable",
]

# both start in about 5 s; on a 2-core machine shared with other jobs, MLflow took over 60 s
START_S = 180.0
STOP_S = 15.0
PG_USER = "mixopt"  # the database role (and the database) the URL names
# Debian installs one folder per major version; PATH holds at most symlinks into one of them
PG_DEBIAN = Path("/usr/lib/postgresql")


class ServiceUnavailable(RuntimeError):
    """The server cannot run on this machine; the message (one line) says why."""


REQUIRE_SERVICES = "MIXOPT_REQUIRE_SERVICES"
"""Set (to anything but 0) by CI: a test that needs a service this machine lacks fails."""


def unavailable(reason: str, module: bool = False) -> NoReturn:
    """Skip the calling test (``module``: the whole module, at import) for a service or
    optional package this machine lacks, with ``reason``; where :data:`REQUIRE_SERVICES` is
    set, fail it instead, with the same reason."""
    import pytest

    if os.environ.get(REQUIRE_SERVICES, "") not in ("", "0"):
        pytest.fail(f"{reason} (${REQUIRE_SERVICES} is set: the tests need it)", pytrace=False)
    pytest.skip(reason, allow_module_level=module)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bin() -> Path:
    """The folder of PostgreSQL's server programs (``initdb``, ``postgres``, ``createdb``): the
    one ``initdb`` on PATH points into, else Debian's newest ``/usr/lib/postgresql/<ver>/bin``."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    versions = sorted(PG_DEBIAN.glob("*/bin"), key=lambda p: _version(p.parent.name), reverse=True)
    for folder in [*candidates, *versions]:
        if all(
            (folder / name).exists() for name in ("initdb", "postgres", "createdb", "pg_isready")
        ):
            return folder
    raise ServiceUnavailable(
        f"PostgreSQL is not installed: no initdb on PATH or in {PG_DEBIAN}/<version>/bin "
        "(apt-get install postgresql)"
    )


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", name))


def _server_user() -> pwd.struct_passwd | None:
    """Whom the server runs as: None (this process's user) unless that is root, which
    PostgreSQL refuses to run as; then the ``postgres`` system user, else ``nobody``."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ServiceUnavailable(
        "running as root and no 'postgres' or 'nobody' user to run PostgreSQL as"
    )


@contextlib.contextmanager
def postgres_server(folder: str | Path, database: str = PG_USER) -> Iterator[str]:
    """A fresh PostgreSQL server on 127.0.0.1 (a free port), its data in a temporary folder,
    with one database ``database`` owned by role ``mixopt`` (password authentication); yields
    the ``postgresql://`` URL Optuna and SQLAlchemy open. Stopped and its data removed after."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bin_dir, user = postgres_bin(), _server_user()
    as_user: dict[str, Any] = (
        {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
    )
    # not under ``folder``: the server's user must reach it (a root-owned test folder is 0700),
    # and the socket's path must stay short (108 bytes at most)
    root = Path(tempfile.mkdtemp(prefix="mixopt-pg-"))
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    log, password, port = folder / "postgres.log", secrets.token_hex(12), free_port()
    try:
        _initdb(bin_dir, root, password, log, as_user)
        # fsync off: tests kill drivers, never this server, and a study's commits stay cheap
        cmd = [
            str(bin_dir / "postgres"),
            "-D",
            str(root / "data"),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={root}",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
        # SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for every client to leave)
        with _process(cmd, log, signal.SIGINT, cwd=root, **as_user) as proc:
            client = ["-h", "127.0.0.1", "-p", str(port), "-U", PG_USER]
            ready = [str(bin_dir / "pg_isready"), *client, "-d", "postgres"]
            _wait(proc, log, lambda: subprocess.run(ready, capture_output=True).returncode == 0)
            subprocess.run(
                [str(bin_dir / "createdb"), *client, database],
                check=True,
                capture_output=True,
                env={**os.environ, "PGPASSWORD": password},
            )
            yield f"postgresql://{PG_USER}:{password}@127.0.0.1:{port}/{database}"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _initdb(bin_dir: Path, root: Path, password: str, log: Path, as_user: dict[str, Any]) -> None:
    """A new cluster in ``root/data``: superuser ``mixopt`` with ``password`` over TCP."""
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if as_user:
        os.chown(pwfile, as_user["user"], as_user["group"])
    try:
        with open(log, "ab") as fh:
            subprocess.run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(root / "data"),
                    "-U",
                    PG_USER,
                    "-E",
                    "UTF8",
                    "--pwfile",
                    str(pwfile),
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--no-sync",
                ],
                stdout=fh,
                stderr=subprocess.STDOUT,
                check=True,
                cwd=root,
                **as_user,
            )
    except subprocess.CalledProcessError as e:
        raise ServiceUnavailable(
            f"initdb failed (exit {e.returncode}); its output is in {log}"
        ) from e
    finally:
        pwfile.unlink(missing_ok=True)


@contextlib.contextmanager
def mlflow_server(
    folder: str | Path,
    backend_store_uri: str | None = None,
    artifacts: str | Path | None = None,
    port: int | None = None,
) -> Iterator[str]:
    """``mlflow server`` on 127.0.0.1 (``port``, or a free one) over ``backend_store_uri``
    (default: ``folder/mlflow.db``) and ``artifacts`` (default: ``folder/mlartifacts``), without
    its job runner (2 processes, not 15); yields its ``http://`` URL. Stopped after."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    store = backend_store_uri or f"sqlite:///{folder / 'mlflow.db'}"
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        store,
        "--artifacts-destination",
        str(artifacts or folder / "mlartifacts"),
    ]
    env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    url = f"http://127.0.0.1:{port}"
    log = folder / "mlflow-server.log"
    with _process(cmd, log, env=env) as proc:
        _wait(proc, log, lambda: _healthy(url))
        yield url


@contextlib.contextmanager
def ray_cluster(
    nodes: int = 1, cpus: int | None = None, env: dict[str, str] | None = None
) -> Iterator[str]:
    """A Ray cluster on 127.0.0.1 started with ``ray start`` as from a shell of its own: a head
    node and ``nodes`` - 1 worker nodes joining it, each declaring ``cpus`` CPUs (default:
    the machine's) and no GPU, with ``env`` added to this process's environment (what its
    workers inherit). Yields the head's address, HOST:PORT, for ``--ray-address`` or
    ``RAY_ADDRESS``. Stopped by killing exactly the processes it started (`ray stop` would
    stop every Ray on the machine, other studies' too); a process that outlives that is an
    error."""
    environ = {**os.environ, "RAY_AUTH_MODE": "disabled", **(env or {})}
    # without the single-machine setting a local study of this process may have set, and
    # without a cluster to join: this one starts its own
    environ.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
    environ.pop("RAY_ADDRESS", None)
    port = free_port()
    temp = ray_cluster_folder(f"127.0.0.1:{port}")
    common = [f"--num-cpus={cpus or os.cpu_count() or 1}", "--num-gpus=0", "--disable-usage-stats"]
    groups: list[int] = []
    failed = True
    try:
        _ray_start(
            [
                "--head",
                "--node-ip-address=127.0.0.1",
                f"--port={port}",
                f"--temp-dir={temp}",
                "--include-dashboard=false",
                *common,
            ],
            environ,
            groups,
        )
        for _ in range(nodes - 1):
            _ray_start(
                [f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1", *common],
                environ,
                groups,
            )
        yield f"127.0.0.1:{port}"
        failed = False
    finally:
        left = stop_groups(groups)
        shutil.rmtree(temp, ignore_errors=True)
        if left and not failed:
            raise RuntimeError(
                f"still running after the Ray cluster was stopped: {', '.join(left)}"
            )


def ray_cluster_folder(address: str) -> Path:
    """The folder of the :func:`ray_cluster` at ``address`` (its logs, its sessions): short,
    as Ray's socket paths must stay under ~107 characters."""
    return Path("/tmp") / f"mxc{address.rpartition(':')[2]}"


def _ray_start(args: list[str], env: dict[str, str], groups: list[int]) -> None:
    """``ray start ARGS`` as the leader of a new process group, which the node's daemons
    inherit; the group is recorded before the outcome is checked, so that a node which
    failed halfway is stopped too."""
    ray = str(Path(sys.executable).parent / "ray")  # the CLI that ray[tune] installs beside python
    proc = subprocess.Popen(
        [ray, "start", *args],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    groups.append(proc.pid)
    _, err = proc.communicate(timeout=START_S)
    if proc.returncode != 0:
        raise RuntimeError(
            f"ray start {' '.join(args)} failed ({proc.returncode}): {err.strip()[-2000:]}"
        )


def stop_groups(groups: list[int]) -> list[str]:
    """Kill the processes of these process groups and their descendants (Ray's workers have
    groups of their own but are children of a raylet), and nothing else; returns the ids of
    those still running after 30 s."""
    import psutil  # peft's dependency, so always installed with mixopt

    procs = []
    for p in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(p.pid) in groups:
                procs += [p, *p.children(recursive=True)]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()  # as `ray stop --force` does, but to these processes alone
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


def _healthy(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/health", timeout=2) as r:
        return bool(r.status == 200)
    return False


@contextlib.contextmanager
def _process(
    cmd: list[str], log: Path, stop: int = signal.SIGTERM, **popen: object
) -> Iterator[subprocess.Popen[bytes]]:
    """``cmd`` in its own session, its output appended to ``log`` and its id written beside it
    (``<log stem>.pid``, so a test can stop it mid-study); stopped (``stop``, then SIGKILL)
    with everything it started."""
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            cmd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **popen,  # type: ignore[call-overload]
        )
    pid_file = log.with_suffix(".pid")
    pid_file.write_text(f"{proc.pid}\n")
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, stop)
        try:
            proc.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_S)
        pid_file.unlink(missing_ok=True)


def _wait(proc: subprocess.Popen[bytes], log: Path, ready: Callable[[], bool]) -> None:
    """Until ``ready()``; a server that exits or takes longer than START_S is an error that
    quotes the end of its log."""
    deadline = time.monotonic() + START_S
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError(
                f"the server exited ({proc.returncode}); {log}: {log.read_text()[-2000:]}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the server is not up in {START_S:.0f} s; {log}: {log.read_text()[-2000:]}"
            )
        time.sleep(0.2)
