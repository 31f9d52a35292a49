"""One driver per study: a lock on the study folder (``driver.lock``, an ``flock`` holding
the driver's host and process id), and with a PostgreSQL storage a lock in the database
(an advisory lock keyed on the Optuna study's name), so that two drivers on two machines
that share one database are told apart too.

Two drivers on one study ran every trial twice and corrupted each other's trials (a resume
marked the other's live trial failed); the second is now refused in one line naming the
holder, before it writes anything. A lock outlives no process: the kernel drops an ``flock``
and PostgreSQL an advisory lock with the process or connection that held them, so a lock
left by a killed driver (stale: its file still names it) is taken over, never waited on.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
from pathlib import Path
from typing import Any

from mixopt.errors import ConfigError, first_line
from mixopt.io import without_password

__all__ = ["DriverLock", "holder_problem"]

# where a driver's connection names itself, so that a refused one can name the holder
APP_PREFIX = "mixopt driver "


def _me() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _holder_text(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another driver"
    return f"a driver on host {holder.get('host', '?')}, pid {holder.get('pid', '?')}"


def _refusal(folder: Path, holder: dict[str, Any] | None) -> str:
    return (
        f"{folder}: the study is being run by {_holder_text(holder)}; wait for it to end "
        "(or stop it), then resume with --resume"
    )


class DriverLock:
    """The locks of one study held by this process: :meth:`acquire`, then :meth:`release`
    (both idempotent). Refusals are one-line :class:`ConfigError` naming the holder."""

    def __init__(self, path: Path, storage: str | None = None, study_name: str = "") -> None:
        """``path``: the lock file (the study store names it); ``storage``: the Optuna
        storage URL, locked in too where it is PostgreSQL."""
        self.path, self.storage, self.study_name = path, storage, study_name
        self._fd: int | None = None
        self._db: Any = None

    def acquire(self) -> None:
        if self._fd is None:
            self._fd = _lock_file(self.path)
        if self._db is None and self.storage and self.storage.startswith("postgres"):
            try:
                self._db = _lock_database(self.path.parent, self.storage, self.study_name)
            except BaseException:
                self.release()
                raise

    def release(self) -> None:
        if self._db is not None:
            with contextlib.suppress(Exception):  # a database gone: its lock went with it
                self._db.close()
            self._db = None
        if self._fd is not None:
            path = self.path
            with contextlib.suppress(OSError):
                # removed while still held: a driver that opened it before sees a lock it
                # cannot take, one that opens it after makes a new file (see _lock_file)
                if os.fstat(self._fd).st_ino == path.stat().st_ino:
                    path.unlink()
            os.close(self._fd)
            self._fd = None


def _lock_file(path: Path) -> int:
    """Hold the lock file ``path`` (made if missing) and write this driver into it; a lock
    another live process holds is refused, naming it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise ConfigError(_refusal(path.parent, holder)) from None
        try:
            same = os.fstat(fd).st_ino == path.stat().st_ino
        except FileNotFoundError:
            same = False
        if same:  # else its holder removed the file meanwhile: lock the one there now
            break
        os.close(fd)
    os.ftruncate(fd, 0)  # a stale lock (its driver died) names the dead driver: this one now
    os.pwrite(fd, json.dumps(_me()).encode(), 0)
    return fd


def _read_holder(fd: int) -> dict[str, Any] | None:
    try:
        value = json.loads(os.pread(fd, 4096, 0) or b"null")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def holder_problem(path: Path) -> str | None:
    """Why a command cannot run the study whose lock file is ``path`` now (a live driver
    holds it, named), or None; takes nothing (the lock is tried and let go at once)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None  # no lock file: no driver ever held it, or its last one ended
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _refusal(path.parent, _read_holder(fd))
    finally:
        os.close(fd)
    return None


def lock_key(study_name: str) -> int:
    """A signed 64-bit key for ``pg_try_advisory_lock``, the same in every process."""
    digest = hashlib.sha256(f"mixopt:{study_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock_database(folder: Path, storage: str, study_name: str) -> Any:
    """A connection of this driver's own holding the study's advisory lock (session-level:
    held until the connection closes); refused, naming the holder, when another has it."""
    from sqlalchemy import create_engine, text

    me = _me()
    app = f"{APP_PREFIX}{me['host']}:{me['pid']}"[:63]  # PostgreSQL keeps 63 bytes of it
    key = lock_key(study_name)
    try:
        engine = create_engine(
            storage, poolclass=_null_pool(), connect_args={"application_name": app}
        )
        conn = engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        if got:
            conn.commit()
            return conn
        row = conn.execute(
            text(
                "SELECT a.application_name, a.client_addr, a.pid FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                # a bigint key is kept as its high (classid) and low (objid) 32 bits
                "AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = :k"
            ),
            {"k": key},
        ).first()
        conn.close()
    except Exception as exc:
        raise ConfigError(
            f"{folder}: cannot take the study's lock in {without_password(storage)} ({first_line(exc)})"
        ) from None
    raise ConfigError(_refusal(folder, _database_holder(row)))


def _database_holder(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    name = str(row[0] or "")
    if name.startswith(APP_PREFIX):
        host, _, pid = name[len(APP_PREFIX) :].rpartition(":")
        return {"host": host, "pid": pid}
    return {"host": row[1] or "the database's own machine", "pid": f"{row[2]} (its connection)"}


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool
