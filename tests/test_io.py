"""Reading user files: data only, never code; local paths only, never the network."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mixopt.errors import ConfigError
from mixopt.io import (
    holds_password,
    is_url,
    read_json,
    read_yaml,
    without_password,
    write_json_atomic,
    write_text_atomic,
)


@pytest.mark.parametrize(
    "text",
    [
        "x: !!python/object/apply:os.system ['touch {marker}']\n",
        "x: !!python/object/new:subprocess.Popen [['touch', '{marker}']]\n",
        "x: !!python/name:os.system\n",
        '!!python/object/apply:builtins.exec [\'open("{marker}", "w")\']\n',
    ],
)
def test_yaml_tags_that_build_objects_are_refused(tmp_path: Path, text: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(text.format(marker=marker))
    with pytest.raises(ConfigError, match="YAML tag refused at line 1") as info:
        read_yaml(path, "task file")
    assert "task files are data, never code" in info.value.problems[0]
    assert not marker.exists()


def test_plain_yaml_and_json_are_read(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: [1, 2]\nb: {c: text}\n")
    (tmp_path / "a.json").write_text('{"a": [1, 2]}')
    assert read_yaml(tmp_path / "a.yaml", "space") == {"a": [1, 2], "b": {"c": "text"}}
    assert read_json(tmp_path / "a.json", "domains file") == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("http://example.com/a.jsonl", True),
        ("https://example.com/a.jsonl", True),
        ("s3://bucket/a.jsonl", True),
        ("hf://datasets/x/y", True),
        ("file:///tmp/a.jsonl", True),
        ("data/a.jsonl", False),
        ("/abs/a.jsonl", False),
        ("a:b.jsonl", False),
        ("../up/a.jsonl", False),
    ],
)
def test_urls_are_told_from_paths(value: str, url: bool) -> None:
    assert is_url(value) is url


@pytest.fixture()
def umask() -> Any:
    """Set the process's umask for a test, and put it back."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_files_get_the_permissions_any_new_file_gets(
    tmp_path: Path, umask: Any, mask: int, mode: int
) -> None:
    umask(mask)
    write_json_atomic(tmp_path / "results.json", {"score": 1.0})
    write_text_atomic(tmp_path / "index.html", "<html></html>")
    assert stat.S_IMODE((tmp_path / "results.json").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "index.html").stat().st_mode) == mode
    with open(tmp_path / "plain.txt", "w") as fh:  # what open() gives: the same
        fh.write("x")
    assert stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == mode


def test_a_file_holding_a_password_stays_private(tmp_path: Path, umask: Any) -> None:
    write_json_atomic(tmp_path / "study.json", {"storage": "postgresql://me:s3cret@db/mixopt"})
    write_json_atomic(
        tmp_path / "other.json", {"storage": "postgresql://me@db/mixopt", "url": "http://h:5000/x"}
    )
    assert stat.S_IMODE((tmp_path / "study.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "other.json").stat().st_mode) == 0o644
    assert holds_password("mysql://u:p@h/d") and not holds_password("sqlite:////abs/study.db")


def test_a_study_records_its_urls_without_their_password() -> None:
    from mixopt.study.spec import StudySpec

    assert (
        without_password("postgresql://me:s3:cr%40t@db:5432/mixopt")
        == "postgresql://me@db:5432/mixopt"
    )
    assert without_password("postgresql://me@db/mixopt") == "postgresql://me@db/mixopt"
    given = StudySpec().replace(
        storage="postgresql://me:s3cret@db/m", tracking_uri="http://u:pw@mlflow:5000"
    )
    output = given.to_dict()["output"]
    assert (output["storage"], output["tracking_uri"]) == (
        "postgresql://me@db/m",
        "http://u@mlflow:5000",
    )
    assert not [
        v for _, v in given.items() if isinstance(v, str) and holds_password(v)
    ]  # MLflow params
    # resumed with the URL given again, or without it, the study is the same
    assert not given.differences(StudySpec.from_dict(given.to_dict()))
