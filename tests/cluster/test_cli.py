from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixopt.cli import main


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mixopt: error: ")
    return err[0]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--k", "1000"], "k 1000 is not smaller than the pool (240 records)"),
        (["--k-range", "300:400"], "starts at or above the pool's size"),
        (["--k-range", "4-8"], "k range must be A:B"),
        (["--method", "kmean"], "Unknown clustering method 'kmean'. Did you mean: kmeans?"),
        (["--embed", "tfid"], "unknown embedding 'tfid'. Did you mean: tfidf?"),
        (["--embed", "model"], "embedding 'model' needs a model"),
        (["--embed", "sentence-transformers:/nowhere"], "sentence-transformers"),
        (["--metric", "dbi"], "unknown k metric 'dbi'"),
        (["--method", "no_such_module:fn"], "cannot import module 'no_such_module'"),
    ],
)
def test_bad_options_are_one_line_before_any_work(
    pool: tuple[Path, list[int]], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    extra: list[str], expected: str,
) -> None:  # fmt: skip
    line = _error(capsys, ["cluster", "--data", str(pool[0]), "--out", str(tmp_path / "o"), *extra])
    assert expected in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "no records"),
        ('{"id": 1}\n', "cannot tell the record format"),
        ('{"text": 5}\n', "'text' must be text, got int"),
        ('{"text": "   "}\n', "has no text to cluster by"),
    ],
)
def test_bad_pools_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    (tmp_path / "pool.jsonl").write_text(content)
    line = _error(
        capsys, ["cluster", "--data", str(tmp_path / "pool.jsonl"), "--out", str(tmp_path / "o")]
    )
    assert expected in line and not (tmp_path / "o").exists()


def test_missing_pool_and_full_output_folder(
    pool: tuple[Path, list[int]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "no such file" in _error(capsys, ["cluster", "--data", str(tmp_path / "no*.jsonl"),
                                             "--out", str(tmp_path / "o")])  # fmt: skip
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert "not empty" in _error(capsys, ["cluster", "--data", str(pool[0]), "--out",
                                          str(tmp_path / "full")])  # fmt: skip


def test_cluster_prints_the_k_table_and_what_min_size_did(
    pool: tuple[Path, list[int]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["cluster", "--data", str(pool[0]), "--out", str(tmp_path / "o"), "--k-range", "3:6",
            "--min-size", "55", "--small", "drop", "--metric", "davies-bouldin", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "choosing k by davies-bouldin" in out and "<-" in out
    domains = json.loads((tmp_path / "o" / "domains.json").read_text())
    if "dropped" in out:  # clusters under 55 records were left out of the domains
        assert sum(d["num"] for d in domains) < 240
    assert all(d["num"] >= 55 for d in domains)
