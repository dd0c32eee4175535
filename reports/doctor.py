"""The ``harness doctor`` section of a report: the candidates tried, their verdicts, the proven fix.

Used by the terminal report (:func:`print_doctor`) and the HTML report (:func:`html_section`)
for a payload with a ``doctor`` key (``harness doctor --json`` writes it; ``harness report``
re-renders it).
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
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


def _seeds(candidate: dict[str, Any]) -> str:
    """``k/N``, or ``k/N+S`` when S seeds were skipped once the arm was decided."""
    skipped = candidate.get("skipped") or 0
    return f"{candidate['passed_runs']}/{candidate['runs'] - skipped}" + (f"+{skipped}" if skipped else "")


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
    for col in ("#", "candidate (change)", "seeds", section.get("metric") or "metric", "verdict", "still there", "new"):
        table.add_column(col)
    for i, c in enumerate(section["candidates"], start=1):
        verdict = _verdict(c)
        style = {"cured": "green", "no": "red", "n/a": "yellow"}[verdict]
        table.add_row(
            str(i) if c["phase"] == "single" else f"{i}*",
            escape(c["description"]),
            _seeds(c),
            _metric(c),
            f"[{style}]{verdict}[/]",
            escape(", ".join(c["remaining_kinds"]) or "-"),
            escape(", ".join(c.get("new_kinds") or []) or "-"),
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
                    f"[{style}]{verdict}[/] {_seeds(c)} seeds, {escape(section.get('metric') or 'metric')} "
                    f"{_metric(c)}; still there: {escape(remaining)}"
                    + (f"; new: {escape(', '.join(c['new_kinds']))}" if c.get("new_kinds") else "")
                ),
                (0, 0, 0, 3),
                expand=False,
            )
        )
    return Group(*items)


WIDTH = 80  # the compact section fits one screen this wide


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _kinds_text(kinds: dict[str, int], seeds: int) -> str:
    return ", ".join(f"{k} ({n}/{seeds})" for k, n in kinds.items()) or "none"


def arm_line(candidate: dict[str, Any], metric_width: int = 11) -> str:
    """One arm on one line: name, seeds cured x/N, the main metric, and why not (kinds left, new kinds, skipped seeds)."""
    verdict = _verdict(candidate)
    notes = []
    if candidate.get("new_kinds"):  # first: a cure that trades one pathology for another is none
        notes.append("new: " + ", ".join(candidate["new_kinds"]))
    if candidate.get("remaining_kinds"):
        notes.append("left: " + ", ".join(candidate["remaining_kinds"]))
    if verdict == "n/a":
        notes.insert(0, "n/a: never acted")
    mark = {"cured": "+", "no": "-", "n/a": "?"}[verdict]
    seeds = _seeds(candidate)
    head = f"{mark} {_fit(candidate['name'], 34):<34} {seeds:>5} {_metric(candidate):>{metric_width}}"
    rest = "; ".join(notes)
    return head + (" " + _fit(rest, WIDTH - len(head) - 1) if rest else "")


def _reference_line(section: dict[str, Any]) -> str | None:
    ref = section.get("reference")
    if not ref:
        return None
    mean = ref.get("mean")
    if mean is None:
        values = [v for v in ref.get("values", []) if v is not None]
        mean = sum(values) / len(values) if values else None
    metric = section.get("metric") or "metric"
    level = f"{metric} {mean:.3f}" if mean is not None else f"no final {metric}"
    bar = (
        f"; a cure needs {'<=' if section.get('lower_is_better') else '>='} {ref['threshold']:.3g}"
        if ref.get("threshold") is not None
        else ""
    )
    return f"reference: {ref.get('what', ref.get('variant'))}: {level}{bar}"


def _range_line(section: dict[str, Any]) -> str | None:
    test = section.get("lr_range")
    if not test:
        return None
    if test.get("error") or test.get("suggested_lr") is None:
        return f"LR range test: no suggestion ({test.get('error') or test.get('stopped')})"
    return (
        f"LR range test: lr {test['current_lr']:.3g} -> {test['suggested_lr']:.3g} (minimum at "
        f"{test['min_loss_lr']:.3g} / 10; steepest {test['steepest_lr']:.3g}; {test['steps']} steps)"
    )


def compact_criterion(section: dict[str, Any]) -> str:
    """The cure criterion in a line: the variant's kinds, the metric bar, new kinds, the seeds."""
    rate = f"on {section['pass_rate']} of the seeds" if section.get("pass_rate") else "on every seed"
    lines = [line for line in section["criterion"] if not line.startswith("no finding")]
    gone = len(section["criterion"]) - len(lines)
    parts = [f"the variant's {gone} kind(s) gone"] if gone else []
    parts += lines
    if section.get("watched_kinds"):
        parts.append(f"no new kind ({len(section['watched_kinds'])} watched)")
    return "cure " + rate + ": " + ", ".join(parts)


