"""The report page (``index.html``) and :func:`write_report`, which draws the figures and then
writes the page: the page comes last, so one that exists links only to finished images."""

from __future__ import annotations

import html
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from mixopt.budget import format_budget
from mixopt.io import write_text_atomic
from mixopt.report.data import ReportData, gather
from mixopt.study.answer import Transfer
from mixopt.study.summary import Lift

__all__ = ["REPORT_DIR", "render", "write_report"]

REPORT_DIR = "report"
TOP_TRIALS = 5  # enough to see what the leaders share, few enough to read in one table

CAPTIONS = {
    "comparison.png": (
        "The answer vs the baselines",
        "Filled dots: mean ± standard deviation over the race's runs (fresh seeds every mixture shares); "
        "small dots: each seed; hollow diamonds: the score in the search. Under each baseline, the "
        "verdict and the answer's lift over it, with its 95% interval.",
    ),
    "front.png": (
        "Pareto front",
        "A study with several objectives: with two, each completed trial at its two scores (squares: the "
        "baselines), the front (the trials no other beats on both) joined, and the star the mixture --pick "
        "chose, which the rest of the report calls the best; with more, each trial a line across the "
        "objectives, each scaled to [0, 1] over the completed trials. Scores are from the search.",
    ),
    "history.png": (
        "Optimization history",
        "Each trial's score in the order trials started. Trials stopped early are drawn at their last "
        "intermediate score (scored halfway through training), or as triangles at the bottom when that lies "
        "far below the completed trials. The red line is the best score so far, dashed lines the baselines.",
    ),
    "shares.png": (
        "Each domain's share against the score",
        "One panel per domain, over the completed trials. A rising line (positive r, green) means more of that domain helped the "
        "out-of-domain score in this study; a falling one (red) means it hurt. Squares: baselines; star: best.",
    ),
    "filters.png": (
        "Each filter threshold against the score",
        "One panel per searched or fixed threshold on per-record scores (filters: in the search space), over the completed "
        "trials; the table gives the share of each domain's records and tokens the best trial's thresholds kept.",
    ),
    "importances.png": (
        "Parameter importances",
        "Optuna's fANOVA importances of each domain's share (and any searched training knob) for the score, "
        "over the completed trials.",
    ),
    "simplex.png": (
        "Proposals on the simplex",
        "Each trial's mixture as a point, colored by score. With three domains this is a ternary plot (gray "
        "lines: equal share of a domain, 0.2 apart; each edge is marked with the share of the corner it leaves, "
        "counter-clockwise); with more, each mixture sits at the share-weighted mean of the "
        "domain corners, a projection in which different mixtures can fall on the same point.",
    ),
    "metrics.png": (
        "Per-task metrics of the top trials",
        "The evaluator's metrics of the best completed trials and of the baselines.",
    ),
    "cost.png": (
        "What it cost",
        "Runs by outcome, and the compute they held (trial wall-clock times the CPUs and GPUs each trial "
        "held; confirmation runs are estimated at the mean duration of a completed trial).",
    ),
}

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.8em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; }
.note { background: #fff7e0; padding: 0.5em 0.8em; border-left: 4px solid #e0a000; }
.lift { font-size: 1.15em; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


def write_report(folder: str | Path, top: int = TOP_TRIALS, storage: str | None = None) -> Path:
    """Write ``FOLDER/report/`` (``index.html`` and its PNGs) for the study in ``folder``; return
    the page's path. Works on a finished study and on an interrupted one. ``storage``: see
    :func:`~mixopt.report.data.gather`."""
    from mixopt.report.plots import draw_all

    data = gather(folder, storage)
    out = data.folder / REPORT_DIR
    out.mkdir(exist_ok=True)
    images = draw_all(data, out, top)
    for stale in out.glob("*.png"):  # a figure this data no longer allows must not linger
        if stale.name not in images:
            stale.unlink()
    page = out / "index.html"
    write_text_atomic(page, render(data, list(images), top))
    return page


def render(data: ReportData, images: Sequence[str], top: int = TOP_TRIALS) -> str:
    """The page's HTML: headline figures as text, then every image with its caption."""
    from mixopt._version import __version__

    spec = data.spec
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>mixopt report: {_e(data.folder.name)}</title><style>{STYLE}</style></head><body>",
        f"<h1>mixopt study report: {_e(data.folder.name)}</h1>",
        _table(
            ["", ""],
            [
                ["folder", data.folder],
                ["model", spec.model.name],
                ["evaluator", spec.scoring.evaluator],
                ["budget (tokens per trial)", spec.search.budget],
                ["sampler", spec.search.sampler],
                ["seed", spec.search.seed],
                ["state", "finished" if data.finished else "not finished"],
                ["written", f"{time.strftime('%Y-%m-%d %H:%M:%S')} by mixopt {__version__}"],
            ],
        ),
    ]
    parts += [f"<p class='note'>{_e(n)}</p>" for n in data.notes]
    parts += _headline(data)
    if data.warm:
        parts.append(
            "<h2>Warm start</h2><p>Trials taken from earlier studies: <i>reused</i> ones were trained "
            "there under this study's settings and count as evidence here without running again; "
            "<i>prior</i> ones are earlier mixtures this study re-trained as its first proposals.</p>"
        )
        parts.append("<ul>" + "".join(f"<li>{_e(line)}</li>" for line in data.warm) + "</ul>")
    parts += [_transfer_panel(t, data.lift) for _, t in sorted(data.transfers.items())]
    for name, (title, caption) in CAPTIONS.items():  # the figures' order
        if name not in images:
            if name == "importances.png" and data.importance_note:
                parts.append(f"<h2>{_e(title)}</h2><p class='note'>{_e(data.importance_note)}</p>")
            continue
        parts.append(
            f"<h2>{_e(title)}</h2><p>{_e(caption)}</p><img src='{_e(name)}' alt='{_e(title)}'>"
        )
        if name == "metrics.png":
            parts.append(_metrics_table(data, top))
        if name == "cost.png":
            parts.append(_cost_table(data))
        if name == "filters.png":
            parts.append(_kept_table(data))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _headline(data: ReportData) -> list[str]:
    """The answer first: a transfer check that failed, the verdict sentence, each lift with
    its interval, then the answer's shares and the scores."""
    if data.best is None:
        return [
            "<p class='note'>No trial has completed yet: there is no best mixture to report.</p>"
        ]
    out = [
        f"<p class='note'><b>{_e(t.headline())}</b>: the study's answer did not hold there.</p>"
        for _, t in sorted(data.transfers.items())
        if not t.held
    ]
    uniform = data.lift.get("uniform")
    if uniform is not None and uniform.verdict != "beats":
        out.append("<h2>No mixture beat uniform beyond noise</h2>")
    else:
        out.append("<h2>The answer</h2>")
    if not data.decided:
        out.append(
            "<p class='note'>The race on fresh seeds has runs still to make: the answer below may change.</p>"
        )
    out.append(f"<p class='lift'>{_e(data.headline)}.</p>")
    lifts = []
    for name in ("uniform", "natural", *sorted(set(data.lift) - {"uniform", "natural"})):
        lift = data.lift.get(name)
        if lift is None:
            lifts.append(f"Over {_e(name)}: not available (the baseline has no score).")
            continue
        word = _e(lift.verdict or "-")
        spread = (
            f" ± {lift.spread:.4f} (std of the differences over {lift.seeds} paired fresh seeds)"
            if lift.spread is not None
            else f" ({_seeds(lift.seeds)}: no spread)"
        )
        lifts.append(f"Over {_e(name)}: <b>{word}</b>, {_e(_interval(lift))}{_e(spread)}")
    out.append("<p>" + "<br>".join(lifts) + "</p>")
    shares = sorted(data.best.mixture.items(), key=lambda kv: -kv[1])
    out.append(_table(["domain", "share"], [[k, f"{v:.4f}"] for k, v in shares]))
    rows = []
    for c in [data.best, *(data.baselines[n] for n in sorted(data.baselines))]:
        lift = data.lift.get(c.name)
        rows.append(
            [
                c.name,
                _num(c.score),
                _num(c.spread) if c.spread is not None else "-",
                len(c.confirmed),
                _num(c.search_score),
                "" if c.name == "best" else _signed(lift.value if lift else None),
                "" if lift is None or lift.spread is None else f"{lift.spread:.4f}",
            ]
        )
    if data.objective_lift:
        out += _objectives_table(data)
    out.append(
        "<p>Scores (higher is better): the mean over the confirmation runs where there are any, "
        "else the score in the search.</p>"
    )
    out.append(
        _table(
            [
                "mixture",
                "score",
                "std",
                "fresh seeds",
                "search score",
                "lift of best",
                "lift spread",
            ],
            rows,
        )
    )
    return out


def _objectives_table(data: ReportData) -> list[str]:
    """Each objective's score of the picked mixture and the baselines, and its lift on each."""
    assert data.best is not None
    names = list(data.best.scores)
    rows = [
        ["best (picked)", *(_num(data.best.scores.get(n)) for n in names), *([""] * len(names))]
    ]
    for b in sorted(data.baselines):
        lifts = data.objective_lift.get(b, {})
        rows.append(
            [
                b,
                *(_num(data.baselines[b].scores.get(n)) for n in names),
                *(_signed(lifts[n].value) if n in lifts else "-" for n in names),
            ]
        )
    return [
        f"<p>{len(names)} objectives, the mixture picked from the Pareto front by the rule "
        f"<code>{_e(data.spec.search.pick)}</code> (see <code>pareto.json</code>); the score and lift below are "
        f"the first objective's ({_e(names[0])}). Per objective:</p>",
        _table(["mixture", *names, *(f"lift on {n}" for n in names)], rows),
    ]


def _transfer_panel(t: Transfer, own: Mapping[str, Lift]) -> str:
    """One transfer check: the scores at its budget, and how much of the study's lift held."""
    rows = [
        ["answer", _num(t.best.score), _num(t.best.spread), len(t.best.confirmed), "", "", "", ""]
    ]
    for name, c in sorted(t.baselines.items()):
        lift, kept, at_own = t.lift.get(name), t.retained.get(name), own.get(name)
        rows.append(
            [
                name,
                _num(c.score),
                _num(c.spread),
                len(c.confirmed),
                "-" if lift is None else _interval(lift),
                "-" if lift is None else lift.verdict or "-",
                _signed(at_own.value if at_own else None),
                "-" if kept is None else f"{kept:.0%}",
            ]
        )
    return (
        f"<h2>Transfer to budget {_e(format_budget(t.budget))}</h2><p><b>{_e(t.headline())}.</b> "
        f"The study's answer and the baselines trained at {t.budget:,} tokens on fresh seeds, with the "
        "study's recipe (mixopt transfer). Kept: the lift here as a share of the study's own lift.</p>"
        + _table(
            [
                "mixture",
                "score",
                "std",
                "fresh seeds",
                "lift of the answer",
                "verdict",
                "lift at the study's budget",
                "kept",
            ],
            rows,
        )
    )


def _interval(lift: Lift) -> str:
    """``+0.0120 [95% interval +0.0040, +0.0200]``, or the lift alone without one."""
    if lift.low is None or lift.high is None:
        return f"{lift.value:+.4f}"
    return f"{lift.value:+.4f} [95% interval {lift.low:+.4f}, {lift.high:+.4f}]"


def _seeds(n: int) -> str:
    return "single runs" if n == 0 else f"{n} paired fresh seed{'s' * (n > 1)}"


def _metrics_table(data: ReportData, top: int) -> str:
    rows = data.metric_rows(top)
    names = sorted({k for t in rows for k in t.metrics})
    return _table(
        ["trial", "score", *names],
        [
            [data.label(t), _num(t.score), *(_general(t.metrics.get(k)) for k in names)]
            for t in rows
        ],
    )


def _kept_table(data: ReportData) -> str:
    best = next((t for t in data.trials if t.number == data.best_number), None)
    kept = (best.result.get("kept") or {}) if best is not None else {}
    return _table(
        ["domain (best trial)", "records kept", "tokens kept"],
        [
            [
                n,
                f"{k['records']:,} of {k['of_records']:,}",
                f"{k['tokens'] / max(1, k['of_tokens']):.1%}",
            ]
            for n, k in kept.items()
        ],
    )


def _cost_table(data: ReportData) -> str:
    c = data.cost
    counts = ", ".join(f"{v} {k}" for k, v in c.counts.items() if k != "confirm")
    return _table(
        ["", ""],
        [
            ["trials", f"{sum(v for k, v in c.counts.items() if k != 'confirm')} ({counts})"],
            ["confirmation runs", c.counts.get("confirm", 0)],
            [
                "trial wall-clock hours",
                f"{c.trial_hours:.3f} (+ {c.confirm_hours:.3f} estimated for confirmation)",
            ],
            ["CPU-hours", f"{c.cpu_hours:.3f}"],
            ["GPU-hours", f"{c.gpu_hours:.3f}"],
            ["per trial", ", ".join(f"{v:g} {k}" for k, v in sorted(c.resources.items()))],
            ["study wall-clock hours (search)", f"{c.wall_hours:.3f}"],
        ],
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = (
        "" if not any(header) else "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>"
    )
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _general(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}"
