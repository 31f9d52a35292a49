"""``mixopt tiny-model``: build a small local model for offline demos and tests."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mixopt.errors import ConfigError
from mixopt.io import require_empty_dir

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "tiny-model",
        help="build a tiny Llama-style model and tokenizer from local synthetic text (no network)",
        description="Train a byte-level BPE tokenizer and pre-train a small Llama-style model "
        "(about 0.5M parameters) on the synthetic domains of mixopt.testing, then save both as "
        "an ordinary transformers folder that --model accepts. Takes about half a minute on a CPU.",
        epilog="example: mixopt tiny-model tiny/ && mixopt validate --domains domains.json --model tiny/",
    )
    p.add_argument("out", metavar="OUT", help="folder to write (must not exist or be empty)")
    p.add_argument(
        "--pretrain-tokens",
        default="400k",
        metavar="TOKENS",
        help="pre-training tokens, as budgets are written: 100k, 1.5M, 400000 (default 400k)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mixopt.budget import parse_budget
    from mixopt.testing.tiny_model import TinyModelConfig, build_tiny_model

    out = Path(args.out)
    try:
        tokens = parse_budget(args.pretrain_tokens)
    except ConfigError as exc:
        raise ConfigError(f"--pretrain-tokens: {exc}") from None
    require_empty_dir(out)
    config = TinyModelConfig(pretrain_tokens=tokens, seed=args.seed)
    print(f"building a tiny model in {out} ({tokens:,} pre-training tokens)...")
    build_tiny_model(out, config)
    print(f"done: pass --model {out}")
    return 0
