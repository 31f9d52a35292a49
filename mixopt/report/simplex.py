"""The proposals on the simplex: a ternary plot for three domains, a polygon beyond that."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mixopt.report._common import (
    BEST,
    SEARCH,
    baseline_name,
    color_of,
    new_figure,
    score_of,
    scored_trials,
    whole_scores,
)
from mixopt.report.data import ReportData
from mixopt.study.trials import TrialRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["simplex"]


def simplex(data: ReportData) -> Figure | None:
    """Every proposal on the simplex: a ternary plot for three domains, a polygon beyond that
    (each mixture at the share-weighted mean of the domain corners), a line for two."""
    scored = scored_trials(data)
    n = len(data.domains)
    if not scored or n < 2:
        return None
    fig = new_figure(7.6, 6.4 if n > 2 else 4.2)
    ax = fig.add_subplot()
    if n == 2:
        return _two_domains(fig, ax, data, scored)
    corners = [
        (math.cos(math.pi / 2 + 2 * math.pi * i / n), math.sin(math.pi / 2 + 2 * math.pi * i / n))
        for i in range(n)
    ]
    outline = [*corners, corners[0]]
    ax.plot([c[0] for c in outline], [c[1] for c in outline], color="black", lw=1)
    if n == 3:
        _ternary_grid(ax, corners)
    for (x, y), name in zip(corners, data.domains, strict=True):
        ax.annotate(
            name,
            (x, y),
            xytext=(x * 1.12, y * 1.12),
            ha="center",
            va="center",
            fontsize=10,
            weight="bold",
        )

    points = [_place(t.mixture, data.domains, corners) for t in scored]
    values = [score_of(t) for t in scored]
    done = [i for i, t in enumerate(scored) if t.state == "COMPLETE"]
    other = [i for i in range(len(scored)) if i not in done]
    lo, hi = (
        min((values[i] for i in done), default=0.0),
        max((values[i] for i in done), default=1.0),
    )
    sc = ax.scatter(
        [points[i][0] for i in done],
        [points[i][1] for i in done],
        c=[values[i] for i in done],
        cmap="viridis",
        vmin=lo,
        vmax=hi,
        s=45,
        edgecolors="black",
        linewidths=0.4,
        zorder=3,
    )
    if other:
        ax.scatter(
            [points[i][0] for i in other],
            [points[i][1] for i in other],
            facecolors="none",
            edgecolors="gray",
            s=45,
            zorder=3,
            label="stopped early",
        )
    _mark_named(ax, data, scored, points)
    fig.colorbar(sc, ax=ax, shrink=0.7, label="score (completed trials)")
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_xlim(-1.35, 1.35)
    ax.set_ylim(min(c[1] for c in corners) - 0.2, 1.25)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=8, frameon=False)
    kind = (
        "ternary plot"
        if n == 3
        else f"projection of the {n}-domain simplex; corners are pure domains"
    )
    fig.suptitle(f"Proposals on the simplex ({kind})", fontsize=11)
    return fig


def _place(
    mix: dict[str, float], domains: Sequence[str], corners: Sequence[tuple[float, float]]
) -> tuple[float, float]:
    """A mixture's point: the share-weighted mean of its domains' corners."""
    total = sum(mix.get(d, 0.0) for d in domains) or 1.0
    w = [mix.get(d, 0.0) / total for d in domains]
    x = sum(wi * c[0] for wi, c in zip(w, corners, strict=True))
    return x, sum(wi * c[1] for wi, c in zip(w, corners, strict=True))


def _ternary_grid(ax: Axes, corners: Sequence[tuple[float, float]]) -> None:
    """Lines of equal share (0.2, 0.4, ...) for each domain, labelled along the edges."""
    for i in range(3):
        a, b, c = corners[i], corners[(i + 1) % 3], corners[(i + 2) % 3]
        for k in range(1, 5):
            s = k / 5
            # the points where domain i has share s, on the two edges that leave its corner
            p = (s * a[0] + (1 - s) * b[0], s * a[1] + (1 - s) * b[1])
            q = (s * a[0] + (1 - s) * c[0], s * a[1] + (1 - s) * c[1])
            ax.plot([p[0], q[0]], [p[1], q[1]], color="#cccccc", lw=0.6, zorder=1)
            # each edge carries the shares of the corner it leaves (counter-clockwise), just outside it
            ax.text(
                p[0] * 1.07,
                p[1] * 1.07,
                f"{s:.1f}",
                fontsize=7,
                color="#777777",
                ha="center",
                va="center",
            )


def _mark_named(
    ax: Axes, data: ReportData, scored: Sequence[TrialRecord], points: Sequence[tuple[float, float]]
) -> None:
    for t, (x, y) in zip(scored, points, strict=True):
        role = baseline_name(t)
        if role is not None:
            ax.scatter(
                [x],
                [y],
                marker="s",
                s=80,
                facecolors="none",
                edgecolors=color_of(role),
                linewidths=2,
                zorder=4,
                label=f"baseline: {role}",
            )
        if t.number == data.best_number:
            ax.scatter(
                [x],
                [y],
                marker="*",
                s=260,
                color=BEST,
                edgecolors="black",
                linewidths=0.5,
                zorder=5,
                label="best",
            )


def _two_domains(fig: Figure, ax: Axes, data: ReportData, scored: Sequence[TrialRecord]) -> Figure:
    first = data.domains[0]
    ax.scatter(
        [t.mixture.get(first, 0.0) for t in scored],
        [score_of(t) for t in scored],
        color=SEARCH,
        s=30,
    )
    points = [(t.mixture.get(first, 0.0), score_of(t)) for t in scored]
    _mark_named(ax, data, scored, points)
    ax.set_xlim(-0.03, 1.03)
    ax.set_xlabel(f"share of {first} (the rest is {data.domains[1]})")
    ax.set_ylabel("score")
    whole_scores(ax)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Proposals on the simplex (two domains: a line)", fontsize=11)
    return fig
