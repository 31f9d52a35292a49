"""Load mixopt exports through the fine-tuning tools' own loaders and count what each trains on.

The tools cannot be installed beside mixopt (LLaMA-Factory pins its own transformers and
datasets), so the checks run in a virtual environment of their own that has the tool and not
mixopt; only ``make`` needs mixopt. See benchmarks/README.md for the environments.

    python benchmarks/export_tools.py make OUT             # mixopt's venv: the exports checked
    python benchmarks/export_tools.py llamafactory OUT/*   # LLaMA-Factory's venv
    python benchmarks/export_tools.py axolotl OUT/*        # Axolotl's venv
    python benchmarks/export_tools.py interleave OUT/*     # any venv with `datasets`
    python benchmarks/export_tools.py all OUT --lf PY --ax PY   # make, then each tool's venv

``make`` writes awkward data and two exports of it at 200k tokens: records from 2 words to
about 12k tokens (Debian's copyright files, where installed), a field of different types
across domains (``id``: integers, strings, floats), a field one domain trains on and another
holds as a number, and a domain of 2 records listed last. ``text`` (text domains only:
LLaMA-Factory's stage ``pt``) and ``mixed`` (text, prompt/completion and chat: stage ``sft``).
Each check prints, per export and domain, the records the tool's loader yields and the tokens
it trains on at the export's own cutoff_len / sequence_len and at 4096 and 1024, beside the
export's (manifest.json), and exits 1 when the tool does not train on every exported token
at the export's own setting.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKENIZER = ROOT / "examples" / "tokenizer"
MIXTURES = {  # haiku, listed last, holds 2 records: the domain LLaMA-Factory's packing dropped
    "text": {"news": 0.3, "legal": 0.6995, "haiku": 0.0005},
    "mixed": {"news": 0.2, "legal": 0.4, "sql": 0.2, "support": 0.1995, "haiku": 0.0005},
}
BUDGET = "200k"
CUTOFFS = (4096, 1024)  # realistic settings, beside the export's own
RESULTS: list[tuple[str, int, int]] = []  # figure, got, want


def _texts(limit: int) -> list[str]:
    """Long real text: ``limit`` of Debian's copyright files (cut at 20k characters, up to
    ~15k tokens here), else the examples' cooking records joined in runs."""
    files = sorted(Path("/usr/share/doc").glob("*/copyright"))[:limit]
    texts = [f.read_text(errors="replace")[:20_000].strip() for f in files]
    if len(texts) >= limit // 2:
        return [t for t in texts if t]
    import csv

    with open(ROOT / "examples" / "data" / "cooking.csv") as fh:
        rows = [r["text"] for r in csv.DictReader(fh)]
    return [" ".join(rows[i : i + 1 + i % 40]) for i in range(0, len(rows), 3)]


def write_domains(out: Path, limit: int = 300) -> Path:
    """The awkward domains: news (text under ``body``, integer ids), legal (long text, string
    ids), sql (prompt/completion, float ids, a numeric ``body``), support (chat), haiku (2
    records, listed last)."""
    data = ROOT / "examples" / "data"
    finance = [
        json.loads(line)["text"] for line in (data / "finance.jsonl").read_text().splitlines()
    ]
    news = [{"id": i, "body": t, "tags": ["finance"]} for i, t in enumerate(finance)]
    legal = [{"id": f"doc-{i}", "text": t} for i, t in enumerate(_texts(limit))]
    sql = [
        {"id": i / 2, "body": i, **r}
        for i, r in enumerate(json.loads((data / "sql.json").read_text()))
    ]
    haiku = [
        {"text": "old pond"},
        {"text": "an old silent pond / a frog jumps into the pond / splash! silence again"},
    ]
    entries = [
        {"domain": "news", "data": news, "format": "text", "text_field": "body", "max_epochs": 50},
        {"domain": "legal", "data": legal, "max_epochs": 50},
        {"domain": "sql", "data": sql, "format": "prompt_completion", "max_epochs": 50},
        {"domain": "support", "path": str(data / "support.jsonl"), "max_epochs": 50},
        {"domain": "haiku", "data": haiku, "max_epochs": 50},
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "domains.json").write_text(json.dumps(entries))
    return out / "domains.json"


