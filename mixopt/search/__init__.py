"""The search: Optuna proposals, Ray Tune trials, early stopping, MLflow tracking, resume."""

from __future__ import annotations

from mixopt.search.api import optimize_mixture, resume_search
from mixopt.search.config import SearchConfig
from mixopt.search.results import Candidate, SearchResult, TrialRecord
from mixopt.search.space import SearchSpace, load_space

__all__ = [
    "Candidate",
    "SearchConfig",
    "SearchResult",
    "SearchSpace",
    "TrialRecord",
    "load_space",
    "optimize_mixture",
    "resume_search",
]
