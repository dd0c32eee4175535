"""Faults during a run end that run only: ``diverged`` at its step, ``error`` naming the
plugin and hook (traceback in the record, not on the terminal), ``timeout``; the other
runs of the suite still run and report, and the exit code says the suite did not pass.

The faults come from the misbehaving plugins in ``harness_fault_plugins.py``, which the
scenarios load through ``plugin_modules`` (an explicit ``module:Class``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.execution.records import RunKey
from harness.execution.run_one import execute_run
from harness.judging.verdicts import run_ok
from harness.scenario import ScenarioError, load_scenario


def run_one(path: Path, variant: str, tmp_path: Path, seed: int = 0) -> dict[str, Any]:
    """Validate the file and train one (variant, seed) in this process."""
    scenario = load_scenario(path)
    return execute_run(scenario, RunKey(variant, seed), work_dir=tmp_path / "work")


# ------------------------------------------------------------------ non-finite loss


@pytest.mark.parametrize(("value", "at_step", "epochs_before"), [("nan", 2, 0), ("inf", 5, 1), ("-inf", 6, 1)])
def test_nonfinite_loss_ends_the_run_as_diverged_at_its_step(
    write_scenario: Callable[..., Path], tmp_path: Path, value: str, at_step: int, epochs_before: int
) -> None:
    path = write_scenario({"bad": {"plugins": {"inject_nonfinite": {"at_step": at_step, "value": value}}}}, epochs=3)
    record = run_one(path, "bad", tmp_path)
    assert record["status"] == "diverged"
    assert record["diverged_at_step"] == at_step  # 3 optimizer steps per epoch: step 5 is in epoch 2
    assert [h["epoch"] for h in record["history"]] == list(range(1, epochs_before + 1))  # nothing after it
    # no expectation said it may diverge: the run fails, and the report says why
    assert record["expectations"] == [
        {"name": "status != diverged", "passed": False, "observed": "diverged", "implicit": True}
    ]
    assert not run_ok(record)


def test_expected_divergence_passes(write_scenario: Callable[..., Path], tmp_path: Path) -> None:
    """A scenario replaying a divergence says so, and then a diverged run passes."""
    path = write_scenario({"bad": {"plugins": {"inject_nonfinite": {}}, "expect": ["status == diverged"]}})
    record = run_one(path, "bad", tmp_path)
    assert record["status"] == "diverged" and record["diverged_at_step"] == 2
    assert [e["passed"] for e in record["expectations"]] == [True]
    assert run_ok(record)


def test_a_run_diverging_in_epoch_1_is_judged_by_or_and_its_metrics_are_not_applicable(
    write_scenario: Callable[..., Path], tmp_path: Path
) -> None:
    """`status == diverged or final.f1 <= 0.05` holds on a run that diverged before any epoch
    completed (decided by the status side) and expects the divergence; a metric line alone is
    not applicable to that run, with the reason, instead of failing with `observed -`."""
    path = write_scenario(
        {
            "early": {
                "plugins": {"inject_nonfinite": {"at_step": 2}},
                "expect": ["status == diverged or final.f1 <= 0.05", "final.f1 <= 0.05"],
            },
            # diverges in epoch 2: epoch 1's F1 exists, and `status == ok or ...` does not expect a divergence
            "late": {"plugins": {"inject_nonfinite": {"at_step": 5}}, "expect": ["status == ok or final.f1 <= 1.0"]},
        },
        epochs=3,
    )
    early = run_one(path, "early", tmp_path)
    assert early["status"] == "diverged" and early["history"] == []
    assert early["expectations"] == [
        {
            "name": "status == diverged or final.f1 <= 0.05",
            "passed": True,
            "observed": "diverged",
            "decided_by": "status == diverged",
        },
        {
            "name": "final.f1 <= 0.05",
            "passed": None,
            "observed": None,
            "reason": "no completed epoch (diverged at step 2)",
        },
    ]
    assert run_ok(early)

    late = run_one(path, "late", tmp_path)
    assert late["status"] == "diverged" and [h["epoch"] for h in late["history"]] == [1]
    assert late["expectations"][0]["passed"] is True and late["expectations"][0]["decided_by"] == "final.f1 <= 1.0"
    assert late["expectations"][1] == {
        "name": "status != diverged",
        "passed": False,
        "observed": "diverged",
        "implicit": True,
    }
    assert not run_ok(late)

    # the terminal report shows the deciding side's value and why the metric line is n/a
    result = CliRunner().invoke(
        main,
        ["run", str(path), "--variant", "early", "-q", "-j", "1", "--results-dir", str(tmp_path / "cli")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "status == diverged or final.f1 <= 0.05 observed diverged" in result.output
    assert "final.f1 <= 0.05 n/a: no completed epoch (diverged at step 2)" in result.output


# ------------------------------------------------------------------ plugin exceptions


def test_exception_in_a_plugin_is_an_error_naming_plugin_and_hook(
    write_scenario: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_scenario({"boom": {"plugins": {"raise_in_hook": {"at_epoch": 2}}, "expect": ["final.f1 >= 0"]}})
    record = run_one(path, "boom", tmp_path)
    assert record["status"] == "error"
    error = record["error"]
    assert error["plugin"] == "raise_in_hook" and error["hook"] == "on_epoch_end"
    assert error["message"].startswith(
        "plugin 'raise_in_hook' failed in hook 'on_epoch_end': RuntimeError: injected failure at epoch 2"
    )
    assert "Traceback (most recent call last)" in error["traceback"]
    assert "harness_fault_plugins.py" in error["traceback"] and "in on_epoch_end" in error["traceback"]
    assert [h["epoch"] for h in record["history"]] == [1, 2]  # what ran before the failure is kept
    assert not run_ok(record)


def test_a_plugin_that_cannot_be_constructed_is_named(write_scenario: Callable[..., Path], tmp_path: Path) -> None:
    record = run_one(write_scenario({"v": {"plugins": {"bad_init": True}}}), "v", tmp_path)
    assert record["status"] == "error"
    assert (record["error"]["plugin"], record["error"]["hook"]) == ("bad_init", "__init__")
    assert "injected failure in __init__" in record["error"]["traceback"]


def test_an_enabled_plugin_is_never_dropped_silently() -> None:
    """Before the fix, a scenario's extra plugins were validated but not registered in the run."""
    from harness.core.plugin import NoParams
    from harness.core.pluginmanager import PluginLoadError, build_run_manager, discover_plugins

    with pytest.raises(PluginLoadError, match="'not_installed' not among the available plugins"):
        build_run_manager(discover_plugins(), {"defaults": NoParams(), "not_installed": NoParams()})


