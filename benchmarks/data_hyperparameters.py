"""Data hyperparameters: do searched quality-filter thresholds beat the mixture alone?

    python benchmarks/data_hyperparameters.py           # 16 trials a study, 20k tokens, 3 confirmation seeds, 100k records scored
    python benchmarks/data_hyperparameters.py --quick   # the smoke: the study with filters only, 1 trial, 2k tokens, 200 records scored

Three domains, two of which hold a known share of harmful records: ``finance`` text where
30% are degenerate repetitions ("buy now buy now ..."), ``sql`` prompt/completion pairs
where 30% of the completions do not answer their prompt (a cooking sentence instead), and
clean ``cooking`` text. The score is the held-out loss (negated) of clean finance and SQL.
Two studies with the same sampler, trials, seeds and budget: one searches the mixture
alone (``default`` space), one the mixture with the filters ``word_repetition.max`` (all
domains) and ``sql/ifd.max`` (the SQL domain). Printed: both studies' confirmed scores,
the precision/recall of what the found thresholds removed against the known harmful
records, the time to score 100k records with the tiny model, and what a second study
computes (no score: every one is read from the cache).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HARMFUL = 0.3
SPACE = """
filters:
  word_repetition: {max: [0.05, 1.0], rep_len: 3}
  per_domain:
    sql: {ifd: {max: [0.3, 1.5]}}