def print_doctor(console: Console, section: dict[str, Any], *, verbose: bool = False) -> None:
    """The doctor's section on one screen: findings, the diagnosis (when present), the LR range
    test, the reference, one line per arm, the proven fix as a variant to paste; ``verbose``:
    the per-arm table and every criterion line too."""
    from harness.reports.diagnosis import print_diagnosis

    seeds = len(section["seeds"])

    def out(text: str, style: str = "", one_line: bool = False) -> None:
        """A line of the section: an arm's is cut at the screen's width, any other wraps."""
        console.print(Text(_fit(text, WIDTH) if one_line and not verbose else text, style=style))

    out(f"Doctor: {section['variant']}, {seeds} seed(s)", "bold")
    out(f"findings: {_kinds_text(section['observed'], seeds)}")
    print_diagnosis(console, section.get("diagnosis") or [], shown=2 if verbose else 1)
    for line in (_range_line(section), _reference_line(section)):
        if line:
            out(line)
    out(compact_criterion(section) if not verbose else "cure criterion: " + criterion_text(section), "dim")
    if section["candidates"]:
        metric = section.get("metric") or "metric"
        if any(c.get("skipped") for c in section["candidates"]):
            out(
                "cured k/N+S: k of N seeds run cured, S skipped once the arm was decided; - its runs stopped then",
                "dim",
            )
        out(f"  {'arm':<34} {'cured':>5} {_fit(metric, 11):>11}", "bold", one_line=True)
        for c in section["candidates"]:
            style = {"cured": "green", "no": "", "n/a": "yellow"}[_verdict(c)]
            out(arm_line(c), style, one_line=True)
        if verbose:
            console.print(doctor_section(console, section))
    minimal = section.get("minimal")
    if minimal:
        dropped = [c["without"] for c in minimal["checks"] if c["cured"]]
        out(
            f"minimal: {minimal['minimal']}"
            + (f" (dropped {', '.join(dropped)})" if dropped else " (every part needed)")
        )
    warnings = section.get("warnings", [])
    for warning in warnings if verbose else warnings[:3]:
        out(f"warning: {warning}", "yellow")
    _print_edits(out, section.get("edits") or [])
    best = section.get("best")
    if best is None:
        out("no candidate cured it" if section["candidates"] else "no fix tried", "bold red")
        return
    out(f"proven fix: {best['description']}, {best['passed_runs']}/{best['runs']} seeds; paste:", "bold green")
    console.print(escape(section["fixed_yaml"]), highlight=False, soft_wrap=True)


def _print_edits(out: Any, edits: list[dict[str, Any]]) -> None:
    """A script's cure as the edit to make in its code, at the line (``doctor.edits``)."""
    if not edits:
        return
    proven = all(e["proven"] for e in edits)
    out("the edit to make in your code" + (" (proven):" if proven else " (not proven):"), "bold")
    for line in edit_lines(edits):
        out(line if line.startswith(" ") else f"  {line}", "" if line.startswith(" ") else "bold")


def html_section(section: dict[str, Any]) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(c['name'])}</td><td>{esc(c['description'])}</td><td>{esc(', '.join(c['addresses']))}</td>"
        f"<td>{_seeds(c)}</td><td>{esc(_metric(c))}</td>"
        f"<td class='{ {'cured': 'pass', 'no': 'fail', 'n/a': 'na'}[_verdict(c)] }'>{esc(_verdict(c))}</td>"
        f"<td>{esc(', '.join(c['remaining_kinds']) or '–')}</td><td>{esc(', '.join(c.get('new_kinds') or []) or '–')}</td>"
        f"<td>{c.get('skipped') or 0}</td></tr>"
        for c in section["candidates"]
    )
    table = (
        "<table><tr><th>fix</th><th>change</th><th>addresses</th><th>seeds</th>"
        f"<th>{esc(section.get('metric') or 'metric')}</th><th>verdict</th><th>still there</th><th>new kinds</th>"
        f"<th>seeds skipped</th></tr>{rows}</table>"
        if rows
        else ""
    )
    observed = ", ".join(f"{k} ({n}/{len(section['seeds'])})" for k, n in section["observed"].items()) or "none"
    warnings = "".join(f"<p class='warn'>warning: {esc(w)}</p>" for w in section.get("warnings", []))
    diagnosis = "".join(
        f"<li><b>{esc(d['kind'])}</b>: "
        + "; ".join(f"{esc(c['cause'])} ({esc(c['verdict'])}; cure: {esc(c['cure'])})" for c in d["causes"][:3])
        + "</li>"
        for d in section.get("diagnosis") or []
    )
    best = section.get("best")
    proven = (
        f"<p><b>Proven fix</b>: {esc(best['description'])}, {best['passed_runs']}/{best['runs']} "
        f"seeds.</p><pre>{esc(section['fixed_yaml'])}</pre>"
        if best
        else "<p class='fail'>No candidate cured it.</p>"
    )
    notes = [line for line in (_range_line(section), _reference_line(section)) if line]
    minimal = section.get("minimal")
    if minimal:
        notes.append(f"minimal: {minimal['minimal']} (of {minimal['of']})")
    return (
        f"<h2>Doctor: {esc(section['variant'])}</h2><p>Findings: {esc(observed)}.</p>"
        + (f"<ul>{diagnosis}</ul>" if diagnosis else "")
        + "".join(f"<p>{esc(n)}</p>" for n in notes)
        + f"<p>Cure criterion: {esc(criterion_text(section))}"
        + (f"; no new finding of: {esc(', '.join(section['watched_kinds']))}" if section.get("watched_kinds") else "")
        + f".</p>{table}{warnings}{proven}"
    )


def short_path(where: str, cwd: str | None = None) -> str:
    """``FILE:LINE`` with FILE relative to ``cwd`` when it is below it."""
    path, _, line = where.rpartition(":")
    if not path:
        return where
    relative = os.path.relpath(path, cwd or os.getcwd())
    return f"{relative if not relative.startswith('..') else path}:{line}"


def edit_lines(items: Sequence[Mapping[str, Any]], cwd: str | None = None) -> list[str]:
    """The edits as a person reads them: ``train.py:38: <edit>`` and the line as it is now."""
    lines = []
    for item in items:
        where = short_path(item["where"], cwd) if item.get("where") else "(no line known)"
        lines.append(f"{where}: {item['edit']}")
        if item.get("source"):
            lines.append(f"    now: {item['source']}")
        lines.append(f"    {item['why']}")
    return lines
