"""Report renderers (imported as ``harness.reports.*``).

``terminal`` is always printed. The file renderers are plugins of one kind: a module
with ``FLAG`` (the command-line option), ``HELP`` and ``write(path, payload)``, listed in
:data:`FILE_REPORTS`; ``harness run``, ``harness ablate`` and ``harness report`` get one
option per entry and write each report asked for. ``payload`` is a suite report (see the
README's "JSON report") or ``{"reports": [...]}`` as written by ``pytest --harness-json``.
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
}


def renderer(name: str) -> ModuleType:
    return importlib.import_module(FILE_REPORTS[name])


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


class ReportWriteError(OSError):
    """Some reports could not be written; ``messages``: one line per report, naming its flag,
    its path and the OS error. The other reports were written."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def write_reports(payload: dict[str, Any], paths: dict[str, Path | None]) -> list[Path]:
    """Write every report whose path is given; returns the paths written. Each is written
    atomically (a failed write keeps the previous file); when some fail (a full disk, no
    permission, a directory at the path) the others are still written, then
    :class:`ReportWriteError` names each failure."""
    from harness.runner import os_error_text

    written, failures = [], []
    for name, path in paths.items():
        if path is not None:
            module = renderer(name)
            try:
                module.write(Path(path), payload)
            except OSError as exc:
                failures.append(f"cannot write the {module.FLAG} report {path}: {os_error_text(exc)}")
                continue
            written.append(Path(path))
    if failures:
        raise ReportWriteError(failures)
    return written
