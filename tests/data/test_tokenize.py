from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mixopt.data.spec import DomainSpec, load_domains
from mixopt.data.tokenize import TokenizedDomain, tokenize_domain, tokenize_domains
from mixopt.errors import ConfigError
from mixopt.testing import make_records, write_domains

LAYOUTS = ["jsonl", "json", "parquet", "csv", "txt", "disk", "inline"]


def _texts(domain: TokenizedDomain, tokenizer: Any) -> list[str]:
    return [
        tokenizer.decode(ids, skip_special_tokens=True)
        for ids in domain.table().column("input_ids").to_pylist()
    ]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_file_format_loads_the_same_records(
    tmp_path: Path, tokenizer: Any, layout: str
) -> None:
    path = write_domains(tmp_path, {"finance": layout}, n=50)
    (domain,) = tokenize_domains(load_domains(path), tokenizer)
    assert domain.format == "text" and domain.num_records == 50
    assert _texts(domain, tokenizer) == [r["text"] for r in make_records("finance", 50)]
    assert domain.num_tokens == int(domain.lengths().sum()) > 50


def test_globs_and_named_text_field(tmp_path: Path, tokenizer: Any) -> None:
    for i in range(3):
        (tmp_path / f"part{i}.jsonl").write_text(
            "".join(json.dumps({"body": f"doc {i} {j}"}) + "\n" for j in range(4))
        )
    (domain,) = tokenize_domains(
        load_domains(
            _domains(
                tmp_path,
                [{"domain": "d", "path": "part*.jsonl", "format": "text", "text_field": "body"}],
            )
        ),
        tokenizer,
    )
    assert domain.num_records == 12
    assert _texts(domain, tokenizer)[0] == "doc 0 0"


def test_prompt_completion_masks_the_prompt(tokenizer: Any) -> None:
    spec = DomainSpec(
        "sql",
        data=(
            {
                "prompt": "Question: how many users?\nSQL:",
                "completion": " SELECT COUNT(*) FROM users;",
            },
        ),
    )
    domain = tokenize_domain(spec, tokenizer)
    row = domain.table().to_pylist()[0]
    trained = [i for i, m in zip(row["input_ids"], row["loss_mask"], strict=True) if m]
    assert tokenizer.decode(trained) == " SELECT COUNT(*) FROM users;</s>"
    assert row["input_ids"][-1] == tokenizer.eos_token_id and row["length"] == len(row["input_ids"])


def test_chat_masks_everything_but_the_assistant_turns(tokenizer: Any) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Where is my lamp?"},
        {"role": "assistant", "content": "It ships tomorrow."},
        {"role": "user", "content": "And the desk?"},
        {"role": "assistant", "content": "Friday."},
    ]
    domain = tokenize_domain(DomainSpec("chat", data=({"messages": messages},)), tokenizer)
    row = domain.table().to_pylist()[0]
    assert tokenizer.decode(row["input_ids"]) == "<s>" + tokenizer.apply_chat_template(
        messages, tokenize=False
    )
    trained = [i for i, m in zip(row["input_ids"], row["loss_mask"], strict=True) if m]
    assert tokenizer.decode(trained) == "It ships tomorrow.</s>Friday.</s>"


def test_second_run_tokenizes_nothing(tmp_path: Path, tokenizer: Any) -> None:
    specs = load_domains(
        write_domains(tmp_path / "data", {"finance": "jsonl", "sql": "parquet"}, n=40)
    )
    counting = _CountingTokenizer(tokenizer)
    first = tokenize_domains(specs, counting, tmp_path / "cache")
    calls = counting.calls
    assert calls > 0
    again = tokenize_domains(specs, counting, tmp_path / "cache")
    assert counting.calls == calls
    assert [(d.path, d.num_tokens) for d in again] == [(d.path, d.num_tokens) for d in first]


def test_cache_follows_content_not_names(tmp_path: Path, tokenizer: Any) -> None:
    data = tmp_path / "a.jsonl"
    data.write_text('{"text": "one two"}\n')
    spec = DomainSpec("a", paths=(str(data),))
    first = tokenize_domain(spec, tokenizer, tmp_path / "cache")
    moved = tmp_path / "b.jsonl"
    os.replace(data, moved)
    assert (
        tokenize_domain(DomainSpec("b", paths=(str(moved),)), tokenizer, tmp_path / "cache").path
        == first.path
    )
    moved.write_text('{"text": "one two three"}\n')
    changed = tokenize_domain(DomainSpec("b", paths=(str(moved),)), tokenizer, tmp_path / "cache")
    assert changed.path != first.path and changed.num_tokens > first.num_tokens


def test_tokenized_domain_pickles_without_its_table(tokenizer: Any) -> None:
    import pickle

    domain = tokenize_domain(DomainSpec("a", data=({"text": "hello"},)), tokenizer)
    domain.table()
    clone = pickle.loads(pickle.dumps(domain))
    assert clone._table == [] and clone.num_tokens == domain.num_tokens
    assert clone.table().num_rows == 1


