"""What ``mixopt export`` writes: one frozen config, its fields the command's options (and
:func:`mixopt.export_mixture`'s keywords), each with its docstring as its help."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mixopt.budget import parse_budget
from mixopt.errors import ConfigError
from mixopt.setting import is_int, setting

__all__ = ["ExportSpec"]


@dataclass(frozen=True)
class ExportSpec:
    """A mixture materialized at a budget, for the real fine-tune."""

    domains: str | None = setting(None, metavar="FILE", required=True)
    """The domains file (domains.json) the mixture's domains come from."""
    model: str | None = setting(None, metavar="MODEL", required=True)
    """Base model: a hub id or a local folder (its tokenizer defines what a token is)."""
    mixture: str | None = setting(None, metavar="FILE", required=True)
    """JSON: {"domain": share, ...}, or a best_mixture.json from a search (its filter
    thresholds are applied too)."""
    budget: int | None = setting(None, parse=parse_budget, metavar="TOKENS", required=True)
    """Token budget of the export, e.g. 5M (usually larger than the search's)."""
    out: str | None = setting(None, metavar="DIR", required=True)
    """Output folder (must not exist or be empty)."""
    seed: int = 0
    """Sampling seed."""
    cache_dir: str | None = setting(None, metavar="DIR")
    """Where tokenized domains are cached (default: $MIXOPT_CACHE_DIR or ~/.cache/mixopt)."""

    def __post_init__(self) -> None:
        problems = [
            f"mixopt export needs --{name.replace('_', '-')}"
            for name in ("domains", "model", "mixture", "budget", "out")
            if getattr(self, name) is None
        ]
        if self.budget is not None and not (is_int(self.budget) and self.budget > 0):
            problems.append("budget must be a positive number of tokens")
        if not is_int(self.seed):
            problems.append(f"seed must be an integer, got {self.seed!r}")
        if problems:
            raise ConfigError(problems)

    @classmethod
    def from_options(cls, **options: Any) -> ExportSpec:
        """A spec from its fields' names; text values are parsed as the CLI parses them
        (``budget="5M"``). Unknown names are refused, every problem at once."""
        from mixopt.setting import parse_options

        return cls(**parse_options(cls, options))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
