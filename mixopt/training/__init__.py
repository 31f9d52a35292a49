"""Short LoRA fine-tunes: config, adapters, the loop."""

from __future__ import annotations

from mixopt.training.config import TrainConfig
from mixopt.training.loop import (
    Checkpoint,
    TrainingDivergedError,
    TrainResult,
    checkpoint_steps,
    finetune,
)
from mixopt.training.lora import add_lora

__all__ = [
    "Checkpoint",
    "TrainConfig",
    "TrainResult",
    "TrainingDivergedError",
    "add_lora",
    "checkpoint_steps",
    "finetune",
]
