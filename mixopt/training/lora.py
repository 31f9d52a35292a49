"""Wrapping a base model with LoRA adapters (peft)."""

from __future__ import annotations

from typing import Any

from mixopt.training.config import TrainConfig

__all__ = ["add_lora"]


def add_lora(model: Any, config: TrainConfig) -> Any:
    """Freeze ``model`` and add LoRA adapters as ``config`` describes; return the peft model."""
    import warnings

    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        # every linear layer but the output head: peft finds them for any architecture
        target_modules=list(config.target_modules) if config.target_modules else "all-linear",
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():
        # peft asks transformers for a renamed attribute on every call; harmless, and noise to users
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
        )
        return get_peft_model(model, lora)
