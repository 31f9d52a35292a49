"""The report's figures, drawn with matplotlib (imported only when drawing), and
:func:`draw_all`, which writes each one the data allows."""

from __future__ import annotations

import math
import statistics
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mixopt.report._common import (
    BEST,
    SEARCH,
    baseline_name,
    color_of,
    new_figure,
    save_png,
    score_of,
    scored_trials,
    whole_scores,
)
from mixopt.report.data import ReportData
from mixopt.report.front import front_plot
from mixopt.report.simplex import simplex
from mixopt.study.trials import TrialRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "FIGURES",
    "comparison",
    "cost",
    "draw_all",
    "filters",
    "history",
    "importances",
    "metrics",
    "shares",
]


def comparison(data: ReportData) -> Figure | None:
    """The best mixture against the baselines: confirmed mean +- std, each seed, the search score."""
    if data.best is None:
        return None
    fig = new_figure(8, 4.6)
    ax = fig.add_subplot()
    candidates = [data.best, *(data.baselines[n] for n in sorted(data.baselines))]
    for x, c in enumerate(candidates):
        color = color_of(c.name)
        if c.confirmed:
            ax.errorbar(
                [x],
                [statistics.fmean(c.confirmed)],
                yerr=[c.spread or 0.0],
                fmt="o",
                color=color,
                capsize=8,
                markersize=9,
                label="confirmed mean ± std" if x == 0 else None,
            )
            ax.scatter(
                [x + 0.12] * len(c.confirmed),
                c.confirmed,
                color=color,
                s=14,
                alpha=0.6,
                label="each fresh seed" if x == 0 else None,
            )
        if c.search_score is not None:
            ax.scatter(
                [x - 0.12],
                [c.search_score],
                marker="D",
                facecolors="none",
                edgecolors=color,
                s=50,
                label="score in the search" if x == 0 else None,
            )
    ax.set_xticks(range(len(candidates)), [_label(c.name, data) for c in candidates])
    ax.set_xlim(-0.6, len(candidates) - 0.4)
    ax.set_ylabel("score (higher is better)")
    whole_scores(ax)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title("The answer vs the baselines", fontsize=11)
    return fig


def _label(name: str, data: ReportData) -> str:
    if name == "best":
        same = next((n for n, k in data.baseline_numbers.items() if k == data.best_number), None)
        return f"best (trial {data.best_number}" + (f" = {same})" if same else ")")
    lift = data.lift.get(name)
    if lift is None:
        return name
    if lift.low is not None and lift.high is not None:
        return f"{name}\n{lift.verdict}: {lift.value:+.4f}\n[{lift.low:+.4f}, {lift.high:+.4f}]"
    return f"{name}\n{lift.verdict or 'lift'}: {lift.value:+.4f}"


def history(data: ReportData) -> Figure | None:
    """Each trial's score in the order the trials were started, with the best so far."""
    scored = scored_trials(data)
    if not scored:
        return None
    fig = new_figure(9, 4.6)
    ax = fig.add_subplot()
    search = [t for t in scored if baseline_name(t) is None]
    done = [t for t in search if t.state == "COMPLETE" and not t.reused]
    pruned = [t for t in search if t.state == "PRUNED"]
    reused = [t for t in search if t.reused]
    if reused:
        ax.scatter(
            [t.number for t in reused],
            [score_of(t) for t in reused],
            marker="x",
            color=SEARCH,
            s=30,
            label="reused from an earlier study (--warm-start)",
            zorder=3,
        )
    ax.scatter(
        [t.number for t in done],
        [score_of(t) for t in done],
        color=SEARCH,
        s=30,
        label="searched trial",
        zorder=3,
    )
    floor = _floor(scored)
    _stopped_early(ax, pruned, floor)
    for t in scored:
        name = baseline_name(t)
        if name is not None:
            ax.scatter(
                [t.number],
                [score_of(t)],
                marker="s",
                color=color_of(name),
                s=55,
                label=f"baseline: {name}",
                zorder=4,
            )
            ax.axhline(score_of(t), color=color_of(name), lw=0.8, ls="--", alpha=0.7)
    _best_so_far(ax, data, scored)
    if data.best_number is not None:
        best = next(t for t in data.trials if t.number == data.best_number)
        ax.scatter(
            [best.number], [score_of(best)], marker="*", color=BEST, s=220, label="best", zorder=5
        )
    failed = [t.number for t in data.trials if t.state == "FAIL"]
    if failed:
        ax.scatter(
            failed,
            [floor] * len(failed),
            marker="x",
            color="black",
            s=40,
            label="failed (no score)",
            zorder=4,
        )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial number")
    ax.set_ylabel("score (higher is better)")
    whole_scores(ax)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    ax.set_title("Optimization history", fontsize=11)
    return fig


