"""Live progress of a search: trials done, running, pruned, failed; best so far; ETA.

Turns the searcher's callbacks into events (see :mod:`mixopt.events`): a line for people,
an object for scripts. Each number on a line says what it is: a trial's intermediate scores
are its ``intermediate`` task's alone (``intermediate 'heldout' -7.8123``), on that task's
scale, while ``score`` and ``best score`` are the whole suite's (its weighted mean), so the
two are not compared.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from mixopt.events import EventLog

__all__ = ["Progress"]


class Progress:
    """Called by the searcher with ``start``, ``report``, ``complete``, ``prune`` or ``fail``."""

    def __init__(
        self,
        total: int,
        done: int,
        concurrency: int,
        events: EventLog,
        intermediate: str | None = None,
    ) -> None:
        self.total, self.done, self.concurrency, self.events = total, done, concurrency, events
        # the task scored at checkpoints: its name labels the intermediate numbers
        self.probe = "intermediate" if intermediate is None else f"intermediate {intermediate!r}"
        self.running = self.pruned = self.failed = 0
        self.best: float | None = None
        self.started = time.monotonic()
        self.finished_here = 0
        # the race's runs count apart: they are not trials, and have their own total and ETA
        self.race_total = self.race_done = self.race_here = 0
        self.race_started = 0.0

    def race(self, runs: int) -> None:
        """The race starts (or grows): ``runs`` more runs at most, counted on their own."""
        if not self.race_started:
            self.race_started = time.monotonic()
        self.race_total = self.race_done + runs

    def carry(self, trials: Iterable[Any]) -> None:
        """A resumed study's finished trials (:class:`~mixopt.study.trials.TrialRecord`): its
        pruned and failed counts and its best score go on from theirs, not from zero."""
        for t in trials:
            if t.state == "PRUNED":
                self.pruned += 1
            elif t.state == "FAIL":
                self.failed += 1
            elif t.state == "COMPLETE" and t.score is not None:
                self.best = t.score if self.best is None else max(self.best, t.score)

    def __call__(self, event: str, live: Any, payload: Mapping[str, Any] | None) -> None:
        label = f"trial {live.number:>3} ({live.role})"
        ids = {"number": live.number, "role": live.role}
        if event == "start":
            self.running += 1
            shares = ", ".join(f"{k} {v:.2f}" for k, v in live.mixture.items())
            self.events.emit(
                "trial_started",
                self._line(f"start  {label}: {shares}"),
                **ids,
                mixture=live.mixture,
                train=live.train,
            )
            return
        if event == "report":
            step, total = (payload or {}).get("step"), (payload or {}).get("total_steps")
            value = float((payload or {})["value"])
            said = f"step {step}/{total}, {self.probe} {value:.4f}"
            if getattr(live, "source", None) is not None:  # a run of the race, not a trial
                name = live.role.split(":", 1)[1]
                run = f"{name} (seed {live.seed}): {said}"
                line = self.race_line(f"       {run}") if self.race_total else f"noise  {run}"
            else:
                line = self._line(f"       {label}: {said}")
            self.events.emit(
                "trial_reported",
                line,
                **ids,
                step=step,
                total_steps=total,
                intermediate=value,
            )
            return
        self.running -= 1
        if event == "retry":  # its worker died: the trial runs again, it is not done
            error = (payload or {}).get("error")
            self.events.emit(
                "trial_retried",
                self._line(f"RETRY  {label} (attempt {live.retries + 1}): {error}"),
                **ids,
                attempt=live.retries + 1,
                error=error,
            )
            return
        self.done += 1
        self.finished_here += 1
        if event == "complete" and payload is not None:
            score = float(payload["score"])
            self.best = score if self.best is None else max(self.best, score)
            self.events.emit(
                "trial_finished",
                self._line(f"done   {label}: score {score:.4f}"),
                **ids,
                state="COMPLETE",
                score=score,
                metrics=payload.get("metrics", {}),
            )
        elif event == "prune":
            value = float((payload or {}).get("intermediate", float("nan")))
            self.pruned += 1
            self.events.emit(
                "trial_finished",
                self._line(f"pruned {label} at {self.probe} {value:.4f}"),
                **ids,
                state="PRUNED",
                score=None,
                intermediate=value,
            )
        else:
            self.failed += 1
            error = (payload or {}).get("error")
            self.events.emit(
                "trial_finished",
                self._line(f"FAILED {label}: {error}"),
                **ids,
                state="FAIL",
                score=None,
                error=error,
            )

    def race_line(self, what: str, finished: bool = False) -> str:
        """A race run's line, ``[race  3/12] confirmed natural (seed 2): ...  | ETA 2m10s``,
        counted against the race's own total (``finished``: this run just ended). Before the
        race (the seed noise's runs, during the search) the line is ``what`` alone."""
        if not self.race_total:
            return what
        if finished:
            self.race_done += 1
            self.race_here += 1
        elapsed = time.monotonic() - self.race_started
        left = max(self.race_total - self.race_done, 0)
        eta = "-" if not self.race_here else _duration(elapsed / self.race_here * left)
        width = len(str(self.race_total))
        return f"[race {self.race_done:>{width}}/{self.race_total}] {what}  | ETA {eta} at most"

    def _line(self, what: str) -> str:
        best = "-" if self.best is None else f"{self.best:.4f}"  # the suite's score, as "score" is
        elapsed = time.monotonic() - self.started
        left = self.total - self.done
        eta = "-" if not self.finished_here else _duration(elapsed / self.finished_here * left)
        return (
            f"[{self.done:>3}/{self.total}] {what}  | running {self.running}, pruned {self.pruned}, "
            f"failed {self.failed}, best score {best}, ETA {eta}"
        )


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds / 3600:.0f}h{seconds % 3600 / 60:02.0f}m"
