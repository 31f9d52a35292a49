from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from mixopt.evaluators import LossTask
from mixopt.io import file_mode
from mixopt.testing import make_records


def test_tiny_model_is_an_ordinary_transformers_folder(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    names = {p.name for p in tiny_model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= names
    assert not any(n.endswith(".bin") for n in names)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    assert model.config.model_type == "llama" and tok.chat_template
    assert 100_000 < sum(p.numel() for p in model.parameters()) < 5_000_000


def test_pretraining_taught_it_the_domains(tiny_model: Any, tmp_path: Path) -> None:
    import json

    model, tok = tiny_model
    real = make_records("sports", 40, seed=31337)
    rng = random.Random(0)
    shuffled = [
        {"text": " ".join(rng.sample(r["text"].split(), len(r["text"].split())))} for r in real
    ]
    (tmp_path / "real.jsonl").write_text("".join(json.dumps(r) + "\n" for r in real))
    (tmp_path / "shuffled.jsonl").write_text("".join(json.dumps(r) + "\n" for r in shuffled))
    real_loss = LossTask(str(tmp_path / "real.jsonl")).evaluate(model, tok).metrics["loss"]
    shuffled_loss = LossTask(str(tmp_path / "shuffled.jsonl")).evaluate(model, tok).metrics["loss"]
    assert real_loss < 0.6 * shuffled_loss


def test_cli_builds_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from mixopt.cli import main

    # --corpus: the tokenizer and the pre-training read the user's own domains
    word = "zyxwvutsrq"
    records = [{"text": f"{word} number {i} said {word} again"} for i in range(200)]
    (tmp_path / "own.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    corpus = tmp_path / "domains.json"
    corpus.write_text(json.dumps([{"domain": "own", "path": "own.jsonl"}]))
    argv = ["tiny-model", str(tmp_path / "m"), "--pretrain-tokens", "4k", "--corpus", str(corpus)]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "4,000 pre-training tokens of the text of" in out
    # each step said, the pre-training's time estimated from its own first steps
    assert "training a 1024-token BPE tokenizer on 200 texts" in err
    assert "pre-training: 1 step, about " in err and "(its first step;" in err
    from transformers import AutoTokenizer

    own = AutoTokenizer.from_pretrained(str(tmp_path / "m"))
    assert len(own.tokenize(f" {word}")) <= 2  # a word of the corpus is a token or two
    # every file as the umask makes them (safetensors alone wrote its file 0600)
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "m").iterdir()} == {file_mode()}
    assert main(["tiny-model", str(tmp_path / "m")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["tiny-model", str(tmp_path / "n"), "--corpus", str(tmp_path / "nope.json")]) == 2
    assert "domains file not found" in capsys.readouterr().err
    assert not (tmp_path / "n").exists()
