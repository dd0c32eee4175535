"""SVG line charts for the HTML report, drawn here: no JavaScript, no plotting dependency.

:func:`line_chart` draws one chart (axes with round ticks, a log y axis when asked, one
line per series, non-finite values breaking the line); what to plot and on which ranges
is the HTML report's choice (:mod:`harness.reports.html`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

#: the margins around a chart's plot area, in pixels: room for the title and the tick labels
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 20, 30
#: a series with at most this many points in a segment gets a dot on each
DOTS_UP_TO = 25


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def finite(value: Any) -> bool:
    """A real number (not a bool, not nan or inf): what a chart can place."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = start
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e")
    return f"{value:g}"


@dataclass(frozen=True)
class PlotArea:
    """Where a chart's data lands: the plot area in pixels and the data range of each axis
    (on a log axis, ``y0`` and ``y1`` are powers of ten)."""

    width: int
    height: int
    x0: float
    x1: float
    y0: float
    y1: float
    log_y: bool

    @classmethod
    def of(
        cls, width: int, height: int, x_range: tuple[float, float], y_range: tuple[float, float], log_y: bool
    ) -> PlotArea:
        x0, x1 = x_range
        y0, y1 = y_range
        if x1 <= x0:
            x1 = x0 + 1
        if log_y:
            y0, y1 = math.log10(y0), math.log10(y1)
        if y1 <= y0:
            y1 = y0 + 1
        return cls(width - LEFT - RIGHT, height - TOP - BOTTOM, x0, x1, y0, y1, log_y)

    def sx(self, x: float) -> float:
        return LEFT + (x - self.x0) / (self.x1 - self.x0) * self.width

    def sy(self, y: float) -> float:
        v = math.log10(y) if self.log_y else y
        return TOP + self.height - (v - self.y0) / (self.y1 - self.y0) * self.height


def visible(ticks: list[float], place: Callable[[float], float], lo: float, hi: float) -> list[tuple[float, float]]:
    """``(tick, pixel)`` of each tick that ``place`` puts within ``[lo, hi]`` (half a pixel of slack)."""
    return [(t, at) for t in ticks if lo - 0.5 <= (at := place(t)) <= hi + 0.5]


def y_axis(plot: PlotArea) -> list[str]:
    """Grid lines and labels at round values (at each power of ten on a log axis)."""
    if plot.log_y:
        y0, y1 = plot.y0, plot.y1
        ticks = [10.0**e for e in range(math.floor(y0), math.ceil(y1) + 1) if y0 - 1e-9 <= e <= y1 + 1e-9]
    else:
        ticks = nice_ticks(plot.y0, plot.y1, 5)
    out = []
    for t, y in visible(ticks, plot.sy, TOP, TOP + plot.height):
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot.width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(
            f'<text x="{LEFT - 4}" y="{y + 3.5:.1f}" font-size="10" text-anchor="end" fill="#555">{tick_label(t)}</text>'
        )
    return out


def x_axis(plot: PlotArea) -> list[str]:
    """Tick marks and labels under the plot: every integer on a short integer range (epochs)."""
    x0, x1 = plot.x0, plot.x1
    ticks = nice_ticks(x0, x1, 6)
    if x1 - x0 <= 12 and all(float(t).is_integer() for t in (x0, x1)):
        ticks = [float(v) for v in range(int(x0), int(x1) + 1)]
    out = []
    bottom = TOP + plot.height
    for t, x in visible(ticks, plot.sx, LEFT, LEFT + plot.width):
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 3}" stroke="#999"/>')
        out.append(
            f'<text x="{x:.1f}" y="{bottom + 14}" font-size="10" text-anchor="middle" fill="#555">{tick_label(t)}</text>'
        )
    return out


def segments(
    points: list[tuple[float, float]], plot: PlotArea, y_range: tuple[float, float]
) -> list[list[tuple[float, float]]]:
    """A series' points in pixels, split where a value cannot be drawn (non-finite, or not
    positive on a log axis); values outside ``y_range`` are clamped to its edge."""
    out: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if finite(y) and (not plot.log_y or y > 0):
            out[-1].append((plot.sx(x), plot.sy(min(max(y, y_range[0]), y_range[1]))))
        elif out[-1]:
            out.append([])
    return out


def series_marks(series: list[dict[str, Any]], plot: PlotArea, y_range: tuple[float, float]) -> tuple[list[str], int]:
    """Each series' lines (and dots, for few points); with how many marks were drawn."""
    out, drawn = [], 0
    for s in series:
        dash = ' stroke-dasharray="4 3"' if s.get("dash") else ""
        width = s.get("width", 1.6)
        for seg in segments(s["points"], plot, y_range):
            if len(seg) >= 2:
                pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
                out.append(
                    f'<polyline points="{pts}" fill="none" stroke="{s["colour"]}" stroke-width="{width}" stroke-opacity="0.85"{dash}>'
                    f"<title>{esc(s['label'])}</title></polyline>"
                )
                drawn += 1
            if len(seg) <= DOTS_UP_TO:
                out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{s["colour"]}"/>' for x, y in seg)
                drawn += bool(seg)
        out += finding_marks(s.get("marks", ()), s["colour"], plot, y_range)
    return out, drawn


def finding_marks(
    marks: Iterable[tuple[float, Any, str]], colour: str, plot: PlotArea, y_range: tuple[float, float]
) -> list[str]:
    """A triangle on the curve at each ``(x, y, label)`` (a finding at its epoch); hover names it."""
    out = []
    for x, y, label in marks:
        seg = segments([(x, y)], plot, y_range)
        if not seg or not seg[0]:
            continue
        px, py = seg[0][0]
        out.append(
            f'<path class="finding" d="M{px:.1f},{py - 6:.1f} l4.5,7.5 h-9 z" fill="#fff" stroke="{colour}" '
            f'stroke-width="1.6"><title>{esc(label)}</title></path>'
        )
    return out


def line_chart(
    series: list[dict[str, Any]],
    *,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    log_y: bool = False,
    width: int = 270,
    height: int = 180,
    title: str = "",
    x_label: str = "",
) -> str:
    """An SVG line chart; each series: ``{"label", "colour", "points": [(x, y)], "dash"?}``.
    Non-finite y values break the line; a single point is drawn as a dot."""
    plot = PlotArea.of(width, height, x_range, y_range, log_y)
    middle = LEFT + plot.width / 2
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {height}" role="img">']
    out.append(f"<title>{esc(title)}</title>")
    out.append(f'<text x="{LEFT}" y="13" font-size="12" font-weight="600" fill="#333">{esc(title)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot.width}" height="{plot.height}" fill="#fff" stroke="#ccc"/>')
    out += y_axis(plot)
    out += x_axis(plot)
    if x_label:
        out.append(
            f'<text x="{middle:.1f}" y="{height - 3}" font-size="10" text-anchor="middle" fill="#777">{esc(x_label)}</text>'
        )
    marks, drawn = series_marks(series, plot, y_range)
    out += marks
    if not drawn:
        out.append(
            f'<text x="{middle:.1f}" y="{TOP + plot.height / 2:.1f}" font-size="11" text-anchor="middle" fill="#999">no data</text>'
        )
    out.append("</svg>")
    return "".join(out)