def make(out: Path, model: bool = True, budget: str = BUDGET) -> int:
    from mixopt import export_mixture  # in this process: one start-up for both exports

    domains = write_domains(out / "data", 300 if model else 40)  # --quick: fewer, smaller
    for name, mixture in MIXTURES.items():
        mix = out / f"{name}.mixture.json"
        mix.write_text(json.dumps(mixture))
        export_mixture(
            domains=str(domains),
            model=str(TOKENIZER),
            mixture=str(mix),
            budget=budget,
            out=str(out / name),
            quiet=True,
        )
    if model:
        _model_dir(out / "model")
    return 0


def _model_dir(path: Path) -> None:
    """examples/tokenizer with a tiny Llama config beside it: Axolotl reads a model's config."""
    import shutil

    from transformers import AutoTokenizer, LlamaConfig

    shutil.copytree(TOKENIZER, path)
    vocab = len(AutoTokenizer.from_pretrained(str(TOKENIZER)))
    LlamaConfig(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=1 << 16,
    ).save_pretrained(str(path))


def _manifest(export: Path) -> dict[str, Any]:
    return json.loads((export / "manifest.json").read_text())


def _expected(export: Path) -> dict[str, int]:
    return {n: d["records"] for n, d in _manifest(export)["domains"].items() if d["records"]}


def _table(title: str, export: Path, columns: dict[str, dict[str, int]]) -> None:
    """Per domain: the export's records, then each column's figure."""
    want = _expected(export)
    print(f"\n{title} · {export.name}")
    print(f"  {'domain':<9} {'records':>8}" + "".join(f" {c:>15}" for c in columns))
    for name in want:
        cells = "".join(f" {col.get(name, 0):>15,}" for col in columns.values())
        print(f"  {name:<9} {want[name]:>8,}{cells}")
    total = "".join(f" {sum(col.values()):>15,}" for col in columns.values())
    print(f"  {'total':<9} {sum(want.values()):>8,}{total}")


def _figure(label: str, got: dict[str, int], want: dict[str, int]) -> bool:
    """One row of the summary: how much of each domain's ``want`` the tool kept."""
    kept = sum(min(got.get(n, 0), w) for n, w in want.items())
    RESULTS.append((label, kept, sum(want.values())))
    return got == want


# -- LLaMA-Factory ---------------------------------------------------------------------


def _lf_args(export: Path, work: Path, cutoff: int | None, extra: str = "") -> dict[str, Any]:
    """The arguments `llamafactory-cli train train.yaml` reads: the user's settings, then the
    export's mixture.yaml (with ``cutoff`` in place of its cutoff_len)."""
    from omegaconf import OmegaConf

    data = (export / "llamafactory" / "mixture.yaml").read_text()
    if extra:  # the former export's dataset arguments in place of the export's
        data = _without(data, ("dataset", "mix_strategy", "packing"))
    if cutoff is not None:
        data = _without(data, ("cutoff_len:",)) + f"\ncutoff_len: {cutoff}\n"
    base = (
        f"model_name_or_path: {TOKENIZER}\ndo_train: true\nfinetuning_type: lora\n"
        f"template: empty\noutput_dir: {work / 'out'}\noverwrite_cache: true\nreport_to: none\n"
    )
    path = work / f"{export.name}-{cutoff}.train.yaml"
    path.write_text(base + extra + data)
    return dict(OmegaConf.to_container(OmegaConf.load(path)))  # type: ignore[arg-type]


def _lf_load(args: dict[str, Any]) -> tuple[Any, Any, Any]:
    """LLaMA-Factory's merged rows (before tokenizing), its training examples, its tokenizer."""
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.data.loader import _get_merged_dataset
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    model_args, data_args, training_args, finetuning_args, _ = get_train_args(args)
    stage = finetuning_args.stage
    merged = _get_merged_dataset(data_args.dataset, model_args, data_args, training_args, stage)
    tok = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tok["tokenizer"], data_args)
    module = get_dataset(template, model_args, data_args, training_args, stage, **tok)
    return merged, module["train_dataset"], tok["tokenizer"]


