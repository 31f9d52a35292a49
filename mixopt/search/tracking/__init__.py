"""Where a study's runs are recorded besides Optuna's storage, by name: ``mlflow`` (the
default: the parent run and one child run per trial, :mod:`.tracker`; the empty SQLite
store a new study's tracking starts from, :mod:`.template`), ``none``, and trackers that
installed packages add through the ``mixopt.trackers`` entry-point group."""

from __future__ import annotations

from pathlib import Path

from mixopt.registry import Registry
from mixopt.search.tracking._base import Tracker, TrackerFactory
from mixopt.search.tracking.tracker import MlflowTracker, NullTracker

__all__ = ["DEFAULT_TRACKER", "TRACKERS", "Tracker", "TrackerFactory", "make_tracker"]

DEFAULT_TRACKER = "mlflow"

TRACKERS: Registry[Tracker] = Registry(
    "tracker", "mixopt.trackers", {DEFAULT_TRACKER: MlflowTracker, "none": NullTracker}
)


def make_tracker(uri: str, artifact_root: Path) -> Tracker:
    """The tracker ``uri`` names (``none``, or an installed tracker's name); any other
    ``uri`` is MLflow's tracking URI."""
    # a name, never module:attr: a tracking URI (sqlite:///..., http://...) has a colon too
    name = uri if uri in TRACKERS.names() else DEFAULT_TRACKER
    factory: TrackerFactory = TRACKERS.get(name)
    return factory(uri, artifact_root)
