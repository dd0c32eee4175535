"""The rich terminal output: live progress per run, then the A/B table of variants."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.hookspecs import hookimpl

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    vals = [v for v in values if isinstance(v, (int, float)) and v == v]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int((v - lo) / span * (len(SPARK) - 1) + 0.5))] for v in vals)


class ProgressObserver:
    """Advances one progress bar per optimizer step (registered per run, not traced)."""

    def __init__(self, progress: Progress, label: str) -> None:
        self.progress = progress
        self.task = progress.add_task(label, total=None, status="")

    @hookimpl
    def on_train_start(self, state: Any) -> None:
        hp = state.hparams
        self.progress.update(self.task, total=hp.optimizer_steps_per_epoch * hp.epochs)

    @hookimpl
    def on_step(self) -> None:
        self.progress.advance(self.task)

    @hookimpl
    def on_epoch_end(self, state: Any, metrics: dict[str, Any]) -> None:
        main = "f1" if "f1" in metrics else ("auc" if "auc" in metrics else "loss")
        self.progress.update(self.task, status=f"epoch {state.epoch} {main}={metrics.get(main, float('nan')):.3f}")

    def finish(self, record: dict[str, Any]) -> None:
        task = self.progress.tasks[self.task] if self.task < len(self.progress.tasks) else None
        total = task.total if task is not None else None
        self.progress.update(self.task, completed=total or 0, total=total or 1, status=record["status"])


def make_progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=False,
    )


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