def _stopped_early(ax: Axes, pruned: Sequence[TrialRecord], floor: float) -> None:
    """Trials stopped early, at their last intermediate score, or on the plot's floor (a
    downward marker) when that score lies below it."""
    shown = [t for t in pruned if score_of(t) >= floor]
    below = [t for t in pruned if score_of(t) < floor]
    if shown:
        ax.scatter(
            [t.number for t in shown],
            [score_of(t) for t in shown],
            facecolors="none",
            edgecolors=SEARCH,
            s=30,
            label="stopped early (last intermediate score)",
            zorder=3,
        )
    if below:
        ax.scatter(
            [t.number for t in below],
            [floor] * len(below),
            marker="v",
            color=SEARCH,
            s=30,
            label=f"stopped early, scored below {floor:.4g}",
            zorder=3,
        )


def _best_so_far(ax: Axes, data: ReportData, scored: Sequence[TrialRecord]) -> None:
    """The best completed score so far, as a step line over the trial numbers."""
    complete = sorted((t for t in scored if t.state == "COMPLETE"), key=lambda t: t.number)
    if complete:
        running, xs, ys = -math.inf, [], []
        for t in complete:
            running = max(running, score_of(t))
            xs.append(t.number)
            ys.append(running)
        ax.step(
            [*xs, max(t.number for t in data.trials)],
            [*ys, ys[-1]],
            where="post",
            color=BEST,
            lw=1.5,
            label="best so far",
        )


def _floor(scored: Sequence[TrialRecord]) -> float:
    """The lowest score the history shows: completed trials set the range, so that trials
    stopped early (scored halfway through training, so far lower) do not flatten it."""
    complete = [score_of(t) for t in scored if t.state == "COMPLETE"]
    if not complete:
        return min(score_of(t) for t in scored)
    lo, hi = min(complete), max(complete)
    return lo - max(hi - lo, 1e-3)


def shares(data: ReportData) -> Figure | None:
    """One panel per domain: its share against the score, with a least-squares line (completed
    trials only: a trial stopped early has no final score)."""
    return _panels(
        data,
        list(data.domains),
        "Each domain's share against the score (r: correlation; green helps, red hurts)",
    )


def filters(data: ReportData) -> Figure | None:
    """One panel per filter threshold: its value against the score (as :func:`shares`)."""
    keys = sorted({k for t in data.trials for k in t.filters})
    return _panels(
        data, keys, "Each filter threshold against the score (r: correlation)", threshold=True
    )


