"""``mixopt tiny-model``: its token count is written as every budget is."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixopt.cli import main


def test_pretrain_tokens_take_a_budget_and_refuse_a_bad_one_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tiny-model", str(tmp_path / "bad"), "--pretrain-tokens", "lots"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--pretrain-tokens" in err[0] and "50k" in err[0], err
    assert not (tmp_path / "bad").exists()  # refused before anything is written

    assert main(["tiny-model", str(tmp_path / "model"), "--pretrain-tokens", "4k"]) == 0
    assert "(4,000 pre-training tokens of mixopt's synthetic text)" in capsys.readouterr().out
    assert (tmp_path / "model" / "config.json").is_file()
