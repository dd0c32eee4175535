"""A single self-contained HTML report: tables and real plots, as inline SVG.

No JavaScript, no external file, no plotting dependency: the charts are SVG drawn here.
Per scenario: the verdict, the per-variant summary (pass count over seeds, mean +- std
of the key metrics), the ablation table when there is one, a grid of curves (one row
per variant, one column per quantity: training loss, each key metric per epoch, learning
rate per optimizer step; every seed overlaid in its own colour; each column shares its y
axis so rows compare at a glance), then each variant's plugins (all parameters, and the
hooks each acted on), expectations and runs.

The key metrics are the workload's (``Workload.key_metrics``, in the report as
``scenario.key_metrics``; see :func:`harness.verdicts.report_key_metrics` for older
reports); their headers and chart titles are :func:`harness.reports.metric_label`, and a
metric whose name has a [0, 1] word (:func:`harness.reports.on_unit_interval`: a share,
accuracy, F1, AUC, precision, recall) is drawn on a fixed 0..1 axis when its values fit.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from harness.reports import metric_label, on_unit_interval

FLAG = "--html"
HELP = "Write a self-contained HTML report with plots (curves per variant, seeds overlaid) here."

SEED_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")
TITLES = {"loss": "training loss / epoch", "lr_per_step": "learning rate / step"}  # what the loop records


def chart_title(column: str) -> str:
    return TITLES.get(column) or f"{metric_label(column)} / epoch"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:24px;max-width:1500px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.meta{color:#666;margin-bottom:12px} .desc{color:#444;max-width:1100px}
table{border-collapse:collapse;margin:6px 0 12px} th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5;font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.pass{color:#137333;font-weight:600} .fail{color:#b3261e;font-weight:600} .na{color:#888}
.flaky{background:#fff4ce;color:#7a5b00;border-radius:3px;padding:0 4px;font-size:12px;margin-left:4px}
.verdict{font-size:16px;margin:8px 0} code{font-size:12.5px;background:#f6f6f6;padding:0 3px;border-radius:3px}
.grid{display:grid;gap:6px 10px;align-items:start;overflow-x:auto}
.rowlabel{font-weight:600;align-self:center;word-break:break-word}
.legend span{display:inline-block;margin-right:14px} .legend i{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:4px}
.warn{color:#7a5b00} details{margin:6px 0} summary{cursor:pointer}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) >= 1e4 or abs(value) < 10 ** -digits):
            return f"{value:.{max(1, digits - 1)}e}"
        return f"{value:.{digits}f}"
    return str(value)


# ------------------------------------------------------------------ charts


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


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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
    left, right, top, bottom = 48, 16, 20, 30
    pw, ph = width - left - right, height - top - bottom
    x0, x1 = x_range
    y0, y1 = y_range
    if x1 <= x0:
        x1 = x0 + 1
    if log_y:
        y0, y1 = math.log10(y0), math.log10(y1)
    if y1 <= y0:
        y1 = y0 + 1

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        v = math.log10(y) if log_y else y
        return top + ph - (v - y0) / (y1 - y0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {height}" role="img">']
    out.append(f"<title>{esc(title)}</title>")
    out.append(f'<text x="{left}" y="13" font-size="12" font-weight="600" fill="#333">{esc(title)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#ccc"/>')
    if log_y:
        yticks = [10.0**e for e in range(math.floor(y0), math.ceil(y1) + 1) if y0 - 1e-9 <= e <= y1 + 1e-9]
    else:
        yticks = nice_ticks(y0, y1, 5)
    for t in yticks:
        y = sy(t)
        if top - 0.5 <= y <= top + ph + 0.5:
            out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
            out.append(f'<text x="{left - 4}" y="{y + 3.5:.1f}" font-size="10" text-anchor="end" fill="#555">{tick_label(t)}</text>')
    xticks = nice_ticks(x0, x1, 6)
    if x1 - x0 <= 12 and all(float(t).is_integer() for t in (x0, x1)):
        xticks = [float(v) for v in range(int(x0), int(x1) + 1)]
    for t in xticks:
        x = sx(t)
        if left - 0.5 <= x <= left + pw + 0.5:
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + ph}" y2="{top + ph + 3}" stroke="#999"/>')
            out.append(f'<text x="{x:.1f}" y="{top + ph + 14}" font-size="10" text-anchor="middle" fill="#555">{tick_label(t)}</text>')
    if x_label:
        out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 3}" font-size="10" text-anchor="middle" fill="#777">{esc(x_label)}</text>')
    drawn = 0
    for s in series:
        segments: list[list[tuple[float, float]]] = [[]]
        for x, y in s["points"]:
            if _finite(y) and (not log_y or y > 0):
                segments[-1].append((sx(x), sy(min(max(y, y_range[0]), y_range[1]))))
            elif segments[-1]:
                segments.append([])
        dash = ' stroke-dasharray="4 3"' if s.get("dash") else ""
        for seg in segments:
            if len(seg) >= 2:
                pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
                out.append(f'<polyline points="{pts}" fill="none" stroke="{s["colour"]}" stroke-width="1.6" stroke-opacity="0.85"{dash}>'
                           f"<title>{esc(s['label'])}</title></polyline>")
                drawn += 1
            if len(seg) <= 25:
                for x, y in seg:
                    out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{s["colour"]}"/>')
                drawn += bool(seg)
    if not drawn:
        out.append(f'<text x="{left + pw / 2:.1f}" y="{top + ph / 2:.1f}" font-size="11" text-anchor="middle" fill="#999">no data</text>')
    out.append("</svg>")
    return "".join(out)


def chart_columns(report: dict[str, Any]) -> list[str]:
    """Which quantities to plot: the training loss, the key metrics, the learning rate per step,
    as far as the runs recorded them."""
    from harness.verdicts import report_key_metrics

    runs = report["runs"]
    seen: set[str] = set()
    for run in runs:
        for epoch in run.get("history", []):
            seen.update(k for k, v in epoch.items() if _finite(v))
    cols = [m for m in dict.fromkeys(["loss", *report_key_metrics(report)]) if m in seen]
    if any(run.get("lr_per_step") for run in runs):
        cols.append("lr_per_step")
    return cols


def _points(run: dict[str, Any], column: str) -> list[tuple[float, float]]:
    if column == "lr_per_step":
        return [(i + 1, v) for i, v in enumerate(run.get("lr_per_step") or [])]
    return [(h.get("epoch", i + 1), h.get(column)) for i, h in enumerate(run.get("history", []))]


def _ranges(runs: list[dict[str, Any]], column: str) -> tuple[tuple[float, float], tuple[float, float], bool]:
    xs, ys = [], []
    for run in runs:
        for x, y in _points(run, column):
            xs.append(x)
            if _finite(y):
                ys.append(float(y))
    x_range = (min(xs) if xs else 0.0, max(xs) if xs else 1.0)
    if column == "lr_per_step":  # from 0 on both axes: a starved LR shows as a flat line at the bottom
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


def curves_grid(report: dict[str, Any], variants: list[str]) -> str:
    runs = report["runs"]
    columns = chart_columns(report)
    if not columns:
        return "<p class='na'>no per-epoch history recorded</p>"
    seeds = sorted({r["seed"] for r in runs})
    colour = {s: SEED_COLOURS[i % len(SEED_COLOURS)] for i, s in enumerate(seeds)}
    ranges = {c: _ranges(runs, c) for c in columns}
    legend = "".join(f'<span><i style="background:{colour[s]}"></i>seed {esc(s)}</span>' for s in seeds)
    parts = [f'<div class="legend">{legend}<span class="na">each column shares its y axis</span></div>']
    parts.append(f'<div class="grid" style="grid-template-columns:160px repeat({len(columns)}, minmax(180px, 300px))">')
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
                line_chart(series, x_range=x_range, y_range=y_range, log_y=log_y, title=title,
                           x_label="optimizer step" if column == "lr_per_step" else "epoch")
            )
    parts.append("</div>")
    return "".join(parts)


# ------------------------------------------------------------------ tables


def _verdict_cell(summary: dict[str, Any]) -> str:
    cell = '<span class="pass">PASS</span>' if summary["passed"] else '<span class="fail">FAIL</span>'
    if summary.get("flaky"):
        cell += '<span class="flaky">seeds disagree</span>'
    return cell


def _mean_std(stat: dict[str, Any] | None) -> str:
    if not stat or stat.get("mean") is None:
        return "–"
    if stat.get("n", 0) <= 1:
        return fmt(stat["mean"])
    mean = fmt(stat["mean"])
    std = fmt(stat["std"]) if "e" in mean else f"{stat['std']:.3f}"
    return f"{mean} ± {std}"


def _metric_head(metric: str, note: str = "") -> str:
    """A key metric's column header: its label, the exact name (what expectations write) on hover."""
    return f"<th title='{esc(metric)}'>final {esc(metric_label(metric))}{note}</th>"


