"""The GPU path, checked on a GPU machine: one trial per GPU, bf16, memory freed between trials.

    python benchmarks/gpu_check.py             # a ~105M-parameter Llama built here, every GPU of the machine
    python benchmarks/gpu_check.py --dry-run   # CPU, a tiny model, in-process (smoke run; --quick is the same)

Builds a Llama locally (random weights: only speed and memory are measured, nothing is
downloaded), runs a study at concurrency = the number of GPUs on a local Ray (one GPU per
trial, bf16 autocast over bf16 weights, the LoRA adapters in fp32), with four trials per
GPU so each reused worker runs more than one, then a minimal LoRA loop (forward, backward,
AdamW) on GPU 0 with the same model, batch and sequence length. Prints:

- training tokens/s of the study's trials (mixopt's loop, as each trial measured it) against
  the minimal loop's on the same kind of GPU, as a ratio;
- each trial's peak GPU memory (``torch.cuda.max_memory_allocated`` over the trial, reset at
  its start) against the minimal loop's;
- what a reused worker still holds when its next trial starts (allocated, and reserved by
  torch's caching allocator after ``empty_cache``) against what it held before its first
  trial: the baseline, which it should return to;
- a trial's seconds (median): loading, training, evaluating, waiting for Ray Tune at its
  checkpoints, sampling its data;
- outside a trial, in this process: mixopt's loop and the minimal loop with one of the costs
  mixopt's loop used to pay at each step added, on a warm model and on a fresh one (loaded as
  a trial loads it, after the last was freed), each against the minimal loop.

``--compare-inprocess`` also runs the same study in this process (no Ray), to tell Ray's share
of a gap from the trial's.

MLflow is off (``tracking_uri="none"``): the figures are measured inside the trials, where
MLflow plays no part (the driver logs), and GPU images often lack it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from search_overhead import optuna_trials, study, study_inputs
from trial_throughput import build_model, minimal_loop

# the repository's root, for tests.support: the servers and stand-in trials the tests use too
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(1, ROOT)

# 105.0M parameters: 12 blocks of width 768 (MLP 3072, 12 heads, 4 key/value heads), vocabulary 4096
GPU_MODEL = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "num_key_value_heads": 4,
}


def settings(dry: bool, gpus: int) -> dict[str, Any]:
    """The study's settings: four trials per GPU (the 2 baselines included), so each worker is
    reused three times and a leak would show as growth."""
    if dry:
        return {
            "budget": "4k",
            "trials": 1,
            "concurrency": 1,
            "executor": "inprocess",
            "tracking_uri": "none",
            "train": {"seq_len": 64, "batch_size": 8, "precision": "bf16", "device": "cpu"},
        }
    return {
        "budget": "1M",
        "trials": 4 * gpus - 2,
        "concurrency": gpus,
        "tracking_uri": "none",
        "train": {"seq_len": 1024, "batch_size": 16, "precision": "bf16", "device": "cuda"},
    }


def minimal(
    model: str, train: dict[str, Any], budget: int
) -> tuple[float, float, dict[str, float]]:
    """The minimal loop on GPU 0 (or the CPU), same model, batch and length: (tokens/s of its
    second pass, the first paying CUDA's start-up; peak MB, 0 on CPU; the loops outside a
    trial, in this process, as ratios to that speed)."""
    import gc

    import numpy as np
    import torch

    from mixopt.data.sampling import PackedSequences
    from mixopt.models import load_model
    from mixopt.training import TrainConfig, add_lora, finetune

    cuda = train["device"] == "cuda"
    device = torch.device("cuda:0" if cuda else "cpu")
    dtype = torch.bfloat16
    config = TrainConfig(seq_len=train["seq_len"], batch_size=train["batch_size"], precision="bf16")
    held: dict[str, Any] = {}

    def fresh() -> Any:
        """A model loaded as a trial loads it, the last one freed and the cache emptied."""
        held.clear()
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
        held["net"] = add_lora(load_model(model, device, dtype if cuda else None), config)
        return held["net"]

    rows = budget // config.seq_len
    ids = np.random.default_rng(0).integers(3, 1000, (rows, config.seq_len), dtype=np.int64)
    data = PackedSequences(ids, ids.copy(), np.ones_like(ids))
    minimal_loop(fresh(), data, config.batch_size, device, dtype)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    speed = minimal_loop(held["net"], data, config.batch_size, device, dtype)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else 0.0
    # the warm model is held["net"] until the first fresh() frees it
    variants = {
        "minimal loop + an attention mask of ones": lambda: minimal_loop(
            held["net"], data, config.batch_size, device, dtype, mask=True
        ),
        "minimal loop + reading the loss at each step": lambda: minimal_loop(
            held["net"], data, config.batch_size, device, dtype, read=True
        ),
        "mixopt's loop (finetune), warm model": lambda: (
            finetune(held["net"], data, config, device).tokens_per_second
        ),
        "minimal loop, fresh model": lambda: minimal_loop(
            fresh(), data, config.batch_size, device, dtype
        ),
        "mixopt's loop (finetune), fresh model": lambda: (
            finetune(fresh(), data, config, device).tokens_per_second
        ),
    }
    return speed, peak, {name: run() / speed for name, run in variants.items()}


def completed(folder: Path) -> list[dict[str, Any]]:
    """The results of a study's completed trials, in the order they started."""
    trials = sorted(optuna_trials(folder), key=lambda t: t.datetime_start)
    return [t.user_attrs["result"] for t in trials if t.state.name == "COMPLETE"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dry-run",
        "--quick",
        dest="dry",
        action="store_true",
        help="CPU, a tiny model, in-process (smoke run)",
    )
    parser.add_argument(
        "--compare-inprocess",
        action="store_true",
        help="also run the same study in this process (no Ray), to tell Ray's share of a gap "
        "from the trial's",
    )
    args = parser.parse_args(argv)

    import warnings

    warnings.filterwarnings("ignore")
    import torch
    from transformers import AutoModelForCausalLM

    from mixopt.budget import parse_budget
    from tests.support.runners import MeasuredTrial

    gpus = 0 if args.dry else torch.cuda.device_count()
    if not args.dry and not gpus:
        print("no CUDA device here: run with --dry-run, or on a GPU machine", file=sys.stderr)
        return 2
    options = settings(args.dry, gpus)
    train = options.pop("train")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build_model(root, args.dry, None if args.dry else GPU_MODEL)
        params = AutoModelForCausalLM.from_pretrained(model).num_parameters()
        inputs = study_inputs(root, args.dry, model=model, records=300 if args.dry else 20_000)
        study(
            inputs,
            root / "study",
            train=train,
            runner=MeasuredTrial(),
            early_stop="off",
            sampler="random",
            **options,
        )
        results = completed(root / "study")
        local = None
        if args.compare_inprocess:
            study(
                inputs,
                root / "local",
                train=train,
                runner=MeasuredTrial(),
                early_stop="off",
                sampler="random",
                **{**options, "executor": "inprocess"},
            )
            local = completed(root / "local")
        fast, peak_min, alone = minimal(str(model), train, parse_budget(options["budget"]))

    speeds = [r["tokens_per_second"] for r in results]
    where = "GPU" if not args.dry else "CPU (dry run)"
    rows = [
        (
            f"{len(results)} trials, {max(gpus, 1)} at a time, bf16, {params / 1e6:.1f}M parameters, {where}",
            "",
            "",
        ),
        (
            "training tokens/s, mixopt's loop (median of the trials)",
            f"{statistics.median(speeds):,.0f}",
            f"{statistics.median(speeds) / fast:.3f} x the minimal loop's {fast:,.0f}",
        ),
    ]
    if local:
        there = statistics.median(r["tokens_per_second"] for r in local)
        rows.append(
            (
                "the same study in this process, no Ray (median)",
                f"{there:,.0f}",
                f"{there / fast:.3f} x the minimal loop's",
            )
        )
    times = {k: statistics.median(r["timings"][k] for r in results) for k in results[0]["timings"]}
    rows.append(
        (
            "a trial's seconds (median): "
            + ", ".join(f"{k[:-2]} {v:.2f}" for k, v in times.items()),
            "",
            "",
        )
    )
    rows += [
        (f"outside a trial: {name}", "", f"{ratio:.3f} x the minimal loop's")
        for name, ratio in alone.items()
    ]
    if not args.dry:
        peaks = [r["metrics"]["cuda.peak_mb"] for r in results]
        rows.append(
            (
                "peak GPU memory per trial (largest)",
                f"{max(peaks):,.0f} MB",
                f"{max(peaks) / peak_min:.2f} x the minimal loop's {peak_min:,.0f} MB",
            )
        )
        by_worker: dict[float, list[dict[str, float]]] = defaultdict(list)
        for r in results:
            by_worker[r["metrics"]["worker.pid"]].append(r["metrics"])
        reused = [m for runs in by_worker.values() for m in runs[1:]]
        base = max(runs[0]["cuda.before_mb"] for runs in by_worker.values())
        held = max((m["cuda.before_mb"] for m in reused), default=float("nan"))
        reserved = max(m["cuda.reserved_after_mb"] for runs in by_worker.values() for m in runs)
        each = ", ".join(f"{m['cuda.before_mb']:.1f}" for m in reused)
        rows.append(
            (
                f"allocated when a reused worker's next trial starts ({len(reused)} such trials)",
                f"{held:,.1f} MB",
                f"{held - base:+.1f} MB over the baseline {base:.1f} MB; "
                f"{held / max(peaks):.3f} x a trial's peak; in order: {each} MB",
            )
        )
        rows.append(
            (
                "reserved by the caching allocator after a trial (largest)",
                f"{reserved:,.0f} MB",
                f"{reserved / max(peaks):.3f} x a trial's peak",
            )
        )
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure'.ljust(width)}  {'value':>10}  ratio")
    for name, value, ratio in rows:
        print(f"{name.ljust(width)}  {value:>10}  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
