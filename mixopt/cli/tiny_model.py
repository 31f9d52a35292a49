"""``mixopt tiny-model``: build a small local model for offline demos and tests."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mixopt.errors import ConfigError
from mixopt.io import require_empty_dir

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "tiny-model",
        help="build a tiny Llama-style model and tokenizer from local text (no network)",
        description="Train a byte-level BPE tokenizer and pre-train a small Llama-style model "
        "(about 0.5M parameters) on mixopt's synthetic domains, or with --corpus on your own "
        "domains' text, then save both as an ordinary transformers folder that --model accepts. "
        "It says its expected time once its first steps are measured (about a minute on an idle "
        "CPU core for 400k tokens).",
        epilog="example: mixopt tiny-model tiny/ --corpus domains.json && "
        "mixopt validate --domains domains.json --model tiny/",
    )
    p.add_argument("out", metavar="OUT", help="folder to write (must not exist or be empty)")
    p.add_argument(
        "--pretrain-tokens",
        default="400k",
        metavar="TOKENS",
        help="pre-training tokens, as budgets are written: 100k, 1.5M, 400000 (default 400k)",
    )
    p.add_argument(
        "--corpus",
        metavar="DOMAINS",
        help="a domains file whose records train the tokenizer and the pre-training (default: "
        "mixopt's synthetic text, a weak stand-in for real text: its losses on real text are "
        "around 6.5 nats)",
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
    texts = None
    if args.corpus is not None:
        from mixopt.cli._common import quiet_libraries
        from mixopt.testing.tiny_model import domains_corpus

        quiet_libraries()
        texts = domains_corpus(args.corpus, args.seed)  # read, and refused, before writing
        if not texts:
            raise ConfigError(f"--corpus {args.corpus}: its domains hold no text")
    require_empty_dir(out)
    config = TinyModelConfig(pretrain_tokens=tokens, seed=args.seed)
    source = f"the text of {args.corpus}" if args.corpus else "mixopt's synthetic text"
    print(
        f"building a tiny model in {out} ({tokens:,} pre-training tokens of {source})...",
        flush=True,
    )
    build_tiny_model(out, config, texts, say=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"done: pass --model {out}")
    return 0
