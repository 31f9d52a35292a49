"""Warm start: a new study seeded with the shared finished study's completed trials: reused as
they are where it trained under the same settings (the same domains, a superset, a subset),
refused in one line where it did not, a prior only with --warm-start-any, and never imported
twice when the new study resumes. New studies score with a stand-in trial (training is not
the point here); the earlier study is the shared one, trained for real."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mixopt import optimize_mixture, resume_search
from mixopt.cli import main
from mixopt.events import EventLog
from mixopt.search.orchestration.study import prepare_study
from mixopt.study.spec import StudySpec
from mixopt.study.store import StudyStore
from mixopt.study.trials import TrialRecord
from mixopt.testing import make_records
from mixopt.trial import TrialResult, TrialSpec
from tests.conftest import FAST_TRAIN
from tests.support.runners import trivial_result

LOW = -100.0  # far below the shared study's scores (negative held-out losses of a few units)


def low_score(spec: TrialSpec, report: Any = None) -> TrialResult:
    """A stand-in trial that scores every mixture far below the earlier study's trials."""
    return trivial_result(spec, 0.0, LOW)


@pytest.fixture
def old(three_domain_study: Path, tmp_path: Path) -> Path:
    """A copy of the shared study (5 completed trials: 2 baselines, 3 searched)."""
    return Path(shutil.copytree(three_domain_study, tmp_path / "old"))


def _settings(inputs: dict[str, Any], out: Path) -> dict[str, Any]:
    """The shared study's settings, in-process and untracked, with no searched trial."""
    return {
        "model": inputs["model"],
        "domains": inputs["domains"],
        "evaluator": inputs["evaluator"],
        "budget": "4k",
        **FAST_TRAIN,
        "trials": 0,
        "confirm": 0,
        "sampler": "random",
        "early_stop": "off",
        "executor": "inprocess",
        "tracking_uri": "none",
        "out": str(out),
    }


def _study(inputs: dict[str, Any], out: Path, **options: Any) -> Any:
    spec = StudySpec().replace(**{**_settings(inputs, out), **options})
    return optimize_mixture(spec=spec, quiet=True, runner=low_score)


def _domains(
    inputs: dict[str, Any], tmp_path: Path, names: list[str], new: str | None = None
) -> str:
    """A domains file naming some of the shared study's domains (the same files), and ``new``."""
    src = Path(inputs["domains"])
    entries = [
        dict(e, path=str((src.parent / e["path"]).resolve()))
        for e in json.loads(src.read_text())
        if e["domain"] in names
    ]
    if new is not None:
        (tmp_path / f"{new}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in make_records(new, 600, seed=1))
        )
        entries.append({"domain": new, "path": str(tmp_path / f"{new}.jsonl")})
    path = tmp_path / f"domains-{len(entries)}.json"
    path.write_text(json.dumps(entries))
    return str(path)


def _reused(trials: tuple[TrialRecord, ...]) -> list[TrialRecord]:
    return [t for t in trials if t.reused]


