from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mixopt.cli import main
from mixopt.cli.ls import KINDS, Kind
from mixopt.cluster import CLUSTERERS
from mixopt.evaluators import EVALUATORS
from mixopt.registry import Registry
from mixopt.scorers import SCORERS
from mixopt.search.executors import EXECUTORS
from mixopt.search.proposals.samplers import SAMPLERS
from mixopt.search.proposals.space import BUILTIN_SPACES
from mixopt.search.tracking import TRACKERS
from mixopt.study.spec import DEFAULT_SAMPLER


def _rows(text: str) -> dict[str, str]:
    """``  name  description`` lines, by name."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("  "):
            name, _, description = line.strip().partition("  ")
            rows[name] = description.strip()
    return rows


def test_ls_lists_every_builtin_with_a_description(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls"]) == 0
    text = capsys.readouterr().out
    rows = _rows(text)
    spaces = [p.stem for p in BUILTIN_SPACES.glob("*.yaml")]
    expected = [*EVALUATORS.names(), *SAMPLERS.names(), *spaces]
    assert spaces and set(expected) <= set(rows)
    assert all(rows[name] for name in expected)  # each has its one line
    assert rows[DEFAULT_SAMPLER].endswith("(default)") and rows["default"].endswith("(default)")
    assert (
        rows["cmaes"].endswith("one objective only") and "nsga2" in rows
    )  # what takes several objectives
    assert text.index("evaluators") < text.index("samplers") < text.index("spaces")


def test_ls_lists_every_kind_with_what_each_part_declares(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["ls"]) == 0
    text = capsys.readouterr().out
    headings = [line.split(" (")[0] for line in text.splitlines() if line and line[0] != " "]
    assert headings == list(KINDS) and {"clusterers", "executors", "trackers"} <= set(KINDS)
    rows = _rows(text)
    expected = [*SCORERS.builtins(), *CLUSTERERS.names(), *EXECUTORS.names(), *TRACKERS.names()]
    assert set(expected) <= set(rows) and all(rows[name] for name in expected)
    assert all(rows[n].endswith("(default)") for n in ("kmeans", "ray", "mlflow"))
    assert rows["inprocess"] and not rows["none"].endswith("(default)")
    # capabilities, as each part declares them
    assert rows["gp"].endswith("; logratio simplex, random start-up, several objectives (default)")
    assert rows["surrogate"].endswith("needs attach(simplex), one objective only")
    assert rows["qmc"].endswith("; exponential simplex, several objectives")
    assert rows["ifd"].endswith("; uses the base model, prompt/completion and chat records only")
    assert "uses the base model" not in rows["length"]


WIDGETS: Registry[object] = Registry("widget", "mixopt.widgets", {"cog": lambda: "a cog"})


def test_a_kind_is_one_row_of_the_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    widgets = Kind(f"{__name__}:WIDGETS", "what turns", "--widget NAME")
    monkeypatch.setitem(KINDS, "widgets", widgets)
    assert main(["ls", "widgets"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("widgets (--widget NAME):") and "cog" in _rows(text)


def test_ls_one_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "spaces"]) == 0
    text = capsys.readouterr().out
    assert "spaces" in text and "samplers" not in text and "mixture_and_lr" in _rows(text)
    with pytest.raises(SystemExit):
        main(["ls", "models"])
    assert "invalid choice" in capsys.readouterr().err


def test_ls_shows_installed_plugins_and_imports_nothing_heavy(tmp_path: Path) -> None:
    # a real installed distribution (dist-info on the path) adding a sampler by entry point
    dist = tmp_path / "mixopt_plug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mixopt-plug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[mixopt.samplers]\nmine = mixopt_plug:make\n")
    code = (
        "import sys\nfrom mixopt.cli import main\nmain(['ls'])\n"
        "heavy = ('torch', 'ray', 'mlflow', 'transformers', 'optuna', 'datasets', 'data_juicer')\n"
        "print('LOADED:' + ','.join(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert _rows(out)["mine"] == "plugin mixopt_plug:make from mixopt-plug"
    assert out.strip().splitlines()[-1] == "LOADED:"
