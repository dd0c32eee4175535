"""HTML curves: first every variant on one chart per metric (its seeds thin lines of one
colour, findings marked where they happened), then a row per variant with its seeds apart."""

from __future__ import annotations

import math
from typing import Any

from harness.reports import LR_PER_STEP, TRAINING_LOSS, metric_label, on_unit_interval
from harness.reports.charts import esc, finite, line_chart

SEED_COLOURS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
)


#: the titles of what the loop records in every run (:data:`harness.reports.TRAINING_LOSS`,
#: :data:`harness.reports.LR_PER_STEP`); a key metric's title is its label
TITLES = {TRAINING_LOSS: "training loss / epoch", LR_PER_STEP: "learning rate / step"}


def chart_title(column: str) -> str:
    return TITLES.get(column) or f"{metric_label(column)} / epoch"


def chart_columns(report: dict[str, Any]) -> list[str]:
    """Which quantities to plot: the training loss, the key metrics, the learning rate per step,
    as far as the runs recorded them."""
    from harness.judging.verdicts import report_key_metrics

    runs = report["runs"]
    seen: set[str] = set()
    for run in runs:
        for epoch in run.get("history", []):
            seen.update(k for k, v in epoch.items() if finite(v))
    cols = [m for m in dict.fromkeys([TRAINING_LOSS, *report_key_metrics(report)]) if m in seen]
    if any(run.get(LR_PER_STEP) for run in runs):
        cols.append(LR_PER_STEP)
    return cols


def _points(run: dict[str, Any], column: str) -> list[tuple[float, float]]:
    if column == LR_PER_STEP:
        return [(i + 1, v) for i, v in enumerate(run.get(LR_PER_STEP) or [])]
    return [(h.get("epoch", i + 1), h.get(column)) for i, h in enumerate(run.get("history", []))]


def _ranges(runs: list[dict[str, Any]], column: str) -> tuple[tuple[float, float], tuple[float, float], bool]:
    xs, ys = [], []
    for run in runs:
        for x, y in _points(run, column):
            xs.append(x)
            if finite(y):
                ys.append(float(y))
    x_range = (min(xs) if xs else 0.0, max(xs) if xs else 1.0)
    if column == LR_PER_STEP:  # from 0 on both axes: a starved LR shows as a flat line at the bottom
        x_range = (0.0, x_range[1])
        if ys and min(ys) >= 0:
            return x_range, (0.0, max(ys) * 1.06 or 1.0), False
    elif xs:
        x_range = (min(1.0, x_range[0]), x_range[1])
    if not ys:
        return x_range, (0.0, 1.0), False
    lo, hi = min(ys), max(ys)
    if on_unit_interval(column) and lo >= 0 and hi <= 1:
        return x_range, (0.0, 1.0), False
    if lo > 0 and hi / lo > 1e3:  # e.g. a loss that explodes: a log axis keeps both ends readable
        return x_range, (10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))), True
    pad = (hi - lo) * 0.06 or (abs(hi) * 0.1 or 1.0)
    lo_r = 0.0 if lo >= 0 and lo - pad < 0 else lo - pad
    return x_range, (lo_r, hi + pad), False


#: one colour per variant in the overlay (seeds of a variant share it)
VARIANT_COLOURS = ("#d62728", "#2ca02c", "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def finding_points(run: dict[str, Any], column: str) -> list[tuple[float, Any, str]]:
    """``(epoch, the run's value then, "kind: message")`` for each finding with an epoch, on
    a per-epoch curve (none on the per-step learning rate)."""
    if column == LR_PER_STEP:
        return []
    values = {x: y for x, y in _points(run, column)}
    marks = []
    for finding in run.get("findings", []):
        epoch = finding.get("epoch")
        if epoch in values:
            label = f"seed {run['seed']}, epoch {epoch}: {finding.get('kind')}: {finding.get('message', '')}"
            marks.append((float(epoch), values[epoch], label))
    return marks


def overlay_row(report: dict[str, Any], variants: list[str], columns: list[str], ranges: dict[str, Any]) -> list[str]:
    """The row that compares variants: every variant on each chart, its seeds as thin lines."""
    colour = {v: VARIANT_COLOURS[i % len(VARIANT_COLOURS)] for i, v in enumerate(variants)}
    parts = ['<div class="rowlabel">all variants</div>']
    for column in columns:
        x_range, y_range, log_y = ranges[column]
        series = [
            {
                "label": f"{r['variant']} seed {r['seed']}",
                "colour": colour[r["variant"]],
                "points": _points(r, column),
                "width": 1.1,
                "marks": finding_points(r, column),
            }
            for r in report["runs"]
            if r["variant"] in colour
        ]
        title = chart_title(column) + (" (log)" if log_y else "")
        x_label = "optimizer step" if column == LR_PER_STEP else "epoch"
        parts.append(line_chart(series, x_range=x_range, y_range=y_range, log_y=log_y, title=title, x_label=x_label))
    return parts


def overlay_legend(variants: list[str]) -> str:
    items = "".join(
        f'<span><i style="background:{VARIANT_COLOURS[i % len(VARIANT_COLOURS)]}"></i>{esc(v)}</span>'
        for i, v in enumerate(variants)
    )
    note = "all variants: one colour each, a thin line per seed; &#9651; a finding at its epoch (hover: what)"
    return f'<div class="legend">{items}<span class="na">{note}</span></div>'


def curves_grid(report: dict[str, Any], variants: list[str]) -> str:
    runs = report["runs"]
    columns = chart_columns(report)
    if not columns:
        return "<p class='na'>no per-epoch history recorded</p>"
    seeds = sorted({r["seed"] for r in runs})
    colour = {s: SEED_COLOURS[i % len(SEED_COLOURS)] for i, s in enumerate(seeds)}
    ranges = {c: _ranges(runs, c) for c in columns}
    legend = "".join(f'<span><i style="background:{colour[s]}"></i>seed {esc(s)}</span>' for s in seeds)
    grid = f'<div class="grid" style="grid-template-columns:160px repeat({len(columns)}, minmax(180px, 300px))">'
    parts = [overlay_legend(variants), grid, *overlay_row(report, variants, columns, ranges), "</div>"]
    parts.append(f'<div class="legend">{legend}<span class="na">each column shares its y axis</span></div>')
    parts.append(grid)
    for variant in variants:
        vruns = [r for r in runs if r["variant"] == variant]
        parts.append(f'<div class="rowlabel">{esc(variant)}</div>')
        for column in columns:
            x_range, y_range, log_y = ranges[column]
            series = [
                {"label": f"{variant} seed {r['seed']}", "colour": colour[r["seed"]], "points": _points(r, column)}
                for r in vruns
            ]
            title = chart_title(column) + (" (log)" if log_y else "")
            parts.append(
                line_chart(
                    series,
                    x_range=x_range,
                    y_range=y_range,
                    log_y=log_y,
                    title=title,
                    x_label="optimizer step" if column == LR_PER_STEP else "epoch",
                )
            )
    parts.append("</div>")
    return "".join(parts)