"""
TASKS = "tasks:\n  - {name: finance_loss, kind: loss, data: finance_eval.jsonl}\n  - {name: sql_loss, kind: loss, data: sql_eval.jsonl}\n"


def build(root: Path, n: int, seed: int = 0) -> tuple[Path, dict[str, set[int]]]:
    """The domains (with their harmful records' indices) and the clean held-out task data."""
    from mixopt.testing import make_heldout, make_records

    rng = random.Random(seed)
    finance, sql, cooking = (make_records(k, n, seed) for k in ("finance", "sql", "cooking"))
    harmful: dict[str, set[int]] = {
        "finance": set(rng.sample(range(n), int(HARMFUL * n))),
        "sql": set(rng.sample(range(n), int(HARMFUL * n))),
    }
    for i in harmful["finance"]:
        words = finance[i]["text"].split()[: rng.randint(2, 4)]
        finance[i] = {"text": " ".join(words * rng.randint(8, 16))}
    for i in harmful["sql"]:
        sql[i] = {"prompt": sql[i]["prompt"], "completion": " " + cooking[rng.randrange(n)]["text"]}
    entries = []
    for name, records in (("finance", finance), ("sql", sql), ("cooking", cooking)):
        (root / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        entries.append({"domain": name, "path": f"{name}.jsonl", "max_epochs": 4})
    for name, records in (
        ("finance", finance),
        ("sql", sql),
    ):  # clean items that no training record shares
        (root / f"{name}_eval.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in make_heldout(name, 40, 7, records))
        )
    (root / "tasks.yaml").write_text(TASKS)
    (root / "filters.yaml").write_text(SPACE)
    (root / "domains.json").write_text(json.dumps(entries))
    return root / "domains.json", harmful


def study(
    root: Path, model: str, space: str, args: argparse.Namespace, name: str | None = None
) -> dict[str, Any]:
    """One study in ``root/name`` (read back as it is when a kept ``--out`` holds it finished);
    its seconds are from its first to its last event."""
    from mixopt import optimize_mixture

    out = root / (name or f"study-{Path(space).stem}")
    if not (out / "best_mixture.json").exists():
        optimize_mixture(
            model,
            str(root / "domains.json"),
            str(root / "tasks.yaml"),
            budget=args.budget,
            trials=args.trials,
            confirm=args.confirm,
            sampler="tpe",
            seed=1,
            out=str(out),
            space=space,
            early_stop="off",
            quiet=True,
            executor=args.executor,
            train={"seq_len": 64, "batch_size": 8, "learning_rate": 3e-3, "checkpoints": 1},
            events=str(out.with_suffix(".events.jsonl")),
        )
    best = json.loads((out / "best_mixture.json").read_text())
    events = [
        json.loads(line) for line in out.with_suffix(".events.jsonl").read_text().splitlines()
    ]
    computed = sum(1 for e in events if e.get("event") == "score_done" and not e.get("cached"))
    return {"best": best, "seconds": events[-1]["time"] - events[0]["time"], "computed": computed}


def precision_recall(
    root: Path, model: str, filters: dict[str, float], harmful: dict[str, set[int]]
) -> tuple[float, float]:
    """Of the records the found thresholds remove: the share that is harmful, and the share of the harmful removed."""
    from mixopt.data.filtering import filter_domains, source_rows
    from mixopt.data.spec import load_domains
    from mixopt.data.tokenize import tokenize_domains
    from mixopt.models import load_tokenizer
    from mixopt.scorers.cache import score_domains
    from mixopt.search.proposals.space import load_space

    domains = tokenize_domains(load_domains(str(root / "domains.json")), load_tokenizer(model))
    space = load_space(str(root / "filters.yaml")).filters
    scores = score_domains(
        domains, space.settings, model, only=space.scorers_by_domain([d.name for d in domains])
    )
    kept = filter_domains(domains, scores, filters)
    removed = {
        (d.name, i)
        for d, k in zip(domains, kept, strict=True)
        for i in set(range(d.num_records)) - set(source_rows(k, np.arange(k.num_records)).tolist())
    }
    bad = {(n, i) for n, rows in harmful.items() for i in rows}
    hit = len(removed & bad)
    return hit / max(1, len(removed)), hit / max(1, len(bad))


def time_scoring(root: Path, model: str, records: int) -> dict[str, float]:
    """Seconds to score ``records`` SQL records by each scorer, then again (from the cache)."""
    from mixopt.data.spec import DomainSpec
    from mixopt.data.tokenize import tokenize_domain
    from mixopt.models import load_tokenizer
    from mixopt.scorers.cache import score_domain
    from mixopt.testing import make_records

    path = root / "many.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in make_records("sql", records, 5)))
    tok = load_tokenizer(model)
    domain = tokenize_domain(DomainSpec("many", paths=(str(path),)), tok, root / "cache")
    out = {}
    for name in ("word_repetition", "ifd"):
        for attempt in ("first", "cached"):
            t = time.perf_counter()
            score_domain(domain, name, {}, model, root / "cache", tokenizer=tok)
            out[f"{name} {attempt}"] = time.perf_counter() - t
    return out


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", help="keep the studies here (default: a temporary folder)")
    p.add_argument(
        "--model",
        help="a local model to fine-tune and score with (default: a tiny one pre-trained here)",
    )
    args = p.parse_args()
    # quick is CI's smoke: every step once, at the least that still prints the table: one
    # study (below), 1 trial, no confirmation runs (the table then shows the search score), and
    # 200 records to time the scorers on (2,000 took as long as two studies)
    args.records, args.trials, args.budget, args.confirm, args.scored, args.executor = (
        (300, 1, "2k", 0, 200, "inprocess") if args.quick else (1_000, 16, "20k", 3, 100_000, "ray")
    )
    from mixopt.testing.tiny_model import TinyModelConfig, build_tiny_model

    root = Path(args.out or tempfile.mkdtemp(prefix="mixopt-datahp-"))
    root.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    model = args.model or str(root / "model")
    if (
        not args.model and not (root / "model" / "config.json").exists()
    ):  # a kept --out reuses its model
        build_tiny_model(
            root / "model", TinyModelConfig(pretrain_tokens=60_000 if args.quick else 400_000)
        )
    print(f"tiny model built in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    _, harmful = build(root, args.records)
    # quick runs the study with filters only: the mixture-only one is the same call with the
    # default space (its cells print as "-")
    plain = None if args.quick else study(root, model, "default", args)
    filtered = study(root, model, str(root / "filters.yaml"), args)
    # a second study with the same filters and model, in its own folder: every score from the cache
    again = (
        None
        if args.quick
        else study(root, model, str(root / "filters.yaml"), args, "study-filters-again")
    )
    found = filtered["best"]["filters"]
    precision, recall = precision_recall(root, model, found, harmful)
    timing = time_scoring(root, model, args.scored)

    def confirmed(s: dict[str, Any] | None) -> str:
        if s is None:
            return "- (--quick runs one study)"
        b = s["best"]
        return f"{b['score']:.4f} ± {b['score_std'] or 0:.4f}"

    score = "confirmed score" if args.confirm else "search score (no confirmation runs)"
    print("\n| figure | value |\n|---|---|")
    print(f"| {score}, mixture only ({args.trials} trials) | {confirmed(plain)} |")
    print(f"| {score}, mixture + filters ({args.trials} trials) | {confirmed(filtered)} |")
    print(f"| found thresholds | {', '.join(f'{k}={v:.3g}' for k, v in found.items())} |")
    print(f"| removed records that are harmful (precision) | {precision:.2f} |")
    print(f"| harmful records removed (recall) | {recall:.2f} |")
    for k, v in timing.items():
        print(f"| {k}: {args.scored:,} records | {v:.2f}s |")
    print(
        f"| scoring speed-up from the cache (ifd) | {timing['ifd first'] / max(timing['ifd cached'], 1e-9):.0f} x |"
    )
    if again is not None:
        print(f"| scores computed by a second study with the same filters | {again['computed']} |")
    with_filters = f"{filtered['seconds']:.0f}"
    if plain is not None:
        with_filters += f" ({filtered['seconds'] / plain['seconds']:.2f} x)"
    alone = "-" if plain is None else f"{plain['seconds']:.0f}"
    print(f"| study seconds: mixture only / with filters | {alone} / {with_filters} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
