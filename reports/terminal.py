"""The rich terminal output: live progress per run, then the A/B table of variants."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    vals = [v for v in values if isinstance(v, (int, float)) and v == v]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int((v - lo) / span * (len(SPARK) - 1) + 0.5))] for v in vals)


class RunProgress:
    """One progress bar per run, fed by the executor's events (start, total, advance, epoch, done)."""

    def __init__(self, console: Console, keys: list[Any], enabled: bool = True) -> None:
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
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
            main = "f1" if "f1" in value else ("auc" if "auc" in value else "loss")
            self.progress.update(task, status=f"epoch {value.get('epoch')} {main}={value.get(main, float('nan')):.3f}")
        elif event in ("done", "resumed"):
            total = self.progress.tasks[task].total or 1
            self.progress.update(task, total=total, completed=total, status=value["status"] + (" (resumed)" if event == "resumed" else ""))


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if value == value else "nan"
    return str(value)


def ab_table(report: dict[str, Any]) -> Table:
    """Variants as rows: fixes on, final metrics with per-epoch sparklines, findings, expectations."""
    runs = report["runs"]
    has_f1 = any("f1" in (r["history"][-1] if r["history"] else {}) for r in runs)
    main = "f1" if has_f1 else "auc"
    table = Table(title=f"{report['scenario']['name']}  (torch {report['torch_version']})", show_lines=True)
    for col in ("variant / seed", "fixes on", f"final {main}", "pred+ share", "loss", "status", "findings", "expectations"):
        table.add_column(col, overflow="fold")
    for run in runs:
        hist = run["history"]
        last = hist[-1] if hist else {}
        fixes = [p for p in run["plugins"] if p not in ("defaults",) and p not in _monitor_names()]
        finding_kinds: dict[str, list[int]] = {}
        for f in run["findings"]:
            finding_kinds.setdefault(f["kind"], []).append(f["epoch"])
        findings = ", ".join(f"{k}@{sorted(set(v))}" for k, v in finding_kinds.items()) or "-"
        lines = []
        for e in run["expectations"]:
            mark = "[green]✔[/]" if e["passed"] else ("[dim]–[/]" if e["passed"] is None else "[red]✘[/]")
            lines.append(f"{mark} {e['name']}  [dim](observed {_fmt(e['observed'])})[/]")
        status = run["status"] + (f" @step {run['diverged_at_step']}" if run.get("diverged_at_step") else "")
        if run.get("error"):
            status += f"\n[red]{run['error']['message']}[/]"
        table.add_row(
            f"{run['variant']} / {run['seed']}",
            "\n".join(fixes) or "(none)",
            f"{_fmt(last.get(main))}  {sparkline([h.get(main) for h in hist])}",
            _fmt(last.get("pred_positive_share")),
            f"{_fmt(last.get('loss'))}  {sparkline([h.get('loss') for h in hist])}",
            status,
            findings,
            "\n".join(lines) or "-",
        )
    return table


def _monitor_names() -> set[str]:
    from harness.pluginmanager import discover_plugins

    return {name for name, info in discover_plugins().items() if info.kind == "monitor"}


def print_report(console: Console, report: dict[str, Any]) -> None:
    console.print(ab_table(report))
    verdict = "[bold green]PASSED[/]" if report["passed"] else "[bold red]FAILED[/]"
    seconds = sum(r["seconds"] for r in report["runs"])
    console.print(f"{verdict}: {len(report['runs'])} run(s), {seconds:.1f} s of training")
