"""Report renderers (imported as ``harness.reports.*``).

``terminal`` is always printed. The file renderers are plugins of one kind: a module
with ``FLAG`` (the command-line option), ``HELP`` and ``write(target, payload)``, listed in
:data:`FILE_REPORTS`; ``harness run``, ``harness ablate`` and ``harness report`` get one
option per entry and write each report asked for. ``payload`` is a suite report (see the
docs/reports.md, "JSON report") or ``{"reports": [...]}`` as written by ``pytest --harness-json``.

Optional, with these defaults: ``TARGET`` what the option names (``"file"``: a file path;
``"dir"``: a directory; ``"uri"``: a string passed on as given, e.g. an MLflow tracking
URI), ``METAVAR`` (``PATH``, ``DIR``, ``URI``) and ``missing()``, a message when a package
the report needs is not installed (the option is then refused before any training). A
module imports its heavy libraries inside ``write``, never at import: every command's
``--help`` imports every renderer.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType
from typing import Any

FILE_REPORTS: dict[str, str] = {
    "json": "harness.reports.json_report",
    "junit": "harness.reports.junit",
    "html": "harness.reports.html",
    "tensorboard": "harness.reports.tensorboard",
    "mlflow": "harness.reports.mlflow_report",
}

#: what a report's option names, by ``TARGET``, and its default metavar
TARGETS: dict[str, str] = {"file": "PATH", "dir": "DIR", "uri": "URI"}


def renderer(name: str) -> ModuleType:
    return importlib.import_module(FILE_REPORTS[name])


def target_kind(module: ModuleType) -> str:
    """``file``, ``dir`` or ``uri``: what the renderer's option names (its ``TARGET``)."""
    kind = getattr(module, "TARGET", "file")
    if kind not in TARGETS:
        raise ValueError(f"{module.__name__}.TARGET = {kind!r}: expected one of {', '.join(TARGETS)}")
    return kind


def missing_requirement(module: ModuleType) -> str | None:
    """What the renderer needs but is not installed (its ``missing()``), else None."""
    check = getattr(module, "missing", None)
    return check() if callable(check) else None


#: words that read as acronyms in a metric's label (``auc`` -> ``AUC``); a letter and digits
#: (``f1``, ``r2``) are upper-cased too
ACRONYMS = frozenset({"auc", "roc", "mse", "mae", "rmse", "nll", "kl", "iou", "ece", "lr"})
#: words that put a metric on [0, 1] (a share, a rate of correct answers, a score)
UNIT_WORDS = frozenset({"share", "accuracy", "f1", "auc", "precision", "recall"})


def metric_label(name: str) -> str:
    """A metric's name as a column header: words split at ``_``, acronyms upper-cased
    (``max_pred_share`` -> ``max pred share``, ``macro_f1`` -> ``macro F1``, ``auc`` -> ``AUC``)."""
    words = [w for w in name.split("_") if w]
    return " ".join(w.upper() if w.lower() in ACRONYMS or re.fullmatch(r"[a-z]\d+", w) else w for w in words) or name


def on_unit_interval(name: str) -> bool:
    """Whether a metric lives on [0, 1] by its name: a word of it is in :data:`UNIT_WORDS`
    (``pred_share_0``, ``max_pred_share``, ``macro_f1``, ``teacher_auc``, ``accuracy``)."""
    return any(w in UNIT_WORDS for w in name.lower().split("_"))


