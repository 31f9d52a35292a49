"""The study record: what ``study.json`` holds, as one typed value.

It says what the study is (its spec and search space, as JSON), which mixopt wrote it, and
what a resume needs (the Optuna study's name in a shared storage, the MLflow parent run).
:class:`~mixopt.study.store.StudyStore` reads and writes it; nothing else touches the file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mixopt.errors import ConfigError

if TYPE_CHECKING:
    from mixopt.study.spec import StudySpec

__all__ = ["StudyRecord"]


@dataclass(frozen=True)
class StudyRecord:
    """One study's ``study.json``."""

    spec: Mapping[str, Any]
    """The study spec, nested (:meth:`StudySpec.to_dict`; no password)."""
    space: Mapping[str, Any]
    """The search space (:meth:`SearchSpace.to_dict`)."""
    mixopt_version: str
    """The mixopt that created the study."""
    tokenizer: str | None = None
    """The model whose tokenizer defines the study's tokens."""
    evaluator_is_reference: bool = True
    """The evaluator was a file or ``module:attr`` (a resume finds it again), not an object
    (a resume must be given it again)."""
    parent_run_id: str | None = None
    """The study's MLflow parent run, once opened."""
    study_name: str | None = None
    """The Optuna study's name in a storage other studies may share (None: the folder's own
    SQLite, where it is always ``mixopt``)."""

    def study_spec(self, origin: str) -> StudySpec:
        """The spec as a :class:`StudySpec`; ``origin`` names the file in errors."""
        from mixopt.study.spec import StudySpec

        return StudySpec.from_dict(self.spec, origin)

    def replace(self, **changes: Any) -> StudyRecord:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: Any, origin: str) -> StudyRecord:
        """Read a record (a one-line :class:`ConfigError` for anything that is not one)."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{origin}: not a study record")
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [n for n in ("spec", "space", "mixopt_version") if n not in raw]
        if missing:
            raise ConfigError(f"{origin}: not a study record (no {', '.join(missing)})")
        if not isinstance(raw["spec"], dict) or not isinstance(raw["space"], dict):
            raise ConfigError(f"{origin}: not a study record (spec and space must be mappings)")
        return cls(**{k: v for k, v in raw.items() if k in names})
