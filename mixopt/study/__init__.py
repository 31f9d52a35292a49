"""A study as data: its spec (what to run), its store (the folder and the Optuna study it
holds) and its summary (the best mixture and the lift over the baselines). Nothing here
imports the search machinery, so a finished study can be read anywhere."""

from __future__ import annotations

from mixopt.study.spec import (
    DataSpec,
    ExecutionSpec,
    ModelSpec,
    OutputSpec,
    ScoringSpec,
    SearchSpec,
    StudySpec,
)
from mixopt.study.store import StudyStore
from mixopt.study.summary import Candidate, Confirmation, Lift, Summary, summarize
from mixopt.study.trials import TrialRecord

__all__ = [
    "Candidate",
    "Confirmation",
    "DataSpec",
    "ExecutionSpec",
    "Lift",
    "ModelSpec",
    "OutputSpec",
    "ScoringSpec",
    "SearchSpec",
    "StudySpec",
    "StudyStore",
    "Summary",
    "TrialRecord",
    "summarize",
]
