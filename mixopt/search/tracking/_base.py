"""What a tracker is: where a study's runs are recorded besides Optuna's storage.

Mixopt's driver alone calls a tracker (never a trial process), from one thread, in this
order: ``start_study`` (or, resuming, with the parent id it returned before), ``reconcile``
(the trials Optuna finished that the tracker may have missed), then per trial
``start_trial``, ``log_intermediate``..., ``finish_trial`` (``note_retry`` where its worker
died), and at the end ``tag_best``, ``log_front`` (several objectives), ``finish_study`` or
``fail_study``. Optuna's storage is the source of truth: a tracker that raises is
switched off for the rest of the study (:class:`~mixopt.search.tracking.tracker.GuardedTracker`),
which goes on, and the next ``--resume`` reconciles it.

The registry of trackers by name is :data:`mixopt.search.tracking.TRACKERS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mixopt.study.trials import TrialRecord

__all__ = ["Tracker", "TrackerFactory"]


class Tracker(Protocol):
    """Where a study's runs are recorded besides Optuna's storage (the source of truth).

    Every method must take what it is given without changing it, and may do nothing
    (:class:`~mixopt.search.tracking.tracker.NullTracker`); ``start_study`` returns the
    parent run's id (kept in the study folder and given back on resume) or None.
    """

    def start_study(
        self, name: str, params: Mapping[str, Any], tags: Mapping[str, str], parent_id: str | None
    ) -> str | None:
        """Open the study's parent run (``parent_id``: reopen that one, on resume); its id."""

    def start_trial(self, number: int, role: str, params: Mapping[str, Any]) -> None:
        """A run for Optuna trial ``number`` (``role``: search, baseline:NAME, confirm:NAME);
        called again for a trial that runs again, whose earlier run it replaces."""

    def log_intermediate(self, number: int, step: int, value: float) -> None:
        """An intermediate score of a running trial."""

    def finish_trial(
        self, number: int, state: str, result: Mapping[str, Any] | None, error: str | None = None
    ) -> None:
        """The trial ended: COMPLETE, PRUNED or FAIL, with what it measured or why it failed."""

    def note_retry(self, number: int, retries: int) -> None:
        """The trial's worker died; it runs again in the same run."""

    def fail_study(self, reason: str) -> None:
        """The study stopped; close its parent run as failed, with why."""

    def tag_best(
        self,
        number: int,
        mixture: Mapping[str, float],
        scores: Mapping[str, float | None],
        verdict: str = "",
        words: Mapping[str, str] | None = None,
    ) -> None:
        """Mark the answer's trial, and put its mixture, scores, ``verdict`` (the sentence a
        user acts on) and each baseline's verdict word (``words``) on the parent run."""

    def finish_study(self, metrics: Mapping[str, float], artifacts: list[Path]) -> None:
        """The study's figures and files (a file or a folder each); close its parent run."""

    def log_front(self, rows: list[dict[str, Any]]) -> None:
        """The Pareto front of a study with several objectives (it replaces the last one)."""

    def reconcile(self, finished: Mapping[int, TrialRecord]) -> None:
        """After a crash: a finished run for every trial Optuna finished; none left running."""


class TrackerFactory(Protocol):
    """What the tracker registry holds: a tracker class (or factory), called as
    ``factory(uri, artifact_root)`` with the study's tracking URI and a folder for its
    artifacts inside the study folder. It only stores them: nothing connects until the
    first call."""

    def __call__(self, uri: str, artifact_root: Path) -> Tracker: ...
