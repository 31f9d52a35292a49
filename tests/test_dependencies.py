"""The installed packages are the versions pyproject.toml declares: a CI box (or a user's
environment) with something else fails here, by name, rather than somewhere deep in a study."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _requirements() -> tuple[list[Requirement], list[Requirement]]:
    """(the dependencies, the extras' dependencies), for this platform."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return (
        [r for r in map(Requirement, project["dependencies"]) if _applies(r)],
        [r for r in map(Requirement, extras) if _applies(r)],
    )


def _applies(req: Requirement) -> bool:
    return req.marker is None or req.marker.evaluate({"extra": ""})


def _mismatch(req: Requirement) -> str | None:
    installed = version(req.name)
    if req.specifier.contains(installed, prereleases=True):
        return None
    return f"{req.name} {installed} is installed; pyproject.toml declares {req}"


def test_installed_dependencies_are_within_the_declared_bounds() -> None:
    required, _ = _requirements()
    missing, wrong = [], []
    for req in required:
        try:
            problem = _mismatch(req)
        except PackageNotFoundError:
            missing.append(req.name)
            continue
        if problem:
            wrong.append(problem)
    assert not missing, f"not installed: {', '.join(missing)}"
    assert not wrong, "\n".join(wrong)


def test_installed_extras_are_within_the_declared_bounds() -> None:
    """Extras need not be installed, but one that is must be a version they allow."""
    _, extras = _requirements()
    wrong = []
    for req in extras:
        try:
            problem = _mismatch(req)
        except PackageNotFoundError:
            continue
        if problem:
            wrong.append(problem)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", ["optuna", "ray", "mlflow", "transformers", "peft"])
def test_the_fast_moving_dependencies_have_an_upper_bound(name: str) -> None:
    """Each is capped at the release after the one CI has run (see the comments there)."""
    required, _ = _requirements()
    (req,) = [r for r in required if r.name == name]
    assert any(s.operator == "<" for s in req.specifier), req
    assert any(s.operator == ">=" for s in req.specifier), req