def summary_table(report: dict[str, Any], summaries: dict[str, dict[str, Any]]) -> str:
    from harness.verdicts import metric_stat, report_key_metrics

    metrics = report_key_metrics(report)
    head = "".join(_metric_head(m, "<br><span class='na'>mean ± std</span>") for m in metrics)
    rows = []
    for name, s in summaries.items():
        vruns = [r for r in report["runs"] if r["variant"] == name]
        cells = "".join(f"<td class='num'>{_mean_std(metric_stat(s, vruns, m))}</td>" for m in metrics)
        rows.append(
            f"<tr><td><a href='#v-{esc(name)}'>{esc(name)}</a></td><td>{esc(s.get('description') or '')}</td>"
            f"<td class='num'>{s['passed_runs']}/{s['runs']}{_skipped(s)}</td>{cells}<td>{_verdict_cell(s)}</td></tr>"
        )
    return (
        f"<table><tr><th>variant</th><th>description</th><th>runs passed</th>{head}<th>verdict</th></tr>"
        + "".join(rows) + "</table>"
    )


def _skipped(counts: dict[str, Any]) -> str:
    """`` (2 skipped)`` when early decisions left seeds out (:mod:`harness.decisions`)."""
    return f" ({counts['skipped']} skipped)" if counts.get("skipped") else ""


