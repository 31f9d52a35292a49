"""What a long run tells as it goes: one line per step for people (on stderr, so the
results on stdout stay clean) and one JSON object per event for scripts.

Every event has ``event`` (its name) and ``time`` (Unix seconds); the rest are its fields.
A search's events, in order: ``study_started``; ``tokenize_started`` and
``tokenize_done`` per domain; ``warning`` (its ``text`` is printed even when quiet); per
trial ``trial_started``, ``trial_reported`` at each checkpoint and ``trial_finished``
(``state`` COMPLETE, PRUNED or FAIL, with its ``score``); ``trial_retried`` when a trial's
worker died and the trial runs again; ``confirm_started`` and ``confirm_finished`` per
confirmation run; ``study_finished`` with the ``best`` mixture. A CLI run that fails ends
with ``error``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = ["EventLog"]


class EventLog:
    """Sends each event to the JSON-lines files (appended) and its message to ``stream``.

    ``quiet`` silences the messages, never the files. Events emitted before a file is
    added are written to it when it is (a study's folder exists only once its inputs are
    checked, after tokenization).
    """

    def __init__(
        self, files: Sequence[str | Path] = (), quiet: bool = False, stream: TextIO | None = None
    ) -> None:
        self.files = [Path(f).resolve() for f in files]
        self.quiet, self.stream = quiet, stream
        self.history: list[str] = []

    def add_file(self, path: str | Path) -> None:
        """Also write to ``path`` from now on, starting with the events so far."""
        path = Path(path).resolve()
        if path in self.files:
            return
        with open(path, "a", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in self.history)
        self.files.append(path)

    def emit(self, event: str, message: str | None = None, **fields: Any) -> None:
        """Record ``event`` with ``fields``; show ``message`` unless quiet."""
        line = json.dumps({"event": event, "time": round(time.time(), 3), **fields}, default=str)
        self.history.append(line)
        for path in self.files:
            # opened per event: a crash loses nothing written, and the log is never held open
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        if message is not None and not self.quiet:
            print(message, file=self.stream or sys.stderr, flush=True)

    def warn(self, text: str, **fields: Any) -> None:
        """A ``warning`` event, its text shown as ``warning: ...`` even when quiet."""
        self.emit("warning", None, text=text, **fields)
        print(f"warning: {text}", file=self.stream or sys.stderr, flush=True)

    def say(self, message: str) -> None:
        """A line for people only (a note, a hint), not an event."""
        if not self.quiet:
            print(message, file=self.stream or sys.stderr, flush=True)
