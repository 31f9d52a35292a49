"""When a trial goes wrong: its one-line reason, its time limit, a score that is not a number,
and the study that stops when nothing works.

A trial's own fault (an exception in training or evaluation, a NaN or infinite score, a
time limit passed, CUDA out of memory) fails that trial only: it is recorded with its
reason and the study goes on. A worker's fault (its process died: a killed Ray worker, a
lost node) is not the trial's, so the trial runs again on another worker.
"""

from __future__ import annotations

import ctypes
import errno
import math
import threading
from types import TracebackType

from mixopt.errors import MixoptError, first_line

__all__ = [
    "NonFiniteScoreError",
    "StudyFailedError",
    "TimeLimit",
    "TrialTimeoutError",
    "check_finite",
    "fail_limit",
    "storage_cause",
]


class TrialTimeoutError(Exception):
    """The trial ran past its time limit (``trial_timeout``)."""


class NonFiniteScoreError(Exception):
    """The trial's score is NaN or infinite: no value an optimizer can compare."""


class StudyFailedError(MixoptError):
    """Every trial so far failed: the study stopped rather than spend its budget on more."""


def check_finite(score: float | None, what: str = "score") -> None:
    if score is not None and not math.isfinite(score):
        raise NonFiniteScoreError(f"the {what} is {score} (a diverged fine-tune?)")


def fail_limit(concurrency: int) -> int:
    """Failures in a row, with no trial yet completed, after which a study stops.

    At least 3, so one unlucky trial or two do not end a study; at least the concurrency,
    so the first wave of trials (started together, before any could finish) is heard out.
    A setup that fails every trial (a broken evaluator, a model that does not fit the
    device) is then caught after one wave instead of burning the whole budget.
    """
    return max(3, concurrency)


# a disk that cannot take the study's writes: full, over quota, read-only, failing
DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG)


def storage_cause(exc: BaseException) -> str | None:
    """The one-line cause when ``exc`` (or what it was raised from: Optuna wraps the database's
    error in a misleading message of its own, Tune its callbacks' errors) is the study's
    storage or disk failing: a database that went away or refused a write, a full disk.
    None for anything else."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.errno in DISK_ERRORS:
            return f"{cause.strerror or errno.errorcode.get(cause.errno or 0, 'disk error')}"
        module = type(cause).__module__.split(".")[0]
        if module == "sqlalchemy" and type(cause).__name__ in (
            "OperationalError",
            "InterfaceError",
            "DatabaseError",
            "InternalError",
        ):
            # the driver's own message, less SQLAlchemy's statement and link lines
            inner = getattr(cause, "orig", None)
            return first_line(inner if inner is not None else cause, type(cause).__name__)
        if module in ("sqlite3", "psycopg", "psycopg2") and type(cause).__name__ in (
            "OperationalError",
            "InterfaceError",
            "DatabaseError",
        ):
            return first_line(cause, type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    return None


class TimeLimit:
    """Raise :class:`TrialTimeoutError` in the calling thread after ``seconds``.

    A timer thread raises the exception asynchronously in the trial's thread, so the trial
    stops at its next Python instruction (the training step or evaluation batch under way
    finishes first) and its worker is free for the next trial. Code that catches every
    exception can swallow it; a trial that ran past its limit still fails when it ends.
    ``None``: no limit.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._done = False
        self._fired = False
        self._target = 0
        self._timer: threading.Timer | None = None

    def __enter__(self) -> TimeLimit:
        if self.seconds is not None:
            self._target = threading.get_ident()
            self._timer = threading.Timer(self.seconds, self._expire, (self._target,))
            self._timer.daemon = True
            self._timer.start()
        return self

    def _expire(self, target: int) -> None:
        with self._lock:  # never after __exit__: the exception must land in the trial
            if not self._done:
                self._fired = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(target), ctypes.py_object(TrialTimeoutError)
                )

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._lock:
            self._done = True
            if self._fired:  # a pending exception must not land after the trial
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._target), None)
        if self._timer is not None:
            self._timer.cancel()
        swallowed = self._fired and exc is None
        if swallowed or (isinstance(exc, TrialTimeoutError) and not exc.args):
            # raised asynchronously, it carries no message: give it one
            raise TrialTimeoutError(
                f"the trial ran past its time limit of {self.seconds:g} s"
            ) from None
