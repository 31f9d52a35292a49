"""Reading user files: data only, never code; local paths only, never the network."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixopt.errors import ConfigError
from mixopt.io import is_url, read_json, read_yaml


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
