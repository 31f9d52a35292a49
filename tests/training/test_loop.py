from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mixopt.data import load_domains, sample_mixture, tokenize_domains
from mixopt.errors import ConfigError
from mixopt.testing import write_domains
from mixopt.training import TrainConfig, TrainingDivergedError, add_lora, checkpoint_steps, finetune
from mixopt.training.loop import _lr_scale


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory, tiny_model: Any) -> Any:
    _, tok = tiny_model
    root = tmp_path_factory.mktemp("loop")
    domains = tokenize_domains(
        load_domains(write_domains(root, {"cooking": "jsonl"}, n=400)), tok, root / "c"
    )
    return sample_mixture(domains, {"cooking": 1.0}, 6000, seed=0).pack(64, tok.pad_token_id)


def _lora(tiny_model: Any, config: TrainConfig) -> Any:
    import torch

    torch.manual_seed(0)
    return add_lora(copy.deepcopy(tiny_model[0]), config)


def test_training_lowers_the_loss_on_exactly_the_budget(tiny_model: Any, packed: Any) -> None:
    import torch

    config = TrainConfig(batch_size=8, seq_len=64, learning_rate=3e-3)
    model = _lora(tiny_model, config)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert 0 < trainable < 0.2 * sum(p.numel() for p in model.parameters())
    result = finetune(model, packed, config, torch.device("cpu"))
    assert (
        result.tokens == 6000
        and result.steps == result.total_steps == 12
        and not result.stopped_early
    )
    first, last = result.loss_curve[0][1], sum(v for _, v in result.loss_curve[-3:]) / 3
    assert last < first


def test_checkpoints_and_early_stop(tiny_model: Any, packed: Any) -> None:
    import torch

    config = TrainConfig(batch_size=8, seq_len=64, checkpoints=4)
    seen: list[tuple[int, int]] = []

    def stop_at_second(step: int, total: int) -> bool:
        seen.append((step, total))
        return len(seen) < 2

    result = finetune(
        _lora(tiny_model, config), packed, config, torch.device("cpu"), stop_at_second
    )
    assert seen == [(3, 12), (6, 12)] and result.stopped_early and result.steps == 6


def test_micro_batches_make_the_same_update_as_the_whole_batch(
    tiny_model: Any, packed: Any
) -> None:
    import torch

    whole = TrainConfig(batch_size=8, seq_len=64, learning_rate=3e-3)
    micro = TrainConfig(
        batch_size=8, seq_len=64, learning_rate=3e-3, micro_batch_size=3
    )  # uneven: 3+3+2
    a, b = _lora(tiny_model, whole), _lora(tiny_model, micro)
    ra, rb = (finetune(m, packed, c, torch.device("cpu")) for m, c in ((a, whole), (b, micro)))
    assert ra.tokens == rb.tokens == 6000 and ra.total_steps == rb.total_steps == 12
    assert [v for _, v in rb.loss_curve] == pytest.approx([v for _, v in ra.loss_curve], rel=1e-4)
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        if pa.requires_grad:
            assert torch.allclose(pa, pb, atol=1e-5), name


def test_a_nan_loss_fails_clearly(tiny_model: Any, packed: Any) -> None:
    import torch

    config = TrainConfig(batch_size=8, seq_len=64)
    model = _lora(tiny_model, config)
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if "lora_B" in n).fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match="training loss became nan at step 1"):
        finetune(model, packed, config, torch.device("cpu"))


def test_a_later_divergence_is_caught_at_its_step_within_the_read_interval(
    tiny_model: Any, packed: Any
) -> None:
    """Losses are read from the device every _READ_EVERY steps, not at each: a loss that turns
    NaN at step 5 still fails at step 5, after at most _READ_EVERY steps of training."""
    import torch

    from mixopt.training.loop import _READ_EVERY

    config = TrainConfig(
        batch_size=2, seq_len=64, checkpoints=1
    )  # 47 steps, one checkpoint: the last
    model = _lora(tiny_model, config)
    head = next(m for name, m in model.named_modules() if name.endswith("lm_head"))
    calls = []

    def poison(module: Any, args: Any, output: Any) -> Any:
        calls.append(1)
        return output * float("nan") if len(calls) >= 5 else output

    head.register_forward_hook(poison)
    with pytest.raises(TrainingDivergedError, match="training loss became nan at step 5 of 47"):
        finetune(model, packed, config, torch.device("cpu"))
    assert len(calls) == _READ_EVERY < 47


def test_a_mask_of_all_ones_is_left_out(tiny_model: Any, packed: Any) -> None:
    """Full rows train without an attention mask (the model may then take its fastest
    attention), which gives the loss a mask of ones gives; the padded last row keeps its mask."""
    import torch

    config = TrainConfig(batch_size=8, seq_len=64)
    model = _lora(tiny_model, config)
    ids, labels = (torch.from_numpy(a[:8]) for a in (packed.input_ids, packed.labels))
    with torch.no_grad():
        plain = model(input_ids=ids, labels=labels).loss
        ones = model(input_ids=ids, labels=labels, attention_mask=torch.ones_like(ids)).loss
    assert torch.equal(plain, ones)
    masked: list[bool] = []
    model.register_forward_pre_hook(
        lambda m, a, kw: masked.append("attention_mask" in kw), with_kwargs=True
    )
    finetune(model, packed, config, torch.device("cpu"))
    assert not packed.attention_mask[-1].all() and masked == [False] * 11 + [True]


@pytest.mark.parametrize(
    ("total", "k", "expected"), [(12, 3, [4, 8, 12]), (2, 3, [1, 2]), (1, 4, [1]), (10, 1, [10])]
)
def test_checkpoint_steps(total: int, k: int, expected: list[int]) -> None:
    assert checkpoint_steps(total, k) == expected


@pytest.mark.parametrize("schedule", ["cosine", "linear", "constant"])
def test_schedule_warms_up_and_never_stalls(schedule: str) -> None:
    config = TrainConfig(schedule=schedule, warmup_ratio=0.1)
    scales = [_lr_scale(s, 100, config) for s in range(1, 101)]
    assert scales[0] == pytest.approx(0.1) and max(scales) == pytest.approx(1.0)
    assert scales[-1] > 0 and all(0 < s <= 1 for s in scales)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lora_rank": 0}, "lora_rank"),
        ({"schedule": "step"}, "schedule"),
        ({"precision": "fp8"}, "precision"),
        ({"device": "tpu"}, "device"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"seq_len": 1}, "seq_len"),
        ({"micro_batch_size": 9}, "micro_batch_size"),
    ],
)
def test_train_config_rejects_bad_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kwargs)


def test_train_config_pickles(tmp_path: Path) -> None:
    import pickle

    config = TrainConfig(target_modules=("q_proj",))
    assert pickle.loads(pickle.dumps(config)) == config and config.to_dict()["target_modules"] == (
        "q_proj",
    )