def ablation_section(ablation: dict[str, Any]) -> str:
    def yes(value: bool | None) -> str:
        return "<span class='na'>n/a</span>" if value is None else ("<span class='pass'>YES</span>" if value else "no")

    def arm(a: dict[str, Any]) -> str:
        text = f"{a['passed_runs']}/{a['runs']}{_skipped(a)}"
        flag = "<span class='flaky'>seeds disagree</span>" if a.get("seeds_disagree") else ""
        return f"<a href='#v-{esc(a['variant'])}'>{text}</a>{flag}"

    base, target = ablation["base"], ablation["target"]
    rows = "".join(
        f"<tr><td><code>{esc(r['plugin'])}</code></td><td>{esc(r['change'])}</td><td class='num'>{arm(r['base_plus_fix'])}</td>"
        f"<td>{yes(r['sufficient'])}</td><td class='num'>{arm(r['target_minus_fix'])}</td><td>{yes(r['necessary'])}</td></tr>"
        for r in ablation["fixes"]
    )
    warnings = "".join(f"<p class='warn'>warning: {esc(w)}</p>" for w in ablation.get("warnings", []))
    reproduces = ""
    if ablation.get("base_reproduces"):
        rep = ablation["base_reproduces"]
        reproduces = f" The base reproduces the incident (its own expectations) on {rep['passed_runs']}/{rep['runs']} seeds."
    return (
        f"<h2>Ablation: {esc(base['variant'])} → {esc(target['variant'])}</h2>"
        f"<p>Every arm is judged by <b>{esc(target['variant'])}</b>'s expectations; cured = {esc(ablation.get('rule_text', ''))}. "
        f"<i>Sufficient alone</i>: base + this fix is cured. <i>Necessary</i>: target − this fix is not cured. "
        f"Base {esc(base['variant'])}: {base['passed_runs']}/{base['runs']} seeds pass ({'cured' if base['cured'] else 'not cured'}); "
        f"target {esc(target['variant'])}: {target['passed_runs']}/{target['runs']} ({'cured' if target['cured'] else 'not cured'}).{reproduces}</p>"
        f"<table><tr><th>fix</th><th>base → target setting</th><th>base + fix<br>seeds passing</th><th>sufficient alone</th>"
        f"<th>target − fix<br>seeds passing</th><th>necessary</th></tr>{rows}</table>{warnings}"
    )


