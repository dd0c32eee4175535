"""Report renderers (imported as ``harness.reports.*``).

``terminal`` is always printed. The file renderers are plugins of one kind: a module
with ``FLAG`` (the command-line option), ``HELP`` and ``write(path, payload)``, listed in
:data:`FILE_REPORTS`; ``harness run``, ``harness ablate`` and ``harness report`` get one
option per entry and write each report asked for. ``payload`` is a suite report (see the
README's "JSON report") or ``{"reports": [...]}`` as written by ``pytest --harness-json``.
"""

from __future__ import annotations

import importlib
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


def reports_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The suite reports in a payload (one, or the ``reports`` list of a combined file)."""
    return payload["reports"] if isinstance(payload.get("reports"), list) else [payload]


def write_reports(payload: dict[str, Any], paths: dict[str, Path | None]) -> list[Path]:
    """Write every report whose path is given; returns the paths written."""
    written = []
    for name, path in paths.items():
        if path is not None:
            renderer(name).write(Path(path), payload)
            written.append(Path(path))
    return written
