"""CI runs each benchmark's --quick smoke: it must run and print its table (no timing asserts).
Modules named with a leading underscore are shared code, not scripts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
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


class _Toy:
    """A 4-domain problem whose noise sd depends on the mixture, so a trial scored with another
    draw, or at another mixture than the one recorded, shows."""

    name, k = "toy", 4
    upper = np.array([1.0, 1.0, 0.6, 1.0])
    natural = np.array([0.4, 0.3, 0.2, 0.1])

    def value(self, r: np.ndarray) -> float:
        return float(-np.sum((r - np.array([0.1, 0.2, 0.3, 0.4])) ** 2))

    def noise_sd(self, r: np.ndarray) -> float:
        return 0.01 + 0.05 * float(r[0])


def _methods_module() -> Any:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import _methods
    finally:
        sys.path.remove(str(BENCHMARKS))
    return _methods


@pytest.mark.parametrize("method", [m.name for m in _methods_module().all_methods()])
def test_every_method_runs_the_shared_protocol(method: str) -> None:
    """The comparison is fair by construction only if every method, random search included,
    starts with the two baselines, scores its i-th trial with the i-th shared noise draw, and
    gets exactly n trials: this fails if any method skips the baselines, draws other noise, or
    runs another number of trials."""
    methods = _methods_module()
    toy, n = _Toy(), 12
    z = np.random.default_rng(7).standard_normal(n)
    search = methods.run(methods.Method(method), toy, n, seed=3, z=z, budgets=(8, n))
    assert len(search.xs) == len(search.ys) == n, method
    for got, want in zip(search.xs[:2], methods.baselines(toy), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6, err_msg=method)
    for i, (x, y) in enumerate(zip(search.xs, search.ys, strict=True)):
        assert y == pytest.approx(toy.value(x) + z[i] * toy.noise_sd(x), abs=1e-9), (method, i)
        assert x.sum() == pytest.approx(1.0) and np.all(x <= toy.upper + 1e-9), (method, i)
    assert set(search.recommended) == {8, n}, method
