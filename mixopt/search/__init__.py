"""The search: Optuna proposals, trials on an executor (Ray Tune), early stopping, MLflow
tracking, confirmation, resume. The settings are a :class:`~mixopt.study.spec.StudySpec`;
the API that runs a study and writes its report is :mod:`mixopt.api`."""

from __future__ import annotations

from mixopt.search.results import SearchResult
from mixopt.search.space import SearchSpace, load_space
from mixopt.search.study import Study, prepare_study, run_study

__all__ = ["SearchResult", "SearchSpace", "Study", "load_space", "prepare_study", "run_study"]
