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
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "harness-example-plugin"

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


def run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A venv that sees this one's packages (harness, torch, ...) plus the installed example."""
    root = tmp_path_factory.mktemp("third-party")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    # a .pth line starting with "import" runs at start-up: add this venv's site-packages
    # (and process its .pth files, e.g. harness's editable-install finder)
    Path(purelib, "_harness_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    source = root / "harness-example-plugin"  # a copy: building writes build/ and *.egg-info
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache"))
    install = run(
        python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
        "--disable-pip-version-check", str(source), cwd=root,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return python, root


def test_harness_plugins_lists_the_external_plugin(plugin_env: tuple[Path, Path]) -> None:
    python, root = plugin_env
    result = run(python, "-m", "harness.cli", "plugins", "--json", cwd=root)
    assert result.returncode == 0, result.stderr
    listed = {entry["name"]: entry for entry in json.loads(result.stdout)}
    floor = listed["lr_floor"]
    assert floor["source"] == "harness-example-plugin 0.1.0"
    assert floor["kind"] == "fix" and floor["enabled_by_default"] is False
    assert floor["hooks"] == ["on_before_optimizer_step"]
    assert floor["parameters"]["min_lr"]["default"] == 1e-5
    assert listed["class_weights"]["source"] == "harness (built-in)"  # built-ins still there


def test_a_scenario_switches_the_external_plugin_on(plugin_env: tuple[Path, Path]) -> None:
    python, root = plugin_env
    scenario = root / "lr_floor_demo.yaml"
    scenario.write_text(SCENARIO)
    report = root / "report.json"
    result = run(
        python, "-m", "harness.cli", "run", str(scenario), "-q", "--json", str(report),
        "--results-dir", str(root / "results"), cwd=root,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    runs = {r["variant"]: r for r in json.loads(report.read_text())["runs"]}
    assert runs["broken"]["lr_per_step"][:3] == [0.0, 0.0, 0.0]  # epoch-stepped warmup: LR 0 in epoch 1
    assert runs["floored"]["lr_per_step"][:3] == [1e-4, 1e-4, 1e-4]
    assert runs["floored"]["trace"]["on_before_optimizer_step"]["lr_floor"] == 6
    assert "lr_floor" not in runs["broken"]["plugins"]


def test_the_example_packages_own_tests_pass(plugin_env: tuple[Path, Path]) -> None:
    python, root = plugin_env
    tests = root / "harness-example-plugin"
    result = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests / "tests"), cwd=tests)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout
