"""Retention as an objective (``--in-domain``): each domain's held-out records are carved off
before tokenization (never in a pool, checked by the overlap check), the ``in_domain`` task
scores them as one more objective, and without the flag nothing changes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from mixopt.data.carve import carved_rows
from mixopt.data.spec import read_domains_file
from mixopt.data.tokenize import _SCHEMA, held_out_of, tokenize_domain, tokenize_domains
from mixopt.errors import ConfigError
from mixopt.evaluators.in_domain import unseen
from mixopt.evaluators.overlap import held_out_items, held_out_overlap
from mixopt.models import tokenizer_fingerprint
from mixopt.study.store import StudyStore
from tests.conftest import FAST_TRAIN, once


def test_carved_records_never_enter_a_pool_and_the_overlap_check_sees_them_apart(
    study_inputs: dict[str, Any], tokenizer: Any, tmp_path: Path
) -> None:
    specs, problems = read_domains_file(study_inputs["domains"])
    assert not problems
    whole = tokenize_domains(specs, tokenizer, tmp_path)
    pools = tokenize_domains(specs, tokenizer, tmp_path, carve=True)
    held = [held_out_of(p) for p in pools]
    for w, p, h in zip(whole, pools, held, strict=True):
        # min(128, a tenth) of 600 records, carved before tokenization: the pool's counts are without them
        assert h.num_records == 60 and p.num_records == w.num_records - 60 == 540
        assert p.num_tokens + h.num_tokens == w.num_tokens and p.path != w.path
        assert len(held_out_items(h)) == 60
    # the pools hold none of their carved records, save a text the domain repeats (kept by a pool copy)
    apart, problems = unseen(held, pools)
    assert not problems and all(0 < a.num_records <= 60 for a in apart)
    assert held_out_overlap(apart, pools) == []
    # the check can fail: against the whole domains every carved record is found in its own domain
    found = held_out_overlap(apart, whole)
    assert len(found) == 3 and all(
        f"{a.num_records} of the {a.num_records} records held out of domain {a.name!r} also appear in training domain {a.name!r}"
        in line
        for a, line in zip(apart, found, strict=True)
    )
    # the sample: the same for a domain's name in every call, another for another name
    assert all(
        (a == b).all()
        for a, b in zip(carved_rows("finance", 600), carved_rows("finance", 600), strict=True)
    )
    assert not (carved_rows("finance", 600)[0] == carved_rows("cooking", 600)[0]).all()
    with pytest.raises(ConfigError, match="needs at least 10"):
        carved_rows("tiny", 9)


def test_without_the_flag_a_pool_is_cached_as_it_always_was(tokenizer: Any, tmp_path: Path) -> None:
    from mixopt.data.spec import DomainSpec

    spec = DomainSpec(
        "notes", data=tuple(f"note number {i} about the weather today" for i in range(40))
    )
    plain = tokenize_domain(spec, tokenizer, tmp_path)
    # the key as it was before carving existed: schema, reading settings, tokenizer, records
    h = hashlib.sha256()
    reading = {
        k: getattr(spec, k)
        for k in (
            "format",
            "text_field",
            "prompt_field",
            "completion_field",
            "messages_field",
            "sample_by",
        )
    }
    h.update(json.dumps({"schema": _SCHEMA, "reading": reading}, sort_keys=True).encode())
    h.update(tokenizer_fingerprint(tokenizer).encode())
    h.update(json.dumps(list(spec.data or ()), sort_keys=True, default=str).encode())
    assert Path(plain.path).parent.name == h.hexdigest() and plain.num_records == 40
    assert not (Path(plain.path).parent / "held_out").exists()
    carved = tokenize_domain(spec, tokenizer, tmp_path, carve=True)
    assert carved.num_records == 36 and Path(carved.path).parent != Path(plain.path).parent


@pytest.fixture(scope="session")
def in_domain_run(
    study_inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A finished --in-domain study on the one-score finance task: 2 baselines, 1 searched trial."""
    from mixopt import optimize_mixture

    def make(root: Path) -> dict[str, Any]:
        out = root / "study"
        result = optimize_mixture(
            study_inputs["model"],
            study_inputs["domains"],
            study_inputs["evaluator"],
            budget="4k",
            train=FAST_TRAIN,
            trials=1,
            sampler="random",
            confirm=0,
            seed=5,
            early_stop="off",
            executor="inprocess",
            out=str(out),
            quiet=True,
            in_domain=True,
            events=str(root / "events.jsonl"),
        )
        return {"out": out, "result": result, "events": root / "events.jsonl"}

    return once(tmp_path_factory, "in-domain-study", make)


