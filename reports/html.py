"""A single self-contained HTML report: tables and real plots, as inline SVG.

No JavaScript, no external file, no plotting dependency: the charts are SVG drawn here.
Per scenario: the verdict, the per-variant summary (pass count over seeds, mean +- std
of the key metrics), the ablation table when there is one, a grid of curves (one row
per variant, one column per quantity: training loss, each key metric per epoch, learning
rate per optimizer step; every seed overlaid in its own colour; each column shares its y
axis so rows compare at a glance), then each variant's plugins (all parameters, and the
hooks each acted on), expectations and runs.

The key metrics are the workload's (``Workload.key_metrics``, in the report as
``scenario.key_metrics``; see :func:`harness.judging.verdicts.report_key_metrics` for older
reports); their headers and chart titles are :func:`harness.reports.metric_label`, and a
metric whose name has a [0, 1] word (:func:`harness.reports.on_unit_interval`: a share,
accuracy, F1, AUC, precision, recall) is drawn on a fixed 0..1 axis when its values fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.reports import metric_label, tables
from harness.reports.charts import esc
from harness.reports.html_curves import curves_grid
from harness.reports.outcomes import LEGEND, outcome

FLAG = "--html"
HELP = "Write a self-contained HTML report with plots (curves per variant, seeds overlaid) here."


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


def fmt(value: Any, digits: int = 3) -> str:
    """A value in a cell (:func:`harness.reports.tables.number_text`; ``true``/``false``, ``–``)."""
    if isinstance(value, bool):
        return str(value).lower()
    return tables.number_text(value, digits, missing="–")


# ------------------------------------------------------------------ charts


# ------------------------------------------------------------------ tables


def _verdict_cell(summary: dict[str, Any], findings: int = 0) -> str:
    """The variant's outcome in the terminal's words (:mod:`harness.reports.outcomes`)."""
    word, style = outcome(summary, findings)
    css = {"green": "pass", "red": "fail", "yellow": "flaky"}.get(style, "na")
    cell = f'<span class="{css}">{esc(word)}</span>'
    if summary.get("flaky"):
        cell += '<span class="flaky">seeds disagree</span>'
    return cell


def _mean_std(stat: dict[str, Any] | None) -> str:
    """``0.812 ± 0.031`` (:func:`harness.reports.tables.mean_std_text`)."""
    return tables.mean_std_text(stat, separator=" ± ", missing="–")


def _metric_head(metric: str, note: str = "") -> str:
    """A key metric's column header: its label, the exact name (what expectations write) on hover."""
    return f"<th title='{esc(metric)}'>final {esc(metric_label(metric))}{note}</th>"


def summary_table(report: dict[str, Any], summaries: dict[str, dict[str, Any]]) -> str:
    from harness.judging.verdicts import report_key_metrics

    metrics = report_key_metrics(report)
    head = "".join(_metric_head(m, "<br><span class='na'>mean ± std</span>") for m in metrics)
    rows = []
    described = any(s.get("description") for s in summaries.values())  # an empty column is left out
    for row in tables.summary_rows(report, metrics, summaries):
        name, s = row.name, row.summary
        cells = "".join(f"<td class='num'>{_mean_std(stat)}</td>" for stat in row.stats)
        description = f"<td>{esc(s.get('description') or '')}</td>" if described else ""
        rows.append(
            f"<tr><td><a href='#v-{esc(name)}'>{esc(name)}</a></td>{description}"
            f"<td class='num'>{s['passed_runs']}/{s['runs']}{_skipped(s)}</td>{cells}<td>{_verdict_cell(s, _findings(report, name))}</td></tr>"
        )
    return (
        f"<table><tr><th>variant</th>{'<th>description</th>' if described else ''}<th>runs passed</th>{head}"
        "<th>verdict</th></tr>" + "".join(rows) + f"</table><p class='na'>{esc(LEGEND)}</p>"
    )


def _findings(report: dict[str, Any], name: str) -> int:
    return sum(len(run.get("findings") or []) for run in tables.variant_runs(report, name))


def _skipped(counts: dict[str, Any]) -> str:
    """`` (2 skipped)`` when early decisions left seeds out (:mod:`harness.judging.decisions`)."""
    return f" ({counts['skipped']} skipped)" if counts.get("skipped") else ""


def _yes(value: bool | None) -> str:
    return "<span class='na'>n/a</span>" if value is None else ("<span class='pass'>YES</span>" if value else "no")


def _arm(a: dict[str, Any]) -> str:
    """An ablation arm's cured seeds ``k/N``, a link to its variant's section."""
    text = f"{a['passed_runs']}/{a['runs']}{_skipped(a)}"
    flag = "<span class='flaky'>seeds disagree</span>" if a.get("seeds_disagree") else ""
    return f"<a href='#v-{esc(a['variant'])}'>{text}</a>{flag}"


#: the ablation table's cells (:func:`harness.reports.tables.ablation_rows`) in HTML
ABLATION_CELLS = tables.AblationCells(
    name=lambda plugin: f"<code>{esc(plugin)}</code>", change=esc, arm=_arm, verdict=_yes
)
#: the headers of :data:`harness.reports.tables.ABLATION_COLUMNS`
ABLATION_HEADERS = {
    "fix": "fix",
    "change": "base → target setting",
    "base_plus_fix": "base + fix<br>seeds passing",
    "sufficient": "sufficient alone",
    "target_minus_fix": "target − fix<br>seeds passing",
    "necessary": "necessary",
}


def ablation_table(ablation: dict[str, Any]) -> str:
    """The fixes with their two arms (seeds passing, linked to the arm's runs) and verdicts."""
    head = "".join(f"<th>{ABLATION_HEADERS[column]}</th>" for column in tables.ABLATION_COLUMNS)
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{cell}</td>" if column in tables.ABLATION_COUNTS else f"<td>{cell}</td>"
            for column, cell in zip(tables.ABLATION_COLUMNS, cells, strict=False)
        )
        + "</tr>"
        for cells in tables.ablation_rows(ablation, ABLATION_CELLS)
    )
    return f"<table><tr>{head}</tr>{rows}</table>"


def ablation_section(ablation: dict[str, Any]) -> str:
    base, target = ablation["base"], ablation["target"]
    warnings = "".join(f"<p class='warn'>warning: {esc(w)}</p>" for w in ablation.get("warnings", []))
    reproduces = tables.reproduces_text(ablation)
    reproduces = f" The base {reproduces}." if reproduces else ""
    return (
        f"<h2>Ablation: {esc(base['variant'])} → {esc(target['variant'])}</h2>"
        f"<p>Every arm is judged by <b>{esc(target['variant'])}</b>'s expectations; cured = {esc(ablation.get('rule_text', ''))}. "
        f"<i>Sufficient alone</i>: base + this fix is cured. <i>Necessary</i>: target − this fix is not cured. "
        f"Base {esc(base['variant'])}: {base['passed_runs']}/{base['runs']} seeds pass ({tables.cured_text(base)}); "
        f"target {esc(target['variant'])}: {target['passed_runs']}/{target['runs']} ({tables.cured_text(target)}).{reproduces}</p>"
        f"{ablation_table(ablation)}{warnings}"
    )


#: the plugin table's order by kind (:data:`harness.core.plugin.KINDS`): the defaults first, then what
#: changes training (fixes, bugs and plugins of unknown kind, by name), the monitors last
KIND_ORDER = {"core": 0, "fix": 1, "monitor": 2}


def _acted_hooks(run: dict[str, Any]) -> dict[str, list[str]]:
    """The hooks each plugin acted on in the run (its trace), by plugin."""
    acted: dict[str, list[str]] = {}
    for hook, by_plugin in (run.get("trace") or {}).items():
        for plugin in by_plugin:
            acted.setdefault(plugin, []).append(hook)
    return acted


def plugins_table(run: dict[str, Any], kinds: dict[str, str], label: str, *, open_plugins: bool) -> str:
    """The plugins a run had on: kind, every parameter, the hooks each acted on. The fixes and
    bugs (what a variant changes) are shown; the monitors and core behind a toggle; the whole
    list folded unless ``open_plugins``."""
    acted = _acted_hooks(run)
    ordered = sorted(run["plugins"].items(), key=lambda kv: (KIND_ORDER.get(kinds.get(kv[0], "fix"), 1), kv[0]))
    changes = [(p, v) for p, v in ordered if kinds.get(p, "fix") in ("fix", "bug")]
    others = [(p, v) for p, v in ordered if kinds.get(p, "fix") not in ("fix", "bug")]

    def table(items: list[tuple[str, dict[str, Any]]]) -> str:
        rows = "".join(
            f"<tr><td><code>{esc(p)}</code></td><td>{esc(kinds.get(p, '?'))}</td>"
            f"<td>{esc(', '.join(f'{k}={v}' for k, v in params.items()) or '–')}</td>"
            f"<td>{esc(', '.join(sorted(acted.get(p, []))) or '–')}</td></tr>"
            for p, params in items
        )
        return (
            f"<table><tr><th>plugin</th><th>kind</th>"
            f"<th>parameters</th><th>hooks it acted on (seed {esc(run['seed'])})</th></tr>{rows}</table>"
        )

    monitors = f"<details><summary>monitors and core: {len(others)}</summary>{table(others)}</details>"
    return (
        f"<details{' open' if open_plugins else ''}><summary>{label}: {len(run['plugins'])}</summary>"
        f"{table(changes) if changes else ''}{monitors if others else ''}</details>"
    )


def _observed_cells(runs: list[dict[str, Any]], name: str) -> list[str]:
    """An expectation line's observed value on each seed (once when every seed agrees), then the
    reason on each seed it did not apply to (e.g. no completed epoch)."""
    seen = []
    for run in runs:
        entry = tables.expectation_entry(run, name)
        if entry is not None and entry.get("passed") is not None:
            seen.append((run["seed"], bool(entry["passed"]), fmt(entry.get("observed"))))
    if len(seen) > 1 and len({(p, o) for _, p, o in seen}) == 1:  # the same on every seed: say it once
        seen = [("every seed", seen[0][1], seen[0][2])]
    observed = [
        f"<span class='na'>{esc(seed if isinstance(seed, str) else f's{seed}')}</span>&nbsp;"
        f"<span class='{'pass' if passed else 'fail'}'>{esc(value)}</span>"
        for seed, passed, value in seen
    ]
    return observed + [
        f"<span class='na'>s{esc(run['seed'])}&nbsp;n/a: {esc(entry['reason'])}</span>"
        for run in runs
        for entry in run["expectations"]
        if entry["name"] == name and entry.get("passed") is None and entry.get("reason")
    ]


