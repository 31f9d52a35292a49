from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixopt.cli import main


def _errors(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[str]:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("mixopt: error: ") for line in err)
    return err


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    (line,) = _errors(capsys, argv)
    return line


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
    pool: tuple[Path, list[int]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    expected: str,
) -> None:
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
    assert "no such file" in _error(
        capsys, ["cluster", "--data", str(tmp_path / "no*.jsonl"), "--out", str(tmp_path / "o")]
    )
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert "not empty" in _error(
        capsys, ["cluster", "--data", str(pool[0]), "--out", str(tmp_path / "full")]
    )


def test_cluster_prints_the_k_table_and_what_min_size_did(
    pool: tuple[Path, list[int]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "cluster",
        "--data",
        str(pool[0]),
        "--out",
        str(tmp_path / "o"),
        "--k-range",
        "3:6",
        "--min-size",
        "55",
        "--small",
        "drop",
        "--metric",
        "davies-bouldin",
        "--quiet",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "choosing k by davies-bouldin" in out and "<-" in out
    domains = json.loads((tmp_path / "o" / "domains.json").read_text())
    if "dropped" in out:  # clusters under 55 records were left out of the domains
        assert sum(d["num"] for d in domains) < 240
    assert all(d["num"] >= 55 for d in domains)


@pytest.mark.parametrize(
    ("data", "extra", "expected"),
    [
        (
            "pool",
            ["--method", "kmean", "--embed", "tfid"],
            ["Unknown clustering method 'kmean'", "unknown embedding 'tfid'"],
        ),
        (
            "pool",
            ["--method", "kmean", "--k", "1000"],
            ["Unknown clustering method 'kmean'", "k 1000 is not smaller than the pool"],
        ),
        (
            "pool",
            ["--k-range", "4-8", "--embed", "tfid", "--metric", "dbi"],
            ["k range must be A:B", "unknown k metric 'dbi'", "unknown embedding 'tfid'"],
        ),
        ("empty", ["--method", "kmean"], ["Unknown clustering method", "no records"]),
        ("numbers", ["--embed", "tfid"], ["unknown embedding", "'text' must be text, got int"]),
    ],
)
def test_every_problem_is_reported_at_once_and_nothing_is_written(
    pool: tuple[Path, list[int]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    data: str,
    extra: list[str],
    expected: list[str],
) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "numbers.jsonl").write_text('{"text": "fine"}\n{"text": 5}\n')
    path = pool[0] if data == "pool" else tmp_path / f"{data}.jsonl"
    cache = tmp_path / "cache"
    lines = _errors(
        capsys,
        [
            "cluster",
            "--data",
            str(path),
            "--out",
            str(tmp_path / "o"),
            "--cache-dir",
            str(cache),
            *extra,
        ],
    )
    assert len(lines) == len(expected)
    assert all(sum(want in line for line in lines) == 1 for want in expected), lines
    assert not (tmp_path / "o").exists() and not (cache / "embeddings").exists()


def test_three_plain_word_sets_give_three_clusters_and_say_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import random

    rng = random.Random(0)
    sets = [
        ["apple", "pear", "plum", "grape", "melon", "peach", "berry", "lime"],
        ["engine", "wheel", "brake", "gear", "piston", "clutch", "axle", "valve"],
        ["violin", "cello", "flute", "oboe", "drum", "harp", "piano", "horn"],
    ]
    rows = [
        {"text": " ".join(rng.choice(words) for _ in range(rng.randint(5, 15)))}
        for words in sets
        for _ in range(100)
    ]
    rng.shuffle(rows)
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o"
    assert main(["cluster", "--data", str(tmp_path / "pool.jsonl"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "choosing k by silhouette, rule elbow:" in printed
    assert "\nk = 3: the largest gain in silhouette" in printed
    summary = json.loads((out / "clusters.json").read_text())
    (reason,) = [line for line in printed.splitlines() if line.startswith("k = 3: ")]
    assert (summary["k"], summary["k_reason"]) == (3, reason)
    assert [s["k"] for s in summary["k_scores"]] == list(range(2, 17))
    assert "k = 3: the largest gain" in (out / "report" / "index.html").read_text()
