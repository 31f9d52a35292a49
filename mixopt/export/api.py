"""``export_mixture``: a mixture materialized at a budget, with the configs that train
LLaMA-Factory, Axolotl and ``datasets`` on exactly its records (``mixopt export``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixopt.export.spec import ExportSpec

if TYPE_CHECKING:
    from mixopt.data.tokenize import TokenizedDomain
    from mixopt.events import EventLog

__all__ = ["export_mixture"]


def export_mixture(
    spec: ExportSpec | None = None,
    *,
    quiet: bool = False,
    events: str | Path | EventLog | None = None,
    **options: Any,
) -> Path:
    """Sample ``mixture`` from ``domains`` at ``budget`` tokens and write it to ``out``
    (:func:`mixopt.export.records.write_mixture` lists the files); return the folder.

    ``options`` are :class:`ExportSpec` fields (``study="my-study"``, or
    ``domains="domains.json"``, ``model=...``, ``mixture="study/best_mixture.json"``; and
    ``budget="5M"``, ``out="mixed"``, ``seed``, ``cache_dir``) and override ``spec``'s. A study
    folder gives its domains, model and best mixture, unless given. A ``best_mixture.json``
    from a search brings its filter thresholds: the export keeps what they keep. ``quiet``:
    no progress lines on stderr; ``events``: a file to append the JSON-lines event log to (or
    an open log). Raises :class:`~mixopt.errors.ConfigError` (one line a problem) on bad
    options, and :class:`~mixopt.errors.InfeasibleMixtureError` on a budget the mixture
    cannot fill.

    Example::

        mixopt.export_mixture(study="my-study", budget="5M", out="mixed")
    """
    from mixopt.events import EventLog
    from mixopt.export.records import write_mixture
    from mixopt.io import read_mixture, require_empty_dir

    spec = ExportSpec.from_options(**{**(spec.to_dict() if spec else {}), **options}).from_study()
    log = events if isinstance(events, EventLog) else _log(events, quiet)
    assert spec.mixture and spec.budget and spec.out and spec.domains and spec.model
    mixture = read_mixture(spec.mixture)
    out = Path(spec.out)
    require_empty_dir(out)
    domains, filters = _domains(spec, log)
    log.emit(
        "export_started",
        f"sampling {spec.budget:,} tokens and writing {out}...",
        out=str(out.resolve()),
        budget=spec.budget,
        mixture=mixture,
        seed=spec.seed,
    )
    path = write_mixture(
        domains,
        mixture,
        spec.budget,
        out,
        seed=spec.seed,
        provenance=_provenance(spec, mixture, filters),
        cache_dir=spec.cache_dir,
    )
    manifest = json.loads((path / "manifest.json").read_text())
    log.emit(
        "export_done",
        None,
        out=str(path.resolve()),
        records=manifest["records"],
        tokens=manifest["tokens_exported"],
        domains=manifest["domains"],
    )
    return path


def _log(events: str | Path | None, quiet: bool) -> EventLog:
    from mixopt.events import EventLog

    return EventLog([events] if events is not None else [], quiet=quiet)


def _domains(
    spec: ExportSpec, events: EventLog
) -> tuple[tuple[TokenizedDomain, ...], dict[str, Any] | None]:
    """The tokenized domains (cached), cut to what a search's filter thresholds keep."""
    from mixopt.data.spec import load_domains
    from mixopt.data.tokenize import tokenize_domains
    from mixopt.models import load_tokenizer

    assert spec.domains and spec.model and spec.mixture
    tokenizer = load_tokenizer(spec.model)
    specs = load_domains(spec.domains)
    domains = tuple(tokenize_domains(specs, tokenizer, spec.cache_dir, events=events))
    filters = _filters(spec.mixture)
    if not filters:
        return domains, None
    from mixopt.data.filtering import filter_domains
    from mixopt.scorers.cache import score_domains

    only = filters["space"].scorers_by_domain([d.name for d in domains])
    settings, model = filters["settings"], filters["model"]
    scores = score_domains(domains, settings, model, spec.cache_dir, events, only, tokenizer)
    return tuple(filter_domains(domains, scores, filters["values"])), filters


def _provenance(
    spec: ExportSpec, mixture: dict[str, float], filters: dict[str, Any] | None
) -> dict[str, Any]:
    """What the manifest records of where the export came from."""
    from mixopt._version import __version__

    assert spec.domains
    return {
        "mixopt_version": __version__,
        "tokenizer": spec.model,
        **({"study": str(Path(spec.study).resolve())} if spec.study else {}),
        "domains_file": str(Path(spec.domains).resolve()),
        "mixture": mixture,
        **({"filters": filters["values"]} if filters else {}),
    }


def _filters(path: str) -> dict[str, Any] | None:
    """The filter thresholds of a search's ``best_mixture.json`` (None for a plain mixture file),
    with the space they were searched in and the model its scores were computed with."""
    from mixopt.search.proposals.filters import FilterSpace

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not data.get("filters"):
        return None
    space = FilterSpace.from_dict(data["space"]["filters"])
    return {
        "values": data["filters"],
        "settings": dict(space.settings),
        "space": space,
        "model": data["model"],
    }
