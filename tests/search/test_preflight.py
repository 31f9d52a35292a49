"""Everything ``mixopt search`` checks before its first trial: a table of bad inputs, each
driven through the real CLI, each reported on its own line with exit status 2, and none
writing anything (no output folder, no cache entry)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mixopt.cli import main
from mixopt.testing import make_heldout, make_records, make_sql_database, write_domains


@pytest.fixture(autouse=True)
def _trials_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The device is checked for trials that run here: the suite's shared cluster
    (``RAY_ADDRESS``, tests/conftest.py) would be a cluster whose workers' devices a study
    cannot check, and the check would be waived."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


N = 20  # records per domain: enough to tokenize, small enough to keep 40 cases quick


@dataclass
class Case:
    """A study's inputs, as files, and the CLI arguments that name them."""

    root: Path
    model: str
    domains: Path
    evaluator: Path | None
    """None: no --eval (the trials run leave-one-out)."""
    out: Path
    cache: Path
    extra: list[str] = field(default_factory=list)

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    def domains_file(self, entries: Any) -> None:
        self.domains = self.write("bad_domains.json", json.dumps(entries))

    def tasks(self, text: str) -> None:
        self.evaluator = self.write("bad_tasks.yaml", text)

    def space(self, text: str) -> None:
        self.extra += ["--space", str(self.write("space.yaml", text))]

    def argv(self) -> list[str]:
        return [
            "search",
            "--domains",
            str(self.domains),
            "--budget",
            "2k",
            "--model",
            self.model,
            *(["--eval", str(self.evaluator)] if self.evaluator is not None else []),
            "--out",
            str(self.out),
            "--cache-dir",
            str(self.cache),
            "--trials",
            "1",
            "--quiet",
            *self.extra,
        ]


def _inline(name: str, records: list[dict[str, Any]], **keys: Any) -> dict[str, Any]:
    return {"domain": name, "data": records, **keys}


TEXT = [{"text": f"plain record number {i} about nothing much"} for i in range(N)]


def _set(attr: str, value: Any) -> Callable[[Case], None]:
    return lambda c: setattr(c, attr, value)


def _other_study(c: Case) -> None:
    """The same model, domains and evaluator, but another configuration."""
    c.out.mkdir()
    from mixopt.study.spec import StudySpec

    spec = StudySpec().replace(
        model=c.model,
        domains=str(c.domains.resolve()),
        evaluator=str(c.evaluator.resolve()),
        budget=1234,
        out=str(c.out.resolve()),
    )
    _write_record(c, spec)


def _write_record(c: Case, spec: Any) -> None:
    """What ``mixopt search`` leaves in ``study.json`` for ``spec``."""
    from mixopt import __version__
    from mixopt.study.record import StudyRecord
    from mixopt.study.store import StudyStore

    record = StudyRecord(spec=spec.to_dict(), space={}, mixopt_version=__version__)
    StudyStore(c.out).write_record(record)


def _lodo(c: Case, domains: str | None = None) -> None:
    """No task file: the trials run leave-one-out (over ``domains``, else all)."""
    c.evaluator = None
    c.extra += ["--lodo-domains", domains] if domains else []