def expectations_table(summary: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    """A variant's expectation lines: verdict, seeds passing, the pass rate required, observed per seed."""
    rows = []
    for row in summary["expectations"]:
        mark = (
            "<span class='na'>n/a</span>"
            if not row["applicable"]
            else ("<span class='pass'>✔</span>" if row["ok"] else "<span class='fail'>✘</span>")
        )
        rows.append(
            f"<tr><td>{mark}</td><td><code>{esc(row['name'])}</code></td>"
            f"<td class='num'>{row['passed']}/{row['applicable']}</td><td>{esc(row['pass_rate'] or 'every seed')}</td>"
            f"<td>{' '.join(_observed_cells(runs, row['name']))}</td></tr>"
        )
    return (
        "<table><tr><th></th><th>expectation</th><th>seeds passing</th><th>required</th><th>observed per seed</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _run_status(run: dict[str, Any]) -> str:
    """``diverged at step 12``, ``decided (REASON)``, ``error: MESSAGE``: how the run ended."""
    status = run["status"] + (f" at step {run['diverged_at_step']}" if run.get("diverged_at_step") else "")
    if run.get("stop_reason"):
        status += f" ({run['stop_reason']})"
    if run.get("skipped"):  # early decisions: never run
        status += f" ({run['skipped'].get('reason', '')})"
    if run.get("error"):
        status += f": {run['error']['message']}"
    return str(status)


def runs_table(runs: list[dict[str, Any]], metrics: list[str]) -> str:
    """One row per seed: how it ended, seconds, epochs, the final key metrics, its findings by kind."""
    rows = []
    for run in runs:
        last = tables.last_epoch(run)
        findings = (
            ", ".join(
                f"{k} @ epoch {', '.join(map(str, sorted(set(v))))}" for k, v in tables.findings_by_kind(run).items()
            )
            or "–"
        )
        cells = "".join(f"<td class='num'>{fmt(last.get(m))}</td>" for m in metrics)
        rows.append(
            f"<tr><td class='num'>{esc(run['seed'])}</td><td>{esc(_run_status(run))}</td><td class='num'>{fmt(run.get('seconds'), 1)}</td>"
            f"<td class='num'>{len(run['history'])}</td>{cells}<td>{esc(findings)}</td></tr>"
        )
    head = "".join(_metric_head(m) for m in metrics)
    return (
        f"<table><tr><th>seed</th><th>status</th><th>seconds</th><th>epochs</th>{head}<th>findings</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def variant_section(
    report: dict[str, Any], name: str, summary: dict[str, Any], kinds: dict[str, str], *, open_plugins: bool = False
) -> str:
    """A variant's heading, its plugins (once when every seed had the same), expectations and runs."""
    from harness.judging.verdicts import report_key_metrics

    runs = tables.variant_runs(report, name)
    parts = [
        f"<h3 id='v-{esc(name)}'>{esc(name)} — {_verdict_cell(summary, _findings(report, name))} {summary['passed_runs']}/{summary['runs']} seeds{_skipped(summary)}</h3>"
    ]
    if summary.get("description"):
        parts.append(f"<p class='desc'>{esc(summary['description'])}</p>")
    program = tables.program_line(runs)
    if program:
        parts.append(f"<p class='meta'>command: <code>{esc(program)}</code></p>")
    plugin_runs = [runs[0]] if summary.get("plugins") is not None and runs else runs
    for run in plugin_runs:
        label = "plugins on (every seed)" if len(plugin_runs) == 1 else f"plugins on (seed {esc(run['seed'])})"
        parts.append(plugins_table(run, kinds, label, open_plugins=open_plugins))
    if summary["expectations"]:
        parts.append(expectations_table(summary, runs))
    parts.append(runs_table(runs, report_key_metrics(report)))
    return "".join(parts)


def _source_line(source: str | None) -> str:
    """The incident's source as a link (a URL) or text (a citation); nothing without one."""
    if not source:
        return ""
    if source.startswith(("https://", "http://")):
        return f"<div class='meta'>source: <a href='{esc(source)}'>{esc(source)}</a></div>"
    return f"<div class='meta'>source: {esc(source)}</div>"


def scenario_section(report: dict[str, Any]) -> str:
    summaries = tables.summaries_of(report)
    seeds = tables.seeds_of(report)
    scenario = report["scenario"]
    verdict = "<span class='pass'>PASSED</span>" if report["passed"] else "<span class='fail'>FAILED</span>"
    flaky = [n for n, s in summaries.items() if s.get("flaky")]
    seconds = sum(float(r.get("seconds") or 0) for r in report["runs"])
    parts = [
        f"<h1>{esc(scenario['name'])}</h1>",
        _source_line(scenario.get("source")),
        (
            f"<div class='meta'>{esc(scenario.get('path', ''))} · workload {esc(scenario.get('workload', ''))} · "
            f"torch {esc(report.get('torch_version', '?'))} · harness {esc(report.get('harness_version', '?'))} · "
            f"seeds {esc(', '.join(map(str, seeds)))}</div>"
        ),
        f"<div class='verdict'>{verdict}: {len(report['runs'])} run(s), {seconds:.1f} s of training"
        + (f" · <span class='flaky'>seeds disagree in {esc(', '.join(flaky))}</span>" if flaky else "")
        + "</div>",
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
    from harness.core.pluginmanager import plugin_kinds

    kinds = {**plugin_kinds(), **(report.get("scenario") or {}).get("plugin_kinds", {})}  # watch's own monitors
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
    from harness.execution.atomic_io import write_atomic

    write_atomic(Path(path), render(payload))