@pytest.mark.parametrize(
    ("entry", "files", "message"),
    [
        ({"path": "missing.jsonl"}, {}, "no such file"),
        ({"path": "*.jsonl"}, {}, "no such file"),
        ({"path": "empty.jsonl"}, {"empty.jsonl": ""}, "no records"),
        (
            {"path": "bad.jsonl"},
            {"bad.jsonl": '{"text": "a"}\n{"text": \n'},
            "malformed JSON at line 2",
        ),
        ({"path": "x.jsonl"}, {"x.jsonl": '{"body": "a"}\n'}, "cannot tell the record format"),
        (
            {"path": "x.jsonl", "format": "text", "text_field": "body"},
            {"x.jsonl": '{"text": "a"}\n'},
            "need field 'body'",
        ),
        (
            {"path": "x.jsonl"},
            {"x.jsonl": '{"text": null}\n{"text": "a"}\n'},
            "record 0: field 'text' is missing or null (the record has: nothing); fix the record, or set 'text_field'",
        ),
        (
            {"path": "x.jsonl"},
            {"x.jsonl": '{"text": ""}\n'},
            "must be a non-empty string, got empty",
        ),
        ({"path": "x.xml"}, {"x.xml": "<a/>"}, "cannot read .xml"),
        (
            {"path": ["x.jsonl", "y.csv"]},
            {"x.jsonl": '{"text": "a"}\n', "y.csv": "text\na\n"},
            "one format",
        ),
        ({"path": "x.txt"}, {"x.txt": b"caf\xe9 latin-1\n"}, "cannot read"),
        (
            {"path": "x.jsonl", "num": 3},
            {"x.jsonl": '{"text": "a"}\n'},
            "'num' is 3 but the data has 1",
        ),
        ({"path": "dir"}, {"dir/readme.txt": "hi"}, "not a datasets folder"),
        (
            {"data": [{"messages": [{"role": "robot", "content": "hi"}]}]},
            {},
            "unknown chat role 'robot'",
        ),
        (
            {"data": [{"messages": [{"role": "user", "content": "hi"}]}]},
            {},
            "at least one assistant",
        ),
        ({"data": [{"messages": "hello"}]}, {}, "must be a non-empty list of messages"),
        ({"data": [{"messages": [{"role": "user"}]}]}, {}, "string 'content'"),
        ({"data": [{"text": "a"}, {"text": 5}]}, {}, "do not share a schema"),
    ],
)
def test_bad_data_gives_a_clear_error_and_no_cache_entry(
    tmp_path: Path, tokenizer: Any, entry: dict[str, Any], files: dict[str, Any], message: str
) -> None:
    for name, content in files.items():
        f = tmp_path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError) as info:
        specs = load_domains(_domains(tmp_path, [{"domain": "d", **entry}]))
        tokenize_domains(specs, tokenizer, tmp_path / "cache")
    assert any(message in p for p in info.value.problems), info.value.problems
    assert all("\n" not in p for p in info.value.problems)
    assert not list((tmp_path / "cache").rglob("meta.json"))
    assert not list((tmp_path / "cache" / "tokenized").rglob("*.arrow"))


def test_chat_needs_a_chat_template(tokenizer: Any) -> None:
    import copy

    plain = copy.deepcopy(tokenizer)
    plain.chat_template = None
    spec = DomainSpec(
        "c",
        data=(
            {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
        ),
    )
    with pytest.raises(ConfigError, match="need a tokenizer with a chat template"):
        tokenize_domain(spec, plain)


def test_problems_of_all_domains_are_reported_together(tokenizer: Any) -> None:
    specs = [DomainSpec("a", data=({"x": "1"},)), DomainSpec("b", data=({"y": "2"},))]
    with pytest.raises(ConfigError) as info:
        tokenize_domains(specs, tokenizer)
    assert len(info.value.problems) == 2


class _CountingTokenizer:
    """Forwards to a real tokenizer and counts the encode calls."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _domains(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    p = tmp_path / "domains.json"
    p.write_text(json.dumps(entries))
    return p


def test_staged_entries_enter_the_cache_only_when_published(tokenizer: Any, tmp_path: Path) -> None:
    from mixopt.data.tokenize import publish

    spec = DomainSpec(
        "a", data=tuple({"text": f"record {i} of the staged domain"} for i in range(5))
    )
    cache, stage = tmp_path / "cache", tmp_path / "stage"
    staged = tokenize_domains([spec], tokenizer, cache, stage)
    assert not cache.exists() and Path(staged[0].path).is_relative_to(stage)
    (published,) = publish(staged, stage, cache)
    assert (
        Path(published.path).is_relative_to(cache) and published.num_tokens == staged[0].num_tokens
    )
    assert len(published.text_hashes()) == 5
    # from now on the cache answers, and nothing more is staged
    (again,) = tokenize_domains([spec], tokenizer, cache, tmp_path / "stage2")
    assert again.path == published.path and not (tmp_path / "stage2").exists()
