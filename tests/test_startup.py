"""`harness --help` and `harness plugins` start without importing torch or transformers.

Each check runs in a fresh interpreter (this test process has torch loaded already).
Timings are measured by `benchmarks/startup.py`, never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "numpy", "sklearn", "tokenizers", "harness.workloads.devign")

PROBE = """
import json, sys
from click.testing import CliRunner
from harness.cli import main
result = CliRunner().invoke(main, {args!r})
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"exit_code": result.exit_code, "output": result.output, "heavy": heavy}}))
"""


def probe(*args: str) -> dict:
    code = PROBE.format(args=list(args), heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["plugins"], ["plugins", "--json"]])
def test_cli_start_up_imports_no_torch_or_transformers(args: list[str]) -> None:
    result = probe(*args)
    assert result["exit_code"] == 0, result["output"]
    assert result["heavy"] == []


def test_plugins_output_is_complete_without_torch() -> None:
    """The torch-free listing still describes every built-in plugin (imports were not skipped)."""
    result = probe("plugins", "--json")
    names = {p["name"] for p in json.loads(result["output"])}
    assert {"defaults", "class_weights", "linear_warmup", "prediction_distribution", "collapse_stop"} <= names
    assert result["heavy"] == []
