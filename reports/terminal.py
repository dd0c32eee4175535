"""The rich terminal report: live progress per run, then a compact A/B summary.

Laid out for an 80-column terminal: one summary row per variant (pass count over seeds,
mean +- std of the key metrics, verdict), then one block per variant with the exact
plugins and parameters that were on, one line per seed (status, final metrics with
per-epoch sparklines, findings) and its expectations with their pass counts; and, for
``harness ablate``, the table of fixes with their *sufficient* / *necessary* verdicts.

The metric columns are the workload's key metrics (:func:`harness.judging.verdicts.report_key_metrics`),
headed by their labels (:func:`harness.reports.metric_label`), wrapped between words.

No name (variant, plugin, metric, finding, outcome) is ever broken mid-word, at any width
and in a CI log (80 columns when not a terminal): every table is checked with :func:`fits`
before it is printed, and one that would need to fold a word (rich shrinks a column below
its longest word when a table is too wide) is printed in a stacked layout instead, one
wrapped block per row. A seed's findings that do not fit their column move under the table.
"""

from __future__ import annotations

import textwrap
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from harness.reports import metric_label, reports_of, tables
from harness.reports.fitting import fits, indented
from harness.reports.outcomes import LEGEND, outcome
from harness.reports.run_text import findings_text
from harness.reports.tables import metric_ranges, ranges_text, sparkline
from harness.reports.terminal_ablation import _early, print_ablation
from harness.reports.terminal_plugins import describe_plugins

HEADER_WIDTH = 14  # a metric's header wraps between words past this, so columns stay narrow


def metric_header(name: str) -> str:
    """A metric's column header: its label (:func:`harness.reports.metric_label`), wrapped
    between words (never inside one) to :data:`HEADER_WIDTH`."""
    label = metric_label(name)
    return "\n".join(textwrap.wrap(label, HEADER_WIDTH, break_long_words=False, break_on_hyphens=False)) or label


# ------------------------------------------------------------------ formatting helpers


def _mean_std(stat: dict[str, Any] | None) -> str:
    """``0.812±0.031``: mean and std over the seeds (:func:`harness.reports.tables.mean_std_text`)."""
    return tables.mean_std_text(stat, separator="±", missing="-")


def _verdict(summary: dict[str, Any], findings: int = 0, *, flag: bool = True) -> str:
    """The variant's outcome in the one vocabulary of :mod:`harness.reports.outcomes`."""
    word, style = outcome(summary, findings)
    text = f"[{style}]{word}[/]"
    if flag and summary.get("flaky"):
        text += " [yellow]seeds disagree[/]"
    return text


def _pass_count(summary: dict[str, Any]) -> str:
    """``k/N``; ``k/N*`` in yellow when the seeds disagree; ``k/N+S`` when S seeds were skipped
    (early decisions: the verdict was decided after N)."""
    text = f"{summary['passed_runs']}/{summary['runs']}"
    text = f"[yellow]{text}*[/]" if summary.get("flaky") else text
    return text + (f"+{summary['skipped']}" if summary.get("skipped") else "")


# ------------------------------------------------------------------ tables


def _summary_title(report: dict[str, Any], summaries: dict[str, Any]) -> str:
    seeds = tables.seeds_of(report)
    return (
        f"{report['scenario']['name']} · torch {report.get('torch_version', '?')} · {len(summaries)} variant(s) × "
        f"{len(seeds)} seed(s) · final values, mean±std over seeds"
    )