def _panels(
    data: ReportData, names: list[str], title: str, threshold: bool = False
) -> Figure | None:
    scored = [t for t in scored_trials(data) if t.state == "COMPLETE"]
    if not scored or not names:
        return None
    n = len(names)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = new_figure(3.4 * cols + 0.4, 2.9 * rows + 0.4)
    axes = fig.subplots(rows, cols, sharey=True, squeeze=False)
    for i, name in enumerate(names):
        ax = axes[i // cols][i % cols]
        _share_panel(ax, data, scored, name, threshold)
        if i % cols == 0:
            ax.set_ylabel("score")
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    fig.suptitle(title, fontsize=11)
    return fig


def _share_panel(
    ax: Axes, data: ReportData, scored: Sequence[TrialRecord], name: str, threshold: bool = False
) -> None:
    def x(t: TrialRecord) -> float:
        return t.filters.get(name, math.nan) if threshold else t.mixture.get(name, 0.0)

    xs = [x(t) for t in scored]
    ys = [score_of(t) for t in scored]
    ax.scatter(xs, ys, color=SEARCH, s=18)
    for t in scored:
        role = baseline_name(t)
        if role is not None:
            ax.scatter(
                [x(t)],
                [score_of(t)],
                marker="s",
                color=color_of(role),
                s=30,
                zorder=4,
            )
        if t.number == data.best_number:
            ax.scatter([x(t)], [score_of(t)], marker="*", color=BEST, s=120, zorder=5)
    r = _correlation(xs, ys)
    if r is None:
        ax.set_title(name, fontsize=9)
    else:
        slope, intercept = statistics.linear_regression(xs, ys)
        color = "#2ca02c" if r > 0 else "#d62728"
        lo, hi = min(xs), max(xs)  # the fit is drawn only over the shares that were tried
        ax.plot(
            [lo, hi], [intercept + slope * lo, intercept + slope * hi], color=color, lw=1, alpha=0.8
        )
        ax.set_title(f"{name}  (r = {r:+.2f})", fontsize=9, color=color)
    if not threshold:
        ax.set_xlim(-0.03, 1.03)
    ax.set_xlabel("threshold" if threshold else "share", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    whole_scores(ax)


def _correlation(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return statistics.correlation(xs, ys)


def importances(data: ReportData) -> Figure | None:
    """Optuna's fANOVA importances of the shares and training knobs, largest first."""
    if not data.importances:
        return None
    items = sorted(data.importances.items(), key=lambda kv: kv[1])
    fig = new_figure(7, max(3.4, 0.45 * len(items) + 1.3))
    ax = fig.add_subplot()
    bars = ax.barh([k for k, _ in items], [v for _, v in items], color="#1f77b4")
    ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=3)
    ax.set_xlim(0, max(v for _, v in items) * 1.18)
    ax.set_xlabel("importance for the score (fANOVA; sums to 1)")
    ax.set_title("Parameter importances", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    return fig


def metrics(data: ReportData, top: int) -> Figure | None:
    """Per-task metrics of the top trials (and the baselines), each column shaded on its own."""
    rows = data.metric_rows(top)
    every = sorted({k for t in rows for k in t.metrics})
    same = {k: rows[0].metrics.get(k) for k in every if len({t.metrics.get(k) for t in rows}) == 1}
    names = [k for k in every if k not in same] or every
    if not rows or not names:
        return None
    fig = new_figure(max(6.0, 1.25 * len(names) + 2.6), max(3.2, 0.42 * len(rows) + 2.2))
    ax = fig.add_subplot()
    shade = []
    for t in rows:
        line = []
        for k in names:
            col = [r.metrics[k] for r in rows if k in r.metrics]
            lo, hi = min(col), max(col)
            line.append((t.metrics[k] - lo) / (hi - lo) if k in t.metrics and hi > lo else 0.5)
        shade.append(line)
    ax.imshow(shade, cmap="Blues", vmin=-0.3, vmax=1.3, aspect="auto")
    for i, t in enumerate(rows):
        for j, k in enumerate(names):
            text = f"{t.metrics[k]:.4g}" if k in t.metrics else "-"
            ax.text(j, i, text, ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(names)), [k.replace("/", "/\n") for k in names], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(rows)), [data.label(t) for t in rows], fontsize=8)
    ax.set_title(
        "Per-task metrics of the top trials (shade: low to high within each column)", fontsize=10
    )
    if same and names is not every:
        footnote = "the same in every row: " + ", ".join(
            f"{k} = {v:.4g}" for k, v in same.items() if v is not None
        )
        fig.supxlabel(
            "\n".join(textwrap.wrap(footnote, int(fig.get_figwidth() * 15))),
            fontsize=7,
            color="#555555",
        )
    return fig


def cost(data: ReportData) -> Figure:
    """Trials by outcome and the compute they took."""
    c = data.cost
    fig = new_figure(9, 3.8)
    left, right = fig.subplots(1, 2, width_ratios=[1.2, 1])
    labels = {
        "complete": "complete",
        "pruned": "stopped early",
        "fail": "failed",
        "running": "running",
        "waiting": "waiting",
        "confirm": "confirmation runs",
    }
    keys = [k for k in labels if c.counts.get(k) or k in ("complete", "pruned", "fail", "confirm")]
    bars = left.bar(
        [labels[k].replace(" ", "\n") for k in keys],
        [c.counts.get(k, 0) for k in keys],
        color=["#2ca02c", "#ff7f0e", "#d62728", "#1f77b4", "#bcbd22", "#9467bd"][: len(keys)],
    )
    left.bar_label(bars, fontsize=8)
    left.set_ylabel("runs")
    left.set_title(f"{sum(c.counts.get(k, 0) for k in keys if k != 'confirm')} trials", fontsize=10)
    left.tick_params(axis="x", labelsize=8)
    left.margins(y=0.15)
    hours = {
        "trial wall-clock": c.trial_hours + c.confirm_hours,
        "CPU": c.cpu_hours,
        "GPU": c.gpu_hours,
    }
    unit, scale = ("hours", 1.0) if max(hours.values()) >= 1 else ("minutes", 60.0)
    bars = right.bar(
        list(hours), [v * scale for v in hours.values()], color=["#7f7f7f", "#1f77b4", "#d62728"]
    )
    right.bar_label(bars, fmt="%.2f", fontsize=8)
    right.set_ylabel(f"{unit} (confirmation runs estimated)")
    held = ", ".join(f"{v:g} {k}" for k, v in sorted(c.resources.items()))
    right.set_title(f"compute ({held} per trial)", fontsize=10)
    right.margins(y=0.15)
    fig.suptitle("What the study cost", fontsize=11)
    return fig


FIGURES: tuple[tuple[str, Callable[[ReportData, int], Figure | None]], ...] = (
    ("comparison.png", lambda d, _: comparison(d)),
    ("front.png", lambda d, _: front_plot(d)),
    ("history.png", lambda d, _: history(d)),
    ("shares.png", lambda d, _: shares(d)),
    ("filters.png", lambda d, _: filters(d)),
    ("importances.png", lambda d, _: importances(d)),
    ("simplex.png", lambda d, _: simplex(d)),
    ("metrics.png", metrics),
    ("cost.png", lambda d, _: cost(d)),
)
"""(file name, drawing function) in the order the page shows them."""


def draw_all(data: ReportData, folder: Path, top: int) -> dict[str, Path]:
    """Draw every figure the data allows into ``folder``; return {file name: path}."""
    out = {}
    for name, draw in FIGURES:
        fig = draw(data, top)
        if fig is None:
            continue
        save_png(fig, folder / name)
        out[name] = folder / name
    return out
