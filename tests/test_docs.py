"""The README's documented defaults are the code's: each one the README states (an option's
default and choices, a domains-file key's default, an evaluator kind's fields) is read from
the README and compared with the setting, the dataclass field or the parser it documents."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from mixopt.cli import build_parser, main
from mixopt.cluster import ClusterConfig
from mixopt.export import ExportSpec

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
PROSE = " ".join(README.split())  # sentences wrap across lines


def _option_defaults() -> dict[str, tuple[Any, Any]]:
    """``--option`` -> (default, choices) over every command: a search option's default is
    its study setting's (the search parser leaves it out so a config file is not overridden)."""
    from mixopt.study.spec import flat_fields

    out: dict[str, tuple[Any, Any]] = {}
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command in sub.choices.values():
        for action in command._actions:
            if action.default is not argparse.SUPPRESS:
                for flag in action.option_strings:
                    out.setdefault(flag, (action.default, action.choices))
    for flat, (_, f) in flat_fields().items():
        for flag in _flags(flat, f):
            out[flag] = (f.default, f.metadata.get("choices"))
    for kind in (ClusterConfig, ExportSpec):  # `mixopt cluster` and `mixopt export` options
        for f in dataclasses.fields(kind):
            for flag in _flags(f.metadata.get("name", f.name), f):
                out.setdefault(flag, (f.default, f.metadata.get("choices")))
    return out


def _flags(flat: str, f: dataclasses.Field[Any]) -> list[str]:
    return [f.metadata.get("flag", "--" + flat.replace("_", "-")), *f.metadata.get("flags", ())]


OPTIONS = _option_defaults()
# "`--confirm` fresh seeds (default 2)", "`--trial-timeout SECONDS` (...; default none)"
AFTER = re.compile(r"`(--[a-z][a-z-]*)[^`]*`(?:(?!`--)[^.|])*?\bdefault `?([\w.]+)`?")
# "`--sampler`: `gp` (the default", "`--metric silhouette` (default)"
BEFORE = re.compile(r"`(--[a-z][a-z-]*)(?:`: `| )(\w+)` \((?:the )?default\b")
# "`--early-stop auto|on|off`"
CHOICES = re.compile(r"`(--[a-z][a-z-]*) (\w+(?:\|\w+)+)`")


def _same(documented: str, default: Any) -> bool:
    if default is None:
        return documented.lower() == "none"
    return documented == str(default) or (
        isinstance(default, int | float)
        and documented.replace(".", "", 1).isdigit()
        and float(documented) == default
    )


def test_the_readme_states_defaults_the_test_reads() -> None:
    found = {m.group(1) for pattern in (AFTER, BEFORE, CHOICES) for m in pattern.finditer(PROSE)}
    assert {"--confirm", "--max-retries", "--trial-timeout", "--sampler", "--early-stop"} <= found


@pytest.mark.parametrize(
    "match", [*AFTER.finditer(PROSE), *BEFORE.finditer(PROSE)], ids=lambda m: m.group(0)[:40]
)
def test_each_documented_option_default_is_the_codes(match: re.Match[str]) -> None:
    flag, documented = match.group(1), match.group(2)
    assert flag in OPTIONS, f"the README documents {flag}, which no command has"
    default = OPTIONS[flag][0]
    assert _same(documented, default), (
        f"README: {match.group(0)!r}; the code's default is {default!r}"
    )


@pytest.mark.parametrize("match", list(CHOICES.finditer(PROSE)), ids=lambda m: m.group(1))
def test_each_documented_option_lists_the_codes_choices(match: re.Match[str]) -> None:
    flag, listed = match.group(1), match.group(2).split("|")
    assert flag in OPTIONS and OPTIONS[flag][1] is not None, f"{flag} has no choices"
    assert sorted(listed) == sorted(OPTIONS[flag][1])


def _table(header: str) -> list[list[str]]:
    """The rows of the README table whose header row starts with ``header``."""
    lines = README.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split(" | ")])
    assert rows, header
    return rows


