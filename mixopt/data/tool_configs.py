"""A mixture in the forms fine-tuning tools read: LLaMA-Factory dataset entries and training
arguments, an Axolotl ``datasets:`` list, and a ``datasets.interleave_datasets`` script.

Each tool reads the per-domain files of the export (``domains/NAME.jsonl``: the records
sampled from that domain at the budget). The probabilities are those files' *record*
shares, so drawing records with them gives, in expectation, each domain's exported tokens.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mixopt.data.tokenize import TokenizedDomain
from mixopt.io import write_json_atomic, write_text_atomic

__all__ = ["DOMAINS_DIR", "record_shares", "write_tool_configs"]

DOMAINS_DIR = "domains"


def record_shares(counts: Mapping[str, int]) -> dict[str, float]:
    """Each domain's share of the exported records (domains with none left out)."""
    total = sum(counts.values())
    return {name: n / total for name, n in counts.items() if n > 0}


def write_tool_configs(
    folder: Path,
    final: Path,
    domains: Sequence[TokenizedDomain],
    counts: Mapping[str, int],
    seed: int,
) -> None:
    """Write ``llamafactory/``, ``axolotl.yaml`` and ``interleave.py`` into ``folder``.

    ``final`` is where ``folder`` will be once renamed into place: the YAML files name
    absolute paths under it, since both tools resolve paths against their working directory.
    """
    shares = record_shares(counts)
    drawn = [d for d in domains if d.name in shares]
    _write_llamafactory(folder / "llamafactory", final, drawn, shares, seed)
    _write_axolotl(folder / "axolotl.yaml", final, drawn, counts, shares)
    _write_interleave(folder / "interleave.py", shares, sum(counts.values()), seed)


def _llamafactory_entry(d: TokenizedDomain) -> dict[str, Any]:
    spec, file_name = d.spec, f"../{DOMAINS_DIR}/{d.name}.jsonl"  # relative to dataset_dir
    if d.format == "chat":
        # OpenAI-style messages: LLaMA-Factory's sharegpt formatting with role/content tags
        tags = {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                "assistant_tag": "assistant", "system_tag": "system", "observation_tag": "tool"}  # fmt: skip
        return {"file_name": file_name, "formatting": "sharegpt",
                "columns": {"messages": spec.messages_field}, "tags": tags}  # fmt: skip
    if d.format == "prompt_completion":
        columns = {"prompt": spec.prompt_field, "response": spec.completion_field}
        return {"file_name": file_name, "formatting": "alpaca", "columns": columns}
    # plain text: the alpaca "prompt" column is what LLaMA-Factory's pre-training stage reads
    return {"file_name": file_name, "formatting": "alpaca", "columns": {"prompt": spec.text_field}}


def _write_llamafactory(
    folder: Path,
    final: Path,
    drawn: Sequence[TokenizedDomain],
    shares: Mapping[str, float],
    seed: int,
) -> None:
    folder.mkdir()
    write_json_atomic(folder / "dataset_info.json", {d.name: _llamafactory_entry(d) for d in drawn})
    args = {
        "dataset_dir": str(final / "llamafactory"),
        "dataset": ",".join(d.name for d in drawn),
        # interleave_under stops at the first exhausted file: no record is repeated beyond
        # what the export already drew
        "mix_strategy": "interleave_under",
        "interleave_probs": ",".join(repr(shares[d.name]) for d in drawn),
        "seed": seed,
    }
    text_only = all(d.format == "text" for d in drawn)
    note = (
        "# Data arguments for LLaMA-Factory (merge them into your training YAML).\n"
        "# Probabilities: each domain's share of the exported records, in the order of `dataset`.\n"
        + (
            "# Text domains train with `stage: pt`.\n"
            if text_only
            else "# Text domains have no response column: they train only with `stage: pt`.\n"
            if any(d.format == "text" for d in drawn)
            else ""
        )
    )
    # JSON scalars are YAML too; quoted, a single probability stays the string LLaMA-Factory splits
    body = "".join(f"{key}: {json.dumps(value)}\n" for key, value in args.items())
    write_text_atomic(folder / "mixture.yaml", note + body)


def _axolotl_entry(d: TokenizedDomain, final: Path) -> dict[str, Any]:
    spec = d.spec
    entry: dict[str, Any] = {
        "path": str(final / DOMAINS_DIR / f"{d.name}.jsonl"),
        "ds_type": "json",
    }
    if d.format == "chat":
        entry.update(type="chat_template", field_messages=spec.messages_field,
                     message_property_mappings={"role": "role", "content": "content"})  # fmt: skip
    elif d.format == "prompt_completion":
        # prompt + completion as given (the prompt holds any separator), loss on the completion
        entry["type"] = {"field_instruction": spec.prompt_field, "field_output": spec.completion_field,
                         "format": "{instruction}", "no_input_format": "{instruction}"}  # fmt: skip
    else:
        entry.update(type="completion", field=spec.text_field)
    return entry


def _write_axolotl(
    path: Path,
    final: Path,
    drawn: Sequence[TokenizedDomain],
    counts: Mapping[str, int],
    shares: Mapping[str, float],
) -> None:
    import yaml

    lines = [
        "# Datasets for Axolotl (merge them into your training YAML).",
        "# Axolotl does not draw from datasets by probability: it concatenates the datasets listed",
        "# and shuffles them. The mixture is in the files themselves: each holds the records sampled",
        "# from its domain at the export budget, so training on all of them trains on the mixture.",
        "# records per domain (share of records):",
        *(f"#   {d.name}: {counts[d.name]} ({shares[d.name]:.4f})" for d in drawn),
    ]
    body = {"datasets": [_axolotl_entry(d, final) for d in drawn], "shuffle_merged_datasets": True}
    write_text_atomic(path, "\n".join(lines) + "\n" + yaml.safe_dump(body, sort_keys=False))


_SNIPPET = '''"""Interleave the exported per-domain files with datasets.interleave_datasets.

Run it as is (python interleave.py [SAVE_DIR]) or copy the lines you need. The
probabilities are the domains' shares of the exported records; drawing RECORDS records
reproduces the mixture in expectation.
"""

import json
import sys
from pathlib import Path

from datasets import interleave_datasets, load_dataset

HERE = Path(__file__).resolve().parent
FILES = {files}
PROBABILITIES = {probabilities}
RECORDS = {records}
SEED = {seed}

parts = [load_dataset("json", data_files=str(HERE / f), split="train") for f in FILES.values()]
mixed = interleave_datasets(
    parts, probabilities=PROBABILITIES, seed=SEED, stopping_strategy="all_exhausted"
).select(range(RECORDS))

if __name__ == "__main__":
    if len(sys.argv) > 1:
        mixed.save_to_disk(sys.argv[1])
    counts = {{name: 0 for name in FILES}}
    for row in mixed:
        counts[row.get("mixopt_domain") or row["domain"]] += 1
    print(json.dumps({{"records": len(mixed), "domains": counts}}))
'''


def _write_interleave(path: Path, shares: Mapping[str, float], records: int, seed: int) -> None:
    files = {name: f"{DOMAINS_DIR}/{name}.jsonl" for name in shares}
    text = _SNIPPET.format(
        files=json.dumps(files, indent=4),
        probabilities="[" + ", ".join(repr(p) for p in shares.values()) + "]",
        records=records,
        seed=seed,
    )
    write_text_atomic(path, text)