def test_the_same_study_reuses_every_trial_its_best_is_confirmed_here_and_resuming_imports_nothing_twice(
    study_inputs: dict[str, Any], old: Path, tmp_path: Path
) -> None:
    held = {t.number: t for t in StudyStore(old).trials()}
    out = tmp_path / "new"
    result = _study(study_inputs, out, warm_start=[str(old)], confirm=1, tracking_uri=None)
    reused = _reused(result.trials)
    assert sorted(t.origin["trial"] for t in reused) == sorted(held)  # type: ignore[index]
    for t in reused:
        before = held[t.origin["trial"]]  # type: ignore[index]
        assert t.score == before.score and t.mixture == pytest.approx(before.mixture)
        assert t.origin == {
            "study": str(old),
            "trial": before.number,
            "role": before.role,
            "how": "reused",
        }
        assert t.baseline is None  # the baselines are this study's own
    own = [t for t in result.trials if not t.reused]
    assert sorted(t.role for t in own) == [
        "baseline:natural",
        "baseline:uniform",
    ]  # --trials 0: only the baselines ran
    assert {t.score for t in own} == {LOW}
    # the earlier study's best is the best here, and this study re-ran it on its own fresh seed
    best_old = max(held.values(), key=lambda t: t.score or LOW)
    assert result.best.search_score == best_old.score and result.best.confirmed == (LOW,)
    rows = json.loads((out / "results.json").read_text())["trials"]
    assert sum(r["warm_from"] is not None for r in rows) == len(held)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs(
        [client.get_experiment_by_name("mixopt").experiment_id], max_results=100
    )
    tags = [r.data.tags.get("mixopt.warm_from") for r in runs]
    assert sum(bool(t) for t in tags) == len(held) and f"reused from {old} trial 0" in tags
    from mixopt.report.data import gather
    from mixopt.report.page import render

    data = gather(out)
    assert data.label(next(t for t in data.trials if t.reused)).endswith(
        f"reused: old trial {reused[0].origin['trial']})"
    )  # type: ignore[index]
    page = render(data, [])
    assert "<h2>Warm start</h2>" in page and "reused 5 of its 5 completed trials" in page
    # resumed, it grows by its own trials and imports nothing twice
    result = resume_search(out, trials=1, quiet=True, runner=low_score, tracking_uri="none")
    assert len(_reused(result.trials)) == 5
    assert [t.role for t in result.trials if not t.reused].count("search") == 1
    assert result.counts() == {
        "trials": 8,
        "complete": 8,
        "reused": 5,
    }  # 5 reused + 2 baselines + 1 searched


def test_a_superset_maps_at_share_0_and_a_subset_drops_what_trained_on_the_missing_domain(
    study_inputs: dict[str, Any], old: Path, tmp_path: Path
) -> None:
    more = _domains(study_inputs, tmp_path, ["finance", "cooking", "sports"], new="code")
    result = _study(study_inputs, tmp_path / "more", domains=more, warm_start=[str(old)])
    reused = _reused(result.trials)
    assert len(reused) == 5 and all(t.mixture["code"] == 0.0 for t in reused)
    notes = [
        json.loads(line) for line in (tmp_path / "more" / "events.jsonl").read_text().splitlines()
    ]
    said = [e["text"] for e in notes if e["event"] == "warm_start"]
    assert said == [
        f"warm start from {old}: reused 5 of its 5 completed trials; 'code' (new here) at share 0"
    ]

    # a subset: every earlier trial drew on sports; checked before anything is written
    fewer = _domains(study_inputs, tmp_path, ["finance", "cooking"])
    spec = StudySpec().replace(
        **{
            **_settings(study_inputs, tmp_path / "fewer"),
            "domains": fewer,
            "trials": 2,
            "warm_start": [str(old)],
        }
    )
    warm = prepare_study(spec, events=EventLog(quiet=True)).warm
    assert not warm.reused and not warm.priors
    assert warm.notes == (
        f"warm start from {old}: reused 0 of its 5 completed trials; left out 5 that trained on "
        "'sports' (not in this study); --warm-start-any re-trains those as first proposals",
    )
    # with --warm-start-any they are a prior: the best first, at most half of --trials, renormalized
    warm = prepare_study(spec.replace(warm_start_any=True), events=EventLog(quiet=True)).warm
    best_old = max(StudyStore(old).trials(), key=lambda t: t.score or LOW)
    assert [t.origin["trial"] for t in warm.priors] == [best_old.number]
    total = best_old.mixture["finance"] + best_old.mixture["cooking"]
    assert warm.priors[0].mixture["finance"] == pytest.approx(
        best_old.mixture["finance"] / total, abs=1e-6
    )
    assert not (tmp_path / "fewer").exists()


