from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score

import mixopt
from mixopt.cluster import ClusterResult
from mixopt.data.spec import load_domains
from mixopt.testing import make_records, write_domains


@pytest.fixture(scope="module")
def clustered(
    pool: tuple[Path, list[int]], tmp_path_factory: pytest.TempPathFactory
) -> ClusterResult:
    root = tmp_path_factory.mktemp("clustered")
    return mixopt.cluster_domains(str(pool[0]), root / "out", k=4, dims=64, cache_dir=root / "c")


def test_output_domains_file_loads_and_holds_every_record(clustered: ClusterResult) -> None:
    specs = load_domains(clustered.domains_file)
    assert [s.name for s in specs] == clustered.names
    assert [s.num for s in specs] == clustered.sizes == sorted(clustered.sizes, reverse=True)
    assert sum(clustered.sizes) == clustered.records == 240
    for spec in specs:
        lines = Path(spec.paths[0]).read_text().splitlines()
        assert len(lines) == spec.num and all(set(json.loads(x)) == {"text"} for x in lines)


def test_clusters_recover_the_kinds(clustered: ClusterResult, pool: tuple[Path, list[int]]) -> None:
    texts = [json.loads(x)["text"] for x in pool[0].read_text().splitlines()]
    where = {}
    for c, name in enumerate(clustered.names):
        for line in (clustered.out / f"{name}.jsonl").read_text().splitlines():
            where[json.loads(line)["text"]] = c
    assert adjusted_rand_score(pool[1], [where[t] for t in texts]) >= 0.9


def test_report_and_summary_are_written(clustered: ClusterResult) -> None:
    report = clustered.out / "report"
    for png in ("sizes.png", "k_selection.png", "map.png"):
        assert (report / png).read_bytes().startswith(b"\x89PNG")
    page = clustered.report.read_text()
    assert all(name in page for name in clustered.names) and "sample records" in page
    summary = json.loads((clustered.out / "clusters.json").read_text())
    assert summary["k"] == 4 and summary["config"]["method"] == "kmeans"


def test_same_input_same_names_and_cached_embeddings(
    clustered: ClusterResult, pool: tuple[Path, list[int]], tmp_path: Path
) -> None:
    cache = clustered.out.parent / "c"  # the cache the first run filled
    again = mixopt.cluster_domains(str(pool[0]), tmp_path / "again", k=4, dims=64, cache_dir=cache)
    assert again.names == clustered.names and again.sizes == clustered.sizes
    assert again.embeddings_cached and not clustered.embeddings_cached


def test_a_domains_file_is_pooled(tmp_path: Path) -> None:
    domains = write_domains(tmp_path / "data", {"sql": "jsonl", "sql_shop": "inline"}, n=40)
    result = mixopt.cluster_domains(str(domains), tmp_path / "out", k=2, dims=16)
    assert result.format == "prompt_completion" and sum(result.sizes) == 80
    specs = load_domains(result.domains_file)
    first = json.loads(Path(specs[0].paths[0]).read_text().splitlines()[0])
    assert set(first) == {"prompt", "completion"}


def test_chat_records_cluster_by_their_contents(tmp_path: Path) -> None:
    rows = make_records("support", 30) + [
        {
            "messages": [
                {"role": "user", "content": r["text"]},
                {"role": "assistant", "content": "ok"},
            ]
        }
        for r in make_records("cooking", 30)
    ]
    (tmp_path / "chat.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = mixopt.cluster_domains(str(tmp_path / "chat.jsonl"), tmp_path / "out", k=2, dims=16)
    assert sorted(result.sizes) == [30, 30] and result.format == "chat"


def test_a_killed_run_leaves_no_domains_file(
    pool: tuple[Path, list[int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mixopt.cluster import report

    def killed(*args: object) -> None:
        raise KeyboardInterrupt  # what SIGINT raises while the report is drawn

    monkeypatch.setattr(report, "write_report", killed)
    with pytest.raises(KeyboardInterrupt):
        mixopt.cluster_domains(str(pool[0]), tmp_path / "out", k=4, dims=16)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its temporary twin


def test_unknown_setting_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(mixopt.ConfigError, match="unexpected keyword argument 'kk'"):
        mixopt.cluster_domains("x.jsonl", tmp_path / "out", kk=3)
