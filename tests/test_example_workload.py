"""The example third-party workload, installed as users install one, is found and replays its incident.

The package in ``examples/harness-example-workload`` is pip-installed (offline: no
dependencies, no build isolation) into a throw-away virtual environment layered on this
one, so the project's own environment is never changed; then, in that environment,
``harness workloads`` must list its ``digits_mlp`` entry point with its distribution, and
the package's own ``scenario.yaml``, which names the workload by that entry-point name
only, must pass: the ``broken`` variant (a per-step warmup stepped per epoch) collapses
to one class, the ``fixed`` one never does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workload_env(example_venv) -> tuple[Path, Path]:
    """A venv that sees this one's packages plus the installed example (tests/conftest.py)."""
    return example_venv("harness-example-workload")


def test_harness_workloads_lists_the_installed_workload(workload_env: tuple[Path, Path], venv_run) -> None:
    python, root = workload_env
    result = venv_run(python, "-m", "harness.cli", "workloads", "--json", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = {entry["name"]: entry for entry in json.loads(result.stdout)}
    digits = listed["digits_mlp"]
    assert digits["source"] == "harness-example-workload 0.1.0"
    assert digits["module"] == "harness_example_workload:DigitsMLP"
    assert digits["summary"].startswith("A 10-class MLP")
    assert set(digits["parameters"]) == {"hidden", "zero_init_head", "val_share", "split_seed"}
    assert digits["parameters"]["hidden"]["default"] == 64
    assert "max_pred_share" in digits["metrics"] and "accuracy" in digits["metrics"]  # the defaults'
    assert listed["tabular"]["source"] == "harness (built-in)"  # built-ins still there

    table = venv_run(python, "-m", "harness.cli", "workloads", cwd=root)
    assert table.returncode == 0, table.stderr
    assert "digits_mlp" in table.stdout and "harness-example-workload 0.1.0" in table.stdout


def test_the_packaged_scenario_replays_the_incident(workload_env: tuple[Path, Path], venv_run) -> None:
    python, root = workload_env
    scenario = root / "harness-example-workload" / "scenario.yaml"  # names the workload `digits_mlp`
    report_path = root / "report.json"
    result = venv_run(
        python,
        "-m",
        "harness.cli",
        "run",
        str(scenario),
        "-q",
        "--json",
        str(report_path),
        "--results-dir",
        str(root / "results"),
        cwd=root,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["passed"] is True
    assert report["scenario"]["workload"] == "digits_mlp"
    runs = {r["variant"]: r for r in report["runs"]}
    assert set(runs) == {"broken", "fixed"}
    broken, fixed = runs["broken"], runs["fixed"]
    assert broken["lr_per_step"][:3] == [0.0, 0.0, 0.0]  # epoch-stepped warmup: LR 0 in epoch 1
    assert [f["epoch"] for f in broken["findings"] if f["kind"] == "collapse"][:1] == [1]
    assert broken["history"][0]["max_pred_share"] == 1.0
    assert [f for f in fixed["findings"] if f["kind"] == "collapse"] == []
    assert fixed["history"][-1]["accuracy"] >= 0.9
    assert fixed["history"][-1]["loss"] < broken["history"][-1]["loss"]
    for record in (broken, fixed):  # K = 10: the core's per-class metrics
        assert {f"pred_share_{k}" for k in range(10)} <= set(record["history"][-1])
