"""The rich terminal report: live progress per run, then a compact A/B summary.

Laid out for an 80-column terminal: one summary row per variant (pass count over seeds,
mean +- std of the key metrics, verdict), then one block per variant with the exact
plugins and parameters that were on, one line per seed (status, final metrics with
per-epoch sparklines, findings) and its expectations with their pass counts; and, for
``harness ablate``, the table of fixes with their *sufficient* / *necessary* verdicts.

The metric columns are the workload's key metrics (:func:`harness.verdicts.report_key_metrics`),
headed by their labels (:func:`harness.reports.metric_label`), wrapped between words.
"""

from __future__ import annotations

import textwrap
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from harness.reports import metric_label

SPARK = "▁▂▃▄▅▆▇█"
HEADER_WIDTH = 14  # a metric's header wraps between words past this, so columns stay narrow


def metric_header(name: str) -> str:
    """A metric's column header: its label (:func:`harness.reports.metric_label`), wrapped
    between words (never inside one) to :data:`HEADER_WIDTH`."""
    label = metric_label(name)
    return "\n".join(textwrap.wrap(label, HEADER_WIDTH, break_long_words=False, break_on_hyphens=False)) or label


def sparkline(values: list[float], width: int = 12) -> str:
    """One block character per value (resampled to at most ``width`` characters)."""
    vals = [v for v in values if isinstance(v, (int, float)) and v == v]
    if not vals:
        return ""
    if len(vals) > width:
        vals = [vals[round(i * (len(vals) - 1) / (width - 1))] for i in range(width)]
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int((v - lo) / span * (len(SPARK) - 1) + 0.5))] for v in vals)


class RunProgress:
    """One progress bar per run, fed by the executor's events (start, total, advance, epoch, done).

    Each epoch shows ``metric`` (the workload's first key metric, when given), else the first
    validation metric the epoch recorded, else the training loss.
    """

    def __init__(self, console: Console, keys: list[Any], enabled: bool = True, metric: str | None = None) -> None:
        self.enabled = enabled
        self.metric = metric
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            disable=not enabled,
        )
        self.tasks = {key: self.progress.add_task(f"{key.variant} seed {key.seed}", total=None, status="queued", start=False) for key in keys}

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def event(self, key: Any, event: str, value: Any) -> None:
        task = self.tasks.get(key)
        if task is None:
            return
        if event == "start":
            self.progress.start_task(task)
            self.progress.update(task, status="running")
        elif event == "total":
            self.progress.update(task, total=value)
        elif event == "advance":
            self.progress.advance(task, value)
        elif event == "epoch":
            main = self._shown_metric(value)
            shown = value.get(main)
            shown = f"{shown:.3f}" if isinstance(shown, (int, float)) else "-"
            self.progress.update(task, status=f"epoch {value.get('epoch')} {main}={shown}")
        elif event in ("done", "resumed"):
            total = self.progress.tasks[task].total or 1
            self.progress.update(task, total=total, completed=total, status=value["status"] + (" (resumed)" if event == "resumed" else ""))

    def _shown_metric(self, epoch: dict[str, Any]) -> str:
        from harness.verdicts import LOOP_KEYS

        if self.metric and self.metric in epoch:
            return self.metric
        return next(
            (k for k, v in epoch.items() if k not in LOOP_KEYS and isinstance(v, float)), "loss"
        )


# ------------------------------------------------------------------ formatting helpers


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value != 0 and (abs(value) >= 1e4 or abs(value) < 10 ** -digits):
            return f"{value:.{max(1, digits - 1)}e}"
        return f"{value:.{digits}f}"
    return str(value)


def _mean_std(stat: dict[str, Any] | None, digits: int = 3) -> str:
    """``0.812±0.031``: mean and std over the seeds."""
    if not stat or stat.get("mean") is None:
        return "-"
    if stat.get("n", 0) <= 1:
        return _fmt(stat["mean"], digits)
    mean = _fmt(stat["mean"], digits)
    std = _fmt(stat["std"], digits) if "e" in mean else f"{stat['std']:.{digits}f}"
    return f"{mean}±{std}"


def _plugin_catalogue() -> dict[str, Any]:
    try:
        from harness.pluginmanager import discover_plugins

        return discover_plugins()
    except Exception:  # re-rendering a saved report where a plugin is not installed
        return {}


def _default_params(info: Any) -> dict[str, Any] | None:
    try:
        return info.cls.Params().model_dump()
    except Exception:
        return None


def _call(name: str, params: dict[str, Any]) -> str:
    inner = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"{name}({inner})" if inner else name


