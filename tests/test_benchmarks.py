"""CI runs each benchmark's --quick smoke: it must run and print its table (no timing asserts).
Modules named with a leading underscore are shared code, not scripts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import unavailable

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
# scripts that take --model: their smoke fine-tunes (driver_scale.py: tokenizes with) the
# suite's tiny model instead of pre-training one of its own
TAKE_MODEL = (
    "data_hyperparameters.py",
    "demo_problem.py",
    "driver_scale.py",
    "leave_one_out.py",
    "search_overhead.py",
    "transfer.py",
)
# code_suite.py's smoke reads installed Debian packages; it exits with this status (and the
# reason) where they are not installed, and the smoke is then skipped
UNAVAILABLE = {"code_suite.py": 75}


@pytest.mark.slow
@pytest.mark.parametrize(
    "script", sorted(p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))
)
def test_benchmark_quick_smoke(script: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    model = (
        ["--model", str(request.getfixturevalue("tiny_model_dir"))] if script in TAKE_MODEL else []
    )
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", *model],
        cwd=tmp_path,  # what a script writes (e.g. cached scores) stays out of the checkout
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode == UNAVAILABLE.get(script):
        unavailable(done.stderr.strip()[-500:])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "figure" in done.stdout and " x " in done.stdout  # the table, with its ratios


def test_every_benchmark_module_imports() -> None:
    """The scripts import each other's code (``_trials``, ``_methods``, ``demo_problem``...):
    one interpreter imports them all, in seconds, so a name moved or renamed fails here, before
    the minutes of the smokes."""
    names = sorted(p.stem for p in BENCHMARKS.glob("*.py"))
    code = "import importlib, sys; sys.path[:0] = sys.argv[1:3]\nfor n in sys.argv[3:]: importlib.import_module(n)"
    done = subprocess.run(
        [sys.executable, "-c", code, str(BENCHMARKS), str(BENCHMARKS.parent / "examples"), *names],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_ci_installs_the_packages_the_code_suite_smoke_reads() -> None:
    """``.ci/run`` installs every Debian package ``code_suite.py --quick`` reads: without one
    the smoke cannot run, and CI (which fails a test for a missing service) would fail."""
    import importlib.util
    import re

    spec = importlib.util.spec_from_file_location("code_suite", BENCHMARKS / "code_suite.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("code_suite", module)
    spec.loader.exec_module(module)
    needed = {pkg for lang in module.QUICK_LANGS.values() for pkg in lang.packages}
    ci = (BENCHMARKS.parent / ".ci" / "run").read_text()
    listed = re.search(r"for pkg in ([^;]+); do", ci)
    assert listed is not None and set(listed.group(1).split()) == needed