@pytest.mark.slow
def test_the_flag_makes_a_one_score_study_two_objective_with_in_domain_scored(
    in_domain_run: dict[str, Any],
) -> None:
    out = Path(in_domain_run["out"])
    objectives = ["finance_loss", "in_domain"]
    trials = json.loads((out / StudyStore.RESULTS).read_text())["trials"]
    done = [t for t in trials if t["state"] == "COMPLETE"]
    assert len(done) == 3
    for t in done:
        assert list(t["scores"]) == objectives
        losses = [t["metrics"][f"in_domain/{d}/loss"] for d in ("finance", "cooking", "sports")]
        assert t["scores"]["in_domain"] == pytest.approx(-sum(losses) / 3)
        assert all(
            t["metrics"][f"in_domain/{d}/records"] <= 60 for d in ("finance", "cooking", "sports")
        )
    pareto = json.loads((out / StudyStore.PARETO).read_text())
    assert pareto["objectives"] == objectives and pareto["front"]
    best = json.loads((out / StudyStore.BEST).read_text())
    # the trials drew from the pools without the held-out records
    assert {d: v["records"] for d, v in best["domains"].items()} == {
        "finance": 540,
        "cooking": 540,
        "sports": 540,
    }
    assert json.loads((out / StudyStore.STUDY).read_text())["spec"]["scoring"]["in_domain"] is True
    lines = [json.loads(line) for line in Path(in_domain_run["events"]).read_text().splitlines()]
    said = [e for e in lines if e.get("event") == "in_domain"]
    assert said and set(said[0]["held_out"]) == {"finance", "cooking", "sports"}
    assert all(0 < n <= 60 for n in said[0]["held_out"].values())


@pytest.mark.slow
def test_a_resume_without_the_flag_is_refused(in_domain_run: dict[str, Any]) -> None:
    from mixopt.api import resume_search

    with pytest.raises(ConfigError, match="in_domain: True -> False"):
        resume_search(in_domain_run["out"], in_domain=False, quiet=True)


def test_the_cli_refuses_in_domain_where_it_cannot_be(
    study_inputs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mixopt.cli import main

    base = [
        "search",
        "--domains",
        study_inputs["domains"],
        "--model",
        study_inputs["model"],
        "--budget",
        "4k",
        "--in-domain",
        "--executor",
        "inprocess",
        "--quiet",
    ]
    assert main([*base, "--out", str(tmp_path / "a")]) == 2  # no --eval: leave-one-out
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "leave-one-out already scores on the domains' own records" in err[0], (
        err
    )
    tasks = tmp_path / "tasks.yaml"
    finance = Path(study_inputs["evaluator"]).parent / "finance.jsonl"
    tasks.write_text(f"tasks:\n  - name: in_domain\n    kind: loss\n    data: {finance}\n")
    assert main([*base, "--eval", str(tasks), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and "--in-domain adds a task named 'in_domain', and the task file has one" in err[0]
    ), err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_in_domain_joins_the_objectives_or_stands_beside_the_one_score(tmp_path: Path) -> None:
    from mixopt.evaluators.in_domain import with_in_domain
    from mixopt.evaluators.tasks import parse_suite

    def suite(**extra: Any) -> Any:
        tasks = [
            {"name": "sql", "kind": "loss", "data": "s.jsonl", "weight": 1.0},
            {"name": "fin", "kind": "loss", "data": "f.jsonl", "weight": 0},
        ]
        return parse_suite({"tasks": tasks, "intermediate": "fin", **extra}, tmp_path)

    one = with_in_domain(
        suite()
    )  # one scored task (its weight, with nothing to weigh against, dropped)
    assert (
        one.objectives == ("sql", "in_domain") and one.multi_objective and one.intermediate == "fin"
    )
    assert [t.weight for t in one.tasks] == [None, 0, None]
    both = parse_suite(
        {
            "tasks": [
                {"name": "a", "kind": "loss", "data": "a.jsonl"},
                {"name": "b", "kind": "loss", "data": "b.jsonl"},
            ],
            "objectives": ["b", "a"],
        },
        tmp_path,
    )
    assert with_in_domain(both).objectives == ("b", "a", "in_domain")
    weighted = parse_suite(
        {
            "tasks": [
                {"name": "a", "kind": "loss", "data": "a.jsonl", "weight": 1.0},
                {"name": "b", "kind": "loss", "data": "b.jsonl", "weight": 2.0},
            ]
        },
        tmp_path,
    )
    with pytest.raises(ConfigError, match="combines 2 weighted tasks") as caught:
        with_in_domain(weighted)
    assert len(caught.value.problems) == 1
