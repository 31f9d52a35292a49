"""Trackers by name: ``none``, MLflow for any other tracking URI, and an installed one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mixopt.search.tracking import TRACKERS, make_tracker
from mixopt.search.tracking.tracker import MlflowTracker, NullTracker
from tests.testing.plugins import RecordingTracker


def test_the_tracking_uri_names_a_tracker_or_is_mlflows(tmp_path: Path) -> None:
    assert TRACKERS.names() == ["mlflow", "none"]
    assert type(make_tracker("none", tmp_path)) is NullTracker
    for uri in ("sqlite:///x.db", "http://127.0.0.1:5000", "None"):  # a name is exact
        tracker = make_tracker(uri, tmp_path)
        assert isinstance(tracker, MlflowTracker) and tracker.uri == uri


def test_an_installed_tracker_is_chosen_by_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a real installed distribution (dist-info on the path) adding a tracker by entry point
    dist = tmp_path / "mixopt_track-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mixopt-track\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[mixopt.trackers]\nrecording = tests.testing.plugins:RecordingTracker\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert str(tmp_path) in sys.path and "recording" in TRACKERS.names()
    tracker = make_tracker("recording", tmp_path / "artifacts")
    assert isinstance(tracker, RecordingTracker) and tracker.uri == "recording"
    tracker.start_trial(3, "search", {})
    assert tracker.calls == ["start_trial 3"]
