"""What every figure of the report shares: size, colors, the trials it plots, atomic saving.

Figures are built as ``matplotlib.figure.Figure`` objects, never through pyplot, so no
global backend or state is touched: drawing a report inside a longer process is safe.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from mixopt.io import write_bytes_atomic
from mixopt.report.data import ReportData
from mixopt.study.trials import TrialRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "BEST",
    "SEARCH",
    "baseline_name",
    "color_of",
    "new_figure",
    "save_png",
    "score_of",
    "scored_trials",
    "whole_scores",
]

DPI = 110  # ~900 px wide at the sizes below: sharp in a browser, small on disk
BASELINE_COLORS = {"uniform": "#1f77b4", "natural": "#2ca02c"}
OTHER_BASELINE = "#9467bd"
BEST = "#d62728"
SEARCH = "#7f7f7f"


def new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def color_of(name: str) -> str:
    return BEST if name == "best" else BASELINE_COLORS.get(name, OTHER_BASELINE)


def save_png(fig: Figure, path: Path) -> None:
    """Write the PNG atomically (a killed process leaves no half image)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    # a page to share: readable like any file written with open()
    write_bytes_atomic(path, buffer.getvalue())


def scored_trials(data: ReportData) -> list[TrialRecord]:
    return [t for t in data.trials if t.score is not None and math.isfinite(t.score)]


def whole_scores(ax: Axes) -> None:
    # scores often differ only in the third decimal; an offset ("-1.142 +0.0005") hides that
    ax.ticklabel_format(axis="y", useOffset=False)


def score_of(t: TrialRecord) -> float:
    return math.nan if t.score is None else t.score


def baseline_name(t: TrialRecord) -> str | None:
    return t.baseline
