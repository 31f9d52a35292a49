"""SIGINT and SIGTERM stop a running study as interrupted, under every executor.

Without this, SIGTERM killed an in-process driver silently, and under Ray Tune SIGINT was
Tune's: it ended the experiment gracefully and the study then wrote a finished-looking
result (results table, ``best_mixture.json``, a report marked finished) from a study cut
short. Here both signals raise :class:`~mixopt.errors.StudyInterrupted` in the driver's
main thread, which no trial or Tune callback catches (Tune's own SIGINT handler is
switched off where Ray starts, :func:`~mixopt.search.executors.ray_tune.start_ray`); the study writes nothing more, its
finished trials stay in its storage, and the trials left running are run again on resume.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from mixopt.errors import StudyInterrupted

__all__ = ["SIGNALS", "interrupted_by", "interruptible"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _raise(signum: int, frame: FrameType | None) -> None:
    raise StudyInterrupted(signum)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within: SIGINT and SIGTERM raise :class:`StudyInterrupted` (in the main thread; from
    another thread, signals stay as they are). The handlers before are restored after,
    Ray's own SIGTERM handler included (``ray.init`` installs one that exits silently)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, _raise)
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def interrupted_by(exc: BaseException) -> int | None:
    """The signal that ``exc`` comes from, or None. Raised inside a wait of Ray's core worker
    (compiled code that checks for signals), the interruption comes back as the cause of a
    ``SystemError``: the chain is followed."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, StudyInterrupted):
            return cause.signum
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None