def describe_plugins(plugins: dict[str, dict[str, Any]], catalogue: dict[str, Any] | None = None) -> tuple[str, str]:
    """``(fixes, monitors)``: every fix with all its parameters; the monitors compactly
    (how many are on with their defaults, plus any with other parameters or switched off)."""
    catalogue = _plugin_catalogue() if catalogue is None else catalogue
    fixes, monitors_custom, monitors_default = [], [], 0
    for name, params in plugins.items():
        info = catalogue.get(name)
        kind = info.kind if info is not None else "fix"
        if kind == "core":
            if params:
                fixes.append(_call(name, params))
            continue
        if kind == "monitor":
            if info is not None and _default_params(info) == params:
                monitors_default += 1
            else:
                monitors_custom.append(_call(name, params))
            continue
        fixes.append(_call(name, params))
    off = sorted(n for n, info in catalogue.items() if info.kind == "monitor" and n not in plugins)
    parts = []
    if monitors_default:
        parts.append(f"{monitors_default} on with defaults")
    parts += monitors_custom
    if off:
        parts.append("off: " + ", ".join(off))
    return (" ".join(fixes) or "(no fixes)"), ("; ".join(parts) or "(none)")


def _verdict(summary: dict[str, Any], *, flag: bool = True) -> str:
    text = "[green]PASS[/]" if summary["passed"] else "[red]FAIL[/]"
    if flag and summary.get("flaky"):
        text += " [yellow]seeds disagree[/]"
    return text


def _pass_count(summary: dict[str, Any]) -> str:
    """``k/N``; ``k/N*`` in yellow when the seeds disagree."""
    text = f"{summary['passed_runs']}/{summary['runs']}"
    return f"[yellow]{text}*[/]" if summary.get("flaky") else text


def _reports(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return payload["reports"] if isinstance(payload.get("reports"), list) else [payload]


def summaries_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The per-variant summaries of a report (recomputed for a report written before they existed)."""
    if isinstance(report.get("variants"), dict):
        return report["variants"]
    from harness.verdicts import report_key_metrics, summarize_variants

    return summarize_variants(report["runs"], report_key_metrics(report))


# ------------------------------------------------------------------ tables


def summary_table(report: dict[str, Any]) -> Table:
    """One row per variant: pass count over seeds, mean +- std of the key metrics, verdict."""
    from harness.verdicts import metric_stat, report_key_metrics

    summaries = summaries_of(report)
    metrics = report_key_metrics(report)
    seeds = report.get("seeds") or sorted({r["seed"] for r in report["runs"]})
    title = (
        f"{report['scenario']['name']} · torch {report.get('torch_version', '?')} · {len(summaries)} variant(s) × "
        f"{len(seeds)} seed(s) · final values, mean±std over seeds"
    )
    table = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0))
    table.add_column("variant", overflow="fold")
    table.add_column("pass", justify="right", no_wrap=True)
    for m in metrics:
        table.add_column(escape(metric_header(m)), justify="right", no_wrap=True)
    table.add_column("verdict", overflow="fold")
    for name, s in summaries.items():
        runs = [r for r in report["runs"] if r["variant"] == name]
        table.add_row(
            escape(name),
            _pass_count(s),
            *(_mean_std(metric_stat(s, runs, m)) for m in metrics),
            _verdict(s, flag=False),
        )
    if any(s.get("flaky") for s in summaries.values()):
        table.caption = "* seeds disagree: some pass every expectation, others do not"
        table.caption_justify = "left"
    return table


def variant_block(report: dict[str, Any], name: str, summary: dict[str, Any], catalogue: dict[str, Any]) -> Group:
    """A variant's plugins, one line per seed, and its expectations with pass counts."""
    from harness.verdicts import report_key_metrics

    runs = [r for r in report["runs"] if r["variant"] == name]
    metrics = report_key_metrics(report)
    items: list[Any] = []
    head = Text.from_markup(f"[bold]{escape(name)}[/]  {_verdict(summary)} {summary['passed_runs']}/{summary['runs']} seeds")
    description = summary.get("description")
    if description:
        head.append(f"  {description}", style="dim")
    items.append(head)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    if summary.get("plugins") is not None:
        fixes, monitors = describe_plugins(summary["plugins"], catalogue)
        grid.add_row("fixes", escape(fixes))
        grid.add_row("monitors", escape(monitors))
    else:  # the seeds of this variant ran with different plugins (e.g. merged reports)
        for run in runs:
            fixes, monitors = describe_plugins(run["plugins"], catalogue)
            grid.add_row(f"seed {run['seed']}", escape(f"{fixes}; monitors: {monitors}"))
    items.append(grid)
    seeds = Table(box=None, pad_edge=False, padding=(0, 1), show_header=True, header_style="dim")
    seeds.add_column("seed", justify="right", no_wrap=True)
    seeds.add_column("status", no_wrap=True)
    for m in metrics:
        seeds.add_column(escape(metric_header(m)), no_wrap=True)
    seeds.add_column("findings", overflow="fold")
    for run in runs:
        hist = run["history"]
        last = hist[-1] if hist else {}
        cells = []
        for m in metrics:
            spark = sparkline([h.get(m) for h in hist]) if len(hist) > 1 else ""
            cells.append(f"{_fmt(last.get(m))} {spark}".rstrip())
        kinds: dict[str, list[int]] = {}
        for f in run["findings"]:
            kinds.setdefault(f["kind"], []).append(f["epoch"])
        findings = ", ".join(f"{k}@{','.join(map(str, sorted(set(v))))}" for k, v in kinds.items()) or "-"
        status = run["status"]
        status = {"ok": "[green]ok[/]", "error": "[red]error[/]", "timeout": "[red]timeout[/]", "diverged": "[red]diverged[/]"}.get(
            status, status
        )
        if run.get("error"):
            findings = f"[red]{escape(run['error']['message'])}[/]" + ("" if findings == "-" else f"; {escape(findings)}")
        else:
            findings = escape(findings)
        seeds.add_row(str(run["seed"]), status, *cells, findings)
    items.append(seeds)
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
        count = f"{row['passed']}/{row['applicable']}" if row["applicable"] else "n/a"
        exp_grid.add_row(mark, count, f"{escape(row['name'])}{rule} [dim]{escape(observed)}[/]")
    if summary["expectations"]:
        items.append(exp_grid)
    return Group(*items)


def _observed(runs: list[dict[str, Any]], name: str) -> str:
    values, reasons = [], []
    for run in runs:
        entry = next((e for e in run["expectations"] if e["name"] == name), None)
        if entry is not None and entry.get("passed") is not None:
            values.append(_fmt(entry.get("observed")))  # of ``A or B``: the side that decided
        elif entry is not None and entry.get("reason"):
            reasons.append(entry["reason"])
    # not applicable to some seeds (e.g. a metric of a run with no completed epoch): say why
    na = f"n/a on {len(reasons)}: {reasons[0]}" if values and reasons else f"n/a: {reasons[0]}" if reasons else ""
    if not values:
        return na
    if len(set(values)) == 1:
        text = f"observed {values[0]}"
    else:
        text = "observed " + " ".join(values) if len(values) <= 5 else f"observed {values[0]} … {values[-1]}"
    return f"{text}; {na}" if na else text


def ablation_table(ablation: dict[str, Any]) -> Table:
    """The fixes with their two arms (cured seeds k/N) and verdicts."""
    n = ablation["target"]["runs"]
    rule = ablation.get("rule_text") or "every expectation holds"
    title = (
        f"Ablation {ablation['base']['variant']} -> {ablation['target']['variant']}, {n} seed(s): "
        f"cured = {rule}"
    )
    table = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0))
    table.add_column("fix", no_wrap=True)
    table.add_column("change", overflow="fold")
    table.add_column("base+fix\ncured", justify="right", no_wrap=True)
    table.add_column("suffi-\ncient", no_wrap=True)
    table.add_column("target-fix\ncured", justify="right", no_wrap=True)
    table.add_column("neces-\nsary", no_wrap=True)

    def yes(value: bool | None) -> str:
        return "[dim]n/a[/]" if value is None else ("[bold green]YES[/]" if value else "no")

    def arm(a: dict[str, Any]) -> str:
        text = f"{a['passed_runs']}/{a['runs']}"
        return f"[yellow]{text}[/]" if a.get("seeds_disagree") else text

    for row in ablation["fixes"]:
        table.add_row(
            escape(row["plugin"]), escape(row["change"]), arm(row["base_plus_fix"]), yes(row["sufficient"]),
            arm(row["target_minus_fix"]), yes(row["necessary"]),
        )
    return table


