"""The ``harness doctor`` section of a report: the candidates tried, their verdicts, the proven fix.

Used by the terminal report (:func:`print_doctor`) and the HTML report (:func:`html_section`)
for a payload with a ``doctor`` key (``harness doctor --json`` writes it; ``harness report``
re-renders it).
"""

from __future__ import annotations

import html
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text


def _verdict(candidate: dict[str, Any]) -> str:
    if candidate["cured"] is None:
        return "n/a"
    return "cured" if candidate["cured"] else "no"


def _metric(candidate: dict[str, Any]) -> str:
    stats = candidate.get("metric") or {}
    mean, std = stats.get("mean"), stats.get("std")
    if mean is None:
        return "-"
    return f"{mean:.3f}" + (f"±{std:.3f}" if std else "")


def criterion_text(section: dict[str, Any]) -> str:
    rate = f" on {section['pass_rate']} of the seeds" if section.get("pass_rate") else " on every seed"
    return "; ".join(section["criterion"]) + rate


def reference_text(section: dict[str, Any]) -> str:
    ref = section.get("reference")
    if not ref or ref.get("threshold") is None:
        return ""
    values = [v for v in ref["values"] if v is not None]
    mean = sum(values) / len(values) if values else float("nan")
    return (
        f"reference ({ref.get('what', ref['variant'])}): final {section['metric']} {mean:.3f}, "
        f"cure threshold {ref['threshold']:.4g} (tolerance {section['tolerance']:g})"
    )


def doctor_table(section: dict[str, Any]) -> Table:
    observed = ", ".join(f"{k} ({n}/{len(section['seeds'])})" for k, n in section["observed"].items()) or "none"
    table = Table(
        title=f"Doctor: {section['variant']}, {len(section['seeds'])} seed(s); findings: {observed}",
        title_justify="left",
    )
    for col in ("#", "candidate (change)", "seeds", section.get("metric") or "metric", "verdict", "still there"):
        table.add_column(col)
    for i, c in enumerate(section["candidates"], start=1):
        verdict = _verdict(c)
        style = {"cured": "green", "no": "red", "n/a": "yellow"}[verdict]
        table.add_row(
            str(i) if c["phase"] == "single" else f"{i}*",
            escape(c["description"]),
            f"{c['passed_runs']}/{c['runs']}",
            _metric(c),
            f"[{style}]{verdict}[/]",
            escape(", ".join(c["remaining_kinds"]) or "-"),
        )
    return table


def doctor_section(console: Console, section: dict[str, Any]) -> RenderableType:
    """:func:`doctor_table` when it fits the console with every name whole
    (:func:`harness.reports.fitting.fits`); else one block per candidate."""
    from harness.reports.fitting import fits

    table = doctor_table(section)
    if fits(console, table):
        return table
    items: list[RenderableType] = [Text(str(table.title), style="italic"), Text()]
    for i, c in enumerate(section["candidates"], start=1):
        verdict = _verdict(c)
        style = {"cured": "green", "no": "red", "n/a": "yellow"}[verdict]
        mark = str(i) if c["phase"] == "single" else f"{i}*"
        items.append(Text.from_markup(f"{mark}. [bold]{escape(c['name'])}[/]  {escape(c['description'])}"))
        remaining = ", ".join(c["remaining_kinds"]) or "-"
        items.append(
            Padding(
                Text.from_markup(
                    f"[{style}]{verdict}[/] {c['passed_runs']}/{c['runs']} seeds, {escape(section.get('metric') or 'metric')} "
                    f"{_metric(c)}; still there: {escape(remaining)}"
                ),
                (0, 0, 0, 3),
                expand=False,
            )
        )
    return Group(*items)


def print_doctor(console: Console, section: dict[str, Any]) -> None:
    from harness.reports.diagnosis import print_diagnosis

    print_diagnosis(console, section.get("diagnosis") or [])
    if section["candidates"]:  # no empty table when no fix addresses the findings
        console.print(doctor_section(console, section))
    console.print(f"cure criterion: {escape(criterion_text(section))}", highlight=False)
    ref = reference_text(section)
    if ref:
        console.print(escape(ref), highlight=False)
    if any(c["phase"] == "combination" for c in section["candidates"]):
        console.print("* a combination, tried because no single fix cured", highlight=False)
    for warning in section.get("warnings", []):
        console.print(f"[yellow]warning[/]: {escape(warning)}", highlight=False)
    best = section.get("best")
    if best is None:
        console.print("[bold red]no candidate cured it[/]", highlight=False)
        return
    console.print(
        f"[bold green]proven fix[/]: {escape(best['description'])}, "
        f"{best['passed_runs']}/{best['runs']} seeds; paste into the scenario's variants:",
        highlight=False,
    )
    console.print(escape(section["fixed_yaml"]), highlight=False, soft_wrap=True)


def html_section(section: dict[str, Any]) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(c['name'])}</td><td>{esc(c['description'])}</td><td>{esc(', '.join(c['addresses']))}</td>"
        f"<td>{c['passed_runs']}/{c['runs']}</td><td>{esc(_metric(c))}</td>"
        f"<td class='{ {'cured': 'pass', 'no': 'fail', 'n/a': 'na'}[_verdict(c)] }'>{esc(_verdict(c))}</td>"
        f"<td>{esc(', '.join(c['remaining_kinds']) or '–')}</td></tr>"
        for c in section["candidates"]
    )
    observed = ", ".join(f"{k} ({n}/{len(section['seeds'])})" for k, n in section["observed"].items()) or "none"
    warnings = "".join(f"<p class='warn'>warning: {esc(w)}</p>" for w in section.get("warnings", []))
    best = section.get("best")
    proven = (
        f"<p><b>Proven fix</b>: {esc(best['description'])}, {best['passed_runs']}/{best['runs']} "
        f"seeds.</p><pre>{esc(section['fixed_yaml'])}</pre>"
        if best
        else "<p class='fail'>No candidate cured it.</p>"
    )
    ref = reference_text(section)
    return (
        f"<h2>Doctor: {esc(section['variant'])}</h2><p>Findings: {esc(observed)}. Cure criterion: "
        f"{esc(criterion_text(section))}.{(' ' + esc(ref) + '.') if ref else ''}</p>"
        "<table><tr><th>fix</th><th>change</th><th>addresses</th><th>seeds</th>"
        f"<th>{esc(section.get('metric') or 'metric')}</th><th>verdict</th><th>still there</th></tr>{rows}</table>"
        f"{warnings}{proven}"
    )
