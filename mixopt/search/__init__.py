"""The search, in four sub-packages by role:

- :mod:`~mixopt.search.orchestration`: the driver's side, from the checks before the first
  trial to the results (the study loop, early stopping, confirmation runs, faults, progress);
- :mod:`~mixopt.search.proposals`: the search space and the samplers that propose in it;
- :mod:`~mixopt.search.executors`: what runs a study's jobs (Ray Tune, or in-process);
- :mod:`~mixopt.search.tracking`: MLflow.

The settings are a :class:`~mixopt.study.spec.StudySpec`; the API that runs a study and
writes its report is :mod:`mixopt.api`."""

from __future__ import annotations

from mixopt.search.orchestration.prepared import PreparedStudy
from mixopt.search.orchestration.results import SearchResult
from mixopt.search.orchestration.study import prepare_study, run_study
from mixopt.search.proposals.space import SearchSpace, load_space

__all__ = [
    "PreparedStudy",
    "SearchResult",
    "SearchSpace",
    "load_space",
    "prepare_study",
    "run_study",
]
