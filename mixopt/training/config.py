"""How a trial fine-tunes: LoRA shape, optimizer, batch, precision and device."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mixopt.errors import ConfigError
from mixopt.setting import setting

__all__ = ["PRECISIONS", "SCHEDULES", "TrainConfig"]

SCHEDULES = ("cosine", "linear", "constant")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class TrainConfig:
    """A short LoRA fine-tune (peft) on a packed mixture."""

    lora_rank: int = 8
    """LoRA rank r."""
    lora_alpha: int = 16
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA input; 0 keeps short runs deterministic and fast."""
    target_modules: tuple[str, ...] | None = setting(None, metavar="NAMES")
    """Module names to adapt, comma-separated; default: every linear layer but the output
    head (peft's all-linear), which suits any decoder architecture."""
    learning_rate: float = setting(2e-3, flags=("--lr",))
    """Peak learning rate (LoRA tolerates far higher rates than full fine-tuning)."""
    schedule: str = setting("cosine", choices=SCHEDULES)
    """``cosine`` or ``linear`` decay to zero, or ``constant``, after the warm-up."""
    warmup_ratio: float = 0.05
    """Share of the steps spent warming up linearly from zero."""
    weight_decay: float = 0.0
    """AdamW weight decay on the LoRA weights."""
    batch_size: int = 8
    """Sequences per optimizer step."""
    micro_batch_size: int | None = None
    """Sequences per forward pass; default: the whole batch. Smaller micro-batches accumulate
    their gradients into the same step (the same update, up to rounding), for a GPU whose
    memory does not hold a whole batch."""
    seq_len: int = 256
    """Tokens per packed sequence."""
    max_grad_norm: float = 1.0
    """Gradient clipping; 0 turns it off."""
    precision: str = setting("auto", choices=PRECISIONS)
    """``auto`` (bf16 autocast on a GPU that has it, else fp32), ``fp32``, ``bf16`` or ``fp16``."""
    device: str = setting("auto", identity=False)
    """``auto`` (the GPU if there is one), ``cpu``, ``cuda`` or ``cuda:N``."""
    threads: int | None = setting(None, identity=False)
    """CPU threads for torch; default: the CPUs this process was given (Ray's share)."""
    checkpoints: int = 3
    """Evenly spaced points at which the intermediate score is reported (the last is the end)."""

    def __post_init__(self) -> None:
        problems = []
        for key in ("lora_rank", "batch_size", "checkpoints"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                problems.append(f"train config: {key} must be a positive integer")
        if not isinstance(self.seq_len, int) or self.seq_len < 2:
            problems.append("train config: seq_len must be an integer of at least 2")
        if not self.learning_rate > 0:
            problems.append("train config: learning_rate must be positive")
        if not 0 <= self.warmup_ratio < 1:
            problems.append("train config: warmup_ratio must be in [0, 1)")
        if not 0 <= self.lora_dropout < 1:
            problems.append("train config: lora_dropout must be in [0, 1)")
        if self.schedule not in SCHEDULES:
            problems.append(f"train config: schedule must be one of {', '.join(SCHEDULES)}")
        if self.precision not in PRECISIONS:
            problems.append(f"train config: precision must be one of {', '.join(PRECISIONS)}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            problems.append(
                f"train config: device must be auto, cpu, cuda or cuda:N, got {self.device!r}"
            )
        if self.micro_batch_size is not None and (
            not isinstance(self.micro_batch_size, int)
            or not 1 <= self.micro_batch_size <= self.batch_size
        ):
            problems.append(
                "train config: micro_batch_size must be an integer from 1 to batch_size"
            )
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            problems.append("train config: threads must be a positive integer")
        if problems:
            raise ConfigError(problems)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