def _cuda_devices() -> int:
    """How many CUDA devices torch sees here: ``cuda:<that>`` names none, with or without a GPU."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _pickled_model(c: Case) -> None:
    """A model folder whose weights exist only as a pickle (never loaded: refused first)."""
    import shutil

    shutil.copytree(c.model, c.root / "pickled")
    (c.root / "pickled" / "pytorch_model.bin").write_bytes(b"not even a real pickle")
    c.model = str(c.root / "pickled")


# a JSONL file of text records whose 6th line is cut short
_BROKEN_LINE_6 = "".join(
    '{"text": "broken\n' if i == 5 else f'{{"text": "record {i} of some text"}}\n' for i in range(8)
)

# (id, how the good inputs are spoiled, the expected message of each problem)
BAD: list[tuple[str, Callable[[Case], None], list[str]]] = [
    # the domains file
    (
        "domains-missing",
        _set("domains", Path("/nonexistent/domains.json")),
        ["domains file not found"],
    ),
    (
        "domains-malformed-json",
        lambda c: setattr(c, "domains", c.write("d.json", '[{"domain": ')),
        ["malformed JSON at line 1"],
    ),
    (
        "domains-not-a-list",
        lambda c: c.domains_file({"domain": "a"}),
        ["unknown top-level key 'domain'"],
    ),
    ("domains-empty", lambda c: c.domains_file([]), ["expected a non-empty list of domains"]),
    (
        "domain-unknown-key",
        lambda c: c.domains_file([_inline("a", TEXT, colour="red")]),
        ["unknown key 'colour'. Valid keys: domain, data, path, format"],
    ),
    (
        "domain-key-of-another-tool",
        lambda c: c.domains_file([{"domain": "a", "file": "data/finance.jsonl", "weight": 0.5}]),
        [
            "unknown key 'file'. Did you mean: path?",
            "unknown key 'weight'. Did you mean: fixed_share?",
        ],
    ),
    (
        "domain-unknown-key-and-bad-format",
        lambda c: c.domains_file([{**_inline("a", TEXT, format="txt"), "name": "x"}]),
        ["unknown key 'name'. Did you mean: domain?", "unknown format 'txt'. Did you mean: text?"],
    ),
    (
        "domain-duplicate-and-more",
        lambda c: c.domains_file(
            [
                _inline("a", TEXT),
                _inline("a", TEXT),
                _inline("b", TEXT, num=5),
                {"domain": "c", "path": "none.jsonl"},
                {"domain": "d", "path": "data/finance.jsonl", "num": 3},
            ]
        ),
        [
            "domain 'a' is listed twice",
            "domain 'b': 'num' is 5 but the data has 20 records",
            "domain 'c': no such file: {root}/none.jsonl (paths are relative to {root}/bad_domains.json, the file that names them)",
            "domain 'd': 'num' is 3 but the data has 20 records",
        ],
    ),
    (
        "domain-record-without-the-field",
        lambda c: c.domains_file([_inline("a", [*TEXT, {"txt": "a typo"}])]),
        [
            f"domain 'a': record {N}: field 'text' is missing or null (the record has: txt); fix the record, or set 'text_field'"
        ],
    ),
    (
        "domain-duplicate",
        lambda c: c.domains_file([_inline("a", TEXT), _inline("a", TEXT)]),
        ["domain 'a' is listed twice"],
    ),
    ("domain-empty-data", lambda c: c.domains_file([_inline("a", [])]), ["'data' is empty"]),
    (
        "domain-name-is-a-path",
        lambda c: c.domains_file([_inline("../evil", TEXT)]),
        ["name must be"],
    ),
    (
        "domain-file-missing",
        lambda c: c.domains_file([{"domain": "a", "path": str(c.root / "none.jsonl")}]),
        ["domain 'a': no such file"],
    ),
    (
        "domain-file-unreadable-suffix",
        lambda c: c.domains_file([{"domain": "a", "path": str(c.write("a.xyz", "x"))}]),
        ["cannot read .xyz"],
    ),
    (
        "domain-url",
        lambda c: c.domains_file([{"domain": "a", "path": "https://example.com/a.jsonl"}]),
        ["'path' must be local"],
    ),
    (
        "domain-missing-named-field",
        lambda c: c.domains_file([_inline("a", TEXT, format="text", text_field="body")]),
        ["text records need field 'body'"],
    ),
    (
        "domain-undetectable-format",
        lambda c: c.domains_file([_inline("a", [{"body": "x"}] * N)]),
        ["cannot tell the record format"],
    ),
    (
        "domain-not-utf8",
        lambda c: c.domains_file(
            [
                {
                    "domain": "a",
                    "path": str(
                        c.write("latin1.jsonl", '{"text": "caf\xe9 au lait"}\n'.encode("latin-1"))
                    ),
                }
            ]
        ),
        ["is not UTF-8 text"],
    ),
    (
        # Arrow's own error names a byte offset and logs a line of its own; the line to mend
        # is named instead, alone
        "domain-jsonl-broken-line",
        lambda c: c.domains_file(
            [{"domain": "a", "path": str(c.write("broken.jsonl", _BROKEN_LINE_6))}]
        ),
        ["broken.jsonl: malformed JSON at line 6: Unterminated string starting at column 10"],
    ),
    (
        "domain-chat-bad-role",
        lambda c: c.domains_file(
            [
                _inline(
                    "a",
                    [
                        {
                            "messages": [
                                {"role": "wizard", "content": "hi"},
                                {"role": "assistant", "content": "hello"},
                            ]
                        }
                    ]
                    * N,
                )
            ]
        ),
        ["unknown chat role 'wizard'"],
    ),
    (
        "domain-chat-no-assistant",
        lambda c: c.domains_file(
            [_inline("a", [{"messages": [{"role": "user", "content": "hi"}]}] * N)]
        ),
        ["needs at least one assistant message"],
    ),
    (
        "domain-num-mismatch",
        lambda c: c.domains_file([_inline("a", TEXT, num=5)]),
        ["'num' is 5 but the data has 20 records"],
    ),
    (
        "bounds-minimums-above-1",
        lambda c: c.domains_file(
            [_inline("a", TEXT, min_share=0.7), _inline("b", TEXT, min_share=0.5)]
        ),
        ["add up to 1.2, above 1"],
    ),
    (
        "bounds-fixed-outside",
        lambda c: c.domains_file([_inline("a", TEXT, fixed_share=0.9, max_share=0.5)]),
        ["fixed_share 0.9 is outside"],
    ),
    (
        "bounds-maximums-below-1",
        lambda c: c.domains_file(
            [_inline("a", TEXT, max_share=0.3), _inline("b", TEXT, max_share=0.3)]
        ),
        ["add up to 0.6, below 1"],
    ),
    # the budget
    ("budget-malformed", lambda c: c.extra.extend(["--budget", "50q"]), ["not a token count"]),
    (
        "budget-past-the-caps",
        lambda c: c.extra.extend(["--budget", "5M"]),
        ["more than the data can fill"],
    ),
    (
        "budget-past-a-cap-and-bounds",
        lambda c: c.space("mixture: {max_epochs: 0.01}\n"),
        ["more than the data can fill"],
    ),
    # the search space
    ("space-malformed-yaml", lambda c: c.space("mixture: [\n"), ["malformed YAML"]),
    (
        "space-unknown-key",
        lambda c: c.space("mixtur: {}\n"),
        ["unknown key 'mixtur'. Did you mean: mixture?"],
    ),
    (
        "space-unknown-domain",
        lambda c: c.space("mixture: {bounds: {sportz: {max_share: 0.5}}}\n"),
        ["bounds name unknown domain 'sportz'. Did you mean: sports?"],
    ),
    (
        "space-infeasible-bounds",
        lambda c: c.space(
            "mixture: {bounds: {finance: {min_share: 0.6}, sports: {min_share: 0.6}}}\n"
        ),
        ["above 1"],
    ),
    (
        "space-python-tag",
        lambda c: c.space("mixture: !!python/object/apply:os.system ['true']\n"),
        ["YAML tag refused"],
    ),
    (
        "space-unknown-name",
        lambda c: c.extra.extend(["--space", "defualt"]),
        ["Unknown search space 'defualt'. Did you mean: default?"],
    ),
    (
        "space-bad-knob",
        lambda c: c.space("train: {learning_rate: {low: 1, high: 0.1}}\n"),
        ["needs choices, or low < high"],
    ),
    # the evaluator
    (
        "eval-file-missing",
        _set("evaluator", Path("/nonexistent/tasks.yaml")),
        ["task file not found"],
    ),
    ("eval-malformed-yaml", lambda c: c.tasks("tasks: [\n"), ["malformed YAML"]),
    ("eval-unknown-key", lambda c: c.tasks("taks: []\n"), ["unknown key 'taks'"]),
    (
        "eval-unknown-kind",
        lambda c: c.tasks("kind: los\ndata: held.jsonl\n"),
        ["Unknown evaluator 'los'. Did you mean: loss?"],
    ),
    (
        "eval-type-for-kind",
        lambda c: c.tasks("type: loss\ndata: held.jsonl\n"),
        [
            "expected a mapping with a 'kind' (the evaluator: one of exact_match, lm_eval, loss, multiple_choice, "
            "sql_execution, or module:attr); unknown key 'type'. Did you mean: kind?"
        ],
    ),
    (
        "eval-unknown-option",
        lambda c: c.tasks("kind: loss\ndata: held.jsonl\nlimt: 3\n"),
        ["unknown option 'limt'. Did you mean: limit?"],
    ),
    (
        "eval-data-missing",
        lambda c: c.tasks("kind: loss\ndata: nothing_here.jsonl\n"),
        [
            "evaluation data not found: {root}/nothing_here.jsonl (paths are relative to {root}/bad_tasks.yaml, the file that names them)"
        ],
    ),
    (
        "eval-data-broken-line",
        lambda c: (
            c.write("held6.jsonl", _BROKEN_LINE_6),
            c.tasks("kind: loss\ndata: held6.jsonl\n"),
        ),
        ["held6.jsonl: malformed JSON at line 6: Unterminated string starting at column 10"],
    ),
    (
        "eval-data-url",
        lambda c: c.tasks("kind: loss\ndata: s3://bucket/held.jsonl\n"),
        ["must be a local path"],
    ),
    (
        "eval-data-missing-field",
        lambda c: (
            c.write("q.jsonl", '{"question": "why"}\n'),
            c.tasks("kind: loss\ndata: q.jsonl\n"),
        ),
        [
            "record 0 has no field 'prompt' (its fields: question); set the task's text_field (text records) or prompt_field"
        ],
    ),
    (
        "eval-data-without-the-default-field",
        lambda c: (
            c.write("mc.jsonl", '{"prompt": "why", "choices": ["a", "b"], "answer": 0}\n'),
            c.tasks("kind: multiple_choice\ndata: mc.jsonl\n"),
        ),
        [
            "record 0 has no field 'question' (its fields: prompt, choices, answer); set the task's prompt_field (or a template)"
        ],
    ),
    (
        "eval-gold-sql-fails",
        lambda c: (
            make_sql_database(c.root / "h.sqlite", "hospital", rows=5),
            c.write(
                "s.jsonl",
                '{"prompt": "q", "query": "SELECT nope FROM nowhere", "db": "h.sqlite"}\n',
            ),
            c.tasks("kind: sql_execution\ndata: s.jsonl\n"),
        ),
        ["gold query fails"],
    ),
    (
        "eval-bad-intermediate",
        lambda c: c.tasks("tasks: [{name: a, kind: loss, data: held.jsonl}]\nintermediate: b\n"),
        ["intermediate task 'b' is not one of"],
    ),
    (
        "eval-bad-intermediate-and-missing-data",
        lambda c: c.tasks(
            "tasks: [{name: a, kind: loss, data: held.jsonl}, {name: c, kind: loss, data: gone.jsonl}]\nintermediate: b\n"
        ),
        ["intermediate task 'b' is not one of", "task #2 (c): evaluation data not found"],
    ),
    (
        "eval-name-not-a-reference",
        _set("evaluator", Path("loss")),
        ["needs data: name it in a task file"],
    ),
    (
        "eval-module-missing",
        _set("evaluator", Path("no_such_module_xyz:thing")),
        ["cannot import module"],
    ),
    (
        "eval-data-is-a-training-file",
        lambda c: c.tasks(f"kind: loss\ndata: {c.root / 'data' / 'finance.jsonl'}\n"),
        ["is also training domain 'finance''s file"],
    ),
    (
        "eval-items-in-training-data",
        lambda c: (
            c.write(
                "leak.jsonl",
                "".join(json.dumps(r) + "\n" for r in make_records("sports", N, seed=0)[:7]),
            ),
            c.tasks("kind: loss\ndata: leak.jsonl\n"),
        ),
        ["7 of 7 evaluation items also appear in training domain 'sports'"],
    ),
    # the leave-one-out estimate
    (
        "lodo-one-domain",
        lambda c: (c.domains_file([_inline("a", TEXT)]), _lodo(c)),
        [
            "leave-one-out needs at least 2 domains (it trains on the others while one is left out); got 1"
        ],
    ),
    (
        "lodo-unknown-domain",
        lambda c: _lodo(c, "finance,sportz"),
        ["--lodo-domains names unknown domain 'sportz'. Did you mean: sports?"],
    ),
    (
        "lodo-leaves-too-little",
        lambda c: (
            c.domains_file([_inline("a", TEXT, max_epochs=1), _inline("b", TEXT * 20)]),
            _lodo(c),
        ),
        [
            "leave-one-out: without domain 'b' the other domains cannot fill budget 2k within their caps and bounds; "
            "the largest budget that fits is "
        ],
    ),
    (
        "lodo-domains-with-a-task-file",
        lambda c: c.extra.extend(["--lodo-domains", "finance"]),
        [
            "lodo_domains (--lodo-domains) applies only to a plan that leaves domains out in turn "
            "(--plan leave-one-out, the default without --eval), not to one-pass"
        ],
    ),
    (
        "eval-names-a-plan",
        lambda c: setattr(c, "evaluator", "leave-one-out"),
        [
            "'leave-one-out' is a trial plan, not an evaluator: drop --eval (it is the default "
            "without one) or give --plan leave-one-out"
        ],
    ),
    (
        "one-pass-without-an-evaluator",
        lambda c: (_lodo(c), c.extra.extend(["--plan", "one-pass"])),
        [
            "--plan one-pass scores each trial with an evaluator: give --eval TASKS, or drop "
            "--plan (without --eval a trial runs leave-one-out)"
        ],
    ),
    (
        "leave-one-out-with-an-evaluator",
        lambda c: c.extra.extend(["--plan", "leave-one-out"]),
        ["--plan leave-one-out scores on the domains' own records and takes no evaluator"],
    ),
    (
        "plan-unknown",
        lambda c: c.extra.extend(["--plan", "one-pas"]),
        ["Unknown trial plan 'one-pas'. Did you mean: one-pass?"],
    ),
    (
        "lodo-with-objectives",
        lambda c: (_lodo(c), c.extra.extend(["--objective", "a", "--objective", "b"])),
        ["--objective names tasks of a task file; leave-one-out gives one score (got a, b)"],
    ),
    # the model
    ("model-missing-folder", _set("model", "./no/such/model"), ["no such local folder"]),
    (
        "model-without-tokenizer",
        lambda c: (
            c.write("empty-model/config.json", "{}"),
            setattr(c, "model", str(c.root / "empty-model")),
        ),
        ["cannot load its tokenizer"],
    ),
    ("model-pickled-weights", _pickled_model, ["its weights are pickled (pytorch_model.bin)"]),
    (
        "model-bare-name-of-no-folder",
        _set("model", "no-such-model-folder-xyz"),
        ["model 'no-such-model-folder-xyz': no such local folder", "a hub id is org/name"],
    ),
    # the sampler and the device
    (
        "sampler-unknown",
        lambda c: c.extra.extend(["--sampler", "tpee"]),
        ["Unknown sampler 'tpee'. Did you mean: tpe?"],
    ),
    (
        "sampler-module-missing",
        lambda c: c.extra.extend(["--sampler", "nosuch.mod:X"]),
        ["sampler 'nosuch.mod:X': cannot import module 'nosuch.mod'"],
    ),
    (
        "sampler-needs-the-simplex-and-has-no-attach",
        lambda c: c.extra.extend(
            ["--sampler", "tests.testing.plugins:needs_simplex_without_attach"]
        ),
        ["declares needs_simplex, but its RandomSampler has no attach(simplex) method"],
    ),
    (
        "executor-unknown",
        lambda c: c.extra.extend(["--executor", "rey"]),
        ["Unknown executor 'rey'. Did you mean: ray?"],
    ),
    (
        "device-cuda-past-the-last",
        lambda c: c.extra.extend(["--device", f"cuda:{_cuda_devices()}"]),
        ["--device cuda:"],
    ),
    (
        "device-cuda-not-a-number",
        lambda c: c.extra.extend(["--device", "cuda:first"]),
        ["--device cuda:first: expected cuda or cuda:N, N a GPU's number"],
    ),
    (
        "device-mps",
        lambda c: c.extra.extend(["--device", "mps"]),
        ["device must be auto, cpu, cuda or cuda:N, got 'mps'"],
    ),
    # extra baselines
    (
        "baseline-unknown-domain",
        lambda c: c.extra.extend(["--baseline", str(c.write("mine.json", '{"financ": 1.0}'))]),
        ["baseline 'mine': mixture names unknown domain 'financ'. Did you mean: finance?"],
    ),
    (
        "baseline-name-taken",
        lambda c: c.extra.extend(["--baseline", str(c.write("uniform.json", '{"finance": 1.0}'))]),
        ["baseline name 'uniform' is taken"],
    ),
    # the output folder
    (
        "out-holds-other-files",
        lambda c: (c.out.mkdir(), (c.out / "notes.txt").write_text("mine")),
        ["output folder exists and is not empty"],
    ),
    (
        "out-holds-a-different-study",
        _other_study,
        [
            "holds a different study (its budget: 1234 -> 2000; trials: 16 -> 1); choose another --out"
        ],
    ),
    (
        "resume-not-a-study",
        lambda c: setattr(c, "extra", ["--resume", str(c.root)]),
        ["not a mixopt study folder"],
    ),
]


@pytest.fixture()
def case(tmp_path: Path, tokenizer_dir: Path) -> Case:
    domains = write_domains(
        tmp_path / "data", {"finance": "jsonl", "sports": "jsonl", "cooking": "csv"}, n=N
    )
    training = make_records("finance", N, seed=0)
    (tmp_path / "held.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in make_heldout("finance", 10, 0, training))
    )
    (tmp_path / "tasks.yaml").write_text("kind: loss\ndata: held.jsonl\n")
    return Case(
        tmp_path,
        str(tokenizer_dir),
        domains,
        tmp_path / "tasks.yaml",
        tmp_path / "out",
        tmp_path / "cache",
    )


def _tree(path: Path) -> dict[str, bytes]:
    return (
        {str(p): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
        if path.exists()
        else {}
    )


def _refused(case: Case, capsys: pytest.CaptureFixture[str]) -> list[str]:
    before = _tree(case.out), case.out.exists()
    argv = case.argv()
    if "--resume" in case.extra:
        argv = ["search", *case.extra, "--cache-dir", str(case.cache), "--quiet"]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and all(line.startswith("mixopt: error: ") for line in lines), lines
    assert (_tree(case.out), case.out.exists()) == before, "the output folder changed"
    assert not case.cache.exists(), "a cache entry was written"
    return lines


def test_the_table_holds_enough_bad_inputs() -> None:
    assert len(BAD) >= 25 and len({name for name, _, _ in BAD}) == len(BAD)


@pytest.mark.parametrize(
    ("spoil", "messages"), [(s, m) for _, s, m in BAD], ids=[n for n, _, _ in BAD]
)
def test_each_bad_input_is_refused_with_its_message_and_writes_nothing(
    case: Case,
    capsys: pytest.CaptureFixture[str],
    spoil: Callable[[Case], None],
    messages: list[str],
) -> None:
    spoil(case)
    lines = _refused(case, capsys)
    for message in messages:
        message = message.replace("{root}", str(case.root.resolve()))
        assert any(message in line for line in lines), (message, lines)


def test_every_problem_is_reported_at_once(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    case.out.mkdir()
    (case.out / "notes.txt").write_text("mine")
    case.domains_file([_inline("a", TEXT, colour=1), _inline("b", TEXT), _inline("b", TEXT)])
    case.space("mixtur: {}\n")
    case.tasks("kind: los\ndata: held.jsonl\n")
    case.model = "./no/such/model"
    case.extra += ["--sampler", "tpee", "--device", f"cuda:{_cuda_devices()}"]
    lines = _refused(case, capsys)
    expected = [
        "not empty",
        "unknown key 'colour'",
        "listed twice",
        "unknown key 'mixtur'",
        "Unknown evaluator 'los'",
        "Unknown sampler 'tpee'",
        "--device cuda:",
        "no such local folder",
    ]
    assert len(lines) == len(expected)
    for message, line in zip(expected, lines, strict=True):
        assert message in line


def test_problems_found_after_tokenizing_are_reported_together(
    case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    """The budget, overlap, baselines and task data are all checked in one run."""
    leak = case.write(
        "leak.jsonl", "".join(json.dumps(r) + "\n" for r in make_records("cooking", 3, seed=0))
    )
    case.tasks(
        f"tasks:\n  - {{name: ok, kind: loss, data: held.jsonl}}\n  - {{name: leak, kind: loss, data: {leak}}}\n"
        "  - {name: gone, kind: loss, data: gone.jsonl}\n"
    )
    case.extra += ["--budget", "5M", "--baseline", str(case.write("mine.json", '{"x": 1}'))]
    lines = _refused(case, capsys)
    for message in (
        "task #3 (gone): evaluation data not found",
        "3 of 3 evaluation items also appear in training domain 'cooking'",
        "more than the data can fill",
        "baseline 'mine': mixture names unknown domain 'x'",
    ):
        assert sum(message in line for line in lines) == 1, (message, lines)
    assert len(lines) == 4


def test_an_existing_study_is_told_apart_from_a_different_one(
    case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    from mixopt.study.spec import StudySpec

    spec = StudySpec().replace(
        model=case.model,
        domains=str(case.domains.resolve()),
        budget="2k",
        trials=1,
        evaluator=str(case.evaluator.resolve()),
        out=str(case.out.resolve()),
    )
    case.out.mkdir()
    _write_record(case, spec)
    lines = _refused(case, capsys)
    assert lines == [
        f"mixopt: error: {case.out.resolve()}: already holds this study; resume it with "
        f"--resume {case.out.resolve()}, or choose another --out"
    ]
    case.extra += ["--seed", "7"]
    assert "holds a different study (its seed: 0 -> 7)" in _refused(case, capsys)[0]


def test_the_good_inputs_pass_and_fill_the_cache(
    case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table's inputs are bad only where each case spoils them."""
    argv = [
        "validate",
        "--domains",
        str(case.domains),
        "--model",
        case.model,
        "--budget",
        "2k",
        "--eval",
        str(case.evaluator),
        "--cache-dir",
        str(case.cache),
    ]
    assert main(argv) == 0, capsys.readouterr().err
    assert "no overlap with training data" in capsys.readouterr().out
    assert len(list((case.cache / "tokenized").glob("*/*/meta.json"))) == 3


