from __future__ import annotations

import io
import json
from pathlib import Path

from mixopt.events import EventLog


def _read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_events_go_to_files_and_messages_to_the_stream(tmp_path: Path) -> None:
    stream = io.StringIO()
    log = EventLog([tmp_path / "a.jsonl"], stream=stream)
    log.emit("tokenize_started", "tokenizing finance...", domain="finance")
    log.emit("tokenize_done", None, domain="finance", tokens=12)
    assert stream.getvalue() == "tokenizing finance...\n"  # an event without a message is silent
    events = _read(tmp_path / "a.jsonl")
    assert [e["event"] for e in events] == ["tokenize_started", "tokenize_done"]
    assert events[1]["tokens"] == 12 and isinstance(events[1]["time"], float)
    assert events[0]["time"] <= events[1]["time"]  # type: ignore[operator]


def test_a_file_added_later_gets_the_events_so_far_and_quiet_silences_only_messages(
    tmp_path: Path,
) -> None:
    stream = io.StringIO()
    log = EventLog(quiet=True, stream=stream)
    log.emit("study_started", "starting", out="x")
    log.add_file(tmp_path / "events.jsonl")
    log.add_file(tmp_path / "events.jsonl")  # the same file twice is written once
    log.emit("study_finished", "done")
    log.say("a note")
    assert stream.getvalue() == ""
    assert [e["event"] for e in _read(tmp_path / "events.jsonl")] == [
        "study_started",
        "study_finished",
    ]
