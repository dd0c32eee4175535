"""`harness --help`, `harness plugins` and `harness workloads` start without importing torch or transformers.

The commands run in one fresh interpreter (this test process has torch loaded already).
Timings are measured by `benchmarks/startup.py`, never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "torch",
    "transformers",
    "numpy",
    "sklearn",
    "tokenizers",
    "datasets",
    "harness.workloads.patch_images",
    "tensorboard",
    "mlflow",
    "ray",
)  # the last three: report and executor extras, imported only when used
COMMANDS = (["--help"], ["run", "--help"], ["plugins"], ["plugins", "--json"], ["workloads"], ["workloads", "--json"])

PROBE = """
import json, sys
from click.testing import CliRunner
from harness.cli import main
results = [CliRunner().invoke(main, args) for args in {commands!r}]
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"results": [[r.exit_code, r.output] for r in results], "heavy": heavy}}))
"""


def test_cli_start_up_imports_no_torch_or_transformers() -> None:
    code = PROBE.format(commands=[list(c) for c in COMMANDS], heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    probe = json.loads(proc.stdout.splitlines()[-1])
    for args, (exit_code, output) in zip(COMMANDS, probe["results"], strict=False):
        assert exit_code == 0, (args, output)
    assert probe["heavy"] == []  # after --help, run --help, plugins and plugins --json
    # the torch-free listing still describes every built-in plugin (imports were not skipped)
    listed = {p["name"] for p in json.loads(probe["results"][3][1])}
    assert {"defaults", "class_weights", "linear_warmup", "prediction_distribution", "collapse_stop"} <= listed
    workloads = {w["name"]: w for w in json.loads(probe["results"][5][1])}
    assert {"devign", "patch_distillation", "tabular", "text_classification"} <= set(workloads)
    assert all(w["parameters"] and w["metrics"] for w in workloads.values())
