"""Filters in the search space: parsing and refusals, the mask on the pool before sampling,
and one real study with filters from end to end (Ray, Optuna, MLflow, the tiny model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mixopt.data.filtering import filter_domains, keep_ranges, source_rows
from mixopt.data.sampling import sample_mixture
from mixopt.data.spec import DomainSpec
from mixopt.data.tokenize import tokenize_domain
from mixopt.errors import ConfigError
from mixopt.search.orchestration.preflight import check_filters
from mixopt.search.proposals.space import Simplex, load_space, parse_space
from mixopt.testing import make_records
from tests.conftest import FAST_TRAIN


def test_filters_parse_fixed_and_searched_thresholds() -> None:
    space = parse_space(
        {
            "filters": {
                "word_repetition": {"max": [0.05, 0.6], "rep_len": 3},
                "per_domain": {"sql": {"ifd": {"min": 0.2, "max": [0.5, 1.5]}}},
            }
        }
    )
    f = space.filters
    assert [t.key for t in f.thresholds] == ["word_repetition.max", "sql/ifd.min", "sql/ifd.max"]
    assert dict(f.settings) == {"word_repetition": {"rep_len": 3}, "ifd": {}}
    assert f.loosest() == {"word_repetition.max": 0.6, "sql/ifd.min": 0.2, "sql/ifd.max": 1.5}
    assert keep_ranges({"length.min": 3, "sql/length.min": 9, "ifd.max": 1.0}, "sql") == {
        "length": (9.0, float("inf")),
        "ifd": (float("-inf"), 1.0),
    }
    assert load_space("mixture_and_filters").filters


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            {"word_repetiton": {"max": 0.5}},
            "Unknown scorer 'word_repetiton'. Did you mean: word_repetition",
        ),
        ({"ifd": {"min": [0.5, 0.2]}}, r"filters.ifd.min: range \[0.5, 0.2\] is inverted"),
        (
            {"ifd": {"min": [0.6, 0.9], "max": [0.1, 0.5]}},
            "min .at least 0.6. is above max .at most 0.5.: it keeps nothing",
        ),
        ({"length": {"max": "ten"}}, "expected a number or"),
        ({"length": {"rep_len": 3}}, "expected {min: ...}"),
        ({"word_repetition": {"max": 0.5, "n": 3}}, "scorer 'word_repetition': bad settings"),
    ],
)
def test_bad_filters_are_refused_one_line_each(filters: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_space({"filters": filters})
    assert len(info.value.problems) == 1


def _domains(tokenizer: Any) -> tuple[Any, ...]:
    junk = [{"text": "buy now " * 30} for _ in range(60)]
    return (
        # the junk first: the kept records are not the first rows of the table
        tokenize_domain(
            DomainSpec("finance", data=tuple(junk + make_records("finance", 60, 1))), tokenizer
        ),
        tokenize_domain(DomainSpec("sql", data=tuple(make_records("sql", 60, 1))), tokenizer),
    )


def test_a_filtered_pool_is_sampled_to_the_exact_budget(tokenizer: Any) -> None:
    domains = _domains(tokenizer)
    space = parse_space({"filters": {"word_repetition": {"max": [0.1, 0.9], "rep_len": 2}}})
    scores = check_filters(space, domains, None, 2000)
    kept = filter_domains(domains, scores, {"word_repetition.max": 0.1})
    assert kept[0].rows is not None and kept[0].num_records == 60  # the junk is gone
    assert kept[0].num_tokens == int(domains[0].lengths()[60:].sum())
    assert list(kept[0].lengths()) == list(domains[0].lengths()[60:])
    sample = sample_mixture(kept, {"finance": 0.5, "sql": 0.5}, 2000, seed=1)
    assert len(sample.input_ids) == 2000
    drawn = source_rows(kept[0], sample.draws[0].indices)
    assert drawn.min() >= 60  # every drawn finance record is a kept one
    # caps on the filtered pool: the largest share finance can take shrinks with the pool
    full = kept[0].capacity + kept[1].capacity  # a budget that takes all of both filtered pools
    assert full < domains[0].capacity + domains[1].capacity
    cap = Simplex(kept, full, "exponential").mixture({"finance": 0.999, "sql": 1e-12})
    assert cap["finance"] == pytest.approx(kept[0].capacity / full)


def test_filters_that_cannot_work_are_refused_before_the_first_trial(tokenizer: Any) -> None:
    domains = _domains(tokenizer)
    ifd = parse_space({"filters": {"ifd": {"max": 0.9}}})
    with pytest.raises(
        ConfigError, match="ifd needs a prompt, and domain 'finance' holds text records"
    ):
        check_filters(ifd, domains, "unused", 2000)
    empty = parse_space({"filters": {"length": {"min": 10_000}}})
    with pytest.raises(ConfigError, match="keep no record of any domain"):
        check_filters(empty, domains, None, 2000)
    scarce = parse_space({"filters": {"length": {"max": [0, 40]}}})
    with pytest.raises(ConfigError, match="at their loosest thresholds, budget"):
        check_filters(scarce, domains, None, 10**6)


@pytest.mark.slow
def test_a_study_searches_filters_with_the_shares(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    from mixopt import optimize_mixture

    space = tmp_path / "space.yaml"
    space.write_text(
        "filters:\n  word_repetition: {max: [0.05, 0.9], rep_len: 2}\n  length: {min: [1, 12]}\n"
    )
    out = tmp_path / "study"
    result = optimize_mixture(
        study_inputs["model"],
        study_inputs["domains"],
        study_inputs["evaluator"],
        budget="2k",
        train=FAST_TRAIN,
        trials=1,
        concurrency=2,
        sampler="random",
        confirm=1,
        seed=2,
        out=str(out),
        space=str(space),
        early_stop="off",
        quiet=True,
    )
    assert all(set(t.filters) == {"word_repetition.max", "length.min"} for t in result.trials)
    best = json.loads((out / "best_mixture.json").read_text())
    assert set(best["filters"]) == {"word_repetition.max", "length.min"}
    assert best["space"]["filters"]["thresholds"]["length.min"] == [1.0, 12.0]
    results = json.loads((out / "results.json").read_text())
    assert all("filters" in t for t in results["trials"])
    done = [t for t in result.trials if t.state == "COMPLETE"]
    assert done and all(
        sum(d["tokens"] for d in t.result["domains"].values()) == 2000 for t in done
    )
    assert all(set(t.result["kept"]) == {"finance", "cooking", "sports"} for t in done)
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("mixopt").experiment_id])
    params = [r.data.params for r in runs if "filter.length.min" in r.data.params]
    assert len(params) >= len(done) + 1  # the searched trials and the confirmation runs
    confirm = [r for r in runs if r.data.tags.get("mixopt.role", "").startswith("confirm")]
    # the best's confirmation runs its filters; a baseline's, its own: the loosest thresholds
    # of the space (keep the most data), as it ran in the search
    loosest = {"word_repetition.max": 0.9, "length.min": 1.0}
    assert all(
        t.filters == pytest.approx(loosest) for t in result.trials if t.role.startswith("baseline")
    )
    assert confirm
    for r in confirm:
        want = best["filters"] if r.data.tags["mixopt.role"] == "confirm:best" else loosest
        assert float(r.data.params["filter.length.min"]) == pytest.approx(
            want["length.min"], abs=1e-6
        )
    assert np.isfinite(best["score"])
