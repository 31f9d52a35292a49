"""A mixture in the forms fine-tuning tools read: LLaMA-Factory dataset entries and training
arguments, an Axolotl ``datasets:`` list, and a ``datasets`` script.

Every config here trains on each exported record once, whole. Axolotl, ``interleave.py`` and
LLaMA-Factory's stage ``sft`` read the per-domain files (``domains/NAME.jsonl``: the records
sampled from that domain at the budget) and concatenate them: the files already hold the
mixture, so concatenating them (and shuffling) reproduces it exactly, record for record.
LLaMA-Factory's stage ``pt`` reads the already shuffled mixture as one file, one record an
example: joined per domain, its packing drops the last partial block of each preprocessing
batch, which is always the last-listed domain's. Drawing from the files by probability does
not reproduce the mixture: LLaMA-Factory's ``interleave_under`` stops at the first exhausted
file (a 3-record domain ends the mixture early), ``interleave_over`` repeats records, and
``interleave_datasets`` without replacement puts a small domain's last records at the end.
``cutoff_len`` / ``sequence_len`` are set above the longest record (:func:`keep_whole`), so no
record is cut (LLaMA-Factory) or dropped (Axolotl).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mixopt.data.tokenize import TokenizedDomain
from mixopt.io import write_json_atomic, write_text_atomic

__all__ = ["DOMAINS_DIR", "keep_whole", "mix_description", "write_tool_configs"]

DOMAINS_DIR = "domains"
PT_FILE = "mixture_text.jsonl"  # stage pt's one file, when the text domains name their field apart
# tokens a tool may add around a record that mixopt's count does not hold (a BOS or EOS, an
# empty template's markers); the length is then rounded up to a multiple of 8
HEADROOM = 16


def keep_whole(longest: int) -> dict[str, Any]:
    """The ``cutoff_len`` (LLaMA-Factory) and ``sequence_len`` (Axolotl) that keep a record of
    ``longest`` tokens whole: LLaMA-Factory cuts a longer record, Axolotl drops it."""
    length = -(-(longest + HEADROOM) // 8) * 8
    return {
        "longest_record_tokens": longest,
        "cutoff_len": length,
        "sequence_len": length,
        "why": f"the longest record plus {HEADROOM} tokens for what a tool adds (BOS, EOS), "
        "rounded up to a multiple of 8; the tool configs set it: a smaller one cuts "
        "(LLaMA-Factory) or drops (Axolotl) every longer record",
    }


def mix_description(counts: Mapping[str, int], seed: int) -> dict[str, Any]:
    """How every tool config reproduces the mixture: the one description that ``weights.json``,
    ``manifest.json`` and the configs share."""
    total = sum(counts.values())
    return {
        "strategy": "concatenate the files, then shuffle",
        "files": {n: f"{DOMAINS_DIR}/{n}.jsonl" for n, c in counts.items() if c > 0},
        "records": {n: c for n, c in counts.items() if c > 0},
        "record_shares": {n: c / total for n, c in counts.items() if c > 0},
        "shuffle_seed": seed,
    }


def write_tool_configs(
    folder: Path,
    final: Path,
    domains: Sequence[TokenizedDomain],
    counts: Mapping[str, int],
    seed: int,
    whole: Mapping[str, Any],
    mixed: Sequence[tuple[TokenizedDomain, Mapping[str, Any]]],
) -> None:
    """Write ``llamafactory/``, ``axolotl.yaml`` and ``interleave.py`` into ``folder``.

    ``final`` is where ``folder`` will be once renamed into place: the YAML files name
    absolute paths under it, since both tools resolve paths against their working directory.
    ``whole``: :func:`keep_whole`'s lengths; ``mixed``: the shuffled mixture's records, each
    with its domain (``mixture.jsonl``'s order).
    """
    drawn = [d for d in domains if counts[d.name] > 0]  # a file per domain that has records
    if _llamafactory_stage(drawn) == "pt":
        _write_llamafactory_pt(folder / "llamafactory", final, drawn, counts, seed, whole, mixed)
    else:
        _write_llamafactory(folder / "llamafactory", final, drawn, counts, seed, whole)
    _write_axolotl(folder / "axolotl.yaml", final, drawn, counts, seed, whole)
    _write_interleave(folder / "interleave.py", counts, seed)


def _llamafactory_stage(drawn: Sequence[TokenizedDomain]) -> str:
    """``pt`` when every domain is plain text, else ``sft``: one stage trains the whole mix."""
    return "pt" if all(d.format == "text" for d in drawn) else "sft"


def _llamafactory_entry(d: TokenizedDomain) -> dict[str, Any]:
    spec, file_name = d.spec, f"../{DOMAINS_DIR}/{d.name}.jsonl"  # relative to dataset_dir
    if d.format == "chat":
        # OpenAI-style messages: LLaMA-Factory's sharegpt formatting with role/content tags
        tags = {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "system_tag": "system",
            "observation_tag": "tool",
        }
        return {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": spec.messages_field},
            "tags": tags,
        }
    if d.format == "prompt_completion":
        columns = {"prompt": spec.prompt_field, "response": spec.completion_field}
        return {"file_name": file_name, "formatting": "alpaca", "columns": columns}
    # plain text beside other formats (stage sft): sft drops a record without a response, so
    # the text is the response to an empty prompt (loss on all of it, as mixopt trains it)
    return {
        "file_name": file_name,
        "formatting": "alpaca",
        "columns": {"response": spec.text_field},
    }


def _write_llamafactory(
    folder: Path,
    final: Path,
    drawn: Sequence[TokenizedDomain],
    counts: Mapping[str, int],
    seed: int,
    whole: Mapping[str, Any],
) -> None:
    """Stage sft: one dataset per domain file, concatenated; one example per record."""
    folder.mkdir()
    write_json_atomic(folder / "dataset_info.json", {d.name: _llamafactory_entry(d) for d in drawn})
    args = {
        "stage": "sft",
        "dataset_dir": str(final / "llamafactory"),
        "dataset": ",".join(d.name for d in drawn),
        # the files hold the mixture: concat trains on each record once (the trainer shuffles)
        "mix_strategy": "concat",
        "cutoff_len": whole["cutoff_len"],
        "seed": seed,
    }
    note = [
        "# Data arguments for LLaMA-Factory (merge them into your training YAML, which must not",
        "# set them too). concat trains on every exported record once: exactly the mixture. Set",
        "# no interleave_probs: interleave_under stops at the first exhausted file,",
        "# interleave_over repeats records.",
        *(f"#   {d.name}: {counts[d.name]} records" for d in drawn),
        f"# cutoff_len {whole['cutoff_len']} keeps the longest record "
        f"({whole['longest_record_tokens']} tokens) whole.",
        "# stage sft: set `template` (your model's formats the chat domains; `empty` keeps",
        "# prompt/completion and text records as mixopt trained them, unwrapped).",
    ]
    body = "".join(f"{key}: {json.dumps(value)}\n" for key, value in args.items())
    write_text_atomic(folder / "mixture.yaml", "\n".join(note) + "\n" + body)


def _write_llamafactory_pt(
    folder: Path,
    final: Path,
    drawn: Sequence[TokenizedDomain],
    counts: Mapping[str, int],
    seed: int,
    whole: Mapping[str, Any],
    mixed: Sequence[tuple[TokenizedDomain, Mapping[str, Any]]],
) -> None:
    """Stage pt: the shuffled mixture as one dataset, one record an example, none cut."""
    folder.mkdir()
    fields = {d.spec.text_field for d in drawn}
    if len(fields) == 1:  # mixture.jsonl itself: every text domain names its text alike
        file_name, column = "../mixture.jsonl", fields.pop()
    else:
        file_name, column = PT_FILE, "text"
        lines = (
            json.dumps({"domain": d.name, "text": r[d.spec.text_field]}, ensure_ascii=False)
            for d, r in mixed
        )
        write_text_atomic(folder / PT_FILE, "".join(f"{line}\n" for line in lines))
    entry = {"file_name": file_name, "formatting": "alpaca", "columns": {"prompt": column}}
    write_json_atomic(folder / "dataset_info.json", {"mixture": entry})
    args = {
        "stage": "pt",
        "dataset_dir": str(final / "llamafactory"),
        "dataset": "mixture",
        # packing would drop the last partial block of every preprocessing batch
        "packing": False,
        "cutoff_len": whole["cutoff_len"],
        "seed": seed,
    }
    note = [
        "# Data arguments for LLaMA-Factory (merge them into your training YAML, which must not",
        "# set them too). The dataset is the export's shuffled mixture, one file, every record",
        "# of every domain once:",
        *(f"#   {d.name}: {counts[d.name]} records" for d in drawn),
        f"# packing false and cutoff_len {whole['cutoff_len']} (the longest record has "
        f"{whole['longest_record_tokens']} tokens): one",
        "# example per record, none cut, every exported token trained. packing true would pack",
        "# records into cutoff_len blocks and drop the last partial block of each preprocessing",
        "# batch (preprocessing_batch_size records, 1000 by default).",
    ]
    body = "".join(f"{key}: {json.dumps(value)}\n" for key, value in args.items())
    write_text_atomic(folder / "mixture.yaml", "\n".join(note) + "\n" + body)


def _axolotl_entry(d: TokenizedDomain, final: Path) -> dict[str, Any]:
    spec = d.spec
    entry: dict[str, Any] = {
        "path": str(final / DOMAINS_DIR / f"{d.name}.jsonl"),
        "ds_type": "json",
    }
    if d.format == "chat":
        entry.update(
            type="chat_template",
            field_messages=spec.messages_field,
            message_property_mappings={"role": "role", "content": "content"},
        )
    elif d.format == "prompt_completion":
        # prompt + completion as given (the prompt holds any separator), loss on the completion
        entry["type"] = {
            "field_instruction": spec.prompt_field,
            "field_output": spec.completion_field,
            "format": "{instruction}",
            "no_input_format": "{instruction}",
        }
    else:
        entry.update(type="completion", field=spec.text_field)
    return entry


def _write_axolotl(
    path: Path,
    final: Path,
    drawn: Sequence[TokenizedDomain],
    counts: Mapping[str, int],
    seed: int,
    whole: Mapping[str, Any],
) -> None:
    import yaml

    lines = [
        "# Datasets for Axolotl (merge them into your training YAML).",
        "# Axolotl concatenates the datasets listed and shuffles them: each file holds the records",
        "# sampled from its domain at the export budget, so it trains on exactly the mixture:",
        *(f"#   {d.name}: {counts[d.name]} records" for d in drawn),
        f"# Axolotl drops records longer than sequence_len: {whole['sequence_len']} keeps the "
        f"longest ({whole['longest_record_tokens']} tokens).",
    ]
    body = {
        "datasets": [_axolotl_entry(d, final) for d in drawn],
        "shuffle_merged_datasets": True,
        "sequence_len": whole["sequence_len"],
        "seed": seed,
    }
    write_text_atomic(path, "\n".join(lines) + "\n" + yaml.safe_dump(body, sort_keys=False))


_SNIPPET = '''"""The exported mixture as one datasets.Dataset: every record of the per-domain files, once.

Run it as is (python interleave.py [SAVE_DIR]) or copy the lines you need. The files hold
the mixture, so concatenating them and shuffling reproduces it exactly; drawing from them by
probability (interleave_datasets) would not: it drops or repeats records, or bunches a small
domain's records at the end.
"""

import json
import sys
from pathlib import Path

from datasets import concatenate_datasets, load_dataset

HERE = Path(__file__).resolve().parent
FILES = {files}
RECORDS = {records}
SEED = {seed}

parts = [load_dataset("json", data_files=str(HERE / f), split="train") for f in FILES.values()]
mixed = concatenate_datasets(parts).shuffle(seed=SEED)

if __name__ == "__main__":
    if len(sys.argv) > 1:
        mixed.save_to_disk(sys.argv[1])
    counts = {{name: 0 for name in FILES}}
    for row in mixed:
        counts[row.get("mixopt_domain") or row["domain"]] += 1
    print(json.dumps({{"records": len(mixed), "domains": counts, "expected": RECORDS}}))
    sys.exit(0 if counts == RECORDS else 1)
'''


def _write_interleave(path: Path, counts: Mapping[str, int], seed: int) -> None:
    mix = mix_description(counts, seed)
    text = _SNIPPET.format(
        files=json.dumps(mix["files"], indent=4),
        records=json.dumps(mix["records"], indent=4),
        seed=seed,
    )
    write_text_atomic(path, text)
