"""A study a user can fix and grow, through the CLI: a refused run leaves no folder behind,
``--resume OUT`` may add trials and change how trials run (and saves what it changed), and
refuses, naming each, the changes that would make it another study."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from mixopt.cli import main
from mixopt.trial import TrialResult, TrialSpec
from tests.conftest import FAST_TRAIN
from tests.support.runners import trivial_result


def _argv(inputs: dict[str, Any], out: Path, *extra: str) -> list[str]:
    train = [x for k, v in FAST_TRAIN.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    return [
        "search",
        "--domains",
        inputs["domains"],
        "--model",
        inputs["model"],
        "--eval",
        inputs["evaluator"],
        "--budget",
        "2k",
        "--confirm",
        "0",
        "--early-stop",
        "off",
        "--executor",
        "inprocess",
        "--tracking-uri",
        "none",
        "--out",
        str(out),
        "--quiet",
        *train,
        *extra,
    ]


def _errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [
        line for line in capsys.readouterr().err.splitlines() if line.startswith("mixopt: error: ")
    ]


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_a_run_refused_in_its_setup_leaves_the_folder_as_it_was(
    study_inputs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study"
    assert main(_argv(study_inputs, out, "--trials", "0", "--sampler", "nosuch.mod:X")) == 2
    assert "nosuch.mod" in _errors(capsys)[0]
    assert not out.exists()
    # storage that cannot be created fails once the folder exists: what was made goes again
    bad = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'study.db'}"
    nested = tmp_path / "new" / "study"
    assert main(_argv(study_inputs, nested, "--trials", "0", "--storage", bad)) == 2
    assert "cannot open the study" in _errors(capsys)[0]
    assert not (tmp_path / "new").exists()  # nor the parent folder it made
    out.mkdir()  # a folder the user made stays, empty
    assert main(_argv(study_inputs, out, "--trials", "0", "--storage", bad)) == 2
    assert out.is_dir() and not any(out.iterdir())


@pytest.mark.slow
def test_a_finished_study_grows_and_keeps_what_resume_changed(
    study_inputs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study"
    assert main(_argv(study_inputs, out, "--trials", "0", "--sampler", "nosuch.mod:X")) == 2
    assert main(_argv(study_inputs, out, "--trials", "0")) == 0  # the corrected command runs
    assert json.loads((out / "results.json").read_text())["counts"]["trials"] == 2
    capsys.readouterr()

    # the same command again: the study is there and finished; it says how to grow it
    assert main(_argv(study_inputs, out, "--trials", "0")) == 2
    assert f"add trials with mixopt search --resume {out} --trials N" in _errors(capsys)[0]
    assert main(_argv(study_inputs, out, "--trials", "2")) == 2
    assert (
        f"holds this study with other settings (trials: 0 -> 2); change them with mixopt search "
        f"--resume {out} --trials 2"
    ) in _errors(capsys)[0]
    assert main(_argv(study_inputs, out, "--trials", "0", "--seed", "3", "--budget", "3k")) == 2
    assert "holds a different study (its budget: 2000 -> 3000; seed: 0 -> 3)" in _errors(capsys)[0]
    before = _tree(out)
    assert (
        main(["search", "--resume", str(out), "--budget", "3k", "--seed", "3", "--trials", "1"])
        == 2
    )
    assert _errors(capsys) == [
        f"mixopt: error: {out}: a resumed study cannot change what its trials are "
        "(budget: 2000 -> 3000; seed: 0 -> 3); start a new study with another --out to change it"
    ]
    assert _tree(out) == before

    assert (
        main(["search", "--resume", str(out), "--trials", "1", "--device", "cpu", "--quiet"]) == 0
    )
    err = capsys.readouterr().err
    # gp's 8 random start-up trials cover all 3 (the baselines count): said even under --quiet
    assert "warning: --trials 1 is fewer than the 8 random start-up trials of gp" in err
    assert "use --trials 7 or more, or --startup-trials N" in err
    results = json.loads((out / "results.json").read_text())
    assert results["counts"] == {"trials": 3, "complete": 3}
    assert [t["role"] for t in results["trials"]][-1] == "search"
    spec = json.loads((out / "study.json").read_text())["spec"]
    assert spec["search"]["trials"] == 1 and spec["train"]["device"] == "cpu"
    best = json.loads((out / "best_mixture.json").read_text())
    assert best["spec"]["search"]["trials"] == 1
    assert (out / "report" / "index.html").is_file()


@pytest.mark.slow
def test_a_study_whose_every_trial_failed_runs_them_again_once_fixed(
    study_inputs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study"
    # a time limit no trial can meet: a setup that fails every trial, so the study stops
    assert (
        main(
            _argv(
                study_inputs,
                out,
                "--trials",
                "1",
                "--sampler",
                "random",
                "--trial-timeout",
                "0.001",
            )
        )
        == 2
    )
    assert "the first 3 trials all failed" in _errors(capsys)[0]
    assert main(["search", "--resume", str(out), "--trial-timeout", "600", "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["counts"] == {"trials": 3, "complete": 3}  # the failed ones ran again
    assert sorted(t["role"] for t in results["trials"]) == [
        "baseline:natural",
        "baseline:uniform",
        "search",
    ]
    assert json.loads((out / "study.json").read_text())["spec"]["execution"]["trial_timeout"] == 600


@dataclasses.dataclass(frozen=True)
class LearningRateTrial:
    """Scores a trial by its learning rate (no training): the best is the fastest learner."""

    def __call__(self, spec: TrialSpec, report: Any = None) -> TrialResult:
        return trivial_result(spec, 0.0, spec.train.learning_rate + 1e-6 * spec.seed)


def test_a_grown_study_confirms_the_baselines_again_at_its_new_best_knobs(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    from mixopt import optimize_mixture, resume_search

    space, out = tmp_path / "space.yaml", tmp_path / "s"
    space.write_text("train:\n  learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}\n")
    options = {
        "executor": "inprocess",
        "tracking_uri": "none",
        "quiet": True,
        "runner": LearningRateTrial(),
    }
    first = optimize_mixture(
        study_inputs["model"],
        study_inputs["domains"],
        study_inputs["evaluator"],
        budget="2k",
        trials=0,
        confirm=1,
        sampler="random",
        space=str(space),
        out=str(out),
        **options,
    )
    grown = resume_search(out, trials=6, **options)
    old, new = (
        next(t for t in r.trials if t.mixture == r.best.mixture and t.score == r.best.search_score)
        for r in (first, grown)
    )
    assert new.train != old.train  # the precondition: growing found a better learning rate
    assert len(grown.trials) == 8 and len(first.trials) == 2
    kept: dict[tuple[str, int], dict[str, Any]] = {}
    for line in (out / "confirm.jsonl").read_text().splitlines():  # the last run of each counts
        run = json.loads(line)
        kept[(run["name"], run["seed"])] = run
    assert {name for name, _ in kept} >= {"uniform", "natural"}
    assert all(run["train"] == new.train for run in kept.values())
    assert grown.baselines["uniform"].confirmed == (kept[("uniform", 1)]["score"],)


def test_a_grown_study_goes_on_from_its_best_score_not_from_none(
    study_inputs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study"
    assert main(_argv(study_inputs, out, "--trials", "0")) == 0
    best = max(t["score"] for t in json.loads((out / "results.json").read_text())["trials"])
    capsys.readouterr()
    assert main(["search", "--resume", str(out), "--trials", "1"]) == 0
    first = next(line for line in capsys.readouterr().err.splitlines() if "start  trial" in line)
    # the resumed run's first line: the 2 baselines done, and the study's best so far
    assert first.startswith("[  2/3]") and f"best score {best:.4f}" in first, first
