"""The transfer check (``mixopt transfer OUT --budget B``) and repetition-matched proxies
(``--target-budget``): on a copy of the shared real study, and on small studies of trivial
trials where training is not the point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mixopt import optimize_mixture, transfer_check
from mixopt.cli import main
from mixopt.errors import MixoptError
from mixopt.trial import TrialResult, TrialSpec
from tests.support.runners import WaitingTrial


def test_cli_transfer_on_a_copy_of_the_shared_study(
    three_domain_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Real trials at twice the study's budget: the best and both baselines on one fresh
    seed, written to best_mixture.json, confirm.jsonl and the report, and printed."""
    copy = tmp_path / "study"
    shutil.copytree(three_domain_study, copy)
    before = (copy / "confirm.jsonl").read_text().splitlines()
    args = [
        "transfer",
        str(copy),
        "--budget",
        "6k",
        "--seeds",
        "1",
        "--executor",
        "inprocess",
        "--tracking-uri",
        "none",
        "--quiet",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "At budget 6k (mean of 1 fresh seed" in out and "of the study's lift" in out
    lines = [json.loads(x) for x in (copy / "confirm.jsonl").read_text().splitlines()]
    assert lines[: len(before)] == [
        json.loads(x) for x in before
    ]  # the study's own runs stay as they were
    assert {x["budget"] for x in lines[len(before) :]} == {6000}
    answer = json.loads((copy / "best_mixture.json").read_text())
    entry = answer["transfer"]["6000"]
    assert (
        len(entry["seeds"]) == 1
        and entry["baselines"]
        and set(entry["baselines"]) <= {"uniform", "natural"}
    )
    for name, kept in entry["retained"].items():
        own = answer["lift"][name]
        assert kept is None if own <= 0 else kept == pytest.approx(entry["lift"][name] / own)
    # the study's own answer is unchanged by the runs at another budget
    assert (
        answer["score"]
        == json.loads((three_domain_study / "best_mixture.json").read_text())["score"]
    )
    assert "Transfer to budget 6k" in (copy / "report" / "index.html").read_text()


@pytest.fixture(scope="module")
def trivial_study(study_inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished study of trivial trials (closeness to uniform): the baselines and two
    searched trials at 2k tokens, one fresh seed each, MLflow in the folder. Shared by this
    module's tests: each leaves confirm.jsonl as it found it, or with its own budget's runs."""
    root = tmp_path_factory.mktemp("transfer")
    out = root / "trivial"
    # a cache of its own: built before the per-test cache is set
    optimize_mixture(
        study_inputs["model"],
        study_inputs["domains"],
        study_inputs["evaluator"],
        budget="2k",
        trials=2,
        confirm=1,
        sampler="random",
        executor="inprocess",
        runner=WaitingTrial(),
        out=str(out),
        quiet=True,
        cache_dir=str(root / "cache"),
    )
    return out


def test_confirm_tags_runs_under_the_parent_and_resumes(trivial_study: Path) -> None:
    # the trivial runner is not saved with the study: the API takes it again
    t = transfer_check(
        trivial_study, "3k", seeds=2, executor="inprocess", runner=WaitingTrial(), quiet=True
    )
    runs = [json.loads(x) for x in (trivial_study / "confirm.jsonl").read_text().splitlines()]
    at = [r for r in runs if r["budget"] == 3000]
    names = {r["name"] for r in at}
    # the study's answer (a searched trial's runs are named after it) and both baselines
    assert {"uniform", "natural"} <= names and t.baselines
    assert all(n.startswith("trial-") for n in names - {"uniform", "natural"})
    assert len(at) == 2 * len({(r["name"], r["source"]) for r in at})  # two fresh seeds each
    record = json.loads((trivial_study / "study.json").read_text())
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{trivial_study / 'mlflow.db'}")
    children = client.search_runs(
        [client.get_experiment_by_name("mixopt").experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{record['parent_run_id']}' and tags.`mixopt.budget` = '3000'",
    )
    assert len(children) == len(at)
    # killed before its last run was recorded: the rerun trains only that one
    lines = (trivial_study / "confirm.jsonl").read_text().splitlines()
    (trivial_study / "confirm.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    counter = _Counting(str(trivial_study.parent / "calls"))
    transfer_check(trivial_study, "3k", seeds=2, executor="inprocess", runner=counter, quiet=True)
    assert len(list(Path(counter.folder).iterdir())) == 1
    assert len((trivial_study / "confirm.jsonl").read_text().splitlines()) == len(lines)


def test_bad_budgets_are_refused_before_anything_runs(
    trivial_study: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (trivial_study / "confirm.jsonl").read_text()
    cases = {
        "100M": "the largest budget every checked mixture fits is",
        "2k": "the budget the study chose its answer at",
        "lots": "not a token count",
    }
    for budget, said in cases.items():
        assert (
            main(
                [
                    "transfer",
                    str(trivial_study),
                    "--budget",
                    budget,
                    "--executor",
                    "inprocess",
                    "--quiet",
                ]
            )
            == 2
        )
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and said in err[0], err
    assert main(["transfer", str(trivial_study), "--budget", "3k", "--seeds", "0", "--quiet"]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert (trivial_study / "confirm.jsonl").read_text() == before


class _Counting:
    """A trivial trial that leaves one file per call in ``folder``."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def __call__(self, spec: TrialSpec, report: Any = None) -> TrialResult:
        import uuid

        Path(self.folder).mkdir(exist_ok=True)
        (Path(self.folder) / uuid.uuid4().hex).touch()
        return WaitingTrial()(spec, report)


def test_target_budget_cuts_each_pool_by_the_ratio_and_keeps_the_budget_exact(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    from mixopt.data.allocation import allocate
    from mixopt.data.sampling import sample_mixture
    from mixopt.search.orchestration.study import prepare_study
    from mixopt.study.spec import StudySpec

    spec = StudySpec().replace(
        model=study_inputs["model"],
        domains=study_inputs["domains"],
        evaluator=study_inputs["evaluator"],
        budget="2k",
        target_budget="8k",
        out=str(tmp_path / "s"),
    )
    study = prepare_study(spec)
    assert not (tmp_path / "s").exists()  # prepared, nothing written
    cut, whole = study.context.trial.domains, study.pools
    for c, w in zip(cut, whole, strict=True):
        longest = int(w.lengths().max())
        assert (
            w.num_tokens / 4 <= c.num_tokens < w.num_tokens / 4 + longest
        )  # shrunk by the ratio, to within a record
        assert c.num_records == len(c.rows) == len(c.lengths()) and c.num_tokens == int(
            c.lengths().sum()
        )
        assert set(c.table().column("length").to_pylist()) <= set(
            w.table().column("length").to_pylist()
        )
    uniform = dict(study.baselines)["uniform"]
    sample = sample_mixture(cut, uniform, 2000, seed=3)
    assert len(sample.input_ids) == 2000  # the budget stays exact
    proxy, target = allocate(uniform, 2000, cut).epochs, allocate(uniform, 8000, whole).epochs
    for name in proxy:  # the proxy repeats each domain as the target run would
        assert proxy[name] == pytest.approx(target[name], rel=0.1)
    again = prepare_study(spec).context.trial.domains
    assert all((a.rows == b.rows).all() for a, b in zip(cut, again, strict=True))  # a fixed seed
    with pytest.raises(MixoptError, match="target_budget"):
        StudySpec().replace(budget="8k", target_budget="2k")


def test_validate_shows_the_epochs_at_proxy_and_target(
    study_inputs: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    base = [
        "validate",
        "--domains",
        study_inputs["domains"],
        "--model",
        study_inputs["model"],
        "--budget",
        "2k",
    ]
    assert main([*base, "--target-budget", "20k"]) == 0
    out, err = capsys.readouterr()
    assert "proxy @ 2k" in out and "target @ 20k" in out and "with --target-budget 20k" in out
    assert "warning:" in err and "--target-budget 20k" in err  # 10x the repetition at the proxy
    assert main([*base, "--target-budget", "3k"]) == 0
    assert "warning" not in capsys.readouterr().err  # 1.5x: close enough
    assert main([*base, "--target-budget", "100M"]) == 2
    assert "more than the data can fill" in capsys.readouterr().err


def test_every_failed_run_of_the_answer_ends_the_check_in_one_line(
    study_inputs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The answer's runs at the other budget all fail (the baselines' complete): one line
    naming the answer, its runs' error and what to do, exit 2; every run is kept and the
    study's own answer is left as it was."""
    out = tmp_path / "study"
    search = ["search", "--domains", study_inputs["domains"], "--model", study_inputs["model"]]
    search += ["--plan", "tests.support.runners:PeakedPlan", "--budget", "1k", "--trials", "1"]
    search += ["--confirm", "1", "--sampler", "random", "--seed", "0", "--executor", "inprocess"]
    assert main([*search, "--out", str(out), "--quiet"]) == 0
    answer = json.loads((out / "best_mixture.json").read_text())
    assert max(answer["best_mixture"].values()) > 0.4  # a searched trial, which fails past 1k
    before = (out / "confirm.jsonl").read_text()
    capsys.readouterr()
    args = ["transfer", str(out), "--budget", "2k", "--seeds", "1", "--executor", "inprocess"]
    assert main([*args, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    line = err[0]
    assert line.startswith("mixopt: error: every run of the study's answer (trial 2) at budget 2k")
    assert "RuntimeError: a 0.42 share does not fit 2000 tokens" in line
    assert f"mixopt transfer {out} --budget" in line  # what to do
    runs = (out / "confirm.jsonl").read_text()
    assert runs.startswith(before)  # the study's own runs stay as they were
    made = [json.loads(x) for x in runs[len(before) :].splitlines()]
    assert sorted((r["name"], r["error"] is None) for r in made) == [
        ("natural", True),
        ("trial-002", False),
        ("uniform", True),
    ]
    assert json.loads((out / "best_mixture.json").read_text()) == answer