def summary_table(report: dict[str, Any]) -> Table:
    """One row per variant: pass count over seeds, mean +- std of the key metrics, verdict.

    Its title is printed above it by :func:`summary_section`, so that it wraps at the
    terminal's width, not the table's."""
    from harness.judging.verdicts import report_key_metrics

    summaries = tables.summaries_of(report)
    metrics = report_key_metrics(report)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0))
    table.add_column("variant", no_wrap=True)
    table.add_column("pass", justify="right", no_wrap=True)
    for m in metrics:
        table.add_column(escape(metric_header(m)), justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for row in tables.summary_rows(report, metrics, summaries):
        table.add_row(
            escape(row.name),
            _pass_count(row.summary),
            *map(_mean_std, row.stats),
            _verdict(row.summary, _findings(report, row.name), flag=False),
        )
    captions = []
    if any(s.get("flaky") for s in summaries.values()):
        captions.append("* seeds disagree: some pass every expectation, others do not")
    if any(s.get("skipped") for s in summaries.values()):
        captions.append("k/N+S: S seeds skipped once the verdict was decided after N")
    if any(s.get("decided") for s in summaries.values()):
        captions.append("runs stopped when their verdict was decided are left out of mean±std")
    if captions:
        table.caption = "\n".join(captions)
        table.caption_justify = "left"
    return table


def summary_section(console: Console, report: dict[str, Any]) -> RenderableType:
    """:func:`summary_table` when it :func:`fits`; else one block per variant: its name, pass
    count and verdict, then its key metrics as ``label value`` pairs, wrapped between pairs."""
    table = summary_table(report)
    title = Text(_summary_title(report, tables.summaries_of(report)), style="italic")
    notes = [Text(t, style="dim") for t in (LEGEND, ranges_text(report)) if t]
    if report["scenario"].get("source"):
        notes.insert(0, Text(f"source: {report['scenario']['source']}", style="dim"))
    if fits(console, table):
        return Group(title, table, *notes)
    from harness.judging.verdicts import report_key_metrics

    summaries = tables.summaries_of(report)
    metrics = report_key_metrics(report)
    items: list[RenderableType] = [Text(_summary_title(report, summaries), style="italic"), Text()]
    for row in tables.summary_rows(report, metrics, summaries):
        s = row.summary
        items.append(
            Text.from_markup(
                f"[bold]{escape(row.name)}[/]  {_pass_count(s)} {_verdict(s, _findings(report, row.name), flag=False)}"
                f"{_early(s)}"
            )
        )
        pairs = "  ".join(f"{metric_label(m)} {_mean_std(stat)}" for m, stat in zip(metrics, row.stats, strict=False))
        if pairs:
            items.append(indented(Text(pairs)))
    if table.caption:
        items.append(Text(str(table.caption)))
    items += notes
    return Group(*items)


def _findings(report: dict[str, Any], name: str) -> int:
    """How many findings the variant's runs recorded, over its seeds."""
    return sum(len(run.get("findings") or []) for run in tables.variant_runs(report, name))


def _seed_cells(run: dict[str, Any], metrics: list[str], spark_width: int, scales: Any = None) -> list[str]:
    hist = run["history"]
    last = tables.last_epoch(run)
    cells = []
    for m in metrics:
        scale = (scales or {}).get(m)
        spark = sparkline([h.get(m) for h in hist], spark_width, scale) if len(hist) > 1 and spark_width else ""
        cells.append(f"{tables.number_text(last.get(m))} {spark}".rstrip())
    return cells


_STATUS = {
    "ok": "[green]ok[/]",
    "error": "[red]error[/]",
    "timeout": "[red]timeout[/]",
    "diverged": "[red]diverged[/]",
    "decided": "[yellow]decided[/]",
    "skipped": "[dim]skipped[/]",
}


def seeds_table(
    runs: list[dict[str, Any]], metrics: list[str], *, findings: bool = True, spark_width: int = 12, scales: Any = None
) -> Table:
    """One line per seed: status, final value and sparkline of each key metric, findings."""
    seeds = Table(box=None, pad_edge=False, padding=(0, 1), show_header=True, header_style="dim")
    seeds.add_column("seed", justify="right", no_wrap=True)
    seeds.add_column("status", no_wrap=True)
    for m in metrics:
        seeds.add_column(escape(metric_header(m)), no_wrap=True)
    if findings:
        seeds.add_column("findings", overflow="fold")
    for run in runs:
        row = [
            str(run["seed"]),
            _STATUS.get(run["status"], escape(run["status"])),
            *_seed_cells(run, metrics, spark_width, scales),
        ]
        seeds.add_row(*row, *([findings_text(run)] if findings else []))
    return seeds


def findings_grid(runs: list[dict[str, Any]]) -> Table:
    """Each seed's findings (and error) on lines of their own, under a seeds table without them."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for i, run in enumerate(runs):
        grid.add_row("findings" if i == 0 else "", f"seed {run['seed']}: {findings_text(run)}")
    return grid


def seeds_section(
    console: Console, runs: list[dict[str, Any]], metrics: list[str], scales: Any = None
) -> RenderableType:
    """The seeds table, laid out to fit: findings in their column; else under the table; else
    also without sparklines; else one wrapped block per seed."""
    for spark_width in (12, 8, 0):
        for inline in (True, False):
            if inline and spark_width != 12:
                continue
            table = seeds_table(runs, metrics, findings=inline, spark_width=spark_width, scales=scales)
            if fits(console, table):
                return table if inline else Group(table, findings_grid(runs))
    items: list[RenderableType] = []
    for run in runs:
        status = _STATUS.get(run["status"], escape(run["status"]))
        values = "  ".join(
            f"{escape(metric_label(m))} {cell}" for m, cell in zip(metrics, _seed_cells(run, metrics, 0), strict=False)
        )
        items.append(Text.from_markup(f"seed {run['seed']}  {status}  {values}"))
        items.append(indented(Text.from_markup(f"[dim]findings[/] {findings_text(run)}")))
    return Group(*items)


def variant_block(
    report: dict[str, Any],
    name: str,
    summary: dict[str, Any],
    catalogue: dict[str, Any],
    console: Console | None = None,
) -> Group:
    """A variant's plugins, one line per seed, and its expectations with pass counts."""
    from harness.judging.verdicts import report_key_metrics

    console = console or Console(width=80)
    runs = tables.variant_runs(report, name)
    metrics = report_key_metrics(report)
    items: list[Any] = []
    head = Text.from_markup(
        f"[bold]{escape(name)}[/]  {_verdict(summary, _findings(report, name))} "
        f"{summary['passed_runs']}/{summary['runs']} seeds{_early(summary)}"
    )
    description = summary.get("description")
    if description:
        head.append(f"  {description}", style="dim")
    items.append(head)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    program = tables.program_line(runs)
    if program:
        grid.add_row("command", escape(program))
    if summary.get("plugins") is not None:
        fixes, monitors = describe_plugins(summary["plugins"], catalogue)
        if not (program and fixes == "(no fixes)"):  # a script variant changes its program, not fixes
            grid.add_row("fixes", escape(fixes))
        grid.add_row("monitors", escape(monitors))
    else:  # the seeds of this variant ran with different plugins (e.g. merged reports)
        for run in runs:
            fixes, monitors = describe_plugins(run["plugins"], catalogue)
            grid.add_row(f"seed {run['seed']}", escape(f"{fixes}; monitors: {monitors}"))
    items.append(grid)
    items.append(seeds_section(console, runs, metrics, metric_ranges(report, metrics)))
    exp_grid = Table.grid(padding=(0, 1))
    exp_grid.add_column(no_wrap=True)
    exp_grid.add_column(justify="right", no_wrap=True)
    exp_grid.add_column(overflow="fold")
    for row in summary["expectations"]:
        if row["applicable"] == 0:
            mark = "[dim]–[/]"
        else:
            mark = "[green]✔[/]" if row["ok"] else "[red]✘[/]"
        observed = _observed(runs, row["name"])
        rule = f" [dim](needs {row['pass_rate']})[/]" if row["pass_rate"] else ""
        count = f"{row['passed']}/{row['applicable']}" if row["applicable"] else "open" if row.get("unknown") else "n/a"
        exp_grid.add_row(mark, count, f"{escape(row['name'])}{rule} [dim]{escape(observed)}[/]")
    if summary["expectations"]:
        items.append(exp_grid)
    return Group(*items)


def _observed(runs: list[dict[str, Any]], name: str) -> str:
    values, reasons, open_on = [], [], 0
    for run in runs:
        entry = tables.expectation_entry(run, name)
        if entry is not None and entry.get("passed") is not None:
            values.append(tables.number_text(entry.get("observed")))  # of ``A or B``: the side that decided
        elif entry is not None and entry.get("open"):  # stopped when decided, or skipped: not judged
            open_on += 1
        elif entry is not None and entry.get("reason"):
            reasons.append(entry["reason"])
    if open_on:
        text = _observed(
            [r for r in runs if not any(e["name"] == name and e.get("open") for e in r["expectations"])], name
        )
        return f"{text}; open on {open_on}" if text else f"open on {open_on}: decided before this line was"
    # not applicable to some seeds (e.g. a metric of a run with no completed epoch): say why
    na = f"n/a on {len(reasons)}: {reasons[0]}" if values and reasons else f"n/a: {reasons[0]}" if reasons else ""
    if not values:
        return na
    if len(set(values)) == 1:
        text = f"observed {values[0]}"
    else:
        text = "observed " + " ".join(values) if len(values) <= 5 else f"observed {values[0]} … {values[-1]}"
    return f"{text}; {na}" if na else text


def print_report(
    console: Console,
    payload: dict[str, Any],
    *,
    details: bool = True,
    next_steps: list[str] | None = None,
    overrides: str = "",
    verbose: bool = False,
) -> None:
    """The summary table, each variant's block (``details``), the ablation table, the verdict;
    of a doctor's report, its section only (the summary table of its arms too with ``verbose``);
    for a payload of several scenarios (``harness run DIR``), each in turn, then one line per
    scenario and the overall verdict."""
    from harness.core.pluginmanager import plugin_catalogue

    catalogue = plugin_catalogue()
    reports = reports_of(payload)
    if overrides:  # what this command changed of the scenario, as typed
        console.print(f"[dim]overrides:[/] {escape(overrides)}", highlight=False)
    for report in reports:
        if verbose or not report.get("doctor"):
            console.print(summary_section(console, report))
        if details:
            for name, summary in tables.summaries_of(report).items():
                console.print()
                console.print(variant_block(report, name, summary, catalogue, console))
        if report.get("ablation"):
            console.print()
            print_ablation(console, report["ablation"])
        if report.get("doctor"):
            from harness.reports.doctor import print_doctor

            console.print()
            print_doctor(console, report["doctor"], verbose=verbose)
        console.print()
        verdict = "[bold green]PASSED[/]" if report["passed"] else "[bold red]FAILED[/]"
        seconds = sum(r["seconds"] for r in report["runs"])
        flaky = [n for n, s in tables.summaries_of(report).items() if s.get("flaky")]
        line = f"{verdict}: {len(report['runs'])} run(s), {seconds:.1f} s of training"
        early = _early(
            {
                "decided": sum(r.get("status") == "decided" for r in report["runs"]),
                "skipped": sum(r.get("status") == "skipped" for r in report["runs"]),
            }
        )
        if early:
            line = f"{verdict}: {len(report['runs'])} run(s){early}, {seconds:.1f} s of training"
        if len(reports) > 1:
            line = f"[bold]{escape(report['scenario']['name'])}[/] {line}"
        if flaky:
            line += f"; [yellow]seeds disagree in {', '.join(map(escape, flaky))}[/]"
        console.print(line)
        for i, step in enumerate(next_steps or []):
            console.print(f"{'next:' if i == 0 else '     '} {escape(step)}", highlight=False)
        if len(reports) > 1:
            console.print()
    if len(reports) > 1:
        print_suites(console, payload)


def print_suites(console: Console, payload: dict[str, Any]) -> None:
    """One line per scenario of a combined payload (verdict, name, runs), then the overall verdict."""
    reports = reports_of(payload)
    console.print(Text("scenarios", style="bold"))
    for report in reports:
        verdict = "[green]PASS[/]" if report["passed"] else "[red]FAIL[/]"
        path = (report.get("scenario") or {}).get("path")
        where = f" [dim]{escape(str(path))}[/]" if path else ""
        console.print(
            indented(
                Text.from_markup(
                    f"{verdict} [bold]{escape(report['scenario']['name'])}[/]  {len(report['runs'])} run(s){where}"
                )
            )
        )
    passed = sum(bool(r["passed"]) for r in reports)
    runs = sum(len(r["runs"]) for r in reports)
    seconds = sum(run["seconds"] for r in reports for run in r["runs"])
    overall = payload.get("passed", passed == len(reports))
    verdict = "[bold green]PASSED[/]" if overall else "[bold red]FAILED[/]"
    console.print(
        f"{verdict}: {passed} of {len(reports)} scenario(s) passed, {runs} run(s), {seconds:.1f} s of training"
    )


# ------------------------------------------------------------------ harness compare
