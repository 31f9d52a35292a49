"""What ``mixopt export`` writes: one frozen config, its fields the command's options (and
:func:`mixopt.export_mixture`'s keywords), each with its docstring as its help."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from mixopt.budget import parse_budget
from mixopt.errors import ConfigError
from mixopt.setting import is_int, setting

__all__ = ["ExportSpec"]

_STUDY = ("domains", "model", "mixture")  # what a study folder gives when they are not given


@dataclass(frozen=True)
class ExportSpec:
    """A mixture materialized at a budget, for the real fine-tune."""

    study: str | None = setting(None, metavar="STUDY", cli=False)
    """A study folder: its domains, model and best mixture (with its filter thresholds) are
    exported, unless domains, model or mixture are given."""
    domains: str | None = setting(None, metavar="FILE")
    """The domains file (domains.json) the mixture's domains come from (default: the study's)."""
    model: str | None = setting(None, metavar="MODEL")
    """Base model: a hub id or a local folder (its tokenizer defines what a token is; default:
    the study's)."""
    mixture: str | None = setting(None, metavar="FILE")
    """JSON: {"domain": share, ...}, or a best_mixture.json from a search (its filter
    thresholds are applied too; default: the study's best_mixture.json)."""
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
            f"mixopt export needs --{name}" + (" (or a study folder)" if name in _STUDY else "")
            for name in ("domains", "model", "mixture", "budget", "out")
            if getattr(self, name) is None and (self.study is None or name not in _STUDY)
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

    def from_study(self) -> ExportSpec:
        """This spec with what it leaves out taken from its study folder: the domains, the
        model, the cache and the study's ``best_mixture.json``; itself without a study."""
        if self.study is None:
            return self
        from mixopt.study.spec import default_model
        from mixopt.study.store import StudyStore

        store = StudyStore(self.study)
        held = store.read_spec()  # a folder without a study: one line
        best = store.path(store.BEST)
        if self.mixture is None and not best.is_file():
            raise ConfigError(
                f"{store.folder}: the study has no {store.BEST} yet (finish it with mixopt "
                "search --resume), or give --mixture"
            )
        domains = held.data.domains if isinstance(held.data.domains, str) else None
        return replace(
            self,
            domains=self.domains or domains,
            model=self.model or held.model.name or default_model()[0],
            mixture=self.mixture or str(best),
            cache_dir=self.cache_dir or held.data.cache_dir,
        )