# ------------------------------------------------------------------ plugin_modules in a scenario


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "harness_fault_plugins",
            "plugin_modules[1]: expected 'package.module:PluginClass', got 'harness_fault_plugins'",
        ),
        (
            "no_such_module_xyz:Thing",
            "plugin_modules[1]: cannot load plugin 'no_such_module_xyz:Thing': No module named 'no_such_module_xyz'",
        ),
        ("harness_fault_plugins:Missing", "plugin_modules[1]: cannot load plugin 'harness_fault_plugins:Missing'"),
        (
            "harness_fault_plugins:COUNTER_ENV",
            "plugin_modules[1]: harness_fault_plugins:COUNTER_ENV is not a harness Plugin subclass",
        ),
        ("harness.plugins.fixes.grad_clip:GradClip", None),  # a built-in named again is the same plugin: fine
    ],
)
def test_plugin_modules_errors_name_the_entry(
    write_scenario: Callable[..., Path], entry: str, expected: str | None
) -> None:
    path = write_scenario({"v": {}}, plugin_modules=["harness_fault_plugins:Hang", entry])
    if expected is None:
        assert load_scenario(path).plugin_modules == ("harness_fault_plugins:Hang", entry)
        return
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert expected in str(info.value)
    assert info.value.line is not None  # the line of that entry
    code = CliRunner().invoke(main, ["run", str(path)])
    assert code.exit_code == 2 and expected in " ".join(code.output.split())


