"""The example third-party plugin, installed as users install one, is found and used.

The package in ``examples/harness-example-plugin`` is pip-installed (offline: no
dependencies, no build isolation) into a throw-away virtual environment layered on this
one, so the project's own environment is never changed; then, in that environment,
``harness plugins`` must list it with its distribution, a scenario must be able to
switch it on, and the package's own tests (which use ``harness.testing``'s ``tiny_run``
fixture through the pytest11 plugin) must pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SCENARIO = """\
name: lr_floor_demo
workload:
  name: devign
  params: {n_train: 96, n_val: 48, max_length: 32, vocab_size: 300, hidden_size: 16, num_layers: 1,
           num_heads: 2, intermediate_size: 32, eval_batch_size: 64}
train: {epochs: 2, batch_size: 32, lr: 1.0e-3, warmup_ratio: 0.5, device: cpu, threads: 1}
plugins:
  linear_warmup: {interval: epoch}
variants:
  broken:
    expect: [status == ok]
  floored:
    plugins:
      lr_floor: {min_lr: 1.0e-4}
    expect: [status == ok]
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def plugin_env(example_venv) -> tuple[Path, Path]:
    """A venv that sees this one's packages plus the installed example (tests/conftest.py)."""
    return example_venv("harness-example-plugin")


def test_harness_plugins_lists_the_external_plugin(plugin_env: tuple[Path, Path], venv_run) -> None:
    python, root = plugin_env
    result = venv_run(python, "-m", "harness.cli", "plugins", "--json", cwd=root)
    assert result.returncode == 0, result.stderr
    listed = {entry["name"]: entry for entry in json.loads(result.stdout)}
    floor = listed["lr_floor"]
    assert floor["source"] == "harness-example-plugin 0.1.0"
    assert floor["kind"] == "fix" and floor["enabled_by_default"] is False
    assert floor["hooks"] == ["on_before_optimizer_step"]
    assert floor["parameters"]["min_lr"]["default"] == 1e-5
    assert listed["class_weights"]["source"] == "harness (built-in)"  # built-ins still there


def test_a_scenario_switches_the_external_plugin_on(plugin_env: tuple[Path, Path], venv_run) -> None:
    python, root = plugin_env
    scenario = root / "lr_floor_demo.yaml"
    scenario.write_text(SCENARIO)
    report = root / "report.json"
    result = venv_run(
        python,
        "-m",
        "harness.cli",
        "run",
        str(scenario),
        "-q",
        "--json",
        str(report),
        "--results-dir",
        str(root / "results"),
        cwd=root,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    runs = {r["variant"]: r for r in json.loads(report.read_text())["runs"]}
    assert runs["broken"]["lr_per_step"][:3] == [0.0, 0.0, 0.0]  # epoch-stepped warmup: LR 0 in epoch 1
    assert runs["floored"]["lr_per_step"][:3] == [1e-4, 1e-4, 1e-4]
    assert runs["floored"]["trace"]["on_before_optimizer_step"]["lr_floor"] == 6
    assert "lr_floor" not in runs["broken"]["plugins"]


def test_the_example_packages_own_tests_pass(plugin_env: tuple[Path, Path], venv_run) -> None:
    python, root = plugin_env
    tests = root / "harness-example-plugin"
    result = venv_run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests / "tests"), cwd=tests)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout
