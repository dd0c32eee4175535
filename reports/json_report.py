"""The JSON report: a stable, documented schema (see README, "JSON report")."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_json_report(path: str | Path, report: dict[str, Any]) -> None:
    from harness.runner import write_json_atomic

    write_json_atomic(Path(path), report)