def _kinds() -> dict[str, str]:
    try:
        from harness.pluginmanager import discover_plugins

        return {name: info.kind for name, info in discover_plugins().items()}
    except Exception:
        return {}


def variant_section(
    report: dict[str, Any], name: str, summary: dict[str, Any], kinds: dict[str, str], *, open_plugins: bool = False
) -> str:
    runs = [r for r in report["runs"] if r["variant"] == name]
    parts = [f"<h3 id='v-{esc(name)}'>{esc(name)} — {_verdict_cell(summary)} {summary['passed_runs']}/{summary['runs']} seeds{_skipped(summary)}</h3>"]
    if summary.get("description"):
        parts.append(f"<p class='desc'>{esc(summary['description'])}</p>")
    plugin_runs = [runs[0]] if summary.get("plugins") is not None and runs else runs
    for run in plugin_runs:
        acted: dict[str, list[str]] = {}
        for hook, by_plugin in (run.get("trace") or {}).items():
            for plugin in by_plugin:
                acted.setdefault(plugin, []).append(hook)
        order = {"core": 0, "fix": 1, "monitor": 2}
        rows = "".join(
            f"<tr><td><code>{esc(p)}</code></td><td>{esc(kinds.get(p, '?'))}</td>"
            f"<td>{esc(', '.join(f'{k}={v}' for k, v in params.items()) or '–')}</td>"
            f"<td>{esc(', '.join(sorted(acted.get(p, []))) or '–')}</td></tr>"
            for p, params in sorted(run["plugins"].items(), key=lambda kv: (order.get(kinds.get(kv[0], "fix"), 1), kv[0]))
        )
        label = "plugins on (every seed)" if len(plugin_runs) == 1 else f"plugins on (seed {esc(run['seed'])})"
        parts.append(
            f"<details{' open' if open_plugins else ''}><summary>{label}: {len(run['plugins'])}</summary>"
            f"<table><tr><th>plugin</th><th>kind</th>"
            f"<th>parameters</th><th>hooks it acted on (seed {esc(run['seed'])})</th></tr>{rows}</table></details>"
        )
    if summary["expectations"]:
        rows = []
        for row in summary["expectations"]:
            mark = "<span class='na'>n/a</span>" if not row["applicable"] else (
                "<span class='pass'>✔</span>" if row["ok"] else "<span class='fail'>✘</span>")
            seen = []
            for run in runs:
                entry = next((e for e in run["expectations"] if e["name"] == row["name"]), None)
                if entry is not None and entry.get("passed") is not None:
                    seen.append((run["seed"], bool(entry["passed"]), fmt(entry.get("observed"))))
            if len(seen) > 1 and len({(p, o) for _, p, o in seen}) == 1:  # the same on every seed: say it once
                seen = [("every seed", seen[0][1], seen[0][2])]
            observed = [
                f"<span class='na'>{esc(seed if isinstance(seed, str) else f's{seed}')}</span>&nbsp;"
                f"<span class='{'pass' if passed else 'fail'}'>{esc(value)}</span>"
                for seed, passed, value in seen
            ]
            observed += [  # not applicable to a seed (e.g. no completed epoch): the reason
                f"<span class='na'>s{esc(run['seed'])}&nbsp;n/a: {esc(entry['reason'])}</span>"
                for run in runs
                for entry in run["expectations"]
                if entry["name"] == row["name"] and entry.get("passed") is None and entry.get("reason")
            ]
            rows.append(
                f"<tr><td>{mark}</td><td><code>{esc(row['name'])}</code></td>"
                f"<td class='num'>{row['passed']}/{row['applicable']}</td><td>{esc(row['pass_rate'] or 'every seed')}</td>"
                f"<td>{' '.join(observed)}</td></tr>"
            )
        parts.append(
            "<table><tr><th></th><th>expectation</th><th>seeds passing</th><th>required</th><th>observed per seed</th></tr>"
            + "".join(rows) + "</table>"
        )
    from harness.verdicts import report_key_metrics

    metrics = report_key_metrics(report)
    rows = []
    for run in runs:
        last = run["history"][-1] if run["history"] else {}
        kinds_at: dict[str, list[int]] = {}
        for f in run["findings"]:
            kinds_at.setdefault(f["kind"], []).append(f["epoch"])
        findings = ", ".join(f"{k} @ epoch {', '.join(map(str, sorted(set(v))))}" for k, v in kinds_at.items()) or "–"
        status = run["status"] + (f" at step {run['diverged_at_step']}" if run.get("diverged_at_step") else "")
        if run.get("stop_reason"):
            status += f" ({run['stop_reason']})"
        if run.get("skipped"):  # early decisions: never run
            status += f" ({run['skipped'].get('reason', '')})"
        if run.get("error"):
            status += f": {run['error']['message']}"
        cells = "".join(f"<td class='num'>{fmt(last.get(m))}</td>" for m in metrics)
        rows.append(
            f"<tr><td class='num'>{esc(run['seed'])}</td><td>{esc(status)}</td><td class='num'>{fmt(run.get('seconds'), 1)}</td>"
            f"<td class='num'>{len(run['history'])}</td>{cells}<td>{esc(findings)}</td></tr>"
        )
    head = "".join(_metric_head(m) for m in metrics)
    parts.append(
        f"<table><tr><th>seed</th><th>status</th><th>seconds</th><th>epochs</th>{head}<th>findings</th></tr>"
        + "".join(rows) + "</table>"
    )
    return "".join(parts)


