"""Live progress on the console: trials done, running, pruned, failed; best so far; ETA."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["Progress"]


class Progress:
    """Prints one line per trial event (``quiet`` prints nothing)."""

    def __init__(self, total: int, done: int, concurrency: int, quiet: bool = False) -> None:
        self.total, self.done, self.concurrency, self.quiet = total, done, concurrency, quiet
        self.running = self.pruned = self.failed = 0
        self.best: float | None = None
        self.started = time.monotonic()
        self.finished_here = 0

    def __call__(self, event: str, live: Any, payload: Mapping[str, Any] | None) -> None:
        label = f"trial {live.number:>3} ({live.role})"
        if event == "start":
            self.running += 1
            self._print(
                f"start  {label}: " + ", ".join(f"{k} {v:.2f}" for k, v in live.mixture.items())
            )
            return
        self.running -= 1
        if event == "retry":  # its worker died: the trial runs again, it is not done
            self._print(f"RETRY  {label} (attempt {live.retries + 1}): {(payload or {}).get('error')}")
            return
        self.done += 1
        self.finished_here += 1
        if event == "complete" and payload is not None:
            score = float(payload["score"])
            self.best = score if self.best is None else max(self.best, score)
            self._print(f"done   {label}: score {score:.4f}")
        elif event == "prune":
            self.pruned += 1
            self._print(
                f"pruned {label} at intermediate {float((payload or {}).get('intermediate', float('nan'))):.4f}"
            )
        else:
            self.failed += 1
            self._print(f"FAILED {label}: {(payload or {}).get('error')}")

    def _print(self, what: str) -> None:
        if self.quiet:
            return
        best = "-" if self.best is None else f"{self.best:.4f}"
        elapsed = time.monotonic() - self.started
        left = self.total - self.done
        eta = "-" if not self.finished_here else _duration(elapsed / self.finished_here * left)
        print(f"[{self.done:>3}/{self.total}] {what}  | running {self.running}, pruned {self.pruned}, "
              f"failed {self.failed}, best {best}, ETA {eta}", file=sys.stdout, flush=True)  # fmt: skip


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds / 3600:.0f}h{seconds % 3600 / 60:02.0f}m"