def _domain_keys(export: Path) -> dict[tuple[str, ...], str]:
    """Each exported record's strings, as LLaMA-Factory's aligned rows hold them -> its domain."""
    manifest = _manifest(export)
    keys = {}
    for line in (export / "mixture.jsonl").read_text().splitlines():
        record = json.loads(line)
        name = record["domain"]
        fmt = manifest["domains"][name]["format"]
        if fmt == "chat":
            texts = [m["content"] for m in record["messages"]]
        elif fmt == "prompt_completion":
            texts = [record["prompt"], record["completion"]]
        else:
            texts = [record.get("body") if name == "news" else record["text"]]
        keys[tuple(sorted(t for t in texts if t))] = name
    return keys


def _row_key(row: dict[str, Any]) -> tuple[str, ...]:
    texts = [row["_system"], *(m["content"] for m in row["_prompt"] + row["_response"])]
    return tuple(sorted(t for t in texts if t))


def _lf_tokens(
    export: Path, work: Path, cutoff: int | None, extra: str = ""
) -> tuple[dict[str, int], dict[str, int]]:
    """Records and tokens per domain in LLaMA-Factory's training examples at ``cutoff``."""
    args = _lf_args(export, work, cutoff, extra)
    merged, train, tokenizer = _lf_load(args)
    keys = _domain_keys(export)
    owners = [keys.get(_row_key(row), "?") for row in merged]
    if args.get("packing"):  # packed blocks: attribute each block's tokens to its records
        return dict(Counter(owners)), _packed(merged, owners, train, tokenizer, args["cutoff_len"])
    assert len(train) == len(owners), (len(train), len(owners))  # one example per record
    tokens: Counter[str] = Counter()
    for owner, ids in zip(owners, train["input_ids"], strict=True):
        tokens[owner] += len(ids)
    return dict(Counter(owners)), dict(tokens)


def _packed(
    merged: Any, owners: list[str], train: Any, tokenizer: Any, cutoff: int | None
) -> dict[str, int]:
    """Tokens per domain that stage pt's packing keeps: each batch of 1,000 records is joined
    and cut into cutoff_len blocks, the last partial block dropped (checked against the
    blocks LLaMA-Factory built)."""
    # LLaMA-Factory packs into blocks of cutoff_len - 1 tokens: read the length it used
    cutoff = len(train[0]["input_ids"]) if len(train) else cutoff
    assert cutoff is not None
    kept: Counter[str] = Counter()
    blocks = 0
    for start in range(0, len(owners), 1000):
        rows = merged.select(range(start, min(start + 1000, len(owners))))
        lengths = [
            len(
                tokenizer(
                    r["_prompt"][0]["content"] + tokenizer.eos_token, add_special_tokens=False
                )["input_ids"]
            )
            for r in rows
        ]
        room = sum(lengths) // cutoff * cutoff
        blocks += room // cutoff
        for owner, n in zip(owners[start : start + len(lengths)], lengths, strict=True):
            kept[owner] += min(n, max(room, 0))
            room -= n
    assert blocks == len(train), (blocks, len(train))
    return dict(kept)


def _before(export: Path, work: Path) -> str:
    """The former stage pt export: one dataset per domain file, concat, packed."""
    info = {}
    for name in _expected(export):
        field = "body" if name == "news" else "text"
        info[name] = {
            "file_name": str(export / "domains" / f"{name}.jsonl"),
            "columns": {"prompt": field},
        }
    folder = work / "before"
    folder.mkdir(exist_ok=True)
    (folder / "dataset_info.json").write_text(json.dumps(info))
    return (
        f"dataset_dir: {folder}\ndataset: {','.join(info)}\nmix_strategy: concat\npacking: true\n"
    )


def _without(data: str, keys: tuple[str, ...]) -> str:
    return "\n".join(x for x in data.splitlines() if not x.startswith(keys))


