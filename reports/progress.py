"""Progress bars while runs train: one line per run, decided runs marked as such."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.reports import TRAINING_LOSS


class RunProgress:
    """One progress bar per run, fed by the executor's events (start, total, advance, epoch, done).

    Each epoch shows ``metric`` (the workload's first key metric, when given), else the first
    validation metric the epoch recorded, else the training loss (the fallback: the loop's own
    record, :data:`harness.reports.TRAINING_LOSS`).
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
        self.tasks = {
            key: self.progress.add_task(f"{key.variant} seed {key.seed}", total=None, status="queued", start=False)
            for key in keys
        }

    def __enter__(self) -> RunProgress:  # noqa: PYI034 - typing.Self needs Python 3.11; 3.10 is supported
        self.progress.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.progress.__exit__(kind, error, traceback)

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
            # a run stopped when its verdict was decided shows the steps it trained: 68/170 decided
            stopped = event == "done" and value["status"] == "decided"
            self.progress.update(
                task,
                total=total,
                completed=self.progress.tasks[task].completed if stopped else total,
                status=value["status"] + (" (resumed)" if event == "resumed" else ""),
            )

    def _shown_metric(self, epoch: dict[str, Any]) -> str:
        from harness.judging.verdicts import LOOP_KEYS

        if self.metric and self.metric in epoch:
            return self.metric
        return next((k for k, v in epoch.items() if k not in LOOP_KEYS and isinstance(v, float)), TRAINING_LOSS)
