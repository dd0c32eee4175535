"""Terminal sections for ablation (which fixes matter) and compare (which runs differ)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from harness.reports import tables
from harness.reports.fitting import fits, indented


def _early(counts: dict[str, Any]) -> str:
    """``, 1 decided, 2 skipped`` for a summary or arm with early decisions (else empty):
    runs stopped when the verdict was decided, and seeds never run (:mod:`harness.judging.decisions`)."""
    parts = [f"{counts[k]} {k}" for k in ("decided", "skipped") if counts.get(k)]
    return ", " + ", ".join(parts) if parts else ""


def _ablation_title(ablation: dict[str, Any]) -> str:
    n = ablation["target"]["runs"] + ablation["target"].get("skipped", 0)
    rule = ablation.get("rule_text") or "every expectation holds"
    return f"Ablation {ablation['base']['variant']} -> {ablation['target']['variant']}, {n} seed(s): cured = {rule}"


def _yes(value: bool | None) -> str:
    return "[dim]n/a[/]" if value is None else ("[bold green]YES[/]" if value else "no")


def _arm(a: dict[str, Any]) -> str:
    text = f"{a['passed_runs']}/{a['runs']}"
    text = f"[yellow]{text}[/]" if a.get("seeds_disagree") else text
    return text + (f"+{a['skipped']}" if a.get("skipped") else "")


#: the ablation table's cells (:func:`harness.reports.tables.ablation_rows`) in rich markup
ABLATION_CELLS = tables.AblationCells(name=escape, change=escape, arm=_arm, verdict=_yes)


#: the headers of :data:`harness.reports.tables.ABLATION_COLUMNS`, broken to keep the table narrow
ABLATION_HEADERS = {
    "fix": "fix",
    "change": "change",
    "base_plus_fix": "base+fix\ncured",
    "sufficient": "suffi-\ncient",
    "target_minus_fix": "target-fix\ncured",
    "necessary": "neces-\nsary",
}


def ablation_table(ablation: dict[str, Any]) -> Table:
    """The fixes with their two arms (cured seeds k/N) and verdicts; only the change may wrap."""
    table = Table(
        title=escape(_ablation_title(ablation)),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 0),
    )
    for column in tables.ABLATION_COLUMNS:
        wraps = column == "change"
        table.add_column(
            ABLATION_HEADERS[column],
            justify="right" if column in tables.ABLATION_COUNTS else "left",
            no_wrap=not wraps,
            overflow="fold" if wraps else "ellipsis",
        )
    for cells in tables.ablation_rows(ablation, ABLATION_CELLS):
        table.add_row(*cells)
    return table


def ablation_section(console: Console, ablation: dict[str, Any]) -> RenderableType:
    """:func:`ablation_table` when it :func:`fits`; else one block per fix: its name and change,
    then both arms with their verdicts."""
    table = ablation_table(ablation)
    if fits(console, table):
        return table
    items: list[RenderableType] = [Text(_ablation_title(ablation), style="italic"), Text()]
    for fix, change, base_plus_fix, sufficient, target_minus_fix, necessary in tables.ablation_rows(
        ablation, ABLATION_CELLS
    ):
        items.append(Text.from_markup(f"[bold]{fix}[/]  {change}"))
        items.append(
            indented(
                Text.from_markup(
                    f"sufficient {sufficient} (base+fix cured {base_plus_fix})  "
                    f"necessary {necessary} (target-fix cured {target_minus_fix})"
                )
            )
        )
    return Group(*items)


def print_ablation(console: Console, ablation: dict[str, Any]) -> None:
    console.print(ablation_section(console, ablation))
    base, target = ablation["base"], ablation["target"]
    console.print(
        f"base [bold]{escape(base['variant'])}[/]: {base['passed_runs']}/{base['runs']} seeds cured{_early(base)}"
        f" ({tables.cured_text(base)}); target [bold]{escape(target['variant'])}[/]:"
        f" {target['passed_runs']}/{target['runs']}{_early(target)} ({tables.cured_text(target)})."
    )
    early = ablation.get("early")
    if early:
        console.print(
            f"decided early: {early['trained']} of {early['runs']} runs trained ({early['decided']} of them stopped "
            f"when their arm's verdict was decided), {early['skipped']} skipped"
            + (" (k/N+S: S seeds skipped)" if early["skipped"] else "")
            + f", {early['steps']} optimizer steps; --exhaustive trains every run to its end"
        )
    arms = [base, target] + [a for row in ablation["fixes"] for a in (row["base_plus_fix"], row["target_minus_fix"])]
    if any(a.get("seeds_disagree") for a in arms):
        console.print("[yellow]k/N in yellow[/]: the seeds disagree (some pass every expectation, others do not)")
    if ablation.get("base_reproduces"):
        r = ablation["base_reproduces"]
        left = f" ({r['open']} not known: stopped when decided)" if r.get("open") else ""
        console.print(f"the base {tables.reproduces_text(ablation)}{left}")
    for warning in ablation.get("warnings", []):
        console.print(f"[yellow]warning:[/] {escape(warning)}")


def differences_section(console: Console, differences: list[Any], label_a: str, label_b: str) -> RenderableType:
    """``harness compare``'s differences (:class:`harness.judging.compare.Difference`), grouped by run:
    a heading (scenario · variant · seed) and a table of what differs with its value in each
    file when it :func:`fits`, else per difference its name and one line per file."""
    groups: dict[tuple[str, str, Any], list[Any]] = {}
    for d in differences:
        groups.setdefault((d.scenario, d.variant, d.seed), []).append(d)
    items: list[RenderableType] = []
    for (scenario, variant, seed), diffs in groups.items():
        items.append(Text(f"{scenario} · {variant} · seed {seed}", style="bold"))
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, header_style="dim")
        table.add_column("what differs", overflow="fold")
        table.add_column(escape(label_a), overflow="fold")
        table.add_column(escape(label_b), overflow="fold")
        for d in diffs:
            table.add_row(Text(str(d.what)), Text(str(d.a)), Text(str(d.b)))
        if fits(console, table, console.width - 2):
            items += [indented(table), Text()]
            continue
        for d in diffs:
            items.append(indented(Text(str(d.what))))
            items.append(indented(Text.assemble((f"{label_a}: ", "dim"), str(d.a)), 4))
            items.append(indented(Text.assemble((f"{label_b}: ", "dim"), str(d.b)), 4))
        items.append(Text())
    return Group(*items)
