"""The report of real studies: written at the end of a search, rewritten on demand, readable
when the study was interrupted, and never the reason a study's results are lost."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest

from mixopt.cli import main
from mixopt.report import write_report

pytestmark = pytest.mark.slow

EVERY_FIGURE = {
    "comparison.png",
    "history.png",
    "shares.png",
    "importances.png",
    "simplex.png",
    "metrics.png",
    "cost.png",
}


def check_png(path: Path) -> None:
    """A real image of a readable size with something drawn on it (not one flat color)."""
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000, path
    with Image.open(path) as img:
        assert img.width >= 500 and img.height >= 300, (path, img.size)
        colors = img.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colors is not None and len(colors) > 50, path


def linked_images(page: Path) -> set[str]:
    return set(re.findall(r"<img src='([^']+)'", page.read_text()))


def test_a_search_writes_its_report_and_logs_it_to_mlflow(three_domain_study: Path) -> None:
    from mlflow.tracking import MlflowClient

    folder = three_domain_study / "report"
    page = folder / "index.html"
    assert page.is_file()
    assert linked_images(page) == EVERY_FIGURE == {p.name for p in folder.glob("*.png")}
    for name in EVERY_FIGURE:
        check_png(folder / name)
    text = page.read_text()
    saved = json.loads((three_domain_study / "best_mixture.json").read_text())
    assert html.escape(saved["verdict"]) in text  # the sentence, as saved
    for baseline in ("uniform", "natural"):
        # the verdict and lift over both baselines, as saved, with the interval over 2 seeds
        lift = saved["lifts"][baseline]
        assert (
            f"Over {baseline}: <b>{lift['verdict']}</b>, {lift['lift']:+.4f} [95% interval "
            f"{lift['low']:+.4f}, {lift['high']:+.4f}] ± "
        ) in text
        assert "over 2 paired fresh seeds" in text
    assert "Parameter importances need" not in text and "not finished" not in text

    client = MlflowClient(f"sqlite:///{three_domain_study / 'mlflow.db'}")
    parent = client.search_runs(
        [client.get_experiment_by_name("mixopt").experiment_id],
        filter_string="tags.`mixopt.kind` = 'study'",
    )[0]
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert {f"report/{n}" for n in EVERY_FIGURE | {"index.html"}} <= logged


def test_the_cli_rewrites_the_report(
    three_domain_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "study"
    shutil.copytree(three_domain_study, copy)
    shutil.rmtree(copy / "report")
    assert main(["report", str(copy), "--top", "2"]) == 0
    saved = json.loads((copy / "best_mixture.json").read_text())
    assert capsys.readouterr().out.strip().splitlines() == [
        f"wrote {copy / 'report' / 'index.html'}",
        saved["verdict"] + ".",  # what the study found, in the words it saved
    ]
    assert linked_images(copy / "report" / "index.html") == EVERY_FIGURE


def test_four_domains_without_enough_trials_for_importances(four_domain_study: Path) -> None:
    page = four_domain_study / "report" / "index.html"
    images = linked_images(page)
    # 3 completed trials: a note instead of an importance plot; everything else is drawn
    assert images == EVERY_FIGURE - {"importances.png"}
    assert not (four_domain_study / "report" / "importances.png").exists()
    for name in images:
        check_png(four_domain_study / "report" / name)
    text = page.read_text()
    assert "Parameter importances need at least 5 completed trials; this study has 3." in text
    # no confirmation runs: the lift is stated, from single runs
    assert re.search(
        r"Over uniform: <b>within noise</b>, [+-]\d\.\d{4} \(single runs: no spread\)", text
    )
    assert "Over natural: <b>" in text and "not confirmed on fresh seeds" in text


def test_an_interrupted_study_reports_what_it_holds(
    four_domain_study: Path, tmp_path: Path
) -> None:
    import optuna

    copy = tmp_path / "study"
    shutil.copytree(four_domain_study, copy)
    shutil.rmtree(copy / "report")
    for name in ("best_mixture.json", "results.json"):
        (copy / name).unlink()
    # what a killed driver leaves: a trial Optuna handed out and never heard back from
    optuna.load_study(study_name="mixopt", storage=f"sqlite:///{copy / 'study.db'}").ask()
    page = write_report(copy)
    text = page.read_text()
    assert "The study has not finished" in text and "1 running" in text
    for name in linked_images(page):
        check_png(copy / "report" / name)


def test_a_failing_report_is_a_warning_and_the_results_stay(
    three_domain_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mixopt.api import write_report_quietly

    copy = tmp_path / "study"
    shutil.copytree(three_domain_study, copy)
    shutil.rmtree(copy / "report")
    (copy / "report").write_text("in the way")  # the report folder cannot be made
    assert write_report_quietly(copy) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: the report was not written (")
    assert err[0].endswith(f"retry with: mixopt report {copy}")
    assert json.loads((copy / "best_mixture.json").read_text())["best_mixture"]
