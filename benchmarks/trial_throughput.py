"""Trial throughput: mixopt's LoRA loop against a minimal hand-written PyTorch loop and HF
Trainer, on the same model, batch and sequence length; and where a whole trial's time goes.

    python benchmarks/trial_throughput.py          # 3.4M-parameter Llama (vocab 4096, d192, 6 layers)
    python benchmarks/trial_throughput.py --quick  # a much smaller model, fewer steps (smoke run)

Prints training tokens/s of each loop and their ratio to the minimal loop (target for
mixopt's: >= 0.9), and the share of a run_trial's wall time spent outside training and
evaluation (start-up, sampling, model loading).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def build_model(root: Path, quick: bool, dims: dict[str, int] | None = None) -> Path:
    """A randomly initialized Llama (no pre-training: only its speed is measured) and its
    tokenizer, saved in ``root/model``; ``dims`` (LlamaConfig's sizes) replaces the sizes here."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from mixopt.testing import DOMAIN_KINDS, build_tokenizer, make_records
    from mixopt.testing.tiny_model import render_text

    texts = [render_text(r) for kind in DOMAIN_KINDS for r in make_records(kind, 1000, seed=5)]
    tok = build_tokenizer(texts, vocab_size=1024 if quick else 4096)
    dims = dims or (
        dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2)
        if quick
        else dict(hidden_size=192, intermediate_size=768, num_hidden_layers=6)
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tok),
            tie_word_embeddings=True,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            **{"num_attention_heads": 4, "num_key_value_heads": 2, **dims},
        )
    )
    out = root / "model"
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


def minimal_loop(
    model: Any,
    data: Any,
    batch: int,
    device: Any = None,
    dtype: Any = None,
    *,
    mask: bool = False,
    read: bool = False,
) -> float:
    """The least a LoRA loop can do: forward (under autocast when ``dtype``), backward, AdamW
    step, on ``device`` (default CPU). Returns tokens/s. ``mask`` adds passing the attention
    mask, ``read`` reading the loss at each step (``float(loss)``: the host waits for the GPU),
    the two per-step costs gpu_check.py measures."""
    import torch

    device = device or torch.device("cpu")
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    ids, labels, attn = (
        torch.from_numpy(a).to(device) for a in (data.input_ids, data.labels, data.attention_mask)
    )
    model.train()
    start = time.perf_counter()
    for i in range(0, len(ids), batch):
        extra = {"attention_mask": attn[i : i + batch]} if mask else {}
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = model(input_ids=ids[i : i + batch], labels=labels[i : i + batch], **extra).loss
        if read:
            float(loss.detach())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # kernels run asynchronously: the clock stops when they end
    return data.num_tokens / (time.perf_counter() - start)


def mixopt_loop(model: Any, data: Any, config: Any) -> float:
    import torch

    from mixopt.training import finetune

    result = finetune(model, data, config, torch.device("cpu"))
    return result.tokens_per_second


def hf_trainer(model: Any, data: Any, batch: int, out: Path) -> float:
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    ds = Dataset.from_dict(
        {
            "input_ids": data.input_ids.tolist(),
            "labels": data.labels.tolist(),
            "attention_mask": data.attention_mask.tolist(),
        }
    )
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=batch,
        num_train_epochs=1,
        learning_rate=1e-3,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        use_cpu=True,
        dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=ds)
    start = time.perf_counter()
    trainer.train()
    return data.num_tokens / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small model, few steps (smoke run)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds per loop (median reported)"
    )
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    budget, seq_len, batch = (8_192, 128, 8) if args.quick else (32_768, 256, 8)

    import torch

    from mixopt.data import load_domains, sample_mixture, tokenize_domains, uniform_mixture
    from mixopt.evaluators import EvalSuite, LossTask, NamedTask
    from mixopt.models import load_model, load_tokenizer
    from mixopt.plans import OnePass
    from mixopt.testing import make_records, write_domains
    from mixopt.training import TrainConfig, add_lora
    from mixopt.trial import TrialSpec, run_trial

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or len(os.sched_getaffinity(0))))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir = build_model(root, args.quick)
        tok = load_tokenizer(str(model_dir))
        domains = tokenize_domains(
            load_domains(
                write_domains(
                    root / "data", {"finance": "jsonl", "sql": "jsonl", "cooking": "jsonl"}, n=3000
                )
            ),
            tok,
            root / "cache",
        )
        packed = sample_mixture(domains, uniform_mixture(domains, budget), budget, seed=0).pack(
            seq_len, tok.pad_token_id
        )
        config = TrainConfig(
            seq_len=seq_len, batch_size=batch, precision="fp32", device="cpu", checkpoints=1
        )
        base = add_lora(load_model(str(model_dir)), config)
        warm = copy.deepcopy(base)
        minimal_loop(warm, packed, batch)  # warm-up: allocator, kernels
        rates: dict[str, list[float]] = {"minimal loop": [], "mixopt loop": [], "HF Trainer": []}
        for _ in range(rounds):  # alternate so drift in machine load hits every loop alike
            rates["minimal loop"].append(minimal_loop(copy.deepcopy(base), packed, batch))
            rates["mixopt loop"].append(mixopt_loop(copy.deepcopy(base), packed, config))
            rates["HF Trainer"].append(
                hf_trainer(copy.deepcopy(base), packed, batch, root / "trainer")
            )

        (root / "eval.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in make_records("finance", 50, seed=99))
        )
        suite = EvalSuite((NamedTask("loss", LossTask(str(root / "eval.jsonl"))),))
        trial = run_trial(
            TrialSpec(
                str(model_dir),
                domains,
                uniform_mixture(domains, budget),
                budget,
                suite,
                config,
                plan=OnePass(),
            )
        )

    params = sum(p.numel() for p in base.parameters())
    reference = statistics.median(rates["minimal loop"])
    print(
        f"model: {params / 1e6:.2f}M parameters, LoRA r={config.lora_rank} on all linear layers; batch {batch} x {seq_len} tokens, "
        f"{budget:,} tokens per run, {torch.get_num_threads()} threads, median of {rounds} alternating rounds\n"
    )
    print(f"{'figure':<34}  {'tokens/s':>9}  ratio")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"{name:<34}  {rate:>9,.0f}  {rate / reference:.3f} x the minimal loop")
    t = trial.timings
    outside = t["total_s"] - t["train_s"] - t["eval_s"]
    print(
        f"\nrun_trial: {t['total_s']:.2f} s in all: data {t['data_s']:.2f} s, model load {t['load_s']:.2f} s, "
        f"train {t['train_s']:.2f} s, eval {t['eval_s']:.2f} s"
    )
    print(
        f"{'trial time outside train + eval':<34}  {outside:>8.2f}s  {outside / t['total_s']:.3f} x the trial's wall time"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