def test_a_study_trained_under_other_settings_is_refused_in_one_line(
    study_inputs: dict[str, Any], old: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = [x for k, v in FAST_TRAIN.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    out = tmp_path / "new"
    argv = [
        "search",
        "--domains",
        study_inputs["domains"],
        "--model",
        study_inputs["model"],
        "--eval",
        study_inputs["evaluator"],
        "--trials",
        "0",
        "--executor",
        "inprocess",
        "--out",
        str(out),
        *train,
    ]
    assert (
        main([*argv, "--budget", "5k", "--warm-start", str(old), "--warm-start", str(tmp_path)])
        == 2
    )
    errors = [
        line for line in capsys.readouterr().err.splitlines() if line.startswith("mixopt: error: ")
    ]
    assert errors == [
        f"mixopt: error: --warm-start {old}: trained under other settings (budget: 4000 -> 5000); its scores "
        "are no evidence here: pass --warm-start-any to re-train its mixtures as first proposals",
        f"mixopt: error: --warm-start {tmp_path}: {tmp_path}: not a mixopt study folder (no study.json)",
    ]
    assert not out.exists()  # refused before anything was written
    assert main([*argv, "--budget", "4k", "--learning-rate", "1e-3", "--warm-start", str(old)]) == 2
    assert "(learning_rate: 0.003 -> 0.001)" in capsys.readouterr().err


def test_warm_start_any_retrains_the_best_mixtures_of_a_mismatched_study_first(
    study_inputs: dict[str, Any], old: Path, tmp_path: Path
) -> None:
    result = _study(
        study_inputs,
        tmp_path / "new",
        budget="5k",
        warm_start=[str(old)],
        warm_start_any=True,
        trials=2,
    )
    assert not _reused(result.trials)
    held = sorted(StudyStore(old).trials(), key=lambda t: -(t.score or LOW))
    priors = sorted((t for t in result.trials if t.origin is not None), key=lambda t: t.number)
    # right after the baselines, the earlier study's best (half of --trials 2), re-trained here
    assert (
        [t.number for t in priors] == [2]
        and priors[0].state == "COMPLETE"
        and priors[0].score == LOW
    )
    assert priors[0].origin["trial"] == held[0].number and priors[0].origin["how"] == "prior"  # type: ignore[index]
    assert (
        result.counts()["trials"] == 4
    )  # 2 baselines + 2 searched: the prior is one of this study's trials


def test_a_study_that_filters_reuses_nothing_as_it_is(
    study_inputs: dict[str, Any], old: Path, tmp_path: Path
) -> None:
    # thresholds are not mapped between studies: the earlier mixtures are a prior at most
    space = tmp_path / "filtered.yaml"
    space.write_text("mixture: {}\nfilters:\n  length: {max: 100000}\n")
    spec = StudySpec().replace(
        **{
            **_settings(study_inputs, tmp_path / "f"),
            "space": str(space),
            "trials": 2,
            "warm_start": [str(old)],
        }
    )
    warm = prepare_study(spec, events=EventLog(quiet=True)).warm
    assert not warm.reused and "left out 5 outside this study's bounds" in warm.notes[0]
    warm = prepare_study(spec.replace(warm_start_any=True), events=EventLog(quiet=True)).warm
    assert not warm.reused and warm.priors


def test_a_transfer_check_counts_only_the_study_s_own_trials(
    study_inputs: dict[str, Any], old: Path, tmp_path: Path
) -> None:
    """A warm-started study grown by two searched trials that have not run yet has not
    finished, however many earlier trials it reused: the transfer check refuses it in one
    line and runs nothing."""
    from mixopt import transfer_check
    from mixopt.errors import ConfigError

    out = tmp_path / "new"
    _study(study_inputs, out, warm_start=[str(old)])  # the baselines, and 5 trials reused
    record = json.loads((out / "study.json").read_text())
    record["spec"]["search"]["trials"] = 2  # grown (--resume --trials 2), stopped before either ran
    (out / "study.json").write_text(json.dumps(record))
    with pytest.raises(ConfigError, match=r"has not finished \(2 trials still to run\)"):
        transfer_check(out, "6k", seeds=1, executor="inprocess", runner=low_score, quiet=True)
    assert not (out / "confirm.jsonl").exists()
