from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mixopt.data.spec import DEFAULT_MAX_EPOCHS, DomainSpec, load_domains, parse_domains
from mixopt.errors import ConfigError


def _write(tmp_path: Path, obj: Any) -> Path:
    p = tmp_path / "domains.json"
    p.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return p


def test_inline_research_shape_loads(tmp_path: Path) -> None:
    specs = load_domains(
        _write(
            tmp_path,
            [
                {"domain": "finance", "num": 2, "data": [{"text": "a"}, {"text": "b"}]},
                {"domain": "sports", "path": "sports.jsonl", "max_epochs": 2, "min_share": 0.1},
            ],
        )
    )
    assert [s.name for s in specs] == ["finance", "sports"]
    assert (
        specs[0].data == ({"text": "a"}, {"text": "b"})
        and specs[0].max_epochs == DEFAULT_MAX_EPOCHS
    )
    assert specs[1].paths == (str((tmp_path / "sports.jsonl").resolve()),)
    assert specs[1].lower == 0.1 and specs[1].upper == 1.0


def test_plain_strings_are_text_records(tmp_path: Path) -> None:
    """The research notes' shape: ``data`` lists the texts themselves."""
    specs = load_domains(
        _write(
            tmp_path,
            [
                {"domain": "finance", "num": 3, "data": ["Rates rose.", "Bonds fell.", "Q3"]},
                {"domain": "mixed", "data": ["plain", {"text": "object"}]},
                {"domain": "notes", "data": ["x"], "text_field": "body", "format": "text"},
            ],
        )
    )
    assert specs[0].data == ({"text": "Rates rose."}, {"text": "Bonds fell."}, {"text": "Q3"})
    assert specs[1].data == ({"text": "plain"}, {"text": "object"})
    assert specs[2].data == ({"body": "x"},)
    assert parse_domains([s.to_entry() for s in specs]) == specs  # written back as objects


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"num": 3, "data": ["a", "b"]}, "'num' is 3 but the data has 2 records"),
        ({"num": 1, "data": [{"text": "a"}, "b"]}, "'num' is 1 but the data has 2 records"),
        ({"data": ["a"], "format": "chat"}, "plain-string records are text, but format is 'chat'"),
        ({"data": ["a", 3]}, "must be a JSON object or a string"),
    ],
)
def test_plain_string_records_are_checked(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_domains([{"domain": "finance", **entry}])
    (problem,) = info.value.problems
    assert message in problem and problem.startswith("domains: domain 'finance': ")


def test_object_form_and_path_lists(tmp_path: Path) -> None:
    specs = load_domains(
        _write(tmp_path, {"domains": [{"domain": "a", "path": ["x/*.jsonl", "/abs/y.jsonl"]}]})
    )
    assert specs[0].paths == (str((tmp_path / "x/*.jsonl").resolve()), "/abs/y.jsonl")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"domain": "a", ', "malformed JSON at line 1"),
        ([], "non-empty list of domains"),
        ({"domain": []}, "unknown top-level key 'domain'. Did you mean: domains?"),
        (
            [{"domain": "a", "data": [{"text": "x"}], "max_epoch": 2}],
            "unknown key 'max_epoch'. Did you mean: max_epochs?",
        ),
        (
            [{"domain": "a", "data": [{"text": "x"}]}, {"domain": "a", "data": [{"text": "y"}]}],
            "'a' is listed twice",
        ),
        ([{"data": [{"text": "x"}]}], "missing 'domain'"),
        ([{"domain": "a", "data": []}], "'data' is empty"),
        ([{"domain": "a"}], "exactly one of 'data'"),
        ([{"domain": "a", "data": [{"text": "x"}], "path": "f.jsonl"}], "exactly one of 'data'"),
        ([{"domain": "a b", "data": [{"text": "x"}]}], "name must be"),
        ([{"domain": "a", "data": [{"text": "x"}], "format": "chats"}], "Did you mean: chat?"),
        (
            [{"domain": "a", "data": [{"text": "x"}], "min_share": 1.5}],
            "min_share must be a number in [0, 1]",
        ),
        (
            [{"domain": "a", "data": [{"text": "x"}], "min_share": 0.6, "max_share": 0.5}],
            "above max_share",
        ),
        (
            [{"domain": "a", "data": [{"text": "x"}], "fixed_share": 0.9, "max_share": 0.5}],
            "outside",
        ),
        (
            [{"domain": "a", "data": [{"text": "x"}], "max_epochs": 0}],
            "max_epochs must be a positive",
        ),
        ([{"domain": "a", "data": [{"text": "x"}], "num": -1}], "num must be a positive integer"),
        (
            [
                {"domain": "a", "data": [{"text": "x"}], "min_share": 0.7},
                {"domain": "b", "data": [{"text": "x"}], "min_share": 0.6},
            ],
            "add up to 1.3, above 1",
        ),
        (
            [
                {"domain": "a", "data": [{"text": "x"}], "max_share": 0.3},
                {"domain": "b", "data": [{"text": "x"}], "fixed_share": 0.2},
            ],
            "add up to 0.5, below 1",
        ),
        ([{"domain": "a", "data": "records"}], "'data' must be a list"),
        ([{"domain": "a", "data": [1, 2]}], "must be a JSON object"),
        ([{"domain": "a", "path": 3}], "'path' must be a path"),
        (["finance"], "expected an object"),
    ],
)
def test_bad_domains_files_give_clear_errors(tmp_path: Path, content: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_domains(_write(tmp_path, content))
    assert any(message in p for p in info.value.problems), info.value.problems
    assert all("\n" not in p for p in info.value.problems)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="domains file not found"):
        load_domains(tmp_path / "nope.json")


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_domains(
            [
                {"domain": "a", "data": [{"text": "x"}], "colour": 1},
                {"domain": "b", "data": [{"text": "x"}], "max_epochs": -1},
            ]
        )
    assert len(info.value.problems) == 2


