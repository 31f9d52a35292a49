"""Materialize a mixture for the real fine-tune: the mixed records, and the weights in the
form ``datasets.interleave_datasets`` takes."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mixopt.data.allocation import Allocation, allocate
from mixopt.data.sampling import document_order, plan_records
from mixopt.data.sources import load_records
from mixopt.data.tokenize import TokenizedDomain
from mixopt.data.tool_configs import DOMAINS_DIR, record_shares, write_tool_configs
from mixopt.io import dir_mode, require_empty_dir, write_json_atomic

__all__ = ["export_mixture", "interleave_probabilities"]


def interleave_probabilities(
    domains: Sequence[TokenizedDomain], allocation: Allocation
) -> dict[str, float]:
    """Per-*record* probabilities that give the allocation's per-*token* shares.

    ``interleave_datasets`` picks records, not tokens: a domain of long records needs a
    smaller record probability for the same token share, p_i ∝ tokens_i / mean_record_length_i.
    """
    raw = {d.name: allocation.tokens[d.name] / (d.num_tokens / d.num_records) for d in domains}
    total = sum(raw.values())
    return {k: v / total for k, v in raw.items()}


def export_mixture(
    domains: Sequence[TokenizedDomain],
    mixture: Mapping[str, float],
    budget: int,
    out_dir: str | Path,
    seed: int = 0,
    provenance: Mapping[str, Any] | None = None,
    cache_dir: str | None = None,
) -> Path:
    """Write the sampled records of ``mixture`` at ``budget`` to ``out_dir``.

    Files: ``mixture.jsonl`` (one record a line, with its ``domain``), ``dataset/`` (the same
    as a ``datasets.save_to_disk`` folder), ``domains/NAME.jsonl`` (each domain's records),
    ``weights.json`` (token shares, record shares, and ``interleave_datasets`` probabilities
    for the whole domains), ``manifest.json`` (per-domain tokens, records, epochs, seed,
    provenance), and the configs of :mod:`mixopt.data.tool_configs` (``llamafactory/``,
    ``axolotl.yaml``, ``interleave.py``). Records are exported whole, so the last record drawn from
    each domain adds up to one record's tokens past the budget. Everything is written to a
    temporary folder first and renamed into place: ``out_dir`` exists only when complete.
    """
    from datasets import Dataset

    out = Path(out_dir)
    require_empty_dir(out)
    allocation = allocate(mixture, budget, domains)
    plans = plan_records(domains, allocation, seed)
    rows_by_domain = [
        [_tag(r, d.name) for r in load_records(d.spec, cache_dir).select(idx.tolist()).to_list()]
        for d, (idx, _) in zip(domains, plans, strict=True)
    ]
    order = document_order([len(r) for r in rows_by_domain], seed)
    rows = [rows_by_domain[i][j] for i, j in order.tolist()]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp"))
    os.chmod(tmp, dir_mode())  # mkdtemp makes it private; an export is an ordinary folder
    try:
        with open(tmp / "mixture.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        Dataset.from_list(rows).save_to_disk(str(tmp / "dataset"))
        (tmp / DOMAINS_DIR).mkdir()
        for d, domain_rows in zip(domains, rows_by_domain, strict=True):
            if domain_rows:
                with open(tmp / DOMAINS_DIR / f"{d.name}.jsonl", "w", encoding="utf-8") as fh:
                    fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in domain_rows)
        counts = {d.name: len(r) for d, r in zip(domains, rows_by_domain, strict=True)}
        write_tool_configs(tmp, out.resolve(), domains, counts, seed)
        write_json_atomic(tmp / "weights.json", _weights(domains, allocation, counts, budget, seed, len(rows)))
        manifest = {**dict(provenance or {}), "budget": budget, "seed": seed, "records": len(rows)}
        write_json_atomic(tmp / "manifest.json", {**manifest, **_exported(domains, allocation, plans)})
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _weights(
    domains: Sequence[TokenizedDomain], allocation: Allocation, counts: Mapping[str, int], budget: int, seed: int,
    total: int,
) -> dict[str, Any]:  # fmt: skip
    """``weights.json``: token shares, record shares, ``interleave_datasets`` probabilities."""
    names = [d.name for d in domains]
    probs = interleave_probabilities(domains, allocation)
    drawn = [n for n in names if allocation.tokens[n] > 0]  # interleave refuses a 0 probability
    return {
        "domains": names,
        "token_shares": {n: allocation.tokens[n] / budget for n in names},
        # over the exported files under domains/ (what the tool configs use)
        "record_shares": record_shares(counts),
        "interleave_datasets": {
            "datasets": drawn,
            "kwargs": {"probabilities": [probs[n] for n in drawn], "seed": seed, "stopping_strategy": "all_exhausted"},
            "take": total,
        },
    }


def _exported(domains: Sequence[TokenizedDomain], allocation: Allocation, plans: Sequence[Any]) -> dict[str, Any]:
    """The manifest's figures: tokens exported, and per domain tokens, records and epochs."""
    lengths = [d.lengths() for d in domains]
    return {
        "tokens_exported": int(sum(ln[idx].sum() for ln, (idx, _) in zip(lengths, plans, strict=True))),
        "domains": {
            d.name: {"tokens": allocation.tokens[d.name], "records": len(idx), "epochs": allocation.epochs[d.name],
                     "format": d.format}
            for d, (idx, _) in zip(domains, plans, strict=True)
        },
    }  # fmt: skip


def _tag(record: dict[str, Any], domain: str) -> dict[str, Any]:
    # the domain goes under "domain"; a record that has its own keeps it, ours goes beside it
    key = "domain" if "domain" not in record else "mixopt_domain"
    return {key: domain, **record}