def llamafactory(export: Path, work: Path) -> bool:
    """Load through LLaMA-Factory's data path as `llamafactory-cli train train.yaml` does."""
    _, whole = _lf_tokens(export, work, 1 << 20)  # nothing cut: each record's tokens
    manifest = _manifest(export)
    own = manifest["keep_whole"]["cutoff_len"]
    records, trained = _lf_tokens(export, work, None)
    columns = {"tokens (whole)": whole, f"trained@{own}": trained}
    for cutoff in CUTOFFS:
        columns[f"trained@{cutoff}"] = _lf_tokens(export, work, cutoff)[1]
    stage = _lf_args(export, work, None)["stage"]
    if stage == "pt":
        for cutoff in CUTOFFS:
            columns[f"before@{cutoff}"] = _lf_tokens(export, work, cutoff, _before(export, work))[1]
    _table(f"LLaMA-Factory (stage {stage}), tokens as its tokenizer counts them", export, columns)
    label = f"LLaMA-Factory · {export.name} (stage {stage})"
    ok = _figure(f"{label}: records, each domain's as exported", records, _expected(export))
    ok = _figure(f"{label}: tokens trained at the export's cutoff_len {own}", trained, whole) and ok
    for name, col in columns.items():
        if "@" in name and not name.endswith(str(own)):
            kind, cutoff = name.split("@")
            what = (
                "the former export (a file per domain, packed)"
                if kind == "before"
                else "the export"
            )
            _figure(f"{label}: tokens trained, {what} at cutoff_len {cutoff}", col, whole)
            last = list(_expected(export))[-1]  # the domain listed last: its tail was dropped
            _figure(
                f"{label}: {last} (listed last), {what} at cutoff_len {cutoff}",
                {last: col.get(last, 0)},
                {last: whole[last]},
            )
    return ok


# -- Axolotl ---------------------------------------------------------------------------


def _axolotl_rows(
    config: dict[str, Any], model: Path, work: Path, name: str
) -> list[tuple[int, ...]]:
    """The token ids of each example Axolotl's dataset preparation yields for ``config``."""
    import yaml
    from axolotl.cli.args import PreprocessCliArgs
    from axolotl.cli.config import load_cfg
    from axolotl.common.datasets import load_datasets

    base = {
        "base_model": str(model),
        "chat_template": "tokenizer_default",
        "sample_packing": False,
        "micro_batch_size": 1,
        "num_epochs": 1,
        "gradient_accumulation_steps": 1,
        "learning_rate": 1e-4,
        "output_dir": str(work / "out"),
        "dataset_prepared_path": str(work / f"prepared-{name}"),
    }
    path = work / f"{name}.train.yaml"
    path.write_text(yaml.safe_dump({**base, **config}, sort_keys=False))
    train = load_datasets(cfg=load_cfg(str(path)), cli_args=PreprocessCliArgs()).train_dataset
    return [tuple(ids) for ids in train["input_ids"]]


def _axolotl_at(
    config: dict[str, Any], model: Path, work: Path, length: int
) -> tuple[dict[str, int], dict[str, int], bool]:
    """Examples and tokens per domain Axolotl yields at ``sequence_len`` ``length`` (each
    domain prepared alone), and whether the mixed preparation holds exactly those examples."""
    examples, tokens, alone = {}, {}, Counter[tuple[int, ...]]()
    for entry in config["datasets"]:
        name = Path(entry["path"]).stem
        one = {**config, "datasets": [entry], "sequence_len": length}
        rows = _axolotl_rows(one, model, work, f"{name}-{length}")
        examples[name], tokens[name] = len(rows), sum(map(len, rows))
        alone.update(rows)
    mixed = Counter(_axolotl_rows({**config, "sequence_len": length}, model, work, f"all-{length}"))
    return examples, tokens, mixed == alone


def axolotl(export: Path, work: Path) -> bool:
    """Prepare the datasets as `axolotl preprocess train.yaml` does: each domain alone gives
    its examples and tokens, and the mixed preparation must hold exactly those."""
    import yaml

    config = yaml.safe_load((export / "axolotl.yaml").read_text())
    model = export.parent / "model"  # written by `make` beside the exports
    own = config["sequence_len"]
    _, whole, _ = _axolotl_at(config, model, work, 1 << 20)  # nothing dropped or split
    columns: dict[str, dict[str, int]] = {"tokens (whole)": whole}
    ok = True
    for length in (own, *CUTOFFS):
        examples, tokens, same = _axolotl_at(config, model, work, length)
        columns[f"examples@{length}"] = examples
        columns[f"trained@{length}"] = tokens
        ok = ok and same
        if not same:
            print(f"  MISMATCH: the mixed preparation at {length} is not its domains' examples")
    _table("Axolotl, tokens as its tokenizer counts them", export, columns)
    label = f"Axolotl · {export.name}"
    ok = (
        _figure(
            f"{label}: examples at the export's sequence_len {own}, each domain's records as exported",
            columns[f"examples@{own}"],
            _expected(export),
        )
        and ok
    )
    ok = (
        _figure(
            f"{label}: tokens trained at the export's sequence_len {own}",
            columns[f"trained@{own}"],
            whole,
        )
        and ok
    )
    for length in CUTOFFS:
        _figure(
            f"{label}: tokens trained at sequence_len {length}", columns[f"trained@{length}"], whole
        )
    return ok


