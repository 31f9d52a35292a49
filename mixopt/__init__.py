"""mixopt: find the domain mixture that makes a fine-tuned LLM generalize best.

``import mixopt`` is cheap: torch, ray, mlflow and transformers load only when a function
that needs them runs.
"""

from __future__ import annotations

from importlib import metadata

from mixopt.budget import parse_budget
from mixopt.errors import ConfigError, InfeasibleMixtureError, MixoptError

try:
    __version__ = metadata.version("mixopt")
except metadata.PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "ConfigError",
    "InfeasibleMixtureError",
    "MixoptError",
    "__version__",
    "optimize_mixture",
    "parse_budget",
    "resume_search",
]


def __getattr__(name: str) -> object:
    # the search API loads on first use, so `import mixopt` stays light
    if name in ("optimize_mixture", "resume_search"):
        from mixopt.search import api

        return getattr(api, name)
    raise AttributeError(f"module 'mixopt' has no attribute {name!r}")
