"""mixopt: find the domain mixture that makes a fine-tuned LLM generalize best.

``import mixopt`` is cheap: torch, ray, mlflow and transformers load only when a function
that needs them runs.
"""

from __future__ import annotations

from mixopt._version import __version__
from mixopt.budget import parse_budget
from mixopt.errors import ConfigError, InfeasibleMixtureError, MixoptError

__all__ = [
    "ConfigError",
    "InfeasibleMixtureError",
    "MixoptError",
    "__version__",
    "cluster_domains",
    "export_mixture",
    "optimize_mixture",
    "parse_budget",
    "resume_search",
    "transfer_check",
]


def __getattr__(name: str) -> object:
    # the search API loads on first use, so `import mixopt` stays light
    if name in ("optimize_mixture", "resume_search", "transfer_check"):
        from mixopt import api

        return getattr(api, name)
    if name == "export_mixture":  # loads the export code (not datasets) on first use
        from mixopt.export import api as export_api

        return export_api.export_mixture
    if name == "cluster_domains":  # loads the clustering code (not scikit-learn) on first use
        from mixopt.cluster import api as cluster_api

        return cluster_api.cluster_domains
    raise AttributeError(f"module 'mixopt' has no attribute {name!r}")
