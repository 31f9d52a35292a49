"""The records of an export: the mixed records, each domain's records in a file of its own,
and the configs that train a tool on exactly those records."""

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
from mixopt.export.tool_configs import DOMAINS_DIR, mix_description, write_tool_configs
from mixopt.io import dir_mode, require_empty_dir, write_json_atomic

__all__ = ["write_mixture"]


def write_mixture(
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
    ``weights.json`` (token and record shares, and how the tools mix the files),
    ``manifest.json`` (per-domain tokens, records, epochs, seed, provenance), and the configs
    of :mod:`mixopt.export.tool_configs` (``llamafactory/``, ``axolotl.yaml``, ``interleave.py``),
    each of which trains on exactly the exported records. The allocation is exact (the
    domains' tokens sum to ``budget``); records are exported whole, so each domain's file holds
    its allocated tokens rounded up to its last whole record. Everything is written to a
    temporary folder first and renamed into place: ``out_dir`` exists only when complete.
    """
    from datasets import Dataset

    from mixopt.data.filtering import source_rows

    out = Path(out_dir)
    require_empty_dir(out)
    allocation = allocate(mixture, budget, domains)
    plans = plan_records(domains, allocation, seed)
    rows_by_domain = [
        [
            _tag(r, d.name)
            for r in load_records(d.spec, cache_dir).select(source_rows(d, idx).tolist()).to_list()
        ]
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
        mix = mix_description(counts, seed)  # one description, in weights.json and the manifest
        write_json_atomic(tmp / "weights.json", _weights(domains, allocation, mix))
        manifest = {**dict(provenance or {}), "budget": budget, "seed": seed, "records": len(rows)}
        write_json_atomic(
            tmp / "manifest.json",
            {**manifest, **_exported(domains, allocation, plans, counts, mix)},
        )
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _weights(
    domains: Sequence[TokenizedDomain], allocation: Allocation, mix: dict[str, Any]
) -> dict[str, Any]:
    """``weights.json``: the allocation's token shares and how the tool configs mix the files."""
    names = [d.name for d in domains]
    return {
        "domains": names,
        "token_shares": {n: allocation.tokens[n] / allocation.budget for n in names},
        "mix": mix,
    }


def _exported(
    domains: Sequence[TokenizedDomain],
    allocation: Allocation,
    plans: Sequence[Any],
    counts: Mapping[str, int],
    mix: dict[str, Any],
) -> dict[str, Any]:
    """The manifest's figures: per domain the tokens allocated and exported, records, epochs."""
    exported = [int(d.lengths()[idx].sum()) for d, (idx, _) in zip(domains, plans, strict=True)]
    return {
        "tokens_allocated": allocation.budget,
        "tokens_exported": sum(exported),
        # what is exact, and what is not, in one place
        "exact": "records: every tool config trains on exactly each domain's records; "
        "tokens: the allocation sums to the budget, and each domain's file holds its allocated "
        "tokens rounded up to its last whole record (tokens_exported - tokens < one record)",
        "domains": {
            d.name: {
                "tokens": allocation.tokens[d.name],
                "tokens_exported": n,
                "records": counts[d.name],
                "epochs": allocation.epochs[d.name],
                "format": d.format,
            }
            for d, n in zip(domains, exported, strict=True)
        },
        "mix": mix,
    }


def _tag(record: dict[str, Any], domain: str) -> dict[str, Any]:
    # the domain goes under "domain"; a record that has its own keeps it, ours goes beside it
    key = "domain" if "domain" not in record else "mixopt_domain"
    return {key: domain, **record}
