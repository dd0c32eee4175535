"""The TensorBoard report: event files per run, for ``tensorboard --logdir DIR``.

Layout: ``DIR/<scenario>/<variant>-seed<S>/events.out.tfevents.*``, one TensorBoard run
per harness run (TensorBoard groups them by scenario). Each holds

* ``epoch/<metric>`` scalars at step = epoch (1, 2, ...): every numeric entry of the
  run's ``history`` (``f1``, ``auc``, ``loss``, ``lr``, ``pred_positive_share``, ...);
* ``step/lr`` at step = optimizer step, from ``lr_per_step`` (and ``step/loss`` when the
  record has a ``loss_per_step`` list; the loop records only the per-epoch mean loss);
* text: ``findings`` (each finding: kind, plugin, epoch, step, message), ``expectations``
  (status, each line passed / FAILED / n/a with its observed value) and ``config`` (the
  plugins with parameters, the train config and where it ran, as JSON).

Writing a run replaces its directory (built next to it, then swapped in), so a re-render
(``harness report results.json --tensorboard DIR``) never doubles a curve. Needs the
``tensorboard`` package (``pip install 'training-harness[tensorboard]'``); the writer is
``torch.utils.tensorboard.SummaryWriter``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

FLAG = "--tensorboard"
HELP = (
    "Write TensorBoard event files here: a run per (variant, seed) with per-epoch metrics, LR per step "
    "and findings (pip install 'training-harness[tensorboard]')."
)
TARGET = "dir"
METAVAR = "DIR"


def missing() -> str | None:
    if importlib.util.find_spec("tensorboard") is None:
        return "needs the tensorboard package: pip install 'training-harness[tensorboard]'"
    return None


def safe_name(name: str) -> str:
    """A scenario or run name as one directory name (no separators, no leading dot)."""
    return re.sub(r"[^\w.+=-]", "_", str(name)).lstrip(".") or "_"


def write(path: str | Path, payload: dict[str, Any]) -> None:
    from harness.reports import reports_of, run_slug

    root = Path(path)
    for report in reports_of(payload):
        scenario_dir = root / safe_name(report["scenario"]["name"])
        for record in report["runs"]:
            write_run(scenario_dir / safe_name(run_slug(record)), record)


def write_run(directory: Path, record: dict[str, Any]) -> None:
    """The event file of one run, in ``directory`` (replaced whole)."""
    from torch.utils.tensorboard import SummaryWriter

    from harness.reports import epoch_series, expectations_text, findings_text, step_series

    directory.parent.mkdir(parents=True, exist_ok=True)
    building = directory.with_name(f".{directory.name}.tmp{os.getpid()}")
    old = directory.with_name(f".{directory.name}.old{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    try:
        writer = SummaryWriter(log_dir=str(building))
        try:
            for name, points in epoch_series(record).items():
                for epoch, value in points:
                    writer.add_scalar(f"epoch/{name}", value, global_step=epoch)
            for name, points in step_series(record).items():
                for step, value in points:
                    writer.add_scalar(f"step/{name}", value, global_step=step)
            writer.add_text("findings", findings_text(record), global_step=0)
            writer.add_text("expectations", expectations_text(record), global_step=0)
            config = {
                k: record.get(k)
                for k in ("variant", "seed", "status", "seconds", "plugins", "train", "node")
                if record.get(k) is not None
            }
            writer.add_text("config", "```\n" + json.dumps(config, indent=1, default=str) + "\n```", global_step=0)
        finally:
            writer.close()
        if directory.exists():
            os.replace(directory, old)
        os.replace(building, directory)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        if old.exists() and not directory.exists():  # put the previous run back
            with contextlib.suppress(OSError):
                os.replace(old, directory)
        raise
    shutil.rmtree(old, ignore_errors=True)
