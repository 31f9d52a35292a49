"""The fine-tuning loop: one pass over the packed mixture, so the model sees exactly the budget.

A plain PyTorch loop rather than HF ``Trainer``: both run at the same speed on these models
(``benchmarks/trial_throughput.py``), but ``Trainer`` adds ~0.25 s per ``train()``, its own
data pipeline and logging, and its callbacks make "stop this trial now" awkward; the loop
needs none of that to train on a fixed token stream.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mixopt.data.sampling import PackedSequences
from mixopt.errors import MixoptError
from mixopt.training.config import TrainConfig
from mixopt.training.device import autocast_dtype

__all__ = ["Checkpoint", "TrainResult", "TrainingDivergedError", "checkpoint_steps", "finetune"]

# Losses stay on the device and are read every this many steps and at each checkpoint: a
# divergence is caught that late at most, and the host never waits for the GPU in between.
_READ_EVERY = 16

# Called at each checkpoint with (step, total steps); returning False stops training there.
Checkpoint = Callable[[int, int], "bool | None"]


class TrainingDivergedError(MixoptError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainResult:
    steps: int
    """Optimizer steps taken."""
    total_steps: int
    """Steps a full run takes."""
    tokens: int
    """Real (non-padding) tokens trained on."""
    loss_curve: tuple[tuple[int, float], ...]
    """(step, mean training loss of that step)."""
    seconds: float
    """Wall time of the loop."""
    stopped_early: bool
    """True when a checkpoint callback stopped training."""

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def checkpoint_steps(total_steps: int, checkpoints: int) -> list[int]:
    """Evenly spaced steps (1-based) at which to report; the last is always the final step."""
    return sorted({max(1, round(total_steps * k / checkpoints)) for k in range(1, checkpoints + 1)})


def finetune(
    model: Any,
    data: PackedSequences,
    config: TrainConfig,
    device: Any,
    on_checkpoint: Checkpoint | None = None,
) -> TrainResult:
    """Train ``model`` (already on ``device``, LoRA added) for one pass over ``data``."""
    import torch

    n = data.input_ids.shape[0]
    total = math.ceil(n / config.batch_size)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    dtype = autocast_dtype(config, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    ids, labels, attn = (
        torch.from_numpy(a) for a in (data.input_ids, data.labels, data.attention_mask)
    )
    marks = set(checkpoint_steps(total, config.checkpoints))
    curve: list[tuple[int, float]] = []
    pending: list[tuple[int, Any]] = []  # (step, its loss still on the device)
    tokens, stopped, start = 0, False, time.perf_counter()
    model.train()
    for step in range(1, total + 1):
        rows = slice((step - 1) * config.batch_size, step * config.batch_size)
        for group in opt.param_groups:
            group["lr"] = config.learning_rate * _lr_scale(step, total, config)
        loss, counted = _step(
            model, opt, scaler, params, config, device, dtype, (ids[rows], labels[rows], attn[rows])
        )
        pending.append((step, loss))
        tokens += counted
        if step in marks or step % _READ_EVERY == 0:
            _read(pending, curve, total)
        if step in marks and on_checkpoint is not None:
            model.eval()
            keep_going = on_checkpoint(step, total)
            model.train()
            if keep_going is False and step < total:
                stopped = True
                break
    model.eval()
    return TrainResult(
        len(curve), total, tokens, tuple(curve), time.perf_counter() - start, stopped
    )


def _read(pending: list[tuple[int, Any]], curve: list[tuple[int, float]], total: int) -> None:
    """Move the steps' losses from the device into ``curve`` (one synchronization for all of
    them), failing at the first that is not finite."""
    import torch

    values = torch.stack([loss for _, loss in pending]).tolist()
    for (step, _), value in zip(pending, values, strict=True):
        if not math.isfinite(value):
            raise TrainingDivergedError(f"training loss became {value} at step {step} of {total}")
        curve.append((step, value))
    pending.clear()


def _step(
    model: Any,
    opt: Any,
    scaler: Any,
    params: list[Any],
    config: TrainConfig,
    device: Any,
    dtype: Any,
    batch: tuple[Any, Any, Any],
) -> tuple[Any, int]:
    """One optimizer step over ``batch`` (input ids, labels, attention mask), in micro-batches
    of ``micro_batch_size``; returns the batch's loss (a tensor on the device, not read: reading
    it would make the host wait for the GPU at every step) and its tokens."""
    import torch

    ids, labels, attn = batch
    size = config.micro_batch_size or ids.shape[0]
    # each micro-batch's mean loss weighted by its share of the batch's predicted tokens:
    # the accumulated gradient is the whole batch's (the model averages over label tokens)
    predicted = [
        int((labels[i : i + size][:, 1:] != -100).sum()) for i in range(0, ids.shape[0], size)
    ]
    # a mask of all ones means what no mask means (causal attention over every token), and
    # without one the model may take its fastest attention kernel
    masked = not bool(attn.all())
    pin = device.type == "cuda"
    whole, summed = max(1, sum(predicted)), torch.zeros((), device=device)
    for k, i in enumerate(range(0, ids.shape[0], size)):
        part = {"input_ids": ids[i : i + size], "labels": labels[i : i + size]}
        if masked:
            part["attention_mask"] = attn[i : i + size]
        # from pinned memory the copy is asynchronous; from pageable memory it waits for the GPU
        part = {
            name: (t.pin_memory() if pin else t).to(device, non_blocking=True)
            for name, t in part.items()
        }
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = model(**part).loss * (predicted[k] / whole)
        summed = summed + loss.detach().float()
        scaler.scale(loss).backward()
    if config.max_grad_norm > 0:
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
    scaler.step(opt)
    scaler.update()
    opt.zero_grad(set_to_none=True)
    return summed, int(attn.sum())


def _lr_scale(step: int, total: int, config: TrainConfig) -> float:
    warm = math.ceil(config.warmup_ratio * total)
    if step <= warm:
        return step / warm
    if config.schedule == "constant":
        return 1.0
    # progress at the start of the step: below 1 on the last step, which still learns
    progress = (step - warm - 1) / max(1, total - warm)
    if config.schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))
