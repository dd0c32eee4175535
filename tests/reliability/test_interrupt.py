"""An unfinished run leaves no file that passes for a finished one's.

Ctrl-C (SIGINT to ``harness run``): the suite exits 130 with one line after its progress
display, the finished runs' results stay, and the interrupted run's directory
(``runs/<variant>-seed<S>/``, its half-trained ``checkpoint.pt``) is removed. A run stopped
at its ``--timeout`` keeps its files, marked by ``runs/<slug>/INCOMPLETE``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

STALL = '''
import time

from pydantic import BaseModel, ConfigDict

from harness.core.plugin import Plugin, hookimpl


class StallAfterCheckpoint(Plugin):
    """Sleeps after the first checkpoint is written (a run interrupted with files on disk)."""

    name = "stall_after_checkpoint"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        seconds: float = 600.0

    @hookimpl
    def on_checkpoint(self, state) -> None:
        time.sleep(self.params.seconds)
'''

VARIANTS = {
    "quick": {"expect": ["status == ok"]},
    "stalls": {"plugins": {"checkpoint": True, "stall_after_checkpoint": True}},
}


def scenario(write_scenario: Callable[..., Path], tmp_path: Path) -> Path:
    (tmp_path / "stall.py").write_text(STALL)
    return write_scenario(VARIANTS, plugin_modules=["stall:StallAfterCheckpoint"])


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_ctrl_c_exits_130_and_removes_the_unfinished_runs_files(
    write_scenario: Callable[..., Path], tmp_path: Path, harness_env: dict[str, str]
) -> None:
    path = scenario(write_scenario, tmp_path)
    results = tmp_path / "res"
    env = harness_env | {"PYTHONPATH": f"{tmp_path}:{harness_env['PYTHONPATH']}", "COLUMNS": "80"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", str(path), "-j", "1", "--results-dir", str(results)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    checkpoint = results / "runs" / "stalls-seed0" / "checkpoint.pt"
    deadline = time.monotonic() + 240
    try:
        while not checkpoint.exists():
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the stalling run wrote no checkpoint in time"
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends the suite (its workers ignore SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines[-1].startswith(f"interrupted: finished runs are kept in {results}/results"), output
    assert "Traceback" not in output
    assert (results / "results" / "quick-seed0.json").exists()  # finished: kept
    assert not (results / "results" / "stalls-seed0.json").exists()
    assert not (results / "runs" / "stalls-seed0").exists()  # unfinished: its partial checkpoint is gone


@pytest.mark.slow
def test_a_timed_out_runs_files_are_marked_incomplete(
    write_scenario: Callable[..., Path], tmp_path: Path, harness_env: dict[str, str]
) -> None:
    path = scenario(write_scenario, tmp_path)
    results = tmp_path / "res"
    env = harness_env | {"PYTHONPATH": f"{tmp_path}:{harness_env['PYTHONPATH']}"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            str(path),
            "-q",
            "-j",
            "1",
            "--variant",
            "stalls",
            "--timeout",
            "12",
            "--results-dir",
            str(results),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run_dir = results / "runs" / "stalls-seed0"
    assert (run_dir / "checkpoint.pt").exists()
    marker = (run_dir / "INCOMPLETE").read_text()
    assert "did not finish (run exceeded the per-run timeout of 12 s and was stopped)" in marker
