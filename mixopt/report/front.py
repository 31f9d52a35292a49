"""The Pareto front of a study with several objectives: for two, the objectives against each
other (every completed trial a point, the front joined, the baselines and the picked trial
marked); for three or more, parallel coordinates (each objective scaled to [0, 1])."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mixopt.report._common import BEST, SEARCH, color_of, new_figure
from mixopt.report.data import ReportData
from mixopt.study.pareto import front, objectives_of, scaled

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["FrontPoint", "front_plot", "front_points"]


@dataclass(frozen=True)
class FrontPoint:
    """A completed trial as the front figure draws it."""

    number: int
    scores: dict[str, float]
    baseline: str | None
    on_front: bool
    picked: bool


def front_points(data: ReportData) -> tuple[tuple[str, ...], list[FrontPoint]]:
    """The objectives and every completed trial scored on them (none with fewer than two)."""
    names = objectives_of(data.trials)
    if len(names) < 2:
        return names, []
    on = {t.number for t in front(data.trials)}
    done = [t for t in data.trials if t.state == "COMPLETE" and all(n in t.scores for n in names)]
    return names, [
        FrontPoint(
            t.number, dict(t.scores), t.baseline, t.number in on, t.number == data.best_number
        )
        for t in done
    ]


def front_plot(data: ReportData) -> Figure | None:
    names, points = front_points(data)
    if not points:
        return None
    fig = new_figure(8, 5.6)
    ax = fig.add_subplot()
    if len(names) == 2:
        _two(ax, names, points)
    else:
        _parallel(ax, names, points, scaled(data.trials))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    picked = next((p.number for p in points if p.picked), None)
    ax.set_title(f"Pareto front ({data.spec.search.pick} pick: trial {picked})", fontsize=11)
    return fig


def _two(ax: Axes, names: tuple[str, ...], points: list[FrontPoint]) -> None:
    x, y = names
    searched = [p for p in points if p.baseline is None]
    ax.scatter(
        [p.scores[x] for p in searched],
        [p.scores[y] for p in searched],
        color=SEARCH,
        s=30,
        label="searched trial",
        zorder=3,
    )
    line = sorted((p for p in points if p.on_front), key=lambda p: p.scores[x])
    ax.plot(
        [p.scores[x] for p in line],
        [p.scores[y] for p in line],
        color=BEST,
        lw=1.2,
        alpha=0.8,
        drawstyle="steps-pre",
        label="Pareto front",
        zorder=2,
    )
    for p in points:
        if p.baseline is not None:
            ax.scatter(
                [p.scores[x]],
                [p.scores[y]],
                marker="s",
                color=color_of(p.baseline),
                s=60,
                label=f"baseline: {p.baseline}",
                zorder=4,
            )
        if p.picked:
            ax.scatter(
                [p.scores[x]],
                [p.scores[y]],
                marker="*",
                color=BEST,
                s=240,
                label=f"picked (trial {p.number})",
                zorder=5,
            )
    ax.set_xlabel(f"{x} (higher is better)")
    ax.set_ylabel(f"{y} (higher is better)")
    ax.ticklabel_format(useOffset=False)


def _parallel(
    ax: Axes, names: tuple[str, ...], points: list[FrontPoint], unit: dict[int, dict[str, float]]
) -> None:
    xs = list(range(len(names)))
    labelled: set[str] = set()
    # the marked ones on top
    for p in sorted(points, key=lambda p: (p.picked, p.baseline is not None, p.on_front)):
        kind = (
            "picked"
            if p.picked
            else f"baseline: {p.baseline}"
            if p.baseline
            else "Pareto front"
            if p.on_front
            else "searched trial"
        )
        color = (
            BEST
            if p.picked
            else color_of(p.baseline)
            if p.baseline
            else "#ff7f0e"
            if p.on_front
            else SEARCH
        )
        ax.plot(
            xs,
            [unit[p.number][n] for n in names],
            color=color,
            lw=2.4 if p.picked else 1.2,
            alpha=1.0 if p.picked or p.baseline or p.on_front else 0.4,
            marker="o",
            markersize=3,
            label=None if kind in labelled else kind,
        )
        labelled.add(kind)
    ax.set_xticks(xs, list(names))
    ax.set_ylabel("score scaled to [0, 1] over the completed trials")
