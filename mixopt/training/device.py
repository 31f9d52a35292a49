"""Where and how a trial computes: device, autocast dtype, CPU threads."""

from __future__ import annotations

import os
from typing import Any

from mixopt.training.config import TrainConfig

__all__ = ["autocast_dtype", "device_problems", "resolve_device", "set_threads"]


def resolve_device(config: TrainConfig) -> Any:
    import torch

    if config.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(config.device)


def device_problems(device: str) -> list[str]:
    """Why this machine's torch cannot train on ``device`` (empty when it can); checked before
    a study writes anything, so a missing GPU is one line, not a failed trial per proposal."""
    if device in ("auto", "cpu") or not isinstance(device, str) or not device.startswith("cuda"):
        return []  # other values are the config's to refuse
    _, colon, index = device.partition(":")
    if colon and not index.isdigit():
        return [f"--device {device}: expected cuda or cuda:N, N a GPU's number"]
    import torch

    if not torch.cuda.is_available():
        why = (
            f"this torch ({torch.__version__}) is built without CUDA"
            if torch.version.cuda is None
            else "torch sees no CUDA device on this machine"
        )
        return [f"--device {device}: {why}; use --device cpu (or auto), or install torch with CUDA"]
    count = torch.cuda.device_count()
    if index and int(index) >= count:
        names = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
        return [
            f"--device {device}: this machine has {count} CUDA device{'s' if count != 1 else ''} "
            f"({names}); choose one of them, or --device cuda"
        ]
    return []


def autocast_dtype(config: TrainConfig, device: Any) -> Any | None:
    """The autocast dtype, or None to train in fp32."""
    import torch

    if config.precision == "fp32":
        return None
    if config.precision == "bf16":
        return torch.bfloat16
    if config.precision == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return (
        None  # CPU: fp32, exact and portable (bf16 is opt-in: faster only on CPUs with bf16 units)
    )


def set_threads(config: TrainConfig) -> int:
    """Match torch's CPU threads to what this process was given; return the count.

    Ray sets OMP_NUM_THREADS to a trial's CPUs; more threads than that oversubscribe the
    cores that concurrent trials share (3x slower measured at 2 threads in a 1-CPU trial).
    """
    import torch

    n = (
        config.threads
        or int(os.environ.get("OMP_NUM_THREADS") or 0)
        or len(os.sched_getaffinity(0))
    )
    torch.set_num_threads(max(1, n))
    return max(1, n)
