"""The JSON report: a stable, documented schema (see README, "JSON report")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FLAG = "--json"
HELP = "Write the JSON report (schema: README, 'JSON report') here."


def write(path: str | Path, payload: dict[str, Any]) -> None:
    from harness.runner import write_json_atomic

    write_json_atomic(Path(path), payload)


write_json_report = write  # the name used before the renderers shared one interface
