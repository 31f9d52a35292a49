"""Each figure shows what it should for the data it is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixopt.report import gather
from mixopt.report.plots import comparison, history, shares
from mixopt.report.simplex import simplex

pytestmark = pytest.mark.slow


def _title(fig: object) -> str:
    return fig.get_suptitle()  # type: ignore[attr-defined, no-any-return]


def test_three_domains_make_a_ternary_plot(three_domain_study: Path) -> None:
    data = gather(three_domain_study)
    fig = simplex(data)
    assert fig is not None and "ternary plot" in _title(fig)
    ax = fig.axes[0]
    # the corners are the domains, and every scored trial is a point
    assert {t.get_text() for t in ax.texts} >= {"finance", "cooking", "sports"}
    points = sum(len(c.get_offsets()) for c in ax.collections)
    assert points >= len([t for t in data.trials if t.score is not None])


def test_more_domains_make_a_projection(four_domain_study: Path) -> None:
    data = gather(four_domain_study)
    fig = simplex(data)
    assert fig is not None and "projection of the 4-domain simplex" in _title(fig)
    panels = shares(data)
    assert panels is not None
    visible = [ax for ax in panels.axes if ax.get_visible()]
    assert sorted(ax.get_title().split()[0] for ax in visible) == [
        "code",
        "cooking",
        "finance",
        "sports",
    ]


def test_comparison_and_history_mark_best_and_baselines(three_domain_study: Path) -> None:
    data = gather(three_domain_study)
    fig = comparison(data)
    assert fig is not None
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    lift = data.lift["uniform"]
    assert labels[0].startswith("best (trial ") and (
        f"uniform\n{lift.verdict}: {lift.value:+.4f}\n[{lift.low:+.4f}, {lift.high:+.4f}]" in labels
    )
    hist = history(data)
    assert hist is not None
    legend = {t.get_text() for t in hist.axes[0].get_legend().get_texts()}
    assert {"baseline: uniform", "baseline: natural", "best so far", "best"} <= legend
