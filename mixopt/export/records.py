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
from mixopt.export.fields import FieldPlan, plan_fields, trained_fields, write_dataset
from mixopt.export.tool_configs import (
    DOMAINS_DIR,
    keep_whole,
    mix_description,
    write_tool_configs,
)
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
    records as a ``datasets.save_to_disk`` folder, every field of every domain),
    ``domains/NAME.jsonl`` (each domain's records), ``weights.json`` (token and record shares,
    and how the tools mix the files), ``manifest.json`` (per-domain tokens, records, epochs,
    longest record, seed, provenance, how fields were written), and the configs of
    :mod:`mixopt.export.tool_configs` (``llamafactory/``, ``axolotl.yaml``, ``interleave.py``),
    each of which trains on exactly the exported records, whole. The allocation is exact (the
    domains' tokens sum to ``budget``); records are exported whole, so each domain's file holds
    its allocated tokens rounded up to its last whole record (a domain allocated fewer tokens
    than one record holds gets that one record, as a trial draws it). All records share one
    schema (:mod:`mixopt.export.fields`). Everything is written to a temporary folder first and
    renamed into place: ``out_dir`` exists only when complete.
    """
    out = Path(out_dir)
    require_empty_dir(out)
    allocation = allocate(mixture, budget, domains)
    plans = plan_records(domains, allocation, seed)
    rows_by_domain, fields = _domain_rows(domains, plans, cache_dir)
    order = document_order([len(r) for r in rows_by_domain], seed).tolist()
    rows = [rows_by_domain[i][j] for i, j in order]
    counts = {d.name: len(r) for d, r in zip(domains, rows_by_domain, strict=True)}
    figures = _exported(domains, allocation, plans, counts)
    mixed = [(domains[i], rows_by_domain[i][j]) for i, j in order]  # stage pt reads one file
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp"))
    os.chmod(tmp, dir_mode())  # mkdtemp makes it private; an export is an ordinary folder
    try:
        _write_records(tmp, domains, rows, rows_by_domain)
        mix = mix_description(counts, seed)  # one description, in weights.json and the manifest
        whole = keep_whole(figures["longest_record_tokens"])
        write_tool_configs(tmp, out.resolve(), domains, counts, seed, whole, mixed)
        write_json_atomic(tmp / "weights.json", _weights(domains, allocation, mix))
        manifest = {**dict(provenance or {}), "budget": budget, "seed": seed, "records": len(rows)}
        manifest.update(figures, mix=mix, keep_whole=whole, fields=fields.to_dict())
        write_json_atomic(tmp / "manifest.json", manifest)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _domain_rows(
    domains: Sequence[TokenizedDomain], plans: Sequence[Any], cache_dir: str | None
) -> tuple[list[list[dict[str, Any]]], FieldPlan]:
    """Each domain's drawn records, tagged with their domain, in one schema."""
    from mixopt.data.filtering import source_rows

    raw = [
        [
            _tag(r, d.name)
            for r in load_records(d.spec, cache_dir).select(source_rows(d, idx).tolist()).to_list()
        ]
        for d, (idx, _) in zip(domains, plans, strict=True)
    ]
    fields = plan_fields(
        {d.name: r for d, r in zip(domains, raw, strict=True)},
        {d.name: trained_fields(d.format, d.spec) for d in domains},
        [d.name for d in domains if d.format == "chat"],
    )
    rows = [[fields.apply(r, d.name) for r in rs] for d, rs in zip(domains, raw, strict=True)]
    return rows, fields


def _write_records(
    folder: Path,
    domains: Sequence[TokenizedDomain],
    rows: Sequence[dict[str, Any]],
    rows_by_domain: Sequence[Sequence[dict[str, Any]]],
) -> None:
    """``mixture.jsonl``, ``dataset/`` and ``domains/NAME.jsonl``."""
    with open(folder / "mixture.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    write_dataset(rows, str(folder / "dataset"))
    (folder / DOMAINS_DIR).mkdir()
    for d, domain_rows in zip(domains, rows_by_domain, strict=True):
        if domain_rows:
            with open(folder / DOMAINS_DIR / f"{d.name}.jsonl", "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in domain_rows)


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


TINY_SHARES = (
    "a domain allocated fewer tokens than one record holds gets that one whole record (a "
    "trial draws it too, cut to the allocated tokens); a domain allocated 0 tokens gets no "
    "records and no file. Such domains are marked below_one_record"
)


def _exported(
    domains: Sequence[TokenizedDomain],
    allocation: Allocation,
    plans: Sequence[Any],
    counts: Mapping[str, int],
) -> dict[str, Any]:
    """The manifest's figures: per domain the tokens allocated and exported, records, epochs,
    the longest record, and whether its share was below one record."""
    lengths = [d.lengths()[idx] for d, (idx, _) in zip(domains, plans, strict=True)]
    exported = [int(n.sum()) for n in lengths]
    longest = [int(n.max()) if len(n) else 0 for n in lengths]
    return {
        "tokens_allocated": allocation.budget,
        "tokens_exported": sum(exported),
        # what is exact, and what is not, in one place
        "exact": "records: every tool config trains on exactly each domain's records, whole "
        "(cutoff_len / sequence_len keep the longest); tokens: the allocation sums to the "
        "budget, and each domain's file holds its allocated tokens rounded up to its last "
        "whole record (tokens_exported - tokens < one record)",
        "tiny_shares": TINY_SHARES,
        "longest_record_tokens": max(longest, default=0),
        "domains": {
            d.name: {
                "share": allocation.tokens[d.name] / allocation.budget,
                "tokens": allocation.tokens[d.name],
                "tokens_exported": n,
                "records": counts[d.name],
                "epochs": allocation.epochs[d.name],
                "format": d.format,
                "longest_record_tokens": top,
                "below_one_record": counts[d.name] == 1 and allocation.tokens[d.name] < n,
            }
            for d, n, top in zip(domains, exported, longest, strict=True)
        },
    }


def _tag(record: dict[str, Any], domain: str) -> dict[str, Any]:
    # the domain goes under "domain"; a record that has its own keeps it, ours goes beside it
    key = "domain" if "domain" not in record else "mixopt_domain"
    return {key: domain, **record}