def test_spec_is_frozen_and_loggable() -> None:
    spec = DomainSpec("a", data=({"text": "x"},))
    with pytest.raises(AttributeError):
        spec.name = "b"  # type: ignore[misc]
    assert spec.to_dict()["data"] == "<1 inline records>"


@pytest.mark.parametrize(
    "name", ["../evil", "/etc/passwd", "a/b", "..", ".", ".hidden", "-rf", "a\nb", ""]
)
def test_a_domain_name_is_never_a_path(name: str) -> None:
    with pytest.raises(ConfigError, match="name must be"):
        parse_domains([{"domain": name, "data": [{"text": "x"}]}])


@pytest.mark.parametrize(
    "path", ["http://example.com/a.jsonl", "s3://bucket/a.jsonl", "hf://datasets/org/name"]
)
def test_domain_paths_are_local(path: str) -> None:
    with pytest.raises(ConfigError, match="'path' must be local, got the URL"):
        parse_domains([{"domain": "a", "path": [path]}])


def test_a_problem_does_not_hide_the_rest_of_the_file(tmp_path: Path) -> None:
    """The domains that parse come back to be read further, beside every problem."""
    from mixopt.data.spec import read_domains_file

    (tmp_path / "b.jsonl").write_text('{"text": "x"}\n')
    path = _write(
        tmp_path,
        [
            {"domain": "a", "data": ["x"], "records": 1, "format": "txt"},
            {"domain": "b", "path": "b.jsonl"},
            {"domain": "b", "path": "b.jsonl"},
            {"domain": "c", "path": "sub/c.jsonl"},
            {"domain": "d", "data": ["y"], "shape": 2},
            {"domain": "a", "data": ["z"]},  # a duplicate of an entry with problems of its own
        ],
    )
    specs, problems = read_domains_file(path, check_files=True)
    assert [s.name for s in specs] == ["b", "d"]  # 'a' makes no spec, 'c' has no file
    where = str(path.resolve())
    assert [p.removeprefix(f"{path}: ") for p in problems] == [
        "domain 'a': unknown key 'records'. Did you mean: data?",
        "domain 'a': unknown format 'txt'. Did you mean: text? Formats: auto, text, prompt_completion, chat",
        "domain 'b' is listed twice",
        f"domain 'c': no such file: {tmp_path.resolve()}/sub/c.jsonl (paths are relative to {where}, the file that names them)",
        "domain 'd': unknown key 'shape'. Valid keys: "
        + ", ".join(
            [
                "domain",
                "data",
                "path",
                "format",
                "text_field",
                "prompt_field",
                "completion_field",
                "messages_field",
                "sample_by",
                "num",
                "min_share",
                "max_share",
                "fixed_share",
                "max_epochs",
            ]
        )
        + ".",
        "domain 'a' is listed twice",
    ]
    with pytest.raises(ConfigError) as info:
        load_domains(path)  # all or nothing; files are read later, when tokenized
    assert len(info.value.problems) == 5
