"""One run's notes as text: the epochs it was decided or stopped at, and its findings."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from harness.reports import tables


def early_note(run: dict[str, Any]) -> str:
    """What early decisions did to a run, in markup: ``decided at epoch 3 by LINE`` or
    ``skipped: REASON`` (empty for a run that trained to its end)."""
    if run.get("status") == "decided":
        decided = run.get("decided") or {}
        return f"[yellow]decided at epoch {decided.get('epoch')} by {escape(str(decided.get('by')))}[/]"
    if run.get("status") == "skipped":
        seeds = (run.get("skipped") or {}).get("after_seeds")
        return f"[dim]not run: decided by seed {', '.join(map(str, seeds))}[/]" if seeds else "[dim]not run[/]"
    return ""


def epochs_text(epochs: list[int]) -> str:
    """``1-10`` for a run of three or more consecutive epochs, else ``1,2`` / ``3,7``."""
    out: list[str] = []
    values = sorted(set(epochs))
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        if j - i >= 2:
            out.append(f"{values[i]}-{values[j]}")
        else:
            out.extend(str(v) for v in values[i : j + 1])
        i = j + 1
    return ",".join(out)


def findings_text(run: dict[str, Any]) -> str:
    """A run's findings as ``kind@epochs`` (``collapse@1``, ``saturation@1-10``) in markup,
    led by its error message (red) when it failed; ``-`` when there is neither."""
    findings = ", ".join(f"{k}@{epochs_text(v)}" for k, v in tables.findings_by_kind(run).items()) or "-"
    note = early_note(run)
    if note:
        return note if findings == "-" else f"{escape(findings)}; {note}"
    if run.get("error"):
        return f"[red]{escape(run['error']['message'])}[/]" + ("" if findings == "-" else f"; {escape(findings)}")
    return escape(findings)