def test_the_domains_file_table_states_the_domain_specs_defaults() -> None:
    from mixopt.data.spec import DomainSpec

    defaults = {f.name: f.default for f in dataclasses.fields(DomainSpec)}
    checked = set()
    for keys, meaning in _table("| key | meaning |"):
        names = re.findall(r"`(\w+)`", keys)
        listed = re.search(
            r"\(defaults? ((?:`\w+`(?:, )?)+)\)", meaning
        )  # (defaults `text`, `prompt`...)
        single = re.search(r"\(default:? ([\w.]+)\)|`(\w+)` \(default", meaning)
        if listed:
            values = re.findall(r"`(\w+)`", listed.group(1))
            assert len(values) == len(names), keys
            pairs = dict(zip(names, values, strict=True))
        elif single:
            pairs = {names[0]: single.group(1) or single.group(2)}
        else:
            continue
        for name, value in pairs.items():
            assert _same(value, defaults[name]), (
                f"README says {name} defaults to {value}; it is {defaults[name]!r}"
            )
            checked.add(name)
    assert {
        "format",
        "text_field",
        "prompt_field",
        "messages_field",
        "sample_by",
        "max_epochs",
    } <= checked


def test_the_evaluator_table_states_each_kinds_fields_and_defaults() -> None:
    from mixopt.evaluators.tasks import EVALUATORS

    rows = _table("| kind | reads")
    assert {re.sub(r"`", "", r[0]) for r in rows} == set(EVALUATORS.names()) - {
        n for n in EVALUATORS.names() if ":" in n
    }
    for kind, reads, measures, _ in rows:
        cls = EVALUATORS.get(kind.strip("`"))
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        documented = dict(re.findall(r"`(\w+)`: `([^`]*)`", reads + " " + measures))
        for name, value in documented.items():
            assert name in defaults, f"{kind}: the README names {name}, which is no option"
            value = json.loads(value) if value.startswith('"') else value
            assert value == defaults[name], (
                f"{kind}: README says {name} defaults to {value!r}; it is {defaults[name]!r}"
            )
        fields = {n for n in defaults if n.endswith("_field")}
        assert fields <= set(documented), (
            f"{kind}: the README does not state {fields - set(documented)}"
        )
    # the README's own words for what surprised a user: the prompt of multiple choice, its space
    assert "`prompt_field`: `question`" in README and '`delimiter`: `" "`' in README


def test_mixopt_help_shows_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "example" in text and "mixopt search --domains" in text and "mixopt export" in text


ROOT = Path(__file__).resolve().parents[1]
# "(docs/design.md, "Early stopping")": a page of the repository, and a section of it
CITED = re.compile(r'(docs/[\w/.-]+\.md)(?:, "([^"]+)")?')


def test_the_design_notes_the_code_cites_are_in_the_repository() -> None:
    sources = [p for d in ("mixopt", "benchmarks", "examples") for p in (ROOT / d).rglob("*.py")]
    texts = {p: p.read_text() for p in [*sources, ROOT / "README.md"]}
    assert not [p for p, text in texts.items() if "DESIGN.md" in text]  # not in the repository
    cited = {m for text in texts.values() for m in CITED.findall(text)}
    assert ("docs/design.md", "Early stopping") in cited  # the pattern finds citations
    for page, section in cited:
        lines = (ROOT / page).read_text().splitlines()
        assert not section or any(line.startswith(f"## {section}") for line in lines), (
            f"{page} has no section {section!r}"
        )


def test_every_repository_file_the_docs_name_exists() -> None:
    """A path the README, benchmarks/README.md or docs/ name in backticks is in the
    repository (a module that moved leaves no stale pointer behind)."""
    root = Path(__file__).resolve().parents[1]
    texts = [root / "README.md", root / "benchmarks" / "README.md", *(root / "docs").glob("*.md")]
    cited = r"`((?:mixopt|benchmarks|tests|examples|docs|search_spaces|downstream)/[\w/.-]+\.\w+)`"
    named = {m for path in texts for m in re.findall(cited, path.read_text())}
    assert len(named) > 10  # the pattern finds them
    assert not sorted(p for p in named if not (root / p).exists())