def interleave(export: Path, work: Path) -> bool:
    run = subprocess.run(
        [sys.executable, str(export / "interleave.py")], capture_output=True, text=True, cwd=work
    )
    if run.returncode not in (0, 1) or not run.stdout.strip():
        print(f"\ninterleave.py · {export.name} FAILED:\n{run.stderr[-2000:]}")
        RESULTS.append(
            (f"interleave.py · {export.name}: records", 0, sum(_expected(export).values()))
        )
        return False
    report = json.loads(run.stdout.strip().splitlines()[-1])
    _table("interleave.py, records", export, {"records": report["domains"]})
    label = f"interleave.py · {export.name}: records, each domain's as exported"
    return _figure(label, report["domains"], _expected(export)) and run.returncode == 0


TOOLS = {"llamafactory": llamafactory, "axolotl": axolotl, "interleave": interleave}


FLAGS = {"llamafactory": "--lf", "axolotl": "--ax"}


def _run_in(python: str | None, tool: str, label: str, exports: list[Path]) -> bool:
    """Run ``tool``'s check in its own venv's ``python``; say so when it is unavailable."""
    probe = {
        "llamafactory": "import llamafactory.data",
        "axolotl": "import axolotl.common.datasets",
    }
    if python is None or not Path(python).exists():
        print(f"\n{label}: UNAVAILABLE (no python of a venv with it given: {FLAGS[tool]} PYTHON)")
        return False
    check = subprocess.run([python, "-c", probe[tool]], capture_output=True, text=True)
    if check.returncode != 0:
        why = (check.stderr.strip().splitlines() or ["?"])[-1]
        print(f"\n{label}: UNAVAILABLE in {python} ({why})")
        return False
    cmd = [python, __file__, tool, *map(str, exports)]
    return subprocess.run(cmd, check=False).returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tool", nargs="?", choices=["make", "all", *TOOLS])
    parser.add_argument("paths", nargs="*", type=Path, help="make, all: the folder; else exports")
    parser.add_argument("--lf", help="all: the python of a venv with LLaMA-Factory")
    parser.add_argument("--ax", help="all: the python of a venv with Axolotl")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI's smoke: make small exports in a temporary folder and check interleave.py",
    )
    args = parser.parse_args(argv)
    if args.tool == "make":
        return make(args.paths[0])
    if args.tool == "all":
        out = args.paths[0]
        make(out)
        exports = [out / n for n in MIXTURES]
        ok = _run_in(args.lf, "llamafactory", "LLaMA-Factory", exports)
        ok = _run_in(args.ax, "axolotl", "Axolotl", exports) and ok
        return 0 if main(["interleave", *map(str, exports)]) == 0 and ok else 1
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Axolotl's telemetry: nothing leaves this machine
    os.environ.setdefault("AXOLOTL_DO_NOT_TRACK", "1")
    with tempfile.TemporaryDirectory() as tmp:
        if args.quick:
            make(Path(tmp) / "exports", model=False, budget="20k")
            args.tool, args.paths = "interleave", [Path(tmp) / "exports" / n for n in MIXTURES]
        if args.tool is None or not args.paths:
            parser.error("name a tool and the exports to check (or make OUT, all OUT, --quick)")
        ok = True
        for export in args.paths:
            work = Path(tmp) / "work" / export.name
            work.mkdir(parents=True)
            ok = TOOLS[args.tool](export.resolve(), work) and ok
    print("\n| figure | result |\n|---|---|")
    for label, got, want in RESULTS:
        print(f"| {label} | {got:,} of {want:,} = {got / max(want, 1):.3f} x |")
    print(
        "\nevery count matches"
        if ok
        else "\nMISMATCH: the tool does not train on the exported mixture"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
