"""What ``harness watch`` prints after the program ended: per process, each finding with its line.

Plain rich text, no table: a finding is a heading (kind, epoch, step, monitor), the place in
the user's code (``FILE:LINE`` and the line itself), the monitor's message and the most likely
cause with its cure (the doctor's diagnosis of the run, :mod:`harness.core.diagnosis`), wrapped
by rich to the terminal's width (readable at 80 columns); ``explain``: the whole diagnosis.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

RUNNING = (
    "  the program ended before the watcher could finish its record (killed, os._exit?): "
    "this is what it saw until its last save (training start, an epoch's end, every 10 s)"
)


def _heading(record: dict[str, Any], several: bool) -> str:
    train = record.get("train") or {}
    who = f"rank {train.get('rank', 0)}" if several else "the program"
    epochs = len(record.get("history") or [])
    return f"{who}: {record.get('steps', 0)} optimizer steps, {epochs} epoch(s) watched"


def _epochs(epochs: list[int]) -> str:
    if len(epochs) == 1:
        return f"epoch {epochs[0]}"
    if epochs == list(range(epochs[0], epochs[-1] + 1)):
        return f"epochs {epochs[0]}-{epochs[-1]}"
    return "epochs " + ", ".join(map(str, epochs))


def grouped(findings: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[int]]]:
    """One entry per (kind, monitor, place): the first finding and every epoch it recurred in."""
    groups: dict[tuple[Any, ...], tuple[dict[str, Any], list[int]]] = {}
    for finding in findings:
        key = (finding["kind"], finding["plugin"], finding.get("where"))
        groups.setdefault(key, (finding, []))[1].append(finding["epoch"])
    return list(groups.values())


def diagnosis_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The doctor's diagnosis of one watched run: each kind's declared causes ranked by its evidence."""
    from harness.core.diagnosis import declared_causes, rank_causes
    from harness.core.findings import structural_kinds
    from harness.core.pluginmanager import discover_plugins

    kinds: dict[str, int] = {}
    for finding in record.get("findings") or []:
        kinds[finding["kind"]] = 1
    plugins = discover_plugins()
    return rank_causes(kinds, declared_causes(plugins), [record], structural_kinds(plugins)) if kinds else []


def likely_cause(diagnosis: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    """``kind``'s most likely cause: the first of the run's causes ranked across its kinds
    (:func:`~harness.core.diagnosis.most_likely`) that ``kind`` declares, unless ruled out."""
    from harness.core.diagnosis import most_likely

    own = {c["cause"] for entry in diagnosis if entry["kind"] == kind for c in entry["causes"]}
    for cause in most_likely(diagnosis):
        if cause["cause"] in own and cause["verdict"] != "rules out":
            return cause
    return None


def print_likely(console: Console, cause: dict[str, Any] | None, told: set[str]) -> None:
    """One line: the cause and its cure, the cure left out when an earlier finding told it."""
    if cause is None:
        return
    verdict = "likely" if cause["verdict"] == "supports" else "maybe"
    cure = "(cure as above)" if cause["cause"] in told else f"cure: {cause['cure']}"
    told.add(cause["cause"])
    console.print(Text(f"  {verdict}: {cause['cause']}; {cure}", style="green"), highlight=False)


def print_finding(console: Console, finding: dict[str, Any], epochs: list[int] | None = None) -> None:
    when = _epochs(epochs or [finding["epoch"]])
    console.print(
        f"[bold red]{escape(finding['kind'])}[/] [dim]({when}, {escape(finding['plugin'])})[/]", highlight=False
    )
    if finding.get("where"):
        console.print(f"  [cyan]{escape(finding['where'])}[/]", highlight=False)
        if finding.get("source"):
            console.print(Text("    " + finding["source"], style="yellow"), highlight=False)
    console.print(Text(finding["message"], style="default"), highlight=False)
    if epochs and len(epochs) > 1:
        console.print(Text("(the first of these findings; the others say the same of later epochs)", style="dim"))


def print_watch_report(console: Console, report: dict[str, Any], code: int, *, explain: bool = False) -> None:
    """Per process: its heading, each finding with its line and likely cause; ``explain``: its diagnosis."""
    runs = report["runs"]
    console.rule("harness watch", style="dim")
    if not runs:
        console.print("no training observed: no process stepped an optimizer or backpropagated a loss", highlight=False)
    for record in runs:
        error = record.get("error") or {}
        if error.get("type") == "not_watched":
            console.print(f"[bold red]not watched[/]: {escape(error['message'])}", highlight=False)
            continue
        console.print(f"[bold]{escape(_heading(record, len(runs) > 1))}[/]", highlight=False)
        if record.get("status") == "running":
            console.print(RUNNING, highlight=False)
        if record.get("status") == "error" and record.get("error"):
            console.print(f"  it ended with {escape(record['error']['message'])}", highlight=False)
        for note in record.get("notes") or []:
            console.print(Text(f"  {note}", style="dim"), highlight=False)
        findings = record.get("findings") or []
        if not findings:
            console.print("  [green]no findings[/]", highlight=False)
        diagnosis = diagnosis_of(record)
        kinds: set[str] = set()
        causes: set[str] = set()
        for finding, epochs in grouped(findings):
            print_finding(console, finding, epochs)
            if finding["kind"] not in kinds:  # once per kind
                kinds.add(finding["kind"])
                print_likely(console, likely_cause(diagnosis, finding["kind"]), causes)
        if explain and diagnosis:
            from harness.reports.diagnosis import print_diagnosis

            print_diagnosis(console, diagnosis)
    ended = f"exit code {code}" if code >= 0 else f"killed by signal {-code}"
    count = sum(len(r.get("findings") or []) for r in runs)
    console.print(f"[dim]{count} finding(s); the program ended with {ended}[/]", highlight=False)
