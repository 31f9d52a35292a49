"""Load mixopt exports through the fine-tuning tools' own loaders and count what each trains on.

The tools cannot be installed beside mixopt (LLaMA-Factory pins its own transformers and
datasets), so the checks run in a virtual environment of their own that has the tool and not
mixopt; only ``make`` needs mixopt. See benchmarks/README.md for the environments.

    python benchmarks/export_tools.py make OUT             # mixopt's venv: the exports checked
    python benchmarks/export_tools.py llamafactory OUT/*   # LLaMA-Factory's venv
    python benchmarks/export_tools.py axolotl OUT/*        # Axolotl's venv
    python benchmarks/export_tools.py interleave OUT/*     # any venv with `datasets`

``make`` writes two exports of examples/ at 20k tokens, each with a domain of 3 records: ``text``
(text domains only: LLaMA-Factory's stage ``pt``) and ``mixed`` (text, prompt/completion and
chat domains: stage ``sft``). Each check prints, per export, the records per domain that the
tool's loader yields beside the export's (manifest.json), and exits 1 on any difference.
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
MIXTURES = {  # sports gets 3 records at 20k, code 6: the failure case of interleave_under
    "text": {"finance": 0.5, "sports": 0.0025, "cooking": 0.3, "code": 0.1975},
    "mixed": {
        "finance": 0.3,
        "sports": 0.0025,
        "cooking": 0.2,
        "code": 0.0045,
        "sql": 0.25,
        "support": 0.243,
    },
}
CUTOFF_LEN = 64  # LLaMA-Factory's block length for stage pt (the example records are short)


def make(out: Path, model: bool = True) -> int:
    for name, mixture in MIXTURES.items():
        mix = out / f"{name}.mixture.json"
        out.mkdir(parents=True, exist_ok=True)
        mix.write_text(json.dumps(mixture))
        cmd = [
            sys.executable,
            "-m",
            "mixopt",
            "export",
            "--domains",
            str(ROOT / "examples" / "domains.json"),
            "--model",
            str(TOKENIZER),
            "--mixture",
            str(mix),
            "--budget",
            "20k",
            "--out",
            str(out / name),
            "--quiet",
        ]
        subprocess.run(cmd, check=True)
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
    ).save_pretrained(str(path))


def _expected(export: Path) -> dict[str, int]:
    manifest = json.loads((export / "manifest.json").read_text())
    return {n: d["records"] for n, d in manifest["domains"].items() if d["records"]}


def _report(tool: str, export: Path, got: dict[str, int], extra: str = "") -> bool:
    want = _expected(export)
    print(f"\n{tool} · {export.name}{extra}")
    print(f"  {'domain':<10} {'export':>7} {'tool':>7}")
    for name in want:
        mark = "" if got.get(name, 0) == want[name] else "  MISMATCH"
        print(f"  {name:<10} {want[name]:>7} {got.get(name, 0):>7}{mark}")
    print(f"  {'total':<10} {sum(want.values()):>7} {sum(got.values()):>7}")
    matched = sum(min(got.get(n, 0), c) for n, c in want.items())  # trained as exported
    RESULTS.append((tool, export.name, matched, sum(want.values())))
    return got == want


def _domain_keys(export: Path, info: dict[str, Any]) -> dict[tuple[str, ...], str]:
    """Each exported record's strings, as LLaMA-Factory's aligned rows hold them -> its domain."""
    keys = {}
    for name, entry in info.items():
        for line in (export / "llamafactory" / entry["file_name"]).read_text().splitlines():
            record = json.loads(line)
            if entry["formatting"] == "sharegpt":
                texts = [m["content"] for m in record[entry["columns"]["messages"]]]
            else:
                texts = [record[c] for c in entry["columns"].values()]
            keys[tuple(sorted(t for t in texts if t))] = name
    return keys


def _row_key(row: dict[str, Any]) -> tuple[str, ...]:
    texts = [row["_system"], *(m["content"] for m in row["_prompt"] + row["_response"])]
    return tuple(sorted(t for t in texts if t))


def llamafactory(export: Path, work: Path) -> bool:
    """Load through LLaMA-Factory's data path as `llamafactory-cli train train.yaml` does."""
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.data.loader import _get_merged_dataset
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer
    from omegaconf import OmegaConf

    train_yaml = work / f"{export.name}.train.yaml"
    base = (
        f"model_name_or_path: {TOKENIZER}\ndo_train: true\nfinetuning_type: lora\ntemplate: empty\n"
        f"cutoff_len: {CUTOFF_LEN}\noutput_dir: {work / 'out'}\noverwrite_cache: true\nreport_to: none\n"
    )
    train_yaml.write_text(base + (export / "llamafactory" / "mixture.yaml").read_text())
    args = OmegaConf.to_container(OmegaConf.load(train_yaml))  # what llamafactory-cli reads
    if UNDER:  # the old export's setting, to show what the check catches
        counts = _expected(export)
        total = sum(counts.values())
        args.update(
            mix_strategy="interleave_under",
            interleave_probs=",".join(str(c / total) for c in counts.values()),
        )
    model_args, data_args, training_args, finetuning_args, _ = get_train_args(args)
    stage = finetuning_args.stage
    merged = _get_merged_dataset(data_args.dataset, model_args, data_args, training_args, stage)
    info = json.loads((export / "llamafactory" / "dataset_info.json").read_text())
    keys = _domain_keys(export, info)
    got = dict(Counter(keys.get(_row_key(row), "?") for row in merged))
    tok = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tok["tokenizer"], data_args)
    module = get_dataset(template, model_args, data_args, training_args, stage, **tok)
    train = module["train_dataset"]
    manifest = json.loads((export / "manifest.json").read_text())
    ok = _report(
        "LLaMA-Factory", export, got, f" (stage {stage}, mix_strategy {data_args.mix_strategy})"
    )
    if stage == "pt":  # packed per preprocessing batch: each batch's last partial block dropped
        tokenizer = tok["tokenizer"]
        # mixopt counts the BOS token a tokenizer adds to each record; stage pt adds none
        bos = int(tokenizer("a")["input_ids"][:1] == [tokenizer.bos_token_id]) * manifest["records"]
        batches = -(-manifest["records"] // data_args.preprocessing_batch_size)
        trained, exported = len(train) * CUTOFF_LEN, manifest["tokens_exported"] - bos
        print(
            f"  packed: {len(train)} blocks of {CUTOFF_LEN} = {trained:,} tokens of {exported:,} "
            f"({exported + bos:,} exported less {bos:,} BOS tokens); {exported - trained} dropped, "
            f"under one block for each of {batches} preprocessing batches"
        )
        ok = ok and exported - batches * CUTOFF_LEN < trained <= exported
    else:  # one training example per record
        print(f"  training examples: {len(train):,} of {manifest['records']:,} records")
        ok = ok and len(train) == manifest["records"]
    return ok


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
        "sequence_len": 512,
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


def axolotl(export: Path, work: Path) -> bool:
    """Prepare the datasets as `axolotl preprocess train.yaml` does; each domain alone says
    which of the mixed examples are its."""
    import yaml

    config = yaml.safe_load((export / "axolotl.yaml").read_text())
    model = export.parent / "model"  # written by `make` beside the exports
    rows = _axolotl_rows(config, model, work, "all")
    owner = {}
    for entry in config["datasets"]:
        name = Path(entry["path"]).stem
        owner.update(
            dict.fromkeys(_axolotl_rows({**config, "datasets": [entry]}, model, work, name), name)
        )
    got = dict(Counter(owner.get(r, "?") for r in rows))
    ok = _report(
        "Axolotl", export, got, f" (shuffle_merged_datasets {config['shuffle_merged_datasets']})"
    )
    print(f"  training examples: {len(rows):,}")
    return ok


def interleave(export: Path, work: Path) -> bool:
    run = subprocess.run(
        [sys.executable, str(export / "interleave.py")], capture_output=True, text=True, cwd=work
    )
    report = json.loads(run.stdout.strip().splitlines()[-1])
    return _report("interleave.py", export, report["domains"]) and run.returncode == 0


TOOLS = {"llamafactory": llamafactory, "axolotl": axolotl, "interleave": interleave}
UNDER = False
RESULTS: list[tuple[str, str, int, int]] = []  # tool, export, records it trains on, exported


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tool", nargs="?", choices=["make", *TOOLS])
    parser.add_argument(
        "paths", nargs="*", type=Path, help="make: the folder to write; else exports"
    )
    parser.add_argument(
        "--interleave-under",
        action="store_true",
        help="llamafactory: override with interleave_under and record-share probabilities",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI's smoke: make the exports in a temporary folder and check interleave.py",
    )
    args = parser.parse_args(argv)
    global UNDER
    UNDER = args.interleave_under
    if args.tool == "make":
        return make(args.paths[0])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Axolotl's telemetry: nothing leaves this machine
    os.environ.setdefault("AXOLOTL_DO_NOT_TRACK", "1")
    with tempfile.TemporaryDirectory() as tmp:
        if args.quick:
            make(Path(tmp) / "exports", model=False)
            args.tool, args.paths = "interleave", [Path(tmp) / "exports" / n for n in MIXTURES]
        if args.tool is None or not args.paths:
            parser.error("name a tool and the exports to check (or make OUT, or --quick)")
        ok = True
        for export in args.paths:
            work = Path(tmp) / "work" / export.name
            work.mkdir(parents=True)
            ok = TOOLS[args.tool](export.resolve(), work) and ok
    print("\n| figure | result |\n|---|---|")
    for tool, export, got, want in RESULTS:
        print(
            f"| {tool} · {export}: records trained, each domain's as exported | {got:,} of {want:,} = {got / want:.3f} x |"
        )
    print(
        "\nall counts match"
        if ok
        else "\nMISMATCH: the tool does not train on the exported mixture"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