def test_validate_says_what_leave_one_out_costs(
    case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "validate",
        "--domains",
        str(case.domains),
        "--model",
        case.model,
        "--budget",
        "2k",
        "--plan",
        "leave-one-out",
        "--cache-dir",
        str(case.cache),
    ]
    assert main(argv) == 0, capsys.readouterr().err
    assert (
        "plan: leave-one-out over 3 domains: each trial trains 3 times" in capsys.readouterr().out
    )
    refused = [*argv[:7], "--eval", "leave-one-out", "--cache-dir", str(case.cache), "--quiet"]
    assert main(refused) == 2  # a plan, not an evaluator
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a trial plan, not an evaluator" in err[0], err


def test_the_command_exits_with_status_2(case: Case) -> None:
    case.extra += ["--budget", "50q"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [sys.executable, "-m", "mixopt", *case.argv()],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith("mixopt: error: ")
        and "not a token count" in lines[0]
    )
    assert not case.out.exists() and not case.cache.exists()


@pytest.mark.skipif(_cuda_devices() > 0, reason="this machine's torch has a CUDA device")
def test_a_cuda_device_without_cuda_is_one_line_before_anything(
    case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    case.extra += ["--device", "cuda"]
    lines = _refused(case, capsys)
    assert len(lines) == 1 and lines[0].startswith("mixopt: error: --device cuda: "), lines
    assert lines[0].endswith("; use --device cpu (or auto), or install torch with CUDA")


def test_built_in_names_are_matched_whatever_their_case(
    case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--sampler TPE`` and ``kind: LOSS`` pass the checks (the only problem left is the budget)."""
    from mixopt.search.proposals.samplers import make_sampler, parameterization_for, random_startup

    case.tasks("kind: LOSS\ndata: held.jsonl\n")
    case.extra += ["--sampler", "TPE", "--budget", "50q"]
    assert len(lines := _refused(case, capsys)) == 1 and "not a token count" in lines[0], lines
    assert type(make_sampler("TPE", 0, 2)).__name__ == "TPESampler"
    assert parameterization_for("GP") == parameterization_for("gp") == "logratio"
    assert random_startup("GP", 8) == random_startup("gp", 8) == 8  # the start-up warning too


def test_a_model_folder_typo_is_not_a_hub_download(
    case: Case, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name under a local folder, or close to one, is a local folder that is not there."""
    import shutil

    shutil.copytree(case.model, case.root / "models" / "tiny")
    monkeypatch.chdir(case.root)
    case.model = "models/tiyn"  # org/name in form, but ./models is a local folder
    assert _refused(case, capsys) == [
        f"mixopt: error: model 'models/tiyn': no such local folder {case.root.resolve()}/models/tiyn. Did you mean: tiny?"
    ]
    shutil.copytree(case.root / "models" / "tiny", case.root / "tiny-model")
    case.model = "tiny-modl"
    (line,) = _refused(case, capsys)
    assert line.startswith(
        f"mixopt: error: model 'tiny-modl': no such local folder {case.root.resolve()}/tiny-modl, "
    )
    assert line.endswith("a hub id is org/name. Did you mean: tiny-model?")


def test_a_missing_file_is_named_in_full_with_a_file_of_a_close_name(
    case: Case, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(case.root)
    shutil.copy(case.domains, "domains.json")
    case.domains = Path("domain.json")
    (line,) = _refused(case, capsys)
    here = Path.cwd()  # the absolute path, and a file of a close name beside it
    assert line == (
        f"mixopt: error: {here}/domain.json: domains file not found. Did you mean: domains.json?"
    )
    case.domains, case.evaluator = Path("domains.json"), Path("nothere/tasks.yaml")
    (line,) = _refused(case, capsys)
    assert line.endswith(
        f"nothere/tasks.yaml: task file not found; there is no folder {here}/nothere"
    )
