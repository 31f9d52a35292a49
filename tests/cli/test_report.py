"""``mixopt report`` on bad input: one line, exit status 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixopt.cli import main


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    return err[0]


def test_not_a_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert (
        _error(capsys)
        == f"mixopt: error: {tmp_path / 'nowhere'}: not a mixopt study folder (no study.json)"
    )
    (tmp_path / "plain").mkdir()
    assert main(["report", str(tmp_path / "plain")]) == 2
    assert "not a mixopt study folder" in _error(capsys)
    assert list((tmp_path / "plain").iterdir()) == []


def test_a_study_without_its_storage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = {"spec": {}, "space": {}, "mixopt_version": "0"}
    (tmp_path / "study.json").write_text(json.dumps(record))
    assert main(["report", str(tmp_path)]) == 2
    assert _error(capsys).endswith(f"the study's storage {tmp_path / 'study.db'} is missing")
    assert not (tmp_path / "study.db").exists() and not (tmp_path / "report").exists()


def test_top_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path), "--top", "0"]) == 2
    assert _error(capsys) == "mixopt: error: --top must be at least 1"