def test_a_module_that_raises_on_import_is_a_clean_error(
    write_scenario: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "explodes_on_import.py").write_text("raise RuntimeError('module-level failure')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write_scenario({"v": {}}, plugin_modules=["explodes_on_import:Plugin"])
    with pytest.raises(
        ScenarioError, match=r"plugin_modules\[0\]: .*importing it raised RuntimeError: module-level failure"
    ):
        load_scenario(path)


def test_a_plugin_name_clash_is_refused(
    write_scenario: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "clash.py").write_text(
        "from harness.core.plugin import Plugin\nclass GradClip(Plugin):\n    name = 'grad_clip'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write_scenario({"v": {}}, plugin_modules=["clash:GradClip"])
    with pytest.raises(ScenarioError, match=r"plugin_modules\[0\]: two plugins are named 'grad_clip'"):
        load_scenario(path)


# ------------------------------------------------------------------ the whole suite, through the CLI


@pytest.mark.slow
def test_every_fault_costs_only_its_own_run(
    write_scenario: Callable[..., Path], tmp_path: Path, harness_env: dict[str, str]
) -> None:
    """One suite: a hang (timeout), a NaN, a plugin exception, a worker that exits, and a
    healthy run. All five report; the healthy one passes; the suite exits 1; no traceback
    reaches the terminal."""
    path = write_scenario(
        {
            "hang": {"plugins": {"hang": {"seconds": 600}}},
            "nan": {"plugins": {"inject_nonfinite": {"at_step": 4}}},
            "boom": {"plugins": {"raise_in_hook": {"at_epoch": 1}}},
            "exits": {"plugins": {"hard_exit": {"code": 3}}},
            "healthy": {"expect": ["status == ok", "epochs_run == 2"]},
        }
    )
    report_path = tmp_path / "report.json"
    results = tmp_path / "results"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            str(path),
            "-q",
            "-j",
            "2",
            "--timeout",
            "20",
            "--results-dir",
            str(results),
            "--json",
            str(report_path),
        ],
        capture_output=True,
        text=True,
        env=harness_env | {"COLUMNS": "250"},
        cwd=tmp_path,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Traceback" not in output, output
    report = json.loads(report_path.read_text())
    runs = {r["variant"]: r for r in report["runs"]}
    assert {v: r["status"] for v, r in runs.items()} == {
        "hang": "timeout",
        "nan": "diverged",
        "boom": "error",
        "exits": "error",
        "healthy": "ok",
    }
    assert "per-run timeout of 20 s" in runs["hang"]["error"]["message"]
    assert runs["nan"]["diverged_at_step"] == 4 and [h["epoch"] for h in runs["nan"]["history"]] == [1]
    assert (runs["boom"]["error"]["plugin"], runs["boom"]["error"]["hook"]) == ("raise_in_hook", "on_epoch_end")
    assert "Traceback (most recent call last)" in runs["boom"]["error"]["traceback"]
    assert "exit code 3" in runs["exits"]["error"]["message"]
    assert [h["epoch"] for h in runs["healthy"]["history"]] == [1, 2]
    assert [e["passed"] for e in runs["healthy"]["expectations"]] == [True, True]
    assert report["passed"] is False
    # every run's own result file was written too
    for variant in runs:
        assert (
            json.loads((results / "results" / f"{variant}-seed0.json").read_text())["status"] == runs[variant]["status"]
        )
    # the terminal report names the failing plugin and hook (the traceback stays in the JSON)
    assert "raise_in_hook" in proc.stdout and "on_epoch_end" in proc.stdout