def print_ablation(console: Console, ablation: dict[str, Any]) -> None:
    console.print(ablation_table(ablation))
    base, target = ablation["base"], ablation["target"]
    console.print(
        f"base [bold]{escape(base['variant'])}[/]: {base['passed_runs']}/{base['runs']} seeds cured"
        f" ({'cured' if base['cured'] else 'not cured'}); target [bold]{escape(target['variant'])}[/]:"
        f" {target['passed_runs']}/{target['runs']} ({'cured' if target['cured'] else 'not cured'})."
    )
    arms = [base, target] + [a for row in ablation["fixes"] for a in (row["base_plus_fix"], row["target_minus_fix"])]
    if any(a.get("seeds_disagree") for a in arms):
        console.print("[yellow]k/N in yellow[/]: the seeds disagree (some pass every expectation, others do not)")
    if ablation.get("base_reproduces"):
        r = ablation["base_reproduces"]
        console.print(f"the base reproduces the incident (its own expectations) on {r['passed_runs']}/{r['runs']} seeds")
    for warning in ablation.get("warnings", []):
        console.print(f"[yellow]warning:[/] {escape(warning)}")


def print_report(console: Console, payload: dict[str, Any], *, details: bool = True) -> None:
    """The summary table, each variant's block (``details``), the ablation table, the verdict."""
    catalogue = _plugin_catalogue()
    for report in _reports(payload):
        console.print(summary_table(report))
        if details:
            for name, summary in summaries_of(report).items():
                console.print()
                console.print(variant_block(report, name, summary, catalogue))
        if report.get("ablation"):
            console.print()
            print_ablation(console, report["ablation"])
        console.print()
        verdict = "[bold green]PASSED[/]" if report["passed"] else "[bold red]FAILED[/]"
        seconds = sum(r["seconds"] for r in report["runs"])
        flaky = [n for n, s in summaries_of(report).items() if s.get("flaky")]
        line = f"{verdict}: {len(report['runs'])} run(s), {seconds:.1f} s of training"
        if flaky:
            line += f"; [yellow]seeds disagree in {', '.join(map(escape, flaky))}[/]"
        console.print(line)