def scenario_section(report: dict[str, Any]) -> str:
    from harness.verdicts import report_key_metrics, summarize_variants

    summaries = (
        report["variants"] if isinstance(report.get("variants"), dict)
        else summarize_variants(report["runs"], report_key_metrics(report))
    )
    seeds = report.get("seeds") or sorted({r["seed"] for r in report["runs"]})
    scenario = report["scenario"]
    verdict = "<span class='pass'>PASSED</span>" if report["passed"] else "<span class='fail'>FAILED</span>"
    flaky = [n for n, s in summaries.items() if s.get("flaky")]
    seconds = sum(float(r.get("seconds") or 0) for r in report["runs"])
    parts = [
        f"<h1>{esc(scenario['name'])}</h1>",
        f"<div class='meta'>{esc(scenario.get('path', ''))} · workload {esc(scenario.get('workload', ''))} · "
        f"torch {esc(report.get('torch_version', '?'))} · harness {esc(report.get('harness_version', '?'))} · "
        f"seeds {esc(', '.join(map(str, seeds)))}</div>",
        f"<div class='verdict'>{verdict}: {len(report['runs'])} run(s), {seconds:.1f} s of training"
        + (f" · <span class='flaky'>seeds disagree in {esc(', '.join(flaky))}</span>" if flaky else "") + "</div>",
        "<h2>Variants</h2>",
        summary_table(report, summaries),
    ]
    if report.get("ablation"):
        parts.append(ablation_section(report["ablation"]))
    if report.get("doctor"):
        from harness.reports.doctor import html_section

        parts.append(html_section(report["doctor"]))
    parts.append("<h2>Curves</h2>")
    parts.append(curves_grid(report, list(summaries)))
    parts.append("<h2>Runs</h2>")
    kinds = _kinds()
    open_plugins = len(summaries) <= 4  # a plain A/B: show the plugin tables; an ablation: fold them
    parts += [variant_section(report, name, s, kinds, open_plugins=open_plugins) for name, s in summaries.items()]
    return "".join(parts)


def render(payload: dict[str, Any]) -> str:
    from harness.reports import reports_of

    reports = reports_of(payload)
    title = ", ".join(r["scenario"]["name"] for r in reports)
    body = "<hr>".join(scenario_section(r) for r in reports)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>harness report: {esc(title)}</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>\n"
    )


def write(path: str | Path, payload: dict[str, Any]) -> None:
    from harness.runner import write_atomic

    write_atomic(Path(path), render(payload))