def reports_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The suite reports in a payload (one, or the ``reports`` list of a combined file)."""
    return payload["reports"] if isinstance(payload.get("reports"), list) else [payload]


#: entries of a history epoch that place it (the x axis), not metrics
EPOCH_AXIS = frozenset({"epoch", "steps"})

#: What the training loop itself records in every run, whatever the workload: the fallbacks
#: a report shows next to the workload's declared key metrics (``Workload.key_metrics``),
#: never a workload's metric. The mean training loss per epoch (a ``history`` entry) ...
TRAINING_LOSS = "loss"
#: ... the learning rate per optimizer step (a list of the run record) ...
LR_PER_STEP = "lr_per_step"
#: ... and the per-step series a record may hold, by the name a report gives it
STEP_SERIES = {"lr": LR_PER_STEP, TRAINING_LOSS: "loss_per_step"}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def epoch_series(record: dict[str, Any]) -> dict[str, list[tuple[int, float]]]:
    """Each numeric per-epoch metric of a run record: ``{name: [(epoch, value), ...]}`` in
    epoch order (``f1``, ``loss``, ``lr``, ... whatever the workload and loop recorded)."""
    series: dict[str, list[tuple[int, float]]] = {}
    for index, epoch in enumerate(record.get("history") or []):
        at = int(epoch.get("epoch", index + 1))
        for name, value in epoch.items():
            number = _number(value)
            if name not in EPOCH_AXIS and number is not None:
                series.setdefault(name, []).append((at, number))
    return series


def step_series(record: dict[str, Any]) -> dict[str, list[tuple[int, float]]]:
    """Per optimizer step (1-based): ``lr`` from ``lr_per_step``, and ``loss`` when the record
    has a ``loss_per_step`` list."""
    series = {}
    for name, field in STEP_SERIES.items():
        values = [(i + 1, _number(v)) for i, v in enumerate(record.get(field) or [])]
        points = [(step, v) for step, v in values if v is not None]
        if points:
            series[name] = points
    return series


def run_slug(record: dict[str, Any]) -> str:
    """``<variant>-seed<S>``, the run's name in result files and in the TensorBoard/MLflow reports."""
    return f"{record['variant']}-seed{record['seed']}"


def findings_text(record: dict[str, Any]) -> str:
    """The run's findings as a Markdown list (``no findings`` when there are none)."""
    lines = []
    for f in record.get("findings") or []:
        where = f"epoch {f.get('epoch')}" + (f", step {f['step']}" if f.get("step") is not None else "")
        value = f" (value {f['value']:.4g})" if isinstance(f.get("value"), (int, float)) else ""
        lines.append(f"- **{f.get('kind')}** ({f.get('plugin')}, {where}): {f.get('message', '')}{value}")
    return "\n".join(lines) or "no findings"


def expectations_text(record: dict[str, Any]) -> str:
    """The run's status and expectations as a Markdown list (passed / failed / n/a, observed)."""
    error = (record.get("error") or {}).get("message")
    lines = [f"status **{record.get('status')}**" + (f": {error}" if error else "")]
    for e in record.get("expectations") or []:
        verdict = {True: "passed", False: "FAILED", None: "n/a"}.get(e.get("passed"), str(e.get("passed")))
        lines.append(f"- {verdict}: `{e.get('name')}` (observed {e.get('observed')})")
    return "\n".join(lines)


class ReportWriteError(OSError):
    """Some reports could not be written; ``messages``: one line per report, naming its flag,
    its path and the OS error. The other reports were written."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def unwritable(paths: dict[str, Path | str | None]) -> list[str]:
    """Why some of the reports asked for could not be written, checked before anything runs: a
    file's or directory's nearest existing folder must be writable, and a file's path no folder
    (a URI is not checked). One line per report, naming its flag."""
    import os

    problems = []
    for name, path in paths.items():
        module = renderer(name) if path is not None else None
        if module is None or target_kind(module) == "uri":
            continue
        target = Path(path)  # type: ignore[arg-type]  # not None: checked above
        if target_kind(module) == "file" and target.is_dir():
            problems.append(f"cannot write the {module.FLAG} report {path}: it is a directory")
            continue
        folder = target if target_kind(module) == "dir" and target.is_dir() else target.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            problems.append(f"cannot write the {module.FLAG} report {path}: {folder} is not a writable folder")
    return problems


def write_reports(payload: dict[str, Any], paths: dict[str, Path | str | None]) -> list[Path | str]:
    """Write every report whose path (or URI) is given; returns those written. Each is written
    atomically (a failed write keeps the previous file); when some fail (a full disk, no
    permission, a directory at the path, an unreachable tracking server) the others are still
    written, then :class:`ReportWriteError` names each failure."""
    from harness.execution.atomic_io import os_error_text

    written: list[Path | str] = []
    failures = []
    for name, path in paths.items():
        if path is not None:
            module = renderer(name)
            target = str(path) if target_kind(module) == "uri" else Path(path)
            try:
                module.write(target, payload)
            except OSError as exc:
                failures.append(f"cannot write the {module.FLAG} report {path}: {os_error_text(exc)}")
                continue
            written.append(target)
    if failures:
        raise ReportWriteError(failures)
    return written
