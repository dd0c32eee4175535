"""`harness watch -- COMMAND`: output, exit code and signals pass through; --fail-on; --json read
back by `harness report`/`compare`; plugin flags checked; nothing written where the script runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

TRAIN = """
import sys
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
torch.manual_seed(0)
X = torch.randn(256, 8)
y = (X[:, 0] > 0).long()
loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(3):
    for xb, yb in loader:
        {zero}
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()  # STEP
    print(f"epoch {{epoch}} loss {{loss.item():.4f}}")
print("to stderr", file=sys.stderr)
sys.exit({code})
"""


def script(directory: Path, name: str = "train.py", *, zero: bool = True, code: int = 0) -> Path:
    path = directory / name
    path.write_text(TRAIN.format(zero="optimizer.zero_grad()" if zero else "pass", code=code))
    return path


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=180, env=env
    )


def test_output_and_exit_code_pass_through_and_nothing_is_written(tmp_path: Path) -> None:
    script(tmp_path, code=3)
    before = sorted(p.name for p in tmp_path.iterdir())
    plain = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    watched = harness("watch", "--", "python", "train.py", cwd=tmp_path)
    assert (plain.returncode, watched.returncode) == (3, 3)
    assert watched.stdout == plain.stdout  # byte for byte: the findings go to stderr
    assert watched.stderr.startswith(plain.stderr)
    assert "harness watch" in watched.stderr and "no findings" in watched.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.slow  # three watched runs
def test_a_finding_names_the_line_and_fail_on_decides_the_exit_code(tmp_path: Path) -> None:
    path = script(tmp_path, zero=False)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "# STEP" in text)
    failing = harness(
        "watch", "--json", "out.json", "--fail-on", "stale_gradients", "--", "python", "train.py", cwd=tmp_path
    )
    assert failing.returncode == 1, failing.stderr
    assert f"train.py:{line}" in failing.stderr and "optimizer.step()  # STEP" in failing.stderr
    report = json.loads((tmp_path / "out.json").read_text())
    (run,) = report["runs"]
    stale = [f for f in run["findings"] if f["kind"] == "stale_gradients"]
    assert stale and stale[0]["where"] == f"train.py:{line}"
    assert {"kind", "epoch", "step", "message", "where", "source"} <= set(stale[0])
    other = harness("watch", "--fail-on", "nan,eval_mode", "--", "python", "train.py", cwd=tmp_path)
    assert other.returncode == 0  # the script's own exit code: no finding of those kinds
    assert harness("watch", "--fail-on", "any", "--", "python", "train.py", cwd=tmp_path).returncode == 1


@pytest.mark.slow  # two watched runs
def test_the_json_report_is_read_by_report_and_compare(tmp_path: Path) -> None:
    """The same script before and after a one-line change: runs pair up by script name."""
    script(tmp_path)
    assert (
        harness("watch", "--json", "a.json", "--junit", "a.xml", "--", "python", "train.py", cwd=tmp_path).returncode
        == 0
    )
    script(tmp_path, zero=False)  # with --fail-on, a finding is a failed expectation compare can show
    assert (
        harness("watch", "--json", "b.json", "--fail-on", "any", "--", "python", "train.py", cwd=tmp_path).returncode
        == 1
    )
    shown = harness("report", "a.json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    compared = harness("compare", "a.json", "b.json", cwd=tmp_path)
    assert compared.returncode == 0 and "no stale_gradients finding" in compared.stdout
    assert "<testsuites" in (tmp_path / "a.xml").read_text()


def test_python_dash_m_runs_a_module_with_its_arguments(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    script(package, "train.py")
    watched = harness("watch", "--json", "out.json", "--", "python", "-m", "pkg.train", cwd=tmp_path)
    assert watched.returncode == 0, watched.stderr
    (run,) = json.loads((tmp_path / "out.json").read_text())["runs"]
    assert run["steps"] == 24 and run["train"]["command"][0].endswith("train.py")


def test_bad_plugin_flags_are_refused_before_the_script_runs(tmp_path: Path) -> None:
    script(tmp_path)
    unknown = harness("watch", "--with", "no_such_plugin", "--", "python", "train.py", cwd=tmp_path)
    assert unknown.returncode == 2 and "no_such_plugin" in unknown.stderr and "epoch 0" not in unknown.stdout
    fix = harness("watch", "--with", "grad_clip", "--", "python", "train.py", cwd=tmp_path)
    assert fix.returncode == 2 and "only monitors" in fix.stderr
    off = harness(
        "watch",
        "--without",
        "watch_zero_grad",
        "--set",
        "grad_health.max_norm=5",
        "--",
        "python",
        "train.py",
        cwd=tmp_path,
    )
    assert off.returncode == 0, off.stderr


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
def test_a_signal_that_kills_the_program_kills_watch_the_same_way(tmp_path: Path) -> None:
    (tmp_path / "die.py").write_text(
        "import os, signal\nprint('bye', flush=True)\nos.kill(os.getpid(), signal.SIGTERM)\n"
    )
    watched = harness("watch", "--", "python", "die.py", cwd=tmp_path)
    assert watched.returncode == -signal.SIGTERM and watched.stdout == "bye\n"
    assert "killed by signal" in watched.stderr


@pytest.mark.skipif(os.name != "posix", reason="a shell-script interpreter")
def test_an_interpreter_named_by_path_is_the_one_that_runs(tmp_path: Path) -> None:
    script(tmp_path)
    wrapper = tmp_path / "bin" / "python"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "the wrapper ran" >&2\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    watched = harness("watch", "--json", "out.json", "--", str(wrapper), "train.py", cwd=tmp_path)
    assert watched.returncode == 0 and "the wrapper ran" in watched.stderr
    (run,) = json.loads((tmp_path / "out.json").read_text())["runs"]
    assert run["steps"] == 24


def test_an_interpreter_without_harness_says_so_in_one_line_and_runs_the_program(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True, timeout=120)
    python = tmp_path / "venv" / ("Scripts" if os.name == "nt" else "bin") / "python"
    (tmp_path / "hello.py").write_text("print('hello')\n")
    watched = harness("watch", "--", str(python), "hello.py", cwd=tmp_path)
    assert watched.stdout == "hello\n" and watched.returncode == 0
    said = [line for line in watched.stderr.splitlines() if line.startswith("harness watch:")]
    assert len(said) == 1 and "not installed" in said[0] and str(python) in said[0]
