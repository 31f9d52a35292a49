"""The study spec: one declaration of every setting, read the same from Python, files and
the command line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from mixopt.cli import build_parser
from mixopt.errors import ConfigError
from mixopt.setting import field_docs
from mixopt.study.spec import StudySpec, flat_fields, part_of
from mixopt.training.config import TrainConfig


def test_every_setting_has_a_docstring_and_one_flat_name() -> None:
    fields = flat_fields()
    assert len(fields) == sum(
        len(dataclasses.fields(part_of(p))) for p in {p for p, _ in fields.values()}
    )
    for part, f in fields.values():
        assert field_docs(part_of(part)).get(f.name), f"{part}.{f.name} has no docstring"


def test_every_setting_is_an_option_of_search_with_its_help() -> None:
    parser = build_parser()
    search = next(a for a in parser._subparsers._actions if a.dest == "command").choices["search"]  # type: ignore[union-attr]
    options = {a.dest: a for a in search._actions}
    for flat in flat_fields():
        assert flat in options, f"no option for {flat}"
        assert options[flat].help and "None" not in options[flat].help, flat
    assert options["learning_rate"].option_strings == ["--learning-rate", "--lr"]
    assert options["evaluator"].option_strings == ["--eval", "--evaluator"]  # the Python name too
    assert "(default: gp)" in options["sampler"].help and "(default: 0)" in options["seed"].help


def test_options_build_the_same_spec_as_python() -> None:
    args = build_parser().parse_args(
        [
            "search",
            "--budget",
            "50k",
            "--lr",
            "1e-3",
            "--trials",
            "4",
            "--target-modules",
            "q_proj,v_proj",
            "--allow-pickle",
            "--early-stop",
            "off",
        ]
    )
    from mixopt.cli._spec import given_settings

    spec = StudySpec().replace(**given_settings(args))
    assert spec == StudySpec().replace(
        budget=50_000,
        learning_rate=1e-3,
        trials=4,
        allow_pickle=True,
        target_modules=("q_proj", "v_proj"),
        early_stop="off",
    )
    assert spec.train == TrainConfig(learning_rate=1e-3, target_modules=("q_proj", "v_proj"))


def test_round_trip_through_json() -> None:
    spec = StudySpec().replace(
        domains="d.json",
        model="m",
        evaluator="t.yaml",
        budget="1.5k",
        seed=3,
        baselines={"mine": {"a": 1.0}},
        trial_timeout=9.5,
        target_modules=("x",),
    )
    assert StudySpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.search.budget == 1500 and spec.search.baselines == (("mine", {"a": 1.0}),)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as exc:
        StudySpec.from_dict(
            {
                "serch": {},
                "search": {"trails": 3, "budget": "5q", "confirm": -1},
                "train": {"lora_rank": 0},
                "execution": {"trial_timeout": 0},
            }
        )
    problems = exc.value.problems
    assert any("unknown section 'serch'. Did you mean: search?" in p for p in problems)
    assert any("unknown key search.trails. Did you mean: trials?" in p for p in problems)
    assert any("search.budget" in p and "5q" in p for p in problems)
    assert any("lora_rank must be a positive integer" in p for p in problems)
    assert any("trial_timeout must be a positive number" in p for p in problems)
    with pytest.raises(ConfigError, match=r"unknown setting 'trails'. Did you mean: trials?"):
        StudySpec().replace(trails=3)


def test_a_study_file_names_files_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "domains.json").write_text("[]")
    (tmp_path / "conf" / "tasks.yaml").write_text("tasks: []")
    path = tmp_path / "conf" / "study.yaml"
    path.write_text(
        "data: {domains: domains.json}\nmodel: {name: some/model}\nscoring: {evaluator: tasks.yaml}\n"
        "search: {budget: 2k, trials: 3}\ntrain: {learning_rate: 0.001}\n"
    )
    spec = StudySpec.load(path)
    assert spec.data.domains == str(tmp_path / "conf" / "domains.json")
    assert spec.scoring.evaluator == str(tmp_path / "conf" / "tasks.yaml")
    assert (
        spec.model.name == "some/model"
        and spec.search.budget == 2000
        and spec.train.learning_rate == 1e-3
    )


def test_identity_leaves_out_what_may_change_on_resume() -> None:
    a = StudySpec().replace(budget=100, seed=1)
    b = a.replace(
        concurrency=4, executor="inprocess", tracking_uri="none", device="cpu", cache_dir="/x"
    )
    assert a.identity() == b.identity()
    assert a.identity() != a.replace(trials=3).identity()


def test_a_resumed_study_may_change_only_what_does_not_define_its_trials() -> None:
    from mixopt.study.spec import may_change_on_resume

    held = StudySpec().replace(budget=100, seed=1)
    asked = held.replace(trials=32, confirm=3, device="cpu", concurrency=2, budget=200)
    assert asked.differences(held) == ["budget: 100 -> 200", "trials: 16 -> 32", "confirm: 2 -> 3"]
    assert asked.differences(held, on_resume=True) == ["budget: 100 -> 200"]
    assert all(
        may_change_on_resume(k) for k in ("trials", "confirm", "device", "executor", "tracking_uri")
    )
    assert not any(
        may_change_on_resume(k) for k in ("budget", "seed", "sampler", "startup_trials", "model")
    )


def test_the_local_paths_a_spec_names_are_kept_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny").mkdir()
    spec = StudySpec().replace(
        domains="d.json", evaluator="held.jsonl", out="o", model="tiny", cache_dir="c"
    )
    held = spec.absolute()
    assert (held.data.domains, held.scoring.evaluator, held.output.out) == (
        str(tmp_path / "d.json"),
        str(tmp_path / "held.jsonl"),  # a data file read as a loss task, as a task file is
        str(tmp_path / "o"),
    )
    assert (held.model.name, held.data.cache_dir) == (str(tmp_path / "tiny"), str(tmp_path / "c"))
    hub = StudySpec().replace(model="org/name", evaluator="pkg.mod:evaluator").absolute()
    assert (hub.model.name, hub.scoring.evaluator) == ("org/name", "pkg.mod:evaluator")
