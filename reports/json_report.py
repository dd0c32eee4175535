"""The JSON report: a stable, documented schema (see docs/reports.md, "JSON report")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.execution.atomic_io import write_json_atomic

FLAG = "--json"
HELP = "Write the JSON report (schema: docs/reports.md) here."


def write(path: str | Path, payload: dict[str, Any]) -> None:
    write_json_atomic(Path(path), payload)
